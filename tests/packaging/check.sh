#!/bin/sh
# check.sh - build the .deb and .rpm packages and check them without
# installing anything on this host: contents, control data, conffiles,
# maintainer scripts, lintian, rpmlint, systemd-analyze verify.
#   tests/packaging/check.sh [BUILD_DIR]     (default: build-pkg)
# Installs the tools it needs from Debian (apt) when they are missing.
# Exit status: 0 all checks passed, 1 otherwise (each failure is printed).
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build-pkg}
case "$build" in /*) ;; *) build="$src/$build" ;; esac
tmp=$(mktemp -d /tmp/dockline-pkgcheck.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0

ok() { echo "ok   $*"; }
pkgfile() { # pkgfile agent|collector deb|rpm
	case $1.$2 in
	agent.deb) echo "$adeb" ;;
	collector.deb) echo "$cdeb" ;;
	agent.rpm) echo "$arpm" ;;
	collector.rpm) echo "$crpm" ;;
	esac
}
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { # check DESCRIPTION COMMAND...
	d=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then ok "$d"; else bad "$d"; sed 's/^/     /' "$tmp/out"; fi
}

need=""
for t in cmake:cmake gcc:gcc pkg-config:pkg-config dpkg-shlibdeps:dpkg-dev \
	 file:file rpmbuild:rpm lintian:lintian rpmlint:rpmlint \
	 systemd-analyze:systemd man:man-db; do
	command -v "${t%%:*}" >/dev/null 2>&1 || need="$need ${t#*:}"
done
if [ -n "$need" ]; then
	echo "installing:$need"
	# shellcheck disable=SC2086 # $need is a word list
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need >/dev/null
fi

"$src/packaging/build.sh" "$build" >"$tmp/build.log" 2>&1 || {
	tail -40 "$tmp/build.log"
	echo "FAIL packaging/build.sh"
	exit 1
}
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
release=$(sed -n 's/^DL_PACKAGE_RELEASE:STRING=//p' "$build/CMakeCache.txt")
arch=$(dpkg --print-architecture)
rarch=$(uname -m)
dist="$build/dist"
adeb="$dist/dockline-agent_${version}-${release}_${arch}.deb"
cdeb="$dist/dockline-collector_${version}-${release}_${arch}.deb"
arpm="$dist/dockline-agent-${version}-${release}.${rarch}.rpm"
crpm="$dist/dockline-collector-${version}-${release}.${rarch}.rpm"
echo "version $version-$release"
for f in "$adeb" "$cdeb" "$arpm" "$crpm"; do
	check "built $(basename "$f")" test -s "$f"
done

# --- deb -------------------------------------------------------------------
# Exact file lists (directories left out): anything added or missing fails.
cat >"$tmp/agent.files" <<'EOF'
./etc/dockline/agent.conf
./lib/systemd/system/dockline-agent.service
./usr/bin/dockline-agent
./usr/share/doc/dockline-agent/changelog.Debian.gz
./usr/share/doc/dockline-agent/copyright
./usr/share/lintian/overrides/dockline-agent
./usr/share/man/man8/dockline-agent.8.gz
EOF
cat >"$tmp/collector.files" <<'EOF'
./etc/dockline/collector.conf
./lib/systemd/system/dockline-collector.service
./lib/systemd/system/dockline-http.service
./usr/bin/dockline
./usr/bin/dockline-collector
./usr/libexec/dockline/dockline-attach
./usr/share/doc/dockline-collector/changelog.Debian.gz
./usr/share/doc/dockline-collector/copyright
./usr/share/lintian/overrides/dockline-collector
./usr/share/man/man1/dockline.1.gz
./usr/share/man/man8/dockline-collector.8.gz
EOF
for p in agent collector; do
	deb=$(pkgfile $p deb)
	dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sort >"$tmp/$p.got"
	check "dockline-$p.deb: file list" diff -u "$tmp/$p.files" "$tmp/$p.got"
	check "dockline-$p.deb: no file owned by a non-root user" \
		sh -c "dpkg-deb -c '$deb' | awk '\$2 != \"root/root\" { print; bad = 1 } END { exit bad }'"
	dpkg-deb -x "$deb" "$tmp/root-$p"
	check "dockline-$p.deb: binaries 0755, stripped" sh -c "
		dpkg-deb -c '$deb' | awk '/usr\/bin\/./ && \$1 != \"-rwxr-xr-x\" { print; bad = 1 } END { exit bad }' &&
		for b in '$tmp/root-$p'/usr/bin/*; do file \"\$b\" | grep -q ', stripped' || { echo \"\$b not stripped\"; exit 1; }; done"
	dpkg-deb -f "$deb" >"$tmp/$p.control"
	check "dockline-$p.deb: Package/Version/Architecture" sh -c "
		grep -qx 'Package: dockline-$p' '$tmp/$p.control' &&
		grep -qx 'Version: $version-$release' '$tmp/$p.control' &&
		grep -qx 'Architecture: $arch' '$tmp/$p.control'"
	check "dockline-$p.deb: conffiles = /etc/dockline/$p.conf" \
		sh -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xOf - ./conffiles | grep -qx '/etc/dockline/$p.conf'"
	for s in postinst prerm postrm; do
		dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - "./$s" >"$tmp/$p.$s"
		check "dockline-$p.deb: $s parses (sh -n, dash -n)" \
			sh -c "sh -n '$tmp/$p.$s' && dash -n '$tmp/$p.$s'"
	done
done
# dpkg-shlibdeps must have found the libraries each binary links.
check "dockline-agent Depends (shlibdeps): libssh2, libcurl, libuv, libmsgpack, libjansson, libinih + passwd, openssh-client" sh -c "
	d=\$(sed -n 's/^Depends: //p' '$tmp/agent.control')
	for l in libc6 libssh2-1 libcurl4 libuv1 libmsgpackc2 libjansson4 libinih1 passwd openssh-client; do
		echo \"\$d\" | grep -q \"\\b\$l\\b\" || { echo \"missing \$l in: \$d\"; exit 1; }
	done"
check "dockline-collector Depends (shlibdeps): libsqlite3, libuv, libjansson, libinih, libssl, libwebsockets, libsnappy + passwd, its uv plugin" sh -c "
	d=\$(sed -n 's/^Depends: //p' '$tmp/collector.control')
	for l in libc6 libsqlite3-0 libuv1 libjansson4 libinih1 libssl3 libwebsockets17 libsnappy1v5 passwd libwebsockets-evlib-uv; do
		echo \"\$d\" | grep -q \"\\b\$l\\b\" || { echo \"missing \$l in: \$d\"; exit 1; }
	done"
check "agent postinst: creates user, adds to docker, makes key" sh -c "
	grep -q 'useradd --system' '$tmp/agent.postinst' &&
	grep -q 'usermod -a -G docker' '$tmp/agent.postinst' &&
	grep -q 'ssh-keygen -q -t ed25519' '$tmp/agent.postinst'"
check "collector postinst: unlocks dockline for sshd, makes authorized_keys" sh -c "
	grep -q \"usermod -p '\\*'\" '$tmp/collector.postinst' &&
	grep -q 'authorized_keys' '$tmp/collector.postinst'"

# --- lintian -------------------------------------------------------------
lintian --info --display-info --pedantic --no-tag-display-limit \
	"$adeb" "$cdeb" >"$tmp/lintian" 2>&1 || true
echo "lintian summary (E=error W=warning I=info P=pedantic, O=overridden):"
sed -n 's/^\([EWIPXO]\): \([^ ]*\): \([^ ]*\).*/  \1 \2 \3/p' "$tmp/lintian" |
	sort | uniq -c | sed 's/^/ /'
