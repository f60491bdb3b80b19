#!/usr/bin/env bash
# Build every ipmi-lan fuzz target and run each for N seconds (default 10).
#
#   crates/ipmi-lan/fuzz/run.sh [seconds]
#
# Needs a nightly toolchain (`cargo +nightly`) and cargo-fuzz; installs
# cargo-fuzz from crates.io when it is missing (a few minutes, once). When
# either cannot be had, says so and exits 0 ("SKIPPED: ..."), so CI without
# them still passes; a crash or a failed build exits non-zero.
#
# The corpus of the `packet` target is seeded with the datagrams captured in
# ../tests/fixtures (real ipmitool/ipmi_sim exchanges). Findings land in
# artifacts/<target>/; reproduce with `cargo +nightly fuzz run <target> <file>`.
# UMHA_FUZZ_TARGETS="packet rakp" runs only those targets.
set -euo pipefail

secs=${1:-10}
case $secs in
'' | *[!0-9]*) echo "usage: $0 [seconds]" >&2; exit 2 ;;
esac
cd "$(dirname "$(readlink -f "$0")")"

log() { printf '[fuzz %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
skip() {
	log "SKIPPED: $*"
	exit 0
}

command -v cargo >/dev/null 2>&1 || { [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"; }
command -v cargo >/dev/null 2>&1 || skip "cargo is not installed"
if ! cargo +nightly --version >/dev/null 2>&1; then
	command -v rustup >/dev/null 2>&1 || skip "no nightly toolchain and no rustup to get one"
	log "installing the nightly toolchain (rustup, minimal profile)"
	timeout 900 rustup toolchain install nightly --profile minimal >/dev/null 2>&1 ||
		skip "the nightly toolchain cannot be installed here"
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
	log "installing cargo-fuzz (cargo install cargo-fuzz --locked; a few minutes)"
	(cd / && timeout 1200 cargo +nightly install cargo-fuzz --locked) >/dev/null 2>&1 ||
		skip "cargo-fuzz cannot be installed here (no crates.io?)"
fi
log "$(cargo +nightly --version), $(cargo +nightly fuzz --version)"

# Seeds: every captured datagram, one file each.
if [ ! -d corpus/packet ] && command -v xxd >/dev/null 2>&1; then
	mkdir -p corpus/packet
	n=0
	for fixture in ../tests/fixtures/*.txt; do
		[ -f "$fixture" ] || continue
		while read -r tag hex _; do
			case $tag in 'C>S' | 'S>C') ;; *) continue ;; esac
			n=$((n + 1))
			printf '%s' "$hex" | xxd -r -p >"corpus/packet/seed-$n"
		done <"$fixture"
	done
	log "seeded corpus/packet with $n captured datagrams"
fi

targets=${UMHA_FUZZ_TARGETS:-$(cargo +nightly fuzz list)}
[ -n "$targets" ] || { log "no fuzz targets found"; exit 1; }
log "building: $(echo $targets)"
cargo +nightly fuzz build

for target in $targets; do
	log "running $target for ${secs}s"
	mkdir -p "corpus/$target"
	out="artifacts/$target.log"
	mkdir -p artifacts
	if cargo +nightly fuzz run "$target" "corpus/$target" -- \
		-max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$out" 2>&1; then
		grep -E '^Done [0-9]+ runs' "$out" || true
	else
		tail -n 40 "$out"
		log "$target FAILED (log $out, reproducer in artifacts/$target/)"
		exit 1
	fi
done
log "all targets ran ${secs}s without a finding"
