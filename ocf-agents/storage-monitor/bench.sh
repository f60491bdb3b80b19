#!/usr/bin/env bash
# One monitor of ocf:umha:storage-monitor against one of ocf:pacemaker:ping,
# on the same addresses (127.0.0.1 and ::1) and the same attempts (4):
# CPU time (user+sys of the agent and everything it forks), wall time, and
# the processes and threads each monitor creates. Prints the CPU ratio.
#
# Not a test: a measurement. Needs root (raw ICMP sockets, as Pacemaker runs
# agents) and pacemaker's ping agent; perf for exact CPU (else bash's
# `time`), strace for the process counts. Only loopback is pinged.
#
# attrd_updater is a stub on PATH for both agents (there is no cluster
# here). The stub (a shell script) is cheaper than the real tool (8-10 ms of
# CPU per call), and ping calls it on every monitor while storage-monitor
# does not when nothing changed: the ratio printed is a lower bound.
# The machine's other load shows in the numbers; run it on a quiet machine.
#
# Usage: bench.sh [monitors of storage-monitor] [monitors of ping]
#   STORAGE_MONITOR=/path/to/binary  skips the release build.
set -euo pipefail

runs_ours=${1:-20}
runs_ping=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ping_agent=/usr/lib/ocf/resource.d/pacemaker/ping

[ -x "$ping_agent" ] || { echo "bench: $ping_agent not found (package pacemaker)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || echo "bench: not root; ICMP may need net.ipv4.ping_group_range" >&2

if [ -z "${STORAGE_MONITOR:-}" ]; then
    (cd "$root" && cargo build --quiet --release -p storage-monitor)
    STORAGE_MONITOR="$root/target/release/storage-monitor"
fi

tmp=$(mktemp -d /tmp/umha-sm-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/rsc" "$tmp/share"
printf '#!/bin/sh\nexit 0\n' > "$tmp/bin/attrd_updater"
chmod 755 "$tmp/bin/attrd_updater"

common=(
    PATH="$tmp/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    HA_RSCTMP="$tmp/rsc" HA_LOGFACILITY=none OCF_ROOT=/usr/lib/ocf
    OCF_RESOURCE_INSTANCE=bench OCF_RESKEY_CRM_meta_on_node=bench1
    OCF_RESKEY_CRM_meta_interval=10000 OCF_RESKEY_CRM_meta_timeout=60000
)
ours=("${common[@]}" OCF_RESKEY_storage_server_address="127.0.0.1 ::1" OCF_RESKEY_ping_count=4)
ours_hb=("${ours[@]}" OCF_RESKEY_heartbeat_path="$tmp/share" OCF_RESOURCE_INSTANCE=bench-hb)
ping=("${common[@]}" OCF_RESKEY_host_list="127.0.0.1 ::1" OCF_RESKEY_attempts=4 OCF_RESKEY_timeout=1
    OCF_RESKEY_name=pingd OCF_RESKEY_pidfile="$tmp/rsc/ping-bench")

# `with VAR=value... -- command...`: the command in a subshell with these
# variables exported (not through `env`, whose own exec would be counted).
with() {
    local vars=()
    while [ "$1" != -- ]; do vars+=("$1"); shift; done
    shift
    (export "${vars[@]}"; "$@")
}

# "<cpu ms> <wall ms>" per monitor, over $1 runs of the command. perf counts
# the task clock of the agent and every process it forks, from exec on;
# bash's `time` also counts the fork of the loop's subshell for each run.
measure() {
    local runs=$1; shift
    if command -v perf >/dev/null && perf stat -o /dev/null -e task-clock true 2>/dev/null; then
        perf stat -r "$runs" -e task-clock -o "$tmp/perf" "$@" monitor >/dev/null 2>&1 || true
        awk '/task-clock/ { cpu = $1 } /seconds time elapsed/ { wall = $1 * 1000 }
             END { printf "%.2f %.0f\n", cpu, wall }' "$tmp/perf"
        return
    fi
    local TIMEFORMAT='%3U %3S %3R' t
    t=$( { time (for ((i = 0; i < runs; i++)); do "$@" monitor >/dev/null 2>&1; done) ; } 2>&1 )
    awk -v n="$runs" '{ printf "%.2f %.0f\n", ($1 + $2) * 1000 / n, $3 * 1000 / n }' <<<"$t"
}

# "<processes> <threads>" one monitor creates.
tasks() {
    if ! command -v strace >/dev/null; then
        echo "? ?"
        return
    fi
    strace -f -qq -o "$tmp/trace" -e trace=clone,clone3,fork,vfork "$@" monitor >/dev/null 2>&1 || true
    local threads procs
    threads=$(grep -E 'clone3?\(' "$tmp/trace" | grep -c CLONE_THREAD || true)
    procs=$(grep -E '(clone3?|v?fork)\(' "$tmp/trace" | grep -vc CLONE_THREAD || true)
    echo "$procs $threads"
}

# Print one row; remember the CPU time under $key.
row() {
    local key=$1 label=$2 runs=$3; shift 3
    local cpu wall procs threads
    read -r cpu wall < <(measure "$runs" "$@")
    read -r procs threads < <(tasks "$@")
    printf '%-34s %9s ms %9s ms %10s %8s\n' "$label" "$cpu" "$wall" "$procs" "$threads"
    echo "$key $cpu" >> "$tmp/cpu"
}

# Started, so that monitors do their real work.
with "${ours[@]}" -- "$STORAGE_MONITOR" start >/dev/null 2>&1
with "${ours_hb[@]}" -- "$STORAGE_MONITOR" start >/dev/null 2>&1
touch "$tmp/rsc/ping-bench"
with "${ours[@]}" -- "$STORAGE_MONITOR" monitor >/dev/null 2>&1 || { echo "bench: storage-monitor monitor failed" >&2; exit 1; }
with "${ping[@]}" -- "$ping_agent" monitor >/dev/null 2>&1 || { echo "bench: ping monitor failed" >&2; exit 1; }

printf '%-34s %12s %12s %10s %8s\n' "one monitor, 127.0.0.1 + ::1, 4 echoes" "CPU" "wall" "processes" "threads"
with "${ours[@]}" -- row ours "storage-monitor" "$runs_ours" "$STORAGE_MONITOR"
with "${ours_hb[@]}" -- row hb "storage-monitor + heartbeat_path" "$runs_ours" "$STORAGE_MONITOR"
with "${ping[@]}" -- row ping "ocf:pacemaker:ping" "$runs_ping" "$ping_agent"

with "${ours[@]}" -- "$STORAGE_MONITOR" stop >/dev/null 2>&1 || true
with "${ours_hb[@]}" -- "$STORAGE_MONITOR" stop >/dev/null 2>&1 || true

awk '{ cpu[$1] = $2 } END {
    if (cpu["ours"] > 0) printf "CPU ratio ping / storage-monitor: %.1fx", cpu["ping"] / cpu["ours"];
    else printf "CPU ratio: storage-monitor below the timer resolution";
    if (cpu["hb"] > 0) printf " (%.1fx with heartbeat_path)", cpu["ping"] / cpu["hb"];
    printf "\n";
}' "$tmp/cpu"
