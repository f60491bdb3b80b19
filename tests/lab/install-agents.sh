#!/bin/bash
# Build umha's agents (cargo, release profile) and install them where
# Pacemaker looks for them (as root):
#   fence agents, the binaries of stonith/*    -> /usr/sbin/NAME
#     (fence_ipmi, fence_maas, fence_umha_dummy)
#   OCF agents, the binaries of ocf-agents/*   -> /usr/lib/ocf/resource.d/umha/NAME
#   the tools umha and umha-alert (crates/*)   -> /usr/sbin/NAME
#   umha-maas-sim, the MAAS API simulator that fence_maas is tried against
#     in the lab (see stonith/fence-maas/README.md) -> /usr/sbin/NAME
#
#   tests/lab/install-agents.sh                  every agent of the workspace
#   tests/lab/install-agents.sh fence_ipmi ...   only these (binary names)
#   tests/lab/install-agents.sh --test-only      only the agents the package does not
#                                                ship (umha-dummy, fence_umha_dummy,
#                                                umha-maas-sim),
#                                                beside an installed umha package
#   tests/lab/install-agents.sh --list           what would go where, nothing done
#   tests/lab/install-agents.sh --uninstall      remove what this script installed
#
# Agents are listed by packaging/agents.sh (`cargo metadata`), so a new crate under stonith/ or
# ocf-agents/ is picked up without editing this script. Installed paths are
# recorded in /var/lib/umha-lab/installed-agents (for --uninstall); an
# unchanged binary is not copied again. Run it before up.sh when the lab uses
# an umha agent (fence_ipmi is the lab's default fence agent).
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
FENCE_DIR=/usr/sbin
OCF_DIR=/usr/lib/ocf/resource.d/umha
MANIFEST=/var/lib/umha-lab/installed-agents

log() { printf '[install-agents %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

mode=install
only=''
wanted=()
for arg in "$@"; do
	case $arg in
	--list) mode=list ;;
	--uninstall) mode=uninstall ;;
	--test-only) only=test ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	-*) die "unknown option $arg (try --help)" ;;
	*) wanted+=("$arg") ;;
	esac
done

if [ "$mode" = uninstall ]; then
	[ "$(id -u)" -eq 0 ] || die "must run as root"
	[ -r "$MANIFEST" ] || {
		log "nothing installed by this script"
		exit 0
	}
	while read -r path; do
		[ -n "$path" ] || continue
		rm -f "$path" && log "removed $path"
	done <"$MANIFEST"
	rmdir "$OCF_DIR" 2>/dev/null || true
	rm -f "$MANIFEST"
	exit 0
fi

if ! command -v cargo >/dev/null 2>&1; then
	for dir in "$HOME/.cargo/bin" /root/.cargo/bin; do
		[ -x "$dir/cargo" ] && export PATH="$dir:$PATH" && break
	done
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs)"
command -v python3 >/dev/null 2>&1 || die "python3 not found (tests/lab/install.sh installs it with fence-agents)"

# "package<TAB>kind<TAB>binary<TAB>ship" for every binary, then "target<TAB>DIR":
# the same list `make install` and the .deb use.
agents=$("$ROOT/packaging/agents.sh")
target_dir=$(awk -F'\t' '$1 == "target" { print $2 }' <<<"$agents")
agents=$(awk -F'\t' -v only="$only" '$1 != "target" && (only == "" || $4 == only)' <<<"$agents")

if [ ${#wanted[@]} -gt 0 ]; then
	selected=''
	for name in "${wanted[@]}"; do
		line=$(awk -F'\t' -v n="$name" '$3 == n' <<<"$agents")
		[ -n "$line" ] || die "no agent binary named $name (known: $(cut -f3 <<<"$agents" | paste -sd' '))"
		selected+="$line"$'\n'
	done
	agents=${selected%$'\n'}
fi
[ -n "$agents" ] || die "no agents found in the workspace"

dest() {
	case $1 in
	fence | tool) echo "$FENCE_DIR/$2" ;;
	ocf) echo "$OCF_DIR/$2" ;;
	esac
}

if [ "$mode" = list ]; then
	while IFS=$'\t' read -r pkg kind bin _; do
		printf '%-24s %-20s -> %s\n' "$bin" "($pkg)" "$(dest "$kind" "$bin")"
	done <<<"$agents"
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (installs into $FENCE_DIR and $OCF_DIR)"

packages=$(cut -f1 <<<"$agents" | sort -u)
pkg_args=()
for p in $packages; do pkg_args+=(-p "$p"); done
log "cargo build --release ${pkg_args[*]}"
(cd "$ROOT" && cargo build --release --quiet "${pkg_args[@]}")

mkdir -p "$(dirname "$MANIFEST")"
touch "$MANIFEST"
while IFS=$'\t' read -r _ kind bin _; do
	src="$target_dir/release/$bin"
	dst=$(dest "$kind" "$bin")
	[ -x "$src" ] || die "cargo built no $src"
	mkdir -p "$(dirname "$dst")"
	if cmp -s "$src" "$dst"; then
		log "$dst is up to date"
	else
		install -o root -g root -m 0755 "$src" "$dst.new"
		mv -f "$dst.new" "$dst"
		log "installed $dst ($(stat -c %s "$dst") bytes)"
	fi
	grep -qxF "$dst" "$MANIFEST" || printf '%s\n' "$dst" >>"$MANIFEST"
done <<<"$agents"