check "lintian: no errors" sh -c "! grep -q '^E: ' '$tmp/lintian'"
check "lintian: no warnings" sh -c "! grep -q '^W: ' '$tmp/lintian'"

# --- rpm -------------------------------------------------------------------
for p in agent collector; do
	rpm=$(pkgfile $p rpm)
	rpm -qlp "$rpm" 2>/dev/null | sed 's|^|.|' | sort >"$tmp/$p.rgot"
	# rpm lists the package's own directories too; compare files only.
	grep -v -x -e './etc/dockline' -e './usr/share/doc/dockline-'"$p" -e './usr/libexec/dockline' \
		"$tmp/$p.rgot" >"$tmp/$p.rfiles" || true
	check "dockline-$p.rpm: file list" diff -u "$tmp/$p.files" "$tmp/$p.rfiles"
	check "dockline-$p.rpm: Version $version Release $release" sh -c "
		test \"\$(rpm -qp --qf '%{NAME} %{VERSION} %{RELEASE} %{LICENSE}' '$rpm' 2>/dev/null)\" = 'dockline-$p $version $release MIT'"
	check "dockline-$p.rpm: %config(noreplace) /etc/dockline/$p.conf" sh -c "
		rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' '$rpm' 2>/dev/null | grep -qx 'cn /etc/dockline/$p.conf'"
	rpm -qp --requires "$rpm" >"$tmp/$p.requires" 2>/dev/null
	rpm -qp --scripts "$rpm" >"$tmp/$p.scripts" 2>/dev/null
	check "dockline-$p.rpm: %post/%preun/%postun present" sh -c "
		grep -q '^postinstall scriptlet' '$tmp/$p.scripts' &&
		grep -q '^preuninstall scriptlet' '$tmp/$p.scripts' &&
		grep -q '^postuninstall scriptlet' '$tmp/$p.scripts'"
	# Cut the three scriptlets out and parse each one.
	awk -v dir="$tmp" -v p="$p" '
		/^(postinstall|preuninstall|postuninstall) scriptlet/ { f = dir "/" p ".rpm." $1; next }
		f { print > f }' "$tmp/$p.scripts"
	for s in postinstall preuninstall postuninstall; do
		check "dockline-$p.rpm: $s parses (sh -n)" sh -n "$tmp/$p.rpm.$s"
	done
