# collector.sh - dockline-collector package: user dockline (the sshd
# login agents attach through, and the user serve runs as), group
# dockline-admin (who may use the dockline CLI), data directory.

DL_COLL_USER=dockline
DL_COLL_HOME=/var/lib/dockline
DL_COLL_ADMIN_GROUP=dockline-admin
DL_COLL_UNIT=dockline-collector.service

dl_collector_setup() {
	dl_ensure_group "$DL_COLL_ADMIN_GROUP"
	# sshd runs the forced command through the user's shell, so the
	# shell must be a real one; the key's `restrict,command=` line is
	# what confines it.
	dl_ensure_user "$DL_COLL_USER" "$DL_COLL_HOME" /bin/sh \
		"dockline collector"
	# useradd leaves the password locked ("!"); sshd refuses key logins
	# to locked accounts when UsePAM is off. "*" means "no password"
	# without locking the account.
	usermod -p '*' "$DL_COLL_USER"
	# The HTTP gateway (dockline-http.service, not enabled by default):
	# no login, no home; group dockline-admin opens the admin socket and
	# serve requires a token for everything it sends.
	if ! getent passwd dockline-http >/dev/null; then
		useradd --system --gid "$DL_COLL_ADMIN_GROUP" --home-dir /nonexistent \
			--no-create-home --shell /usr/sbin/nologin \
			--comment "dockline HTTP gateway" dockline-http
	fi
	install -d -m 0750 -o "$DL_COLL_USER" -g "$DL_COLL_USER" "$DL_COLL_HOME"
	install -d -m 0700 -o "$DL_COLL_USER" -g "$DL_COLL_USER" "$DL_COLL_HOME/.ssh"
	if [ ! -e "$DL_COLL_HOME/.ssh/authorized_keys" ]; then
		install -m 0600 -o "$DL_COLL_USER" -g "$DL_COLL_USER" /dev/null \
			"$DL_COLL_HOME/.ssh/authorized_keys"
	fi
}
