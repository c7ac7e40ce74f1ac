#!/usr/bin/env bash
# Makes the Debian package ilp-gateway from an existing build directory
# (BUILD_DIR, default build) and prints the path of the .deb on its last line.
# Builds nothing: it installs what the build holds into a staging root
# (`cmake --install --strip`, so no debug info), adds the systemd unit, the
# config and the docs (component `service`, cmake/Packaging.cmake), finds
# the shared libraries the binaries need (dpkg-shlibdeps) and runs cpack
# (DEB) on that root.
#   OUT_DIR   where the .deb goes (default BUILD_DIR/packages)
#   VERSION   package version instead of the project's (e.g. for an upgrade test)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
if [[ ! -f $build_dir/CPackDeb.cmake || ! -x $build_dir/gateway/ilp-gateway ]]; then
  echo "package.sh: $build_dir is not a finished build (no CPackDeb.cmake or gateway/ilp-gateway); run scripts/build.sh first" >&2
  exit 2
fi
build_dir=$(cd "$build_dir" && pwd)
out_dir=${OUT_DIR:-$build_dir/packages}
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)

stage=$(mktemp -d "${TMPDIR:-/tmp}/ilpgw-package-XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/root
for component in "" service; do
  if ! DESTDIR=$root cmake --install "$build_dir" --prefix /usr --strip ${component:+--component "$component"} \
       >>"$stage/install.log" 2>&1; then
    cat "$stage/install.log" >&2
    echo "package.sh: cmake --install failed (is every target built? scripts/build.sh)" >&2
    exit 1
  fi
done

# Library dependencies of the ELF files, as dpkg-shlibdeps sees them.
mkdir -p "$stage/shlibs/debian"
: >"$stage/shlibs/debian/control"
shlibs=$(cd "$stage/shlibs" && dpkg-shlibdeps -O "$root/usr/bin/ilp-gateway" "$root"/usr/lib/ilp-gateway/plugins/*.so \
           2>"$stage/shlibdeps.log" | sed -n 's/^shlibs:Depends=//p')
if [[ -z $shlibs ]]; then
  cat "$stage/shlibdeps.log" >&2
  echo "package.sh: dpkg-shlibdeps found no library dependencies" >&2
  exit 1
fi
depends=$(sed -n 's/^set(CPACK_DEBIAN_PACKAGE_DEPENDS "\(.*\)")$/\1/p' "$build_dir/CPackDeb.cmake")

args=(-D "CPACK_INSTALLED_DIRECTORIES=$root;." -D "CPACK_DEBIAN_PACKAGE_DEPENDS=$depends, $shlibs")
if [[ -n ${VERSION:-} ]]; then args+=(-D "CPACK_PACKAGE_VERSION=$VERSION"); fi
if ! (cd "$stage" && cpack --config "$build_dir/CPackDeb.cmake" -B "$stage/cpack" "${args[@]}") >"$stage/cpack.log" 2>&1; then
  cat "$stage/cpack.log" >&2
  exit 1
fi
deb=$(find "$stage/cpack" -maxdepth 1 -name '*.deb' -print -quit)
if [[ -z $deb ]]; then
  cat "$stage/cpack.log" >&2
  echo "package.sh: cpack made no .deb" >&2
  exit 1
fi
mv -f "$deb" "$out_dir/"
echo "$out_dir/$(basename "$deb")"
