# common.sh - shell functions shared by the deb maintainer scripts and the
# rpm scriptlets of both packages. packaging/CMake concatenates this file,
# the package's own functions and one dispatcher into each script, so
# every script is self-contained (postrm runs after our files are gone).
# POSIX sh only; every function is idempotent.

dl_warn() {
	echo "dockline: $*" >&2
}

# The nologin shell lives in /usr/sbin on Debian and in /sbin on older
# rpm distributions.
dl_nologin() {
	for s in /usr/sbin/nologin /sbin/nologin; do
		if [ -x "$s" ]; then
			echo "$s"
			return 0
		fi
	done
	echo /bin/false
}

# dl_ensure_group NAME
dl_ensure_group() {
	if ! getent group "$1" >/dev/null; then
		groupadd --system "$1"
	fi
}

# dl_ensure_user NAME HOME SHELL COMMENT: a system user whose primary
# group has its own name. The home directory is made by the caller, with
# the mode it needs.
dl_ensure_user() {
	dl_ensure_group "$1"
	if ! getent passwd "$1" >/dev/null; then
		useradd --system --gid "$1" --home-dir "$2" --no-create-home \
			--shell "$3" --comment "$4" "$1"
	fi
}

# dl_set_perms FILE OWNER:GROUP MODE, unless the admin chose otherwise
# with dpkg-statoverride (Debian only).
dl_set_perms() {
	[ -e "$1" ] || return 0
	if command -v dpkg-statoverride >/dev/null 2>&1 &&
	   dpkg-statoverride --list "$1" >/dev/null 2>&1; then
		return 0
	fi
	chown "$2" "$1"
	chmod "$3" "$1"
}
