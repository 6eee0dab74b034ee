#!/bin/sh
# install_test.sh - install the .deb packages in a clean Debian 12
# container and check what the maintainer scripts do: users, groups,
# directories, the agent's key, file modes; the collector serving the CLI
# with the packaged config and modes; enrollment as docs/INSTALL.md says
# (dockline-agent enroll, dockline enroll into the packaged
# authorized_keys, dockline-agent check, the agent unit's ExecStart through
# the container's own sshd, dockline forget --purge); reinstall keeping
# config and data; purge removing users and data. Then the rpm %post /
# %preun / %postun scriptlets run for real in a second clean container.
#   tests/packaging/install_test.sh [BUILD_DIR]   (default: build-pkg)
# Needs docker; installs mmdebstrap from apt when missing. The image
# dockline-test/debian12:pkg is built once (mmdebstrap, ~1 min) and reused;
# DL_REBUILD_IMAGE=1 rebuilds it.
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build-pkg}
case "$build" in /*) ;; *) build="$src/$build" ;; esac
image=dockline-test/debian12:pkg
name=dockline-pkgtest-$$
rname=$name-rpm
cur=$name
tmp=$(mktemp -d /tmp/dockline-pkginst.XXXXXX)
fails=0

cleanup() {
	docker rm -f "$name" "$rname" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
# run_in DESCRIPTION SCRIPT: run SCRIPT with sh -e in the container.
run_in() {
	d=$1
	if docker exec -i "$cur" sh -eu -c "$2" >"$tmp/out" 2>&1; then
		ok "$d"
	else
		bad "$d"
		sed 's/^/     /' "$tmp/out"
	fi
}

for t in mmdebstrap:mmdebstrap rpm2cpio:rpm2cpio cpio:cpio; do
	command -v "${t%%:*}" >/dev/null 2>&1 ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${t#*:}" >/dev/null
done

"$src/packaging/build.sh" "$build" >"$tmp/build.log" 2>&1 || {
	tail -40 "$tmp/build.log"
	echo "FAIL packaging/build.sh"
	exit 1
}
dist="$build/dist"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")

# --- a clean Debian 12 image, from this machine's Debian mirror -----------
mirror=$(sed -n 's/^URIs: *\(.*debian\/\?\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb \(http[^ ]*\) bookworm .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
if [ "${DL_REBUILD_IMAGE:-0}" = 1 ] || ! docker image inspect "$image" >/dev/null 2>&1; then
	echo "building $image from $mirror"
	mmdebstrap --variant=apt bookworm "$tmp/rootfs.tar" \
		"deb $mirror bookworm main" >"$tmp/mmdebstrap.log" 2>&1 || {
		tail -20 "$tmp/mmdebstrap.log"
		exit 1
	}
	docker import "$tmp/rootfs.tar" "$image" >/dev/null
	rm -f "$tmp/rootfs.tar"
fi

# The container needs the Debian mirror for dependencies; use the host's
# network when the default bridge cannot reach it.
net=""
if ! docker run --rm "$image" sh -c 'timeout 30 apt-get update' >/dev/null 2>&1; then
	echo "the bridge network cannot reach $mirror: using --network host"
	net="--network host"
fi
sockgid=$(stat -c %g /var/run/docker.sock 2>/dev/null || echo "")
dockmount=""
[ -n "$sockgid" ] && dockmount="-v /var/run/docker.sock:/var/run/docker.sock"
# shellcheck disable=SC2086
docker run -d --name "$name" $net $dockmount -v "$dist:/pkgs:ro" \
	"$image" sleep infinity >/dev/null

# --- install -------------------------------------------------------------
# Docker's group exists before the agent package (as when docker.io is
# installed), with the gid of the host's docker.sock mounted above.
run_in "docker group present before install" \
	"groupadd ${sockgid:+-g $sockgid} docker"
run_in "apt-get install ./dockline-agent ./dockline-collector (dependencies from the mirror)" "
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	cd /pkgs
	apt-get install -y -q --no-install-recommends ./dockline-agent_${version}-*.deb ./dockline-collector_${version}-*.deb"
sed -n '/^dockline/p' "$tmp/out" | sed 's/^/     /'
run_in "dpkg: both packages installed, version $version" "
	dpkg-query -W -f='\${Status} \${Version}\n' dockline-agent dockline-collector | tee /dev/stderr |
		grep -c '^install ok installed $version-' | grep -qx 2"
run_in "binaries on PATH report the version" "
	dockline-agent --version | grep -qx 'dockline-agent $version'
	dockline-collector --version | grep -qx 'dockline-collector $version'
	dockline --version | grep -qx 'dockline $version'"
run_in "both units enabled by deb-systemd-helper (no systemd running)" "
	test -L /etc/systemd/system/multi-user.target.wants/dockline-agent.service
	test -L /etc/systemd/system/multi-user.target.wants/dockline-collector.service"
run_in "man pages installed" "
	test -s /usr/share/man/man8/dockline-agent.8.gz
	test -s /usr/share/man/man8/dockline-collector.8.gz
	test -s /usr/share/man/man1/dockline.1.gz"

# --- agent package -------------------------------------------------------
run_in "user dockline-agent: system, nologin, home /var/lib/dockline-agent, in group docker" "
	getent passwd dockline-agent | awk -F: '\$3 < 1000 && \$6 == \"/var/lib/dockline-agent\" && \$7 ~ /nologin\$/ { ok = 1 } END { exit !ok }'
	id -nG dockline-agent | tr ' ' '\n' | grep -qx docker"
run_in "/var/lib/dockline-agent 0750 dockline-agent" "
	test \"\$(stat -c '%a %U %G' /var/lib/dockline-agent)\" = '750 dockline-agent dockline-agent'"
run_in "host key: ed25519, 0600 dockline-agent, comment dockline-agent@HOST" "
	test \"\$(stat -c '%a %U' /var/lib/dockline-agent/id_ed25519)\" = '600 dockline-agent'
	test \"\$(stat -c '%a %U' /var/lib/dockline-agent/id_ed25519.pub)\" = '644 dockline-agent'
	grep -q '^ssh-ed25519 .* dockline-agent@' /var/lib/dockline-agent/id_ed25519.pub"
run_in "/etc/dockline/agent.conf 0640 root:dockline-agent" "
	test \"\$(stat -c '%a %U %G' /etc/dockline/agent.conf)\" = '640 root dockline-agent'"
run_in "unconfigured agent refuses to start, naming the missing address" "
	set +e
	runuser -u dockline-agent -- dockline-agent -c /etc/dockline/agent.conf 2>/tmp/err
	rc=\$?
	cat /tmp/err
	test \$rc -eq 1 && grep -q 'address is required' /tmp/err"

# --- collector package ---------------------------------------------------
run_in "user dockline: system, shell /bin/sh, home /var/lib/dockline, password '*' (not locked)" "
	getent passwd dockline | awk -F: '\$3 < 1000 && \$6 == \"/var/lib/dockline\" && \$7 == \"/bin/sh\" { ok = 1 } END { exit !ok }'
	test \"\$(getent shadow dockline | cut -d: -f2)\" = '*'"
run_in "group dockline-admin exists" "getent group dockline-admin >/dev/null"
run_in "/var/lib/dockline 0750, .ssh 0700, authorized_keys 0600, owned by dockline" "
	test \"\$(stat -c '%a %U' /var/lib/dockline)\" = '750 dockline'
	test \"\$(stat -c '%a %U' /var/lib/dockline/.ssh)\" = '700 dockline'
	test \"\$(stat -c '%a %U' /var/lib/dockline/.ssh/authorized_keys)\" = '600 dockline'"
# What the unit does: RuntimeDirectory=dockline (0750, User:Group), then
# serve as User=dockline Group=dockline-admin with UMask=0077.
# The database must stay 0600 even though its group is dockline-admin:
# admins use the CLI, they do not read the database.
run_in "collector serves as dockline:dockline-admin with the packaged config" "
	install -d -m 0750 -o dockline -g dockline-admin /run/dockline
	(umask 0077; exec runuser -u dockline -g dockline-admin -- dockline-collector serve -c /etc/dockline/collector.conf >/var/log/collector.log 2>&1) &
	for i in \$(seq 50); do [ -S /run/dockline/admin.sock ] && break; sleep 0.1; done
	ls -l /run/dockline /var/lib/dockline
	cat /var/log/collector.log
	test -S /run/dockline/admin.sock
	test \"\$(stat -c '%a %U %G' /run/dockline/admin.sock)\" = '660 dockline dockline-admin'
	test \"\$(stat -c '%a %U' /var/lib/dockline/dockline.db)\" = '600 dockline'"
run_in "dockline hosts works as root" "dockline hosts | grep -q '^NAME'"
run_in "dockline hosts: refused for a non-member, works for a dockline-admin member" "
	useradd -m outsider
	useradd -m -G dockline-admin admin1
	set +e
	runuser -u outsider -- dockline hosts 2>/tmp/err
	rc=\$?
	set -e
	cat /tmp/err
	test \$rc -eq 1 && grep -q 'permission denied' /tmp/err
	runuser -u admin1 -- dockline hosts | grep -q '^NAME'"

# What dockline-http.service does: the gateway as dockline-http (group
# dockline-admin opens the admin socket); serve wants a token from it.
# This also proves the package pulls libwebsockets' libuv plugin, which
# dpkg-shlibdeps cannot see.
run_in "the packaged gateway runs as dockline-http and answers with a token, 401 without" "
	command -v curl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends curl >/dev/null
	(exec runuser -u dockline-http -g dockline-admin -- dockline-collector http -c /etc/dockline/collector.conf >/var/log/http.log 2>&1) &
	tok=\$(dockline token create pkg --role read | sed -n 2p)
	for i in \$(seq 50); do curl -s -o /dev/null http://127.0.0.1:9810/ && break; sleep 0.1; done
	cat /var/log/http.log
	test \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9810/api/v1/hosts)\" = 401
	test \"\$(curl -s -o /dev/null -w '%{http_code}' -H \"Authorization: Bearer \$tok\" http://127.0.0.1:9810/api/v1/hosts)\" = 200
	pkill -u dockline-http dockline-coll || true"

# --- enrollment, exactly as docs/INSTALL.md says --------------------------
# This container is both the collector host (sshd from the container's own
# openssh-server with its packaged host keys, on a private port of its
# loopback) and the Docker host (the host's docker.sock is mounted).
if [ -n "$sockgid" ]; then
	# With --network host the container's loopback is this machine's.
	port=2222
	[ -z "$net" ] || port=$(shuf -i 20000-60000 -n 1)
	run_in "collector host: openssh-server installed and sshd listening on 127.0.0.1:$port" "
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -q --no-install-recommends openssh-server >/dev/null
		test -s /etc/ssh/ssh_host_ed25519_key.pub
		mkdir -p /run/sshd
		/usr/sbin/sshd -p $port -o ListenAddress=127.0.0.1
		for i in \$(seq 50); do ssh-keyscan -p $port 127.0.0.1 >/dev/null 2>&1 && exit 0; sleep 0.1; done
		exit 1"
	run_in "collector host: collector.conf names the packaged authorized_keys and sshd's host key" "
		grep -qx 'authorized_keys = /var/lib/dockline/.ssh/authorized_keys' /etc/dockline/collector.conf
		grep -qx 'host_key = /etc/ssh/ssh_host_ed25519_key.pub' /etc/dockline/collector.conf"
	# The fingerprint the administrator reads on the collector host.
	fp=$(docker exec "$cur" ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | awk '{print $2}')
	run_in "Docker host: enroll --trust with a wrong fingerprint pins nothing" "
		set +e
		dockline-agent enroll --collector ssh://dockline@127.0.0.1:$port --name pkg-host \
			--trust SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >/tmp/out 2>&1
		rc=\$?
		set -e
		cat /tmp/out
		test \$rc -eq 1 && grep -q 'refusing to pin' /tmp/out
		test ! -e /var/lib/dockline-agent/known_hosts
		! grep -q '^address' /etc/dockline/agent.conf"
	run_in "Docker host: dockline-agent enroll --collector ssh://dockline@127.0.0.1:$port --name pkg-host --trust $fp" "
		md5sum /var/lib/dockline-agent/id_ed25519 >/tmp/key.sum
		dockline-agent enroll --collector ssh://dockline@127.0.0.1:$port --name pkg-host --trust '$fp' >/tmp/enroll.out
		cat /tmp/enroll.out
		grep -qF '$fp' /tmp/enroll.out
		pub=\$(cut -d' ' -f1,2 /var/lib/dockline-agent/id_ed25519.pub)
		grep -qF \"dockline enroll pkg-host --key '\$pub\" /tmp/enroll.out
		md5sum -c --quiet /tmp/key.sum
		grep -qx 'address = 127.0.0.1:$port' /etc/dockline/agent.conf
		test -s /etc/dockline/agent.conf.bak
		grep -q '^\[127.0.0.1\]:$port ssh-ed25519 ' /var/lib/dockline-agent/known_hosts
		test \"\$(stat -c '%a %U %G' /etc/dockline/agent.conf)\" = '640 root dockline-agent'
		runuser -u dockline-agent -- test -r /var/lib/dockline-agent/known_hosts
		test \"\$(stat -c '%a %U' /var/lib/dockline-agent)\" = '750 dockline-agent'"
	run_in "Docker host: check fails before the collector knows the key" "
		set +e
		dockline-agent check >/tmp/out 2>&1
		rc=\$?
		set -e
		cat /tmp/out
		test \$rc -eq 1 && grep -q 'rejected key' /tmp/out"
	run_in "collector host: dockline enroll pkg-host --key \"\$(cat .../id_ed25519.pub)\" appends to the packaged authorized_keys" "
		dockline enroll pkg-host --key \"\$(cat /var/lib/dockline-agent/id_ed25519.pub)\" >/tmp/out
		cat /tmp/out
		grep -q '^enrolled pkg-host' /tmp/out
		grep -qF -e \"--host-key '\$(cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub)'\" /tmp/out
		test \"\$(grep -c ' dockline:pkg-host\$' /var/lib/dockline/.ssh/authorized_keys)\" = 1
		grep -q '^restrict,command=\"exec /usr/bin/dockline-collector attach --host=pkg-host -c /etc/dockline/collector.conf\" ssh-ed25519 ' /var/lib/dockline/.ssh/authorized_keys
		test \"\$(stat -c '%a %U %G' /var/lib/dockline/.ssh/authorized_keys)\" = '600 dockline dockline'
		dockline enroll pkg-host --key /var/lib/dockline-agent/id_ed25519.pub | grep -q 'already enrolled'
		test \"\$(grep -c ' dockline:pkg-host\$' /var/lib/dockline/.ssh/authorized_keys)\" = 1"
	run_in "Docker host: dockline-agent check says all good (as root and as dockline-agent)" "
		dockline-agent check >/tmp/out 2>&1 || { cat /tmp/out; exit 1; }
		cat /tmp/out
		tail -1 /tmp/out | grep -qx 'dockline-agent check: all good'
		grep -q 'accepts this host as \"pkg-host\"' /tmp/out
		runuser -u dockline-agent -- dockline-agent check >/tmp/out2 2>&1 || { cat /tmp/out2; exit 1; }"
	# What the unit runs: ExecStart= as User=dockline-agent with
	# SupplementaryGroups=docker.
	run_in "Docker host: the unit's ExecStart as dockline-agent; dockline hosts shows pkg-host online" "
		cmd=\$(sed -n 's/^ExecStart=//p' /lib/systemd/system/dockline-agent.service)
		(exec runuser -u dockline-agent -g dockline-agent -G docker -- \$cmd >/var/log/agent.log 2>&1) &
		t0=\$(date +%s)
		for i in \$(seq 100); do dockline hosts | grep -q '^pkg-host  *online' && break; sleep 0.2; done
		dockline hosts
		dockline hosts | grep -q '^pkg-host  *online' || { tail -20 /var/log/agent.log /var/log/collector.log; exit 1; }
		echo \"online after \$((\$(date +%s) - t0)) s\""
	grep '^online after' "$tmp/out" | sed 's/^/     /'
else
	echo "skip enrollment: no /var/run/docker.sock on this host"
fi

# --- reinstall (upgrade path): config and data stay ------------------------
run_in "dpkg -i again keeps the edited agent.conf, its mode, the key, the database" "
	sed -n 's/^address = //p' /etc/dockline/agent.conf >/tmp/addr.before
	echo '# local edit' >>/etc/dockline/collector.conf
	md5sum /var/lib/dockline-agent/id_ed25519 /var/lib/dockline/.ssh/authorized_keys >/tmp/sums
	dpkg -i /pkgs/dockline-agent_${version}-*.deb /pkgs/dockline-collector_${version}-*.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
	grep -q '^# local edit' /etc/dockline/collector.conf
	sed -n 's/^address = //p' /etc/dockline/agent.conf | cmp - /tmp/addr.before
	test \"\$(stat -c '%a %U %G' /etc/dockline/agent.conf)\" = '640 root dockline-agent'
	md5sum -c --quiet /tmp/sums
	test -s /var/lib/dockline/dockline.db
	getent passwd dockline-agent dockline >/dev/null"
if [ -n "$sockgid" ]; then
	run_in "after reinstall the collector still knows host pkg-host" \
		"dockline hosts | grep -q '^pkg-host '"
	run_in "collector host: dockline forget pkg-host --purge removes the key, closes the session, deletes the history" "
		dockline forget pkg-host --purge >/tmp/out
		cat /tmp/out
		grep -q '^removed 1 key line of pkg-host' /tmp/out
		grep -q '^purged the history of pkg-host' /tmp/out
		! grep -q 'dockline:pkg-host' /var/lib/dockline/.ssh/authorized_keys || exit 1
		test \"\$(stat -c '%a %U' /var/lib/dockline/.ssh/authorized_keys)\" = '600 dockline'
		for i in \$(seq 50); do dockline hosts | grep -q '^pkg-host ' || break; sleep 0.2; done
		! dockline hosts | grep -q '^pkg-host ' || exit 1
		# the agent keeps retrying, and is refused
		sleep 5
		! dockline hosts | grep -q '^pkg-host ' || exit 1
		set +e
		dockline-agent check >/tmp/out 2>&1
		rc=\$?
		set -e
		test \$rc -eq 1 && grep -q 'rejected key' /tmp/out"
fi

# --- purge -----------------------------------------------------------------
run_in "apt-get purge removes users, groups, /var/lib dirs and /etc/dockline" "
	for p in \$(pgrep -u dockline-agent) \$(pgrep -u dockline); do kill \$p; done
	for i in \$(seq 50); do pgrep -u dockline >/dev/null || pgrep -u dockline-agent >/dev/null || break; sleep 0.1; done
	DEBIAN_FRONTEND=noninteractive apt-get purge -y -q dockline-agent dockline-collector >/tmp/purge.log 2>&1 || { cat /tmp/purge.log; exit 1; }
	# (a bare ! does not trip set -e)
	! getent passwd dockline-agent || exit 1
	! getent passwd dockline || exit 1
	! getent passwd dockline-http || exit 1
	! getent group dockline-agent || exit 1
	! getent group dockline-admin || exit 1
	test ! -e /var/lib/dockline-agent
	test ! -e /var/lib/dockline
	test ! -e /etc/dockline
	test ! -e /usr/bin/dockline
	test ! -e /etc/systemd/system/multi-user.target.wants/dockline-agent.service
	test ! -e /etc/systemd/system/multi-user.target.wants/dockline-collector.service
	getent group docker >/dev/null"

# --- rpm scriptlets, run for real on a clean system --------------------------
# No rpm distribution here, so the rpm is not installed; its payload is
# unpacked and its %post/%preun/%postun scriptlets are run the way rpm
# runs them (sh, with the instance count as $1).
docker rm -f "$name" >/dev/null
cur=$rname
# shellcheck disable=SC2086
docker run -d --name "$rname" $net "$image" sleep infinity >/dev/null
for p in agent collector; do
	rpmf=$(ls "$dist"/dockline-$p-"$version"-*.rpm)
	mkdir -p "$tmp/rpm-$p"
	(cd "$tmp/rpm-$p" && rpm2cpio "$rpmf" | cpio -idm --quiet)
	rpm -qp --scripts "$rpmf" 2>/dev/null | awk -v d="$tmp/rpm-$p" '
		/^(postinstall|preuninstall|postuninstall) scriptlet/ { f = d "/" $1 ".sh"; next }
		f { print > f }'
	# tar, not docker cp: the payload's /lib must go through the
	# container's /lib -> usr/lib symlink.
	(cd "$tmp/rpm-$p" && tar --exclude='./*.sh' -cf - .) |
		docker exec -i "$rname" tar -C / --keep-directory-symlink -xf -
	for s in postinstall preuninstall postuninstall; do
		docker cp "$tmp/rpm-$p/$s.sh" "$rname:/tmp/rpm-$p-$s.sh"
	done
done
run_in "rpm scriptlets parse (sh -n) in the container" "
	for f in /tmp/rpm-*.sh; do sh -n \$f; done"
run_in "rpm %post 1 (install) of both packages" "
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends passwd openssh-client >/dev/null
	sh /tmp/rpm-agent-postinstall.sh 1
	sh /tmp/rpm-collector-postinstall.sh 1"
run_in "rpm %post created the same users, dirs, key and modes as the deb" "
	getent passwd dockline-agent >/dev/null
	test \"\$(stat -c '%a %U' /var/lib/dockline-agent/id_ed25519)\" = '600 dockline-agent'
	test \"\$(stat -c '%a %U %G' /etc/dockline/agent.conf)\" = '640 root dockline-agent'
	test \"\$(getent shadow dockline | cut -d: -f2)\" = '*'
	getent group dockline-admin >/dev/null
	test \"\$(stat -c '%a %U' /var/lib/dockline/.ssh/authorized_keys)\" = '600 dockline'"
run_in "rpm %post 2 (upgrade) keeps the key; %preun 0 / %postun 0 keep users and data" "
	md5sum /var/lib/dockline-agent/id_ed25519 >/tmp/sum
	sh /tmp/rpm-agent-postinstall.sh 2
	sh /tmp/rpm-collector-postinstall.sh 2
	md5sum -c --quiet /tmp/sum
	for p in agent collector; do
		sh /tmp/rpm-\$p-preuninstall.sh 0
		sh /tmp/rpm-\$p-postuninstall.sh 0
	done
	getent passwd dockline-agent dockline >/dev/null
	test -d /var/lib/dockline-agent && test -d /var/lib/dockline"

if [ "$fails" -ne 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all install checks passed"
