# agent.sh - dockline-agent package: user, state directory, host key.

DL_AGENT_USER=dockline-agent
DL_AGENT_HOME=/var/lib/dockline-agent
DL_AGENT_CONF=/etc/dockline/agent.conf
DL_AGENT_UNIT=dockline-agent.service

dl_agent_setup() {
	dl_ensure_user "$DL_AGENT_USER" "$DL_AGENT_HOME" "$(dl_nologin)" \
		"dockline agent"
	# The docker group grants access to the Docker socket. We never
	# create it: it belongs to the Docker package, and a group made here
	# would not match the socket's group.
	if getent group docker >/dev/null; then
		usermod -a -G docker "$DL_AGENT_USER"
	else
		dl_warn "group docker does not exist (is Docker installed?); after installing Docker run: usermod -a -G docker $DL_AGENT_USER"
	fi
	install -d -m 0750 -o "$DL_AGENT_USER" -g "$DL_AGENT_USER" "$DL_AGENT_HOME"
	if [ ! -e "$DL_AGENT_HOME/id_ed25519" ]; then
		if command -v ssh-keygen >/dev/null 2>&1; then
			ssh-keygen -q -t ed25519 -N '' \
				-f "$DL_AGENT_HOME/id_ed25519" \
				-C "dockline-agent@$(uname -n)"
			chown "$DL_AGENT_USER:$DL_AGENT_USER" \
				"$DL_AGENT_HOME/id_ed25519" \
				"$DL_AGENT_HOME/id_ed25519.pub"
			chmod 0600 "$DL_AGENT_HOME/id_ed25519"
			chmod 0644 "$DL_AGENT_HOME/id_ed25519.pub"
			echo "dockline-agent: generated $DL_AGENT_HOME/id_ed25519; enrol it on the collector with: dockline enroll NAME --key id_ed25519.pub"
		else
			dl_warn "ssh-keygen not found: create $DL_AGENT_HOME/id_ed25519 (ed25519) by hand"
		fi
	fi
	# May hold site details; readable by the agent, not by everyone.
	dl_set_perms "$DL_AGENT_CONF" "root:$DL_AGENT_USER" 0640
}

# True once an admin has set [collector] address: until then the agent
# would only fail, so the scripts do not start it.
dl_agent_configured() {
	[ -r "$DL_AGENT_CONF" ] &&
		grep -Eq '^[[:space:]]*address[[:space:]]*=' "$DL_AGENT_CONF"
}
