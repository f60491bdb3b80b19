#!/bin/bash
# Install umha into DESTDIR (what `make install` runs, and what the .deb is
# made of):
#   PREFIX/sbin                        fence agents, umha, umha-alert
#   OCF_ROOT/resource.d/umha           the OCF agents (Pacemaker's OCF root,
#                                      /usr/lib/ocf, whatever PREFIX is)
#   PREFIX/share/man/man7, man8        the man pages of man/
#   PREFIX/share/doc/umha              README, docs/, crm-snippets/
#   PREFIX/share/bash-completion/completions/umha
#
#   packaging/install.sh [--bin-dir DIR]
# Environment: DESTDIR (empty), PREFIX (/usr), OCF_ROOT (/usr/lib/ocf);
# binaries come from DIR, by default the static musl release build
# (cargo build --release --target x86_64-unknown-linux-musl). Builds nothing:
# a missing binary is an error.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr}
OCF_ROOT=${OCF_ROOT:-/usr/lib/ocf}
MUSL=x86_64-unknown-linux-musl

die() {
	echo "packaging/install.sh: $*" >&2
	exit 1
}

bin_dir=''
while [ $# -gt 0 ]; do
	case $1 in
	--bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift ;;
	--bin-dir=*) bin_dir=${1#--bin-dir=} ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument: $1 (try --help)" ;;
	esac
	shift
done

agents=$("$ROOT/packaging/agents.sh")
if [ -z "$bin_dir" ]; then
	bin_dir="$(awk -F'\t' '$1 == "target" { print $2 }' <<<"$agents")/$MUSL/release"
fi
[ -d "$bin_dir" ] || die "no $bin_dir: build first (make build)"

sbin=$DESTDIR$PREFIX/sbin
ocf=$DESTDIR$OCF_ROOT/resource.d/umha
man=$DESTDIR$PREFIX/share/man
doc=$DESTDIR$PREFIX/share/doc/umha
completions=$DESTDIR$PREFIX/share/bash-completion/completions

install -d -m 0755 "$sbin" "$ocf" "$man/man7" "$man/man8" "$doc/crm-snippets" "$completions"
while IFS=$'\t' read -r _ kind bin ship; do
	[ "$ship" = yes ] || continue
	[ -x "$bin_dir/$bin" ] || die "$bin_dir/$bin is missing: build first (make build)"
	case $kind in
	fence | tool) install -m 0755 "$bin_dir/$bin" "$sbin/$bin" ;;
	ocf) install -m 0755 "$bin_dir/$bin" "$ocf/$bin" ;;
	*) die "unknown kind $kind of $bin" ;;
	esac
done < <(awk -F'\t' '$1 != "target"' <<<"$agents")

for page in "$ROOT"/man/*.[78]; do
	install -m 0644 "$page" "$man/man${page##*.}/"
done
install -m 0644 "$ROOT/README.md" "$doc/"
if [ -d "$ROOT/docs" ]; then
	install -m 0644 "$ROOT"/docs/*.md "$doc/"
fi
for snippet in "$ROOT"/crm-snippets/*; do
	install -m 0644 "$snippet" "$doc/crm-snippets/"
done
"$bin_dir/umha" completions bash >"$completions/umha"
chmod 0644 "$completions/umha"
