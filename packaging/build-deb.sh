#!/bin/bash
# Build the Debian package of umha from the static musl binaries:
#   packaging/build-deb.sh [--bin-dir DIR] [--out DIR]    (default out: target/debian)
# It is `make install` into a staging root (packaging/install.sh) plus the
# control file, packed with dpkg-deb: what the .deb holds is by construction
# what `make install` installs. Prints the path of the .deb it wrote.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
out=$ROOT/target/debian
install_args=()
while [ $# -gt 0 ]; do
	case $1 in
	--bin-dir) install_args+=(--bin-dir "${2:?--bin-dir needs a directory}"); shift ;;
	--out) out=${2:?--out needs a directory}; shift ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) echo "packaging/build-deb.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
	shift
done

version=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml")
[ -n "$version" ] || { echo "no workspace version in Cargo.toml" >&2; exit 1; }
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT
DESTDIR=$stage PREFIX=/usr OCF_ROOT=/usr/lib/ocf bash "$ROOT/packaging/install.sh" "${install_args[@]}"

# Debian's layout: compressed man pages, a copyright file.
find "$stage/usr/share/man" -type f -name '*.[78]' -exec gzip -9n {} +
cat >"$stage/usr/share/doc/umha/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: umha

Files: *
Copyright: umha developers
License: GPL-2.0-or-later
 On Debian systems, the full text of the GNU General Public License
 version 2 can be found in /usr/share/common-licenses/GPL-2.
COPYRIGHT

install -d "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: umha
Version: $version
Architecture: $arch
Maintainer: umha developers <umha@example.invalid>
Installed-Size: $size
Depends: pacemaker-cli-utils
Recommends: pacemaker, crmsh | pcs
Suggests: pacemaker-remote
Section: admin
Priority: optional
Homepage: https://example.invalid/umha
Description: compute-node high availability for OpenStack in Pacemaker
 umha fences failed OpenStack compute nodes and evacuates their instances,
 with agents Pacemaker runs like any other:
  - fence_ipmi: IPMI 2.0 LAN fencing, a drop-in for fence_ipmilan that
    reports success only after reading the power back off;
  - fence_maas: the same through the MAAS API;
  - ocf:umha:storage-monitor: a compute node's storage reachability as a
    node attribute;
  - ocf:umha:umha-evacuator: evacuates a node's instances once it is
    confirmed fenced, with UMHA's valve and Masakari's recovery methods;
  - umha-alert and umha: mail alerts and the administrator's command line.
 The binaries are static (musl, rustls); crmsh and pcs recipes are in
 /usr/share/doc/umha/crm-snippets.
CONTROL

mkdir -p "$out"
deb=$out/umha_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
