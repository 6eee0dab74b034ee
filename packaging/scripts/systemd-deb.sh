# systemd-deb.sh - the unit handling debhelper's dh_installsystemd would
# generate. deb-systemd-helper only edits symlinks and its state file, so
# it runs even when systemd is not PID 1 (image builds, containers);
# systemctl and deb-systemd-invoke run only under a running systemd.

# dl_deb_unit_enable UNIT
dl_deb_unit_enable() {
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		deb-systemd-helper unmask "$1" >/dev/null || true
		# was-enabled is true for a unit it has never seen, so a
		# first install enables the unit.
		if deb-systemd-helper --quiet was-enabled "$1"; then
			deb-systemd-helper enable "$1" >/dev/null || true
		else
			deb-systemd-helper update-state "$1" >/dev/null || true
		fi
	fi
}

# dl_deb_unit_start UNIT PREVIOUS_VERSION: start on install, restart on
# upgrade.
dl_deb_unit_start() {
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		if [ -n "$2" ]; then
			deb-systemd-invoke restart "$1" >/dev/null || true
		else
			deb-systemd-invoke start "$1" >/dev/null || true
		fi
	fi
}

# dl_deb_unit_stop UNIT (prerm remove)
dl_deb_unit_stop() {
	if [ -d /run/systemd/system ]; then
		deb-systemd-invoke stop "$1" >/dev/null || true
	fi
}

# dl_deb_unit_postrm UNIT ACTION
dl_deb_unit_postrm() {
	if [ "$2" = remove ] && [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
	fi
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		case "$2" in
		remove)
			deb-systemd-helper mask "$1" >/dev/null || true
			;;
		purge)
			deb-systemd-helper purge "$1" >/dev/null || true
			deb-systemd-helper unmask "$1" >/dev/null || true
			;;
		esac
	fi
}
