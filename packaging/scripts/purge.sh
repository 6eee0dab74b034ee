# purge.sh - only in the deb postrm: `apt-get purge` removes what the
# package created. rpm has no purge, so its scriptlets never remove users
# or data (Fedora packaging guidelines).

# dl_remove_user NAME: also removes the group of the same name.
dl_remove_user() {
	if ! command -v userdel >/dev/null 2>&1; then
		dl_warn "userdel not found: remove user $1 by hand"
		return 0
	fi
	if getent passwd "$1" >/dev/null; then
		userdel "$1" || dl_warn "could not remove user $1 (still running processes?)"
	fi
	if getent group "$1" >/dev/null; then
		groupdel "$1" || dl_warn "could not remove group $1"
	fi
}

# Removes /etc/dockline once neither package leaves a file in it.
dl_rmdir_etc() {
	rmdir /etc/dockline 2>/dev/null || true
}
