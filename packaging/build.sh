#!/bin/sh
# build.sh - build the dockline-agent and dockline-collector packages
# (.deb and .rpm) into BUILD_DIR/dist/. Run from anywhere:
#   packaging/build.sh [BUILD_DIR]        (default: build-pkg in the source tree)
# Needs: cmake gcc pkg-config, the -dev libraries (see README.md), dpkg-dev
# (dpkg-shlibdeps), file, and rpm (rpmbuild) for the .rpm files.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build-pkg}
cd "$src"

# Debian's hardening flags (fortify, stack protector, relro, bindnow), the
# same a Debian package build would use. Passed on the command line so
# they apply to an existing build directory too.
cflags="" ldflags=""
if command -v dpkg-buildflags >/dev/null 2>&1; then
	export DEB_BUILD_MAINT_OPTIONS=hardening=+all
	cflags="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS)"
	ldflags="$(dpkg-buildflags --get LDFLAGS)"
fi

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_C_FLAGS="$cflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags"
# Only what the packages contain: the test and bench programs are not
# packaged and need not build for a release.
cmake --build "$build" -j2 --target dockline-agent dockline-collector dockline \
	dl_packaging_files
(cd "$build" && cpack -G DEB && cpack -G RPM)
ls -l "$build"/dist/*.deb "$build"/dist/*.rpm