done
check "dockline-agent.rpm requires (automatic): libssh2.so.1, libcurl.so.4, libuv.so.1, useradd, ssh-keygen" sh -c "
	for r in 'libssh2.so.1()(64bit)' 'libcurl.so.4()(64bit)' 'libuv.so.1()(64bit)' 'libjansson.so.4()(64bit)' /usr/sbin/useradd /usr/bin/ssh-keygen; do
		grep -qF \"\$r\" '$tmp/agent.requires' || { echo \"missing \$r\"; cat '$tmp/agent.requires'; exit 1; }
	done"
check "dockline-collector.rpm requires (automatic): libsqlite3.so.0, libuv.so.1, libsnappy.so.1, useradd" sh -c "
	for r in 'libsqlite3.so.0()(64bit)' 'libuv.so.1()(64bit)' 'libsnappy.so.1()(64bit)' /usr/sbin/useradd; do
		grep -qF \"\$r\" '$tmp/collector.requires' || { echo \"missing \$r\"; cat '$tmp/collector.requires'; exit 1; }
	done"

# rpmlint knows no rpm distribution's policy on Debian, so its findings are
# reported (see packaging/README.md for each), and only errors fail.
rpmlint -c "$src/tests/packaging/rpmlint.toml" "$arpm" "$crpm" >"$tmp/rpmlint" 2>&1 || true
echo "rpmlint summary:"
sed -n 's/^\([^ ]*\): \([EW]\): \([^ ]*\).*/  \2 \1 \3/p' "$tmp/rpmlint" | sort | uniq -c | sed 's/^/ /'
grep 'packages and' "$tmp/rpmlint" | sed 's/^ */  /'
# no-signature: signing (rpm --addsign) is a release step, not a build one.
check "rpmlint: no errors other than no-signature" sh -c "
	! grep ': E: ' '$tmp/rpmlint' | grep -v ': E: no-signature'"

# --- systemd -------------------------------------------------------------
# verify checks that ExecStart= exists and that Documentation= man pages
# resolve, so the units are verified as installed: the agent and collector
# package trees are overlaid on /usr (and /lib) in a private mount
# namespace; this host's own /usr is untouched.
mkdir -p "$tmp/sys/usr" "$tmp/sys/lib"
for p in agent collector; do
	cp -a "$tmp/root-$p/usr/." "$tmp/sys/usr/"
	cp -a "$tmp/root-$p/lib/." "$tmp/sys/lib/"
done
libdir=$(readlink -f /lib)
# Exit 3 = the overlays could not be set up (e.g. /usr is itself an
# overlay inside a container); then verify copies instead, and say so.
unshare -m sh -c "mount --make-rprivate / &&
	mount -t overlay overlay -o lowerdir='$tmp/sys/usr':/usr /usr &&
	mount -t overlay overlay -o lowerdir='$tmp/sys/lib':'$libdir' '$libdir' || exit 3
	systemd-analyze verify dockline-agent.service dockline-collector.service" \
	>"$tmp/verify.out" 2>&1 && rc=0 || rc=$?
if [ "$rc" = 3 ]; then
	echo "     (overlay mounts unavailable here: verifying unit copies with ExecStart= in the package tree)"
	mkdir -p "$tmp/units"
	for p in agent collector; do
		sed -e "s|^ExecStart=/usr/bin/|ExecStart=$tmp/sys/usr/bin/|" -e '/^Documentation=/d' \
			"$tmp/sys/lib/systemd/system/dockline-$p.service" >"$tmp/units/dockline-$p.service"
	done
	systemd-analyze verify "$tmp/units/dockline-agent.service" \
		"$tmp/units/dockline-collector.service" >"$tmp/verify.out" 2>&1 && rc=0 || rc=$?
fi
check "systemd-analyze verify dockline-agent.service dockline-collector.service" \
	sh -c "[ $rc = 0 ] && [ ! -s '$tmp/verify.out' ] || { cat '$tmp/verify.out'; exit 1; }"
for p in agent collector; do
	systemd-analyze security --offline=yes --no-pager \
		"$tmp/root-$p/lib/systemd/system/dockline-$p.service" 2>/dev/null |
		tail -1 | sed "s/^/  dockline-$p.service: /" || true
done

if [ "$fails" -ne 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all package checks passed"
