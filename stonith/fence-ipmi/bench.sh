#!/usr/bin/env bash
# fence_ipmi (release build) against Debian's fence_ipmilan, on the same
# ipmi_sim (an instance of its own on 127.0.0.1, killed by PID at exit):
# `status` N times and `reboot` with power_wait=0 M times each, identical
# stdin (lanplus=1 cipher=3, so fence_ipmilan does not stall 14 s), then a
# table of median wall time and peak RSS (/usr/bin/time -v) with ratios.
#
#   stonith/fence-ipmi/bench.sh [N_STATUS [M_REBOOT]]     (defaults 30 and 10)
#
# Targets: status at least 10x faster than fence_ipmilan, peak RSS < 5 MB.
# Not a test: numbers depend on the machine. Needs ipmi_sim, ipmitool and
# fence_ipmilan; installs the `time` package if /usr/bin/time is missing (root).
set -euo pipefail

N=${1:-30}
M=${2:-10}
ROOT="$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)"
PORT=${UMHA_BENCH_PORT:-9299}
USER_NAME=admin
PASSWORD=bench-pw-1

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

for tool in ipmi_sim ipmitool fence_ipmilan; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (tests/lab/install.sh installs it)"
done
if [ ! -x /usr/bin/time ]; then
	[ "$(id -u)" -eq 0 ] || die "/usr/bin/time is missing: apt-get install time"
	log "installing package time (for /usr/bin/time -v)"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends time >/dev/null
fi
if [ -n "$(ss -Hlun "sport = :$PORT" 2>/dev/null)" ]; then
	die "UDP port $PORT is in use; set UMHA_BENCH_PORT"
fi

log "building fence_ipmi (release)"
(cd "$ROOT" && cargo build --release --quiet -p fence-ipmi)
TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
FENCE_IPMI="$TARGET_DIR/release/fence_ipmi"
[ -x "$FENCE_IPMI" ] || die "no $FENCE_IPMI"
FENCE_IPMILAN=$(command -v fence_ipmilan)

# ---- our own ipmi_sim -------------------------------------------------------
WORK=$(mktemp -d /tmp/fence-ipmi-bench.XXXXXX)
SIM_PID=''
cleanup() {
	if [ -n "$SIM_PID" ]; then
		kill -9 "$SIM_PID" 2>/dev/null || true
		wait "$SIM_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/power" <<'EOF'
#!/bin/sh
f="$(dirname "$0")/power-state"
[ -f "$f" ] || echo 1 >"$f"
case "$2" in
get) echo "power:$(cat "$f")" ;;
set) [ "$3" = power ] && echo "$4" >"$f" ;;
esac
exit 0
EOF
chmod +x "$WORK/power"
cat >"$WORK/lan.conf" <<EOF
name "fence-ipmi-bench"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $PORT
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcd03
  endlan
  chassis_control "$WORK/power node"
user 2 true "$USER_NAME" "$PASSWORD" admin 10 none md2 md5 straight
EOF
printf 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nsel_enable 0x20 1000 0x0a\nmc_enable 0x20\n' >"$WORK/bmc.emu"
mkdir -p "$WORK/state"
ipmi_sim -n -c "$WORK/lan.conf" -f "$WORK/bmc.emu" -s "$WORK/state" </dev/null >"$WORK/ipmi_sim.log" 2>&1 &
SIM_PID=$!
for _ in $(seq 100); do
	[ -n "$(ss -Hlun "sport = :$PORT" 2>/dev/null)" ] && break
	sleep 0.05
done
[ -n "$(ss -Hlun "sport = :$PORT" 2>/dev/null)" ] || die "ipmi_sim did not start: $(cat "$WORK/ipmi_sim.log")"

input() {
	printf 'ip=127.0.0.1\nipport=%s\nusername=%s\npassword=%s\nlanplus=1\ncipher=3\npower_wait=0\naction=%s\n' \
		"$PORT" "$USER_NAME" "$PASSWORD" "$1"
}

# run AGENT ACTION COUNT: one "wall_ms rss_kb" line per run on stdout.
run() {
	local agent=$1 action=$2 count=$3 i start end rc
	for i in $(seq "$count"); do
		start=$(date +%s%N)
		rc=0
		input "$action" | /usr/bin/time -v -o "$WORK/time" "$agent" >/dev/null 2>"$WORK/stderr" || rc=$?
		end=$(date +%s%N)
		[ "$rc" -eq 0 ] || die "$(basename "$agent") $action exited $rc: $(tail -n 3 "$WORK/stderr")"
		printf '%s %s\n' "$(((end - start) / 1000))" \
			"$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time")"
	done
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
max() { sort -n | tail -n 1; }
ms() { awk -v us="$1" 'BEGIN { printf "%.1f ms", us / 1000 }'; }
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f MB", kb / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }

# Warm the page cache for both, then measure.
run "$FENCE_IPMI" status 2 >/dev/null
run "$FENCE_IPMILAN" status 2 >/dev/null

log "status x$N, reboot (power_wait=0) x$M, each agent"
run "$FENCE_IPMI" status "$N" >"$WORK/ours.status"
run "$FENCE_IPMILAN" status "$N" >"$WORK/theirs.status"
run "$FENCE_IPMI" reboot "$M" >"$WORK/ours.reboot"
run "$FENCE_IPMILAN" reboot "$M" >"$WORK/theirs.reboot"

os=$(cut -d' ' -f1 "$WORK/ours.status" | median)
ts=$(cut -d' ' -f1 "$WORK/theirs.status" | median)
orb=$(cut -d' ' -f1 "$WORK/ours.reboot" | median)
trb=$(cut -d' ' -f1 "$WORK/theirs.reboot" | median)
orss=$(cat "$WORK/ours.status" "$WORK/ours.reboot" | cut -d' ' -f2 | max)
trss=$(cat "$WORK/theirs.status" "$WORK/theirs.reboot" | cut -d' ' -f2 | max)

printf '\n| agent | status (median of %s) | reboot, power_wait=0 (median of %s) | peak RSS |\n' "$N" "$M"
printf '| --- | --- | --- | --- |\n'
printf '| fence_ipmilan (%s) | %s | %s | %s |\n' "$(dpkg-query -W -f='${Version}' fence-agents 2>/dev/null || echo '?')" "$(ms "$ts")" "$(ms "$trb")" "$(mb "$trss")"
printf '| fence_ipmi (release) | %s | %s | %s |\n' "$(ms "$os")" "$(ms "$orb")" "$(mb "$orss")"
printf '| ratio | %s faster | %s faster | %s smaller |\n\n' "$(ratio "$ts" "$os")" "$(ratio "$trb" "$orb")" "$(ratio "$trss" "$orss")"

ok=1
awk -v a="$ts" -v b="$os" 'BEGIN { exit !(a / b >= 10) }' && echo "target status >= 10x faster: met" || { echo "target status >= 10x faster: MISSED"; ok=0; }
[ "$orss" -lt 5120 ] && echo "target peak RSS < 5 MB: met ($(mb "$orss"))" || { echo "target peak RSS < 5 MB: MISSED ($(mb "$orss"))"; ok=0; }
[ "$ok" = 1 ]
