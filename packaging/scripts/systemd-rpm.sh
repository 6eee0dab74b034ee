# systemd-rpm.sh - what the %systemd_post/%systemd_preun/%systemd_postun
# macros expand to. rpm passes the number of installed instances after the
# operation: %post 1 = install, 2 = upgrade; %preun/%postun 0 = erase.

# dl_rpm_unit_post UNIT COUNT: presets decide whether the unit is enabled.
dl_rpm_unit_post() {
	if [ "$2" -eq 1 ] && command -v systemctl >/dev/null 2>&1; then
		systemctl --no-reload preset "$1" >/dev/null 2>&1 || :
	fi
}

# dl_rpm_unit_preun UNIT COUNT
dl_rpm_unit_preun() {
	if [ "$2" -eq 0 ] && command -v systemctl >/dev/null 2>&1; then
		systemctl --no-reload disable --now "$1" >/dev/null 2>&1 || :
	fi
}

# dl_rpm_unit_postun UNIT COUNT
dl_rpm_unit_postun() {
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || :
		if [ "$2" -ge 1 ]; then
			systemctl try-restart "$1" >/dev/null 2>&1 || :
		fi
	fi
}
