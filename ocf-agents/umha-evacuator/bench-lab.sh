#!/bin/bash
# The evacuation benchmark of issue 5, on the joined lab (tests/lab/up.sh
# --with-openstack): umha's evacuator end to end, against Debian's
# fence_evacuate and against direct Nova calls, N servers (default 20) on one
# compute node (default cmp2), R runs each (default 3), medians printed.
#
#   ocf-agents/umha-evacuator/bench-lab.sh [-r R] [-n N] [--host cmpN]
#       [--only umha,fence,direct-1,direct-4,direct-all] [--out FILE]
#
# Methods:
#   umha        the real chain: power cut of the node (tests/lab/power cmpN
#               off), Pacemaker fences it through fence_ipmi (which writes the
#               umha-evacuate marker), the `evacuator` resource (monitor 5 s)
#               forces the service down, disables it, evacuates, and closes the
#               incident. t0 = the power cut.
#   fence       fence_evacuate as Debian 12 ships it, run from a copy patched
#               at bench time for Python 3.11 (inspect.getargspec), made in a
#               temp dir outside the repository, with --no-shared-storage.
#   direct-P    evacuate POSTs straight to Nova (known ids, no listing), P in
#               flight: direct-1 one by one, direct-4, direct-all all at once.
#   For fence and direct-*, the evacuator is stopped (target-role Stopped) so
#   Pacemaker/umha stay out of it; nova-compute on the node is taken down by
#   setting the umha-evacuate marker by hand (the clone's gate stops it and
#   keeps it stopped, no fence, no reboot noise), then the service is forced
#   down and disabled (fence_evacuate refuses otherwise) before t0.
#
# Definitions (every "ACTIVE" is: all N servers ACTIVE, no task, on another
# host, as seen by a poll of Nova's database every 0.25 s, not of nova-api,
# whose two workers the tools compete for; the time of the answer):
#   API calls     first Nova request of the tool -> last evacuate accepted,
#                 both from nova-api's request log (start = logged time minus
#                 the request's duration), so every method is measured the
#                 same way, server side. Keystone before the first Nova
#                 request is left out for every tool. The bench's own calls
#                 use microversion 2.61, which is how they are told apart.
#   API->ACTIVE   first Nova request of the tool -> all ACTIVE.
#   evac->ACTIVE  first evacuate call -> all ACTIVE (umha: the first "evacuate"
#                 entry of its history file, as the brief defines umha's API
#                 phase; the others: the first evacuate POST's start).
#   umha also: fence completion (pacemaker-fenced's "Operation ... OK" line in
#   pacemaker.log, ms; stonith_admin --history kept as a cross-check) -> first
#   evacuate, the marker's write -> first evacuate, kill -> all ACTIVE, and
#   where the time goes (fence done -> the monitor that approves -> force-down
#   -> first evacuate -> last evacuate).
#   Exactly once: GET /servers/{id}/os-instance-actions, "evacuate" actions per
#   server; a server with a count other than 1 is a violation.
#
# Each round runs every method once (umha first), so a drift of the machine's
# load spreads over all of them. Raw numbers: one JSON line per run in the
# results file (path printed). A lab torn down and brought up again by someone
# else during the bench stops it and is left alone.
# Restores the lab whatever happens (trap): servers deleted, evacuator's
# target-role as found, markers and holds cleared, services un-forced, up and
# enabled (in that order), every node online. Every wait is bounded.
# Needs root and the joined lab up; R=3 took 16-17 minutes (5 methods x 3 runs).
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../../tests/lab/openstack/lib.sh
. "$ROOT/tests/lab/openstack/lib.sh"
set +e +o pipefail
set -u

R=3
N=20
HOST=cmp2
ONLY='umha,fence,direct-1,direct-4,direct-all'
OUT=''
POLL_MS=250
# Microversion of the bench's own Nova calls: nova-api logs it with every
# request, so the tools' requests (umha 2.8x, fence_evacuate 2.11/2.1) stand apart.
BENCH_MV=2.61
EVACUATOR=evacuator
HIST=$LAB_STATE/evacuations.jsonl
PCMK_LOG=$LAB_STATE/pacemaker.log
NOVA_API_LOG=$OS_STATE/nova/nova-api.log
MARKER=umha-evacuate

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	-r) R=${2:-} && shift ;;
	-n) N=${2:-} && shift ;;
	--host) HOST=${2:-} && shift ;;
	--only) ONLY=${2:-} && shift ;;
	--out) OUT=${2:-} && shift ;;
	-h | --help) usage && exit 0 ;;
	*) echo "unknown argument: $1 (try --help)" >&2 && exit 2 ;;
	esac
	shift
done
if ! [[ $R =~ ^[0-9]+$ ]] || ((R < 1 || R > 20)); then echo "-r takes 1..20" >&2 && exit 2; fi
if ! [[ $N =~ ^[0-9]+$ ]] || ((N < 1 || N > 100)); then echo "-n takes 1..100" >&2 && exit 2; fi
want() { [[ ,$ONLY, == *",$1,"* ]]; }

# ---- small helpers ------------------------------------------------------------

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}
now_ms() {
	local t=${EPOCHREALTIME/./}
	echo "${t:0:13}"
}
# secs FROM_MS TO_MS: seconds between two ms stamps, "null" when one is missing.
secs() {
	if [[ ${1:-} =~ ^[0-9]+$ && ${2:-} =~ ^[0-9]+$ ]]; then
		awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", (b - a) / 1000}'
	else
		echo null
	fi
}
# jnum VALUE: VALUE when it is a number, else null (for jq --argjson).
jnum() { if [[ ${1:-} =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then echo "$1"; else echo null; fi; }
to_ms() { [ -n "${1:-}" ] && date -d "$1" +%s%3N 2>/dev/null; }
# wait_for TIMEOUT_S DESC CMD...: poll CMD every 0.3 s, bounded.
wait_for() {
	local timeout=$1 desc=$2 deadline
	shift 2
	deadline=$(($(now_ms) + timeout * 1000))
	until "$@" >/dev/null 2>&1; do
		if (($(now_ms) >= deadline)); then
			log "timed out after ${timeout}s: $desc"
			return 1
		fi
		sleep "${WAIT_STEP:-0.3}"
	done
}
nova() { OS_MICROVERSION=$BENCH_MV os_nova "$@"; }

# ---- cluster --------------------------------------------------------------------

node_attr() { timeout 20 crm_attribute --node "$1" --name "$2" --lifetime forever --query --quiet 2>/dev/null; }
marker_of() { node_attr "$1" "$MARKER"; }
set_marker() { timeout 20 crm_attribute --node "$1" --name "$MARKER" --lifetime forever --update "$2" >/dev/null; }
clear_marker() { timeout 20 crm_attribute --node "$1" --name "$MARKER" --lifetime forever --delete >/dev/null 2>&1; }
hold_of() {
	timeout 20 crm_attribute --type crm_config --set-name umha-valve --name umha-hold \
		--query --quiet 2>/dev/null
}
evacuator_running() { timeout 20 crm_resource --resource "$EVACUATOR" --locate 2>&1 | grep -q 'is running on: ctl1'; }
evacuator_stopped() { timeout 20 crm_resource --resource "$EVACUATOR" --locate 2>&1 | grep -q 'NOT running'; }
evacuator_meta() { timeout 20 crm_resource --resource "$EVACUATOR" --meta --get-parameter "$1" 2>/dev/null; }
evacuator_param() { timeout 20 crm_resource --resource "$EVACUATOR" --get-parameter "$1" 2>/dev/null; }
nova_compute_running() { "$OS_LAB_DIR/compute.sh" "$1" status >/dev/null 2>&1; }
nova_compute_stopped() { ! nova_compute_running "$1"; }
incident_closed() {
	local s
	s=$(node_attr "$HOST" umha-evac-state) || return 1
	[[ $s == "done "* && $s != "${1:-}" ]]
}

# ---- Nova -----------------------------------------------------------------------

service_json() { nova GET "/os-services?binary=nova-compute&host=$1" | jq -c '.services[0]'; }
service_id() { service_json "$1" | jq -r '.id // empty'; }
all_services_healthy() {
	local n
	n=$(nova GET '/os-services?binary=nova-compute' |
		jq '[.services[] | select(.state == "up" and .status == "enabled" and .forced_down == false)] | length') || return 1
	[ "$n" -eq "$LAB_NODES" ]
}
host_down_disabled() { [ "$(service_json "$HOST" | jq -r '.state + " " + .status')" = "down disabled" ]; }
host_is() { [ "$(service_json "$1" | jq -r .state)" = "$2" ]; }
force_down() { nova PUT "/os-services/$1" '{"forced_down": true}' >/dev/null; }
disable() { nova PUT "/os-services/$1" '{"status": "disabled", "disabled_reason": "umha bench: host failed"}' >/dev/null; }
# Nova refuses (400) while evacuation migrations of the host are "done":
# the restarted nova-compute completes them first.
unforce() { nova PUT "/os-services/$1" '{"forced_down": false}' >/dev/null 2>&1; }
enable() { nova PUT "/os-services/$1" '{"status": "enabled"}' >/dev/null; }

# Servers of this bench whose names start with $1: "id status host task" lines.
servers_of() {
	nova GET "/servers/detail?all_tenants=1&name=^$1" |
		jq -r '.servers[] | "\(.id) \(.status) \(.["OS-EXT-SRV-ATTR:host"]) \(.["OS-EXT-STS:task_state"])"'
}
# all_active_on PREFIX HOST: all N servers ACTIVE there (no task); fails fast on ERROR.
all_active_on() {
	local out
	out=$(servers_of "$1") || return 1
	if grep -q ' ERROR ' <<<"$out"; then
		echo "server in ERROR: $(grep ' ERROR ' <<<"$out" | head -3 | tr '\n' ' ')" >"$WORK/boot-error"
		return 0
	fi
	[ "$(awk -v h="$2" '$2 == "ACTIVE" && $3 == h && $4 == "null"' <<<"$out" | wc -l)" -eq "$N" ]
}
# No server of an earlier run left (deletes finish in the background).
earlier_gone() {
	local names
	names=$(nova GET "/servers?all_tenants=1&name=^$BENCH_PREFIX" | jq -r '.servers[].name') || return 1
	! grep -v "^$1" <<<"$names" | grep -q .
}
delete_servers() {
	local id ids
	ids=$(nova GET "/servers?all_tenants=1&name=^$1" | jq -r '.servers[].id') || return 1
	(
		for id in $ids; do
			nova DELETE "/servers/$id" >/dev/null 2>&1 &
		done
		wait
	)
}
none_left() { [ "$(nova GET "/servers?all_tenants=1&name=^$BENCH_PREFIX" | jq '.servers | length')" = 0 ]; }

# boot PREFIX: N servers on $HOST in one request, wait until all are ACTIVE there.
boot() {
	local prefix=$1 body
	body=$(jq -cn --arg name "${prefix}vm" --arg img "$IMAGE_ID" --arg az "nova:$HOST" --argjson n "$N" \
		'{server: {name: $name, imageRef: $img, flavorRef: "1", networks: "none",
		  availability_zone: $az, min_count: $n, max_count: $n}}')
	rm -f "$WORK/boot-error"
	nova POST /servers "$body" >/dev/null || die "boot request refused"
	wait_for 240 "$N servers ACTIVE on $HOST" all_active_on "$prefix" "$HOST" || die "boot of $N servers on $HOST timed out"
	[ ! -s "$WORK/boot-error" ] || die "$(cat "$WORK/boot-error")"
	mapfile -t IDS < <(servers_of "$prefix" | awk '{print $1}')
	[ "${#IDS[@]}" -eq "$N" ] || die "booted ${#IDS[@]} servers, wanted $N"
}

# landed_counts: "landed errors" of IDS, read from Nova's cell database
# (vm_state active, no task, another host: what the API shows as ACTIVE
# elsewhere). Not through nova-api: its 2 single-threaded workers are what
# the tools compete for, and a poll of /servers/detail there took one of them
# for 0.6-3.5 s, slowing every tool it measured.
landed_counts() {
	local in
	in=$(printf "'%s'," "${IDS[@]}")
	timeout 10 mariadb --no-defaults -S "$OS_STATE/mariadb/mysqld.sock" -u root -N -B -e "
		SELECT COALESCE(SUM(vm_state = 'active' AND task_state IS NULL AND host <> '$HOST'), 0),
		       COALESCE(SUM(vm_state = 'error'), 0)
		FROM nova.instances WHERE deleted = 0 AND uuid IN (${in%,})" 2>/dev/null
}

# poll_landed FILE TIMEOUT_S (background): every POLL_MS, "ms landed errors"
# to FILE; "all MS" once all N are ACTIVE off $HOST; exits on that, on an
# ERROR server or at the deadline.
poll_landed() {
	local file=$1 deadline next t landed errors
	deadline=$(($(now_ms) + $2 * 1000))
	while :; do
		next=$(($(now_ms) + POLL_MS))
		read -r landed errors < <(landed_counts)
		t=$(now_ms)
		[[ $landed =~ ^[0-9]+$ ]] || landed=0
		[[ $errors =~ ^[0-9]+$ ]] || errors=0
		echo "$t $landed $errors" >>"$file"
		if [ "$landed" -eq "$N" ]; then
			echo "all $t" >>"$file"
			return 0
		fi
		if [ "$errors" -gt 0 ]; then
			echo "error $t $errors server(s) in ERROR" >>"$file"
			return 1
		fi
		if ((t >= deadline)); then
			echo "timeout $t" >>"$file"
			return 1
		fi
		t=$(now_ms)
		((next > t)) && sleep "$(awk -v d="$((next - t))" 'BEGIN {printf "%.3f", d / 1000}')"
	done
}
start_poller() {
	: >"$1"
	poll_landed "$1" "$2" &
	POLLER=$!
}
# wait_poller FILE: wait for the poller; sets T_ALL and T_FIRST_LANDED.
wait_poller() {
	wait "$POLLER" 2>/dev/null
	POLLER=''
	T_ALL=$(awk '$1 == "all" {print $2}' "$1")
	T_FIRST_LANDED=$(awk '$2 ~ /^[0-9]+$/ && $2 > 0 {print $1; exit}' "$1")
	if [ -z "$T_ALL" ]; then
		die "servers did not all land off $HOST: $(grep -E '^(error|timeout)' "$1")"
	fi
}

# violations: servers whose "evacuate" instance actions are not exactly 1;
# prints "VIOLATIONS TOTAL_EVACUATE_ACTIONS".
count_actions() {
	local id c bad=0 total=0
	for id in "${IDS[@]}"; do
		c=$(nova GET "/servers/$id/os-instance-actions" |
			jq '[.instanceActions[] | select(.action == "evacuate")] | length')
		[[ $c =~ ^[0-9]+$ ]] || die "cannot read the instance actions of $id"
		[ "$c" -eq 1 ] || bad=$((bad + 1))
		total=$((total + (c > 0 ? c : 0)))
	done
	echo "$bad $total"
}

# api_requests OFFSET: nova-api requests logged after byte OFFSET, one per line:
# "START_MS END_MS METHOD URI MICROVERSION STATUS" (log times are local time,
# as gawk's mktime reads them).
api_requests() {
	tail -c +"$(($1 + 1))" "$NOVA_API_LOG" | gawk '
		/nova\.api\.openstack\.requestlog/ &&
		match($0, /"([A-Z]+) ([^" ]+)" status: ([0-9]+) len: [0-9]+ microversion: ([0-9.]+) time: ([0-9.]+)/, m) {
			split($1, d, "-"); split($2, t, "[:.]")
			end = mktime(d[1] " " d[2] " " d[3] " " t[1] " " t[2] " " t[3]) * 1000 + t[4]
			printf "%d %d %s %s %s %s\n", end - m[5] * 1000, end, m[1], m[2], m[4], m[3]
		}'
}
# api_window OFFSET FROM_MS: sets API_FIRST (start of the first request not
# the bench's, at or after FROM_MS), EVAC_FIRST (start of the first evacuate
# POST), EVAC_LAST (end of the last accepted one), EVAC_POSTS (accepted count).
api_window() {
	local reqs
	reqs=$(api_requests "$1" | awk -v from="$2" '$1 >= from')
	API_FIRST=$(awk -v mv="$BENCH_MV" '$5 != mv {print $1}' <<<"$reqs" | sort -n | head -1)
	local posts
	posts=$(awk '$3 == "POST" && $4 ~ /\/servers\/[0-9a-f-]+\/action$/' <<<"$reqs")
	EVAC_FIRST=$(awk '{print $1}' <<<"$posts" | sort -n | head -1)
	EVAC_LAST=$(awk '$6 < 300 {print $2}' <<<"$posts" | sort -n | tail -1)
	EVAC_POSTS=$(awk '$6 < 300' <<<"$posts" | grep -c .)
}
# api_load: every nova-api request that started between API_FIRST and
# EVAC_LAST (only the tool calls nova-api then: the bench polls the database):
# sets API_REQS and API_BUSY (the workers' seconds they took; nova-api runs 2
# single-threaded workers here, so API_BUSY / 2 bounds the API phase from below).
api_load() {
	API_REQS=''
	API_BUSY=''
	[[ ${API_FIRST:-} =~ ^[0-9]+$ && ${EVAC_LAST:-} =~ ^[0-9]+$ ]] || return 0
	read -r API_REQS API_BUSY < <(api_requests "$1" |
		awk -v a="$API_FIRST" -v b="$EVAC_LAST" '$1 >= a && $1 <= b {n++; busy += $2 - $1}
			END {printf "%d %.3f\n", n, busy / 1000}')
}

# ---- restoring -------------------------------------------------------------------

# Bring $1's nova-compute back the order that works: marker off (the clone
# starts it), un-force once Nova accepts it (its evacuation migrations
# completed by the restarted nova-compute), wait "up", then enable (enabling a
# host Nova still counts down leaves a "disabled" trait in Placement).
restore_host() {
	local host=$1 sid ok=0
	sid=$(service_id "$host")
	clear_marker "$host"
	wait_for 90 "nova-compute running on $host" nova_compute_running "$host" || ok=1
	if [ -n "$sid" ]; then
		WAIT_STEP=1 wait_for 120 "$host un-forced (migrations completed)" unforce "$sid" || ok=1
		wait_for 60 "$host up" host_is "$host" up || ok=1
		enable "$sid" || ok=1
	fi
	return $ok
}

lab_ready() {
	lab_wait_healthy 150 || return 1
	wait_for 120 "nova-compute-clone everywhere" lab_os_clone_everywhere || return 1
	wait_for 120 "every nova-compute up, enabled, not forced down" all_services_healthy
}

stop_evacuator() {
	log "stopping $EVACUATOR for the runs without umha"
	EVAC_STOPPED_BY_US=1
	timeout 20 crm_resource --resource "$EVACUATOR" --meta --set-parameter target-role --parameter-value Stopped >/dev/null ||
		die "cannot stop $EVACUATOR"
	wait_for 60 "$EVACUATOR stopped" evacuator_stopped || die "$EVACUATOR did not stop"
}
# Back to the target-role it had before the bench.
start_evacuator() {
	if [ -n "$TARGET_ROLE_BEFORE" ]; then
		timeout 20 crm_resource --resource "$EVACUATOR" --meta --set-parameter target-role \
			--parameter-value "$TARGET_ROLE_BEFORE" >/dev/null
	else
		timeout 20 crm_resource --resource "$EVACUATOR" --meta --delete-parameter target-role >/dev/null
	fi
	wait_for 60 "$EVACUATOR started" evacuator_running || return 1
	EVAC_STOPPED_BY_US=''
}

POLLER=''
WORK=''
LAB_ID=''
IDS=()
EVAC_STOPPED_BY_US=''
TARGET_ROLE_BEFORE=''
HOST_DIRTY=''
UMHA_INCIDENT=''
UMHA_PREV_STATE=''

# The lab this bench started on (up.sh writes $LAB_STATE/started): a lab
# torn down and brought up again meanwhile belongs to whoever did it.
lab_id() { stat -c %Y.%i "$LAB_STATE/started" 2>/dev/null; }
same_lab() { [ "$(lab_id)" = "$LAB_ID" ]; }

cleanup() {
	local rc=$? n m h bad=''
	trap - EXIT INT TERM
	set +e
	[ -n "$POLLER" ] && kill "$POLLER" 2>/dev/null && wait "$POLLER" 2>/dev/null
	[ "$rc" -ne 0 ] && log "bench FAILED (exit $rc); restoring the lab"
	if [ -n "$LAB_ID" ] && ! same_lab; then
		log "the lab was restarted by someone else during the bench: leaving it alone (no restore)"
		[ -n "$WORK" ] && rm -f "$WORK/fence_evacuate"
		exit $((rc == 0 ? 1 : rc))
	fi
	os_login >/dev/null 2>&1
	if [ -n "$UMHA_INCIDENT" ]; then
		log "waiting for the evacuator to close $HOST's incident"
		wait_for 180 "$HOST's incident closed" incident_closed "$UMHA_PREV_STATE" || bad+=' incident'
	fi
	if [ -n "$HOST_DIRTY" ]; then
		log "restoring $HOST (marker, nova-compute, un-force, up, enable)"
		restore_host "$HOST" || bad+=" $HOST"
	fi
	if [ -n "${BENCH_PREFIX:-}" ]; then
		delete_servers "$BENCH_PREFIX"
		wait_for 120 "bench servers deleted" none_left || bad+=' servers'
	fi
	if [ -n "$EVAC_STOPPED_BY_US" ]; then
		start_evacuator || bad+=' evacuator'
	fi
	for n in $(lab_node_names); do
		m=$(marker_of "$n")
		if [ -n "$m" ]; then
			log "clearing a leftover marker on $n ($m)"
			clear_marker "$n"
		fi
	done
	h=$(hold_of)
	if [ -n "$h" ]; then
		log "releasing a hold: $h"
		timeout 20 crm_attribute --type crm_config --set-name umha-valve --name umha-hold --delete >/dev/null 2>&1
	fi
	for n in $(lab_node_names); do
		if [ "$("$LAB_DIR/power" "$n" status 2>/dev/null)" = off ]; then
			log "$n still powered off: powering on"
			"$LAB_DIR/power" "$n" on
		fi
	done
	if ! lab_ready; then
		# A service the bench left forced down or disabled: put it right.
		for n in $(lab_node_names); do
			local s sid
			s=$(service_json "$n")
			sid=$(jq -r .id <<<"$s")
			if [ "$(jq -r .forced_down <<<"$s")" = true ] || [ "$(jq -r .status <<<"$s")" = disabled ]; then
				restore_host "$n" || bad+=" $n"
			fi
		done
		lab_ready || bad+=' lab'
	fi
	[ -n "$WORK" ] && rm -f "$WORK/fence_evacuate"
	if [ -n "$bad" ]; then
		log "lab NOT fully restored:$bad"
		[ "$rc" -eq 0 ] && rc=1
	else
		log "lab restored: every node online, nova-compute up and enabled everywhere, no bench server, marker or hold"
	fi
	exit "$rc"
}

# ---- one run of each kind ------------------------------------------------------------

# emit JSON: one line to the results file.
emit() { printf '%s\n' "$1" >>"$OUT"; }

run_umha() {
	local r=$1 prefix hist_off pcmk_off api_off t0 landed_file pcmk fence_ms marker_ms stonith_ms
	local h fence_epoch approved forcedown disabled ev_first ev_last ev_n done_ms unforce_ms enable_ms recovered_ms
	local closed_ms viol total load1
	prefix="${BENCH_PREFIX}umha-r$r-"
	os_login || die "no token"
	lab_ready || die "lab not ready before umha run $r"
	evacuator_running || die "$EVACUATOR not running"
	[ -z "$(marker_of "$HOST")" ] || die "$HOST carries a marker before the run"
	boot "$prefix"
	wait_for 120 "servers of earlier runs deleted" earlier_gone "$prefix" || die "earlier servers not deleted"
	lab_wait_healthy 60 || die "lab not settled before the crash"
	hist_off=$(wc -l <"$HIST" 2>/dev/null || echo 0)
	pcmk_off=$(stat -c %s "$PCMK_LOG")
	api_off=$(stat -c %s "$NOVA_API_LOG")
	UMHA_PREV_STATE=$(node_attr "$HOST" umha-evac-state)
	landed_file="$WORK/landed-umha-$r"
	start_poller "$landed_file" 240
	t0=$(now_ms)
	UMHA_INCIDENT=1
	load1=$(cut -d' ' -f1 /proc/loadavg)
	"$LAB_DIR/power" "$HOST" off
	log "umha run $r: $HOST powered off (t0)"
	wait_poller "$landed_file"
	same_lab || die "the lab was restarted during umha run $r"
	log "umha run $r: all $N ACTIVE elsewhere after $(secs "$t0" "$T_ALL") s; waiting for the incident to close"
	wait_for 240 "$HOST's incident closed (umha-evac-state done)" incident_closed "$UMHA_PREV_STATE" ||
		die "incident not closed"
	closed_ms=$(now_ms)
	same_lab || die "the lab was restarted during umha run $r"
	UMHA_INCIDENT=''
	# Fence: pacemaker-fenced's completion line (ms) and the marker's write (ms).
	pcmk=$(tail -c +"$((pcmk_off + 1))" "$PCMK_LOG")
	fence_ms=$(to_ms "$(grep -E -m1 "Operation '(reboot|off)' targeting $HOST by [^ ]+ for [^ ]+: OK" <<<"$pcmk" | awk '{print $1, $2, $3}')")
	marker_ms=$(to_ms "$(grep -E -m1 "$HOST.*name=\"$MARKER\" value=" <<<"$pcmk" | awk '{print $1, $2, $3}')")
	# Without --verbose, stonith_admin does not always show the newest event.
	stonith_ms=$(timeout 20 stonith_admin --history "$HOST" --verbose --output-as=xml 2>/dev/null |
		grep -o '<fence_event [^>]*status="success"[^>]*' | sed -n 's/.*completed="\([^"]*\)".*/\1/p' |
		while read -r c; do to_ms "$c"; echo; done | sort -n | tail -1)
	# The evacuator's history for this incident.
	h=$(tail -n +"$((hist_off + 1))" "$HIST" | jq -c --arg n "$HOST" 'select(.node == $n)' 2>/dev/null)
	read -r fence_epoch approved forcedown disabled ev_first ev_last ev_n done_ms unforce_ms enable_ms recovered_ms < <(
		jq -rs 'def ms: (.[0:19] + "Z" | fromdateiso8601) * 1000 + (.[20:23] | tonumber);
			def t_first(e): [.[] | select(.event == e) | .time | ms] | min // "-";
			def t_last(e): [.[] | select(.event == e) | .time | ms] | max // "-";
			[([.[] | .fence // empty] | first // "-"), t_first("approved"), t_first("force-down"), t_first("disable"),
			 t_first("evacuate"), t_last("evacuate"), ([.[] | select(.event == "evacuate")] | length),
			 t_first("incident-done"), t_first("unforce-down"), t_first("enable"), t_first("recovered")] | map(tostring) | join(" ")' <<<"$h")
	# umha's first Nova request: the first at or after the step that approved the incident.
	if [[ $approved =~ ^[0-9]+$ ]]; then api_window "$api_off" "$approved"; else api_window "$api_off" "$t0"; fi
	api_load "$api_off"
	read -r viol total < <(count_actions)
	local maxp
	maxp=$(evacuator_param max_parallel)
	[ -n "$maxp" ] || maxp="$(timeout 20 crm_resource --show-metadata ocf:umha:umha-evacuator 2>/dev/null |
		xmllint --xpath 'string(//parameter[@name="max_parallel"]/content/@default)' - 2>/dev/null) (default)"
	emit "$(jq -cn --arg method umha --argjson run "$r" --arg host "$HOST" --argjson n "$N" \
		--arg max_parallel "$maxp" \
		--argjson t0_ms "$t0" --argjson fence_done_ms "$(jnum "$fence_ms")" \
		--argjson fence_history_completed_ms "$(jnum "$stonith_ms")" \
		--argjson marker_written_ms "$(jnum "$marker_ms")" --argjson fence_epoch "$(jnum "$fence_epoch")" \
		--argjson approved_ms "$(jnum "$approved")" --argjson force_down_ms "$(jnum "$forcedown")" \
		--argjson disable_ms "$(jnum "$disabled")" \
		--argjson first_evacuate_ms "$(jnum "$ev_first")" --argjson last_evacuate_ms "$(jnum "$ev_last")" \
		--argjson evacuate_entries "$(jnum "$ev_n")" \
		--argjson api_first_request_ms "$(jnum "$API_FIRST")" --argjson api_first_evacuate_ms "$(jnum "$EVAC_FIRST")" \
		--argjson api_last_evacuate_ms "$(jnum "$EVAC_LAST")" --argjson evacuate_posts "$(jnum "$EVAC_POSTS")" \
		--argjson api_requests "$(jnum "$API_REQS")" --argjson api_busy "$(jnum "$API_BUSY")" \
		--argjson first_landed_ms "$(jnum "$T_FIRST_LANDED")" --argjson all_active_ms "$T_ALL" \
		--argjson incident_done_ms "$(jnum "$done_ms")" --argjson unforce_ms "$(jnum "$unforce_ms")" \
		--argjson enable_ms "$(jnum "$enable_ms")" --argjson recovered_ms "$(jnum "$recovered_ms")" \
		--argjson closed_seen_ms "$closed_ms" \
		--argjson violations "$(jnum "$viol")" --argjson evacuate_actions "$(jnum "$total")" \
		--argjson kill_to_fence_done "$(secs "$t0" "$fence_ms")" \
		--argjson fence_done_to_first_evacuate "$(secs "$fence_ms" "$ev_first")" \
		--argjson marker_to_first_evacuate "$(secs "$marker_ms" "$ev_first")" \
		--argjson fence_done_to_approved "$(secs "$fence_ms" "$approved")" \
		--argjson marker_to_approved "$(secs "$marker_ms" "$approved")" \
		--argjson load1 "$(jnum "$load1")" \
		--argjson approved_to_force_down "$(secs "$approved" "$forcedown")" \
		--argjson force_down_to_first_evacuate "$(secs "$forcedown" "$ev_first")" \
		--argjson first_to_last_evacuate "$(secs "$ev_first" "$ev_last")" \
		--argjson kill_to_all_active "$(secs "$t0" "$T_ALL")" \
		--argjson evac_to_active "$(secs "$ev_first" "$T_ALL")" \
		--argjson api_calls "$(secs "$API_FIRST" "$EVAC_LAST")" \
		--argjson api_to_active "$(secs "$API_FIRST" "$T_ALL")" \
		--argjson kill_to_recovered "$(secs "$t0" "$recovered_ms")" \
		'$ARGS.named')"
	log "umha run $r: fence done +$(secs "$t0" "$fence_ms") s, first evacuate +$(secs "$t0" "$ev_first") s" \
		"(fence->evacuate $(secs "$fence_ms" "$ev_first") s), all ACTIVE +$(secs "$t0" "$T_ALL") s," \
		"API calls $(secs "$API_FIRST" "$EVAC_LAST") s, evacuate actions: $total, violations: $viol"
	delete_servers "$prefix"
}

# Phase B: take $HOST's nova-compute down behind a marker, force down, disable.
fail_host() {
	local sid
	HOST_DIRTY=1
	set_marker "$HOST" "$(date +%s)" || die "cannot set the marker on $HOST"
	wait_for 60 "nova-compute stopped on $HOST (gated)" nova_compute_stopped "$HOST" || die "nova-compute still runs on $HOST"
	sid=$(service_id "$HOST")
	[ -n "$sid" ] || die "no service id for $HOST"
	force_down "$sid" || die "force-down refused"
	disable "$sid" || die "disable refused"
	wait_for 30 "$HOST down and disabled" host_down_disabled ||
		die "$HOST not down and disabled"
}

# evac_one ID: one evacuate POST; prints "ID START_MS END_MS HTTP_CODE".
evac_one() {
	local s e code token
	token=$OS_TOKEN
	s=$(now_ms)
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --max-time 60 -H "X-Auth-Token: $token" \
		-H "OpenStack-API-Version: compute $BENCH_MV" -H 'Content-Type: application/json' \
		-d '{"evacuate": {}}' "$OS_NOVA_URL/servers/$1/action") || code=000
	e=$(now_ms)
	echo "$1 $s $e $code"
}
# evac_direct P FILE: evacuate IDS with at most P in flight (own subshell, so
# `wait` sees only these calls).
evac_direct() {
	local p=$1 file=$2
	(
		running=0
		for id in "${IDS[@]}"; do
			if ((p == 1)); then
				evac_one "$id" >>"$file"
				continue
			fi
			if ((running >= p)); then
				wait -n
				running=$((running - 1))
			fi
			evac_one "$id" >>"$file" &
			running=$((running + 1))
		done
		wait
	)
}

run_other() {
	local method=$1 r=$2 prefix api_off t0 t_end rc=0 landed_file calls viol total accepted load1
	prefix="${BENCH_PREFIX}${method}-r$r-"
	os_login || die "no token"
	lab_ready || die "lab not ready before $method run $r"
	boot "$prefix"
	wait_for 120 "servers of earlier runs deleted" earlier_gone "$prefix" || die "earlier servers not deleted"
	fail_host
	api_off=$(stat -c %s "$NOVA_API_LOG")
	landed_file="$WORK/landed-$method-$r"
	start_poller "$landed_file" 240
	load1=$(cut -d' ' -f1 /proc/loadavg)
	case $method in
	fence)
		t0=$(now_ms)
		timeout 180 /usr/bin/python3 "$WORK/fence_evacuate" -k "$OS_AUTH_URL" -l "$OS_ADMIN_USER" \
			-p "$OS_ADMIN_PASSWORD" -t "$OS_ADMIN_PROJECT" -u Default -P Default --no-shared-storage \
			-n "$HOST" -o off </dev/null >"$WORK/fence_evacuate-$r.log" 2>&1 || rc=$?
		t_end=$(now_ms)
		[ "$rc" -eq 0 ] || log "fence_evacuate exited $rc: $(tail -3 "$WORK/fence_evacuate-$r.log" | tr '\n' ' ')"
		accepted=''
		;;
	direct-*)
		local p=${method#direct-}
		[ "$p" = all ] && p=$N
		calls="$WORK/calls-$method-$r"
		: >"$calls"
		t0=$(now_ms)
		evac_direct "$p" "$calls"
		t_end=$(now_ms)
		accepted=$(awk '$4 == 200' "$calls" | wc -l)
		[ "$accepted" -eq "$N" ] || log "$method: only $accepted of $N evacuate calls accepted: $(awk '$4 != 200' "$calls" | head -3 | tr '\n' ' ')"
		t_end=$(awk '{print $3}' "$calls" | sort -n | tail -1)
		;;
	esac
	wait_poller "$landed_file"
	same_lab || die "the lab was restarted during $method run $r"
	api_window "$api_off" "$t0"
	# The direct calls are the bench's own (microversion BENCH_MV): their first request is the first POST.
	[[ $method == direct-* ]] && API_FIRST=$EVAC_FIRST
	api_load "$api_off"
	read -r viol total < <(count_actions)
	emit "$(jq -cn --arg method "$method" --argjson run "$r" --arg host "$HOST" --argjson n "$N" \
		--argjson t0_ms "$t0" --argjson tool_end_ms "$t_end" --argjson tool_rc "$rc" \
		--argjson api_first_request_ms "$(jnum "$API_FIRST")" --argjson api_first_evacuate_ms "$(jnum "$EVAC_FIRST")" \
		--argjson api_last_evacuate_ms "$(jnum "$EVAC_LAST")" --argjson evacuate_posts "$(jnum "$EVAC_POSTS")" \
		--argjson api_requests "$(jnum "$API_REQS")" --argjson api_busy "$(jnum "$API_BUSY")" \
		--argjson first_landed_ms "$(jnum "$T_FIRST_LANDED")" --argjson all_active_ms "$T_ALL" \
		--argjson violations "$(jnum "$viol")" --argjson evacuate_actions "$(jnum "$total")" \
		--argjson accepted_calls "$(jnum "$accepted")" --argjson load1 "$(jnum "$load1")" \
		--argjson wall "$(secs "$t0" "$t_end")" \
		--argjson start_to_all_active "$(secs "$t0" "$T_ALL")" \
		--argjson start_to_first_request "$(secs "$t0" "$API_FIRST")" \
		--argjson start_to_first_evacuate "$(secs "$t0" "$EVAC_FIRST")" \
		--argjson evac_to_active "$(secs "$EVAC_FIRST" "$T_ALL")" \
		--argjson api_calls "$(secs "$API_FIRST" "$EVAC_LAST")" \
		--argjson api_to_active "$(secs "$API_FIRST" "$T_ALL")" \
		'$ARGS.named')"
	log "$method run $r: calls done +$(secs "$t0" "$t_end") s, API calls $(secs "$API_FIRST" "$EVAC_LAST") s," \
		"all ACTIVE +$(secs "$t0" "$T_ALL") s (first evacuate -> ACTIVE $(secs "$EVAC_FIRST" "$T_ALL") s)," \
		"evacuate actions: $total, violations: $viol"
	restore_host "$HOST" || die "could not restore $HOST"
	HOST_DIRTY=''
	delete_servers "$prefix"
}

# ---- report ---------------------------------------------------------------------------

report() {
	echo
	echo "==== evacuation bench: $N servers on $HOST, medians over runs (seconds; results: $OUT)"
	jq -rs '
		def med: map(select(. != null)) | sort | if length == 0 then null
			elif length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		def f: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
		def lbl: {"umha": "umha evacuator", "fence": "fence_evacuate",
			"direct-1": "direct, one by one", "direct-4": "direct, 4 in flight",
			"direct-all": "direct, all at once"}[.] // .;
		(["method", "runs", "API calls", "API->ACTIVE", "evac->ACTIVE", "other", "nova-api reqs/worker-s", "violations"] | @tsv),
		(group_by(.method) | sort_by({"umha": 0, "fence": 1, "direct-1": 2, "direct-4": 3, "direct-all": 4}[.[0].method] // 9)[] |
		 . as $g | [($g[0].method | lbl), ($g | length | tostring),
		  ([$g[].api_calls] | med | f), ([$g[].api_to_active] | med | f), ([$g[].evac_to_active] | med | f),
		  (if $g[0].method == "umha" then "kill->ACTIVE " + ([$g[].kill_to_all_active] | med | f)
		   elif $g[0].method == "fence" then "wall " + ([$g[].wall] | med | f) + ", start->ACTIVE " + ([$g[].start_to_all_active] | med | f)
		   else "calls " + ([$g[].wall] | med | f) end),
		  (([$g[].api_requests] | med | f) + "/" + ([$g[].api_busy] | med | f)),
		  ([$g[].violations] | add | tostring)] | @tsv)' "$OUT" | column -t -s $'\t'
	echo
	echo "API calls: first Nova request of the tool -> last evacuate accepted (nova-api request log)."
	echo "API->ACTIVE: same start -> all $N ACTIVE elsewhere. evac->ACTIVE: first evacuate call -> all ACTIVE."
	echo "other: umha kill->ACTIVE from the power cut; fence_evacuate wall = process start -> exit;"
	echo "direct calls = first call -> last answer. nova-api reqs/worker-s: requests in the API calls window and the"
	echo "seconds nova-api's workers spent on them (2 single-threaded workers here)."
	echo "violations: servers without exactly one evacuate action (sum over runs)."
	echo
	echo "---- per run (s): method run | API calls | API->ACTIVE | evac->ACTIVE | umha kill->ACTIVE or tool wall |"
	echo "     nova-api requests in the API calls window | their worker-seconds | evacuate actions | load average"
	jq -r '[.method, .run, .api_calls, .api_to_active, .evac_to_active, (.kill_to_all_active // .wall),
		.api_requests, .api_busy, .evacuate_actions, .load1] | map(tostring) | @tsv' "$OUT" | column -t -s $'\t'
	if jq -se 'any(.[]; .method == "umha")' "$OUT" >/dev/null 2>&1; then
		echo
		echo "---- umha, where the time goes (medians, s; t0 = power cut)"
		jq -rs '
			def med: map(select(. != null)) | sort | if length == 0 then null
				elif length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
			def f: if . == null then "-" else (. * 1000 | round / 1000 | tostring) end;
			[.[] | select(.method == "umha")] as $u |
			("max_parallel: " + ($u[0].max_parallel // "?")),
			(["kill -> fence completed (pacemaker-fenced)", ([$u[].kill_to_fence_done] | med | f)] | @tsv),
			(["fence completed -> first evacuate call   [target <= 6 s]", ([$u[].fence_done_to_first_evacuate] | med | f)] | @tsv),
			(["   per run", ([$u[].fence_done_to_first_evacuate | tostring] | join(", "))] | @tsv),
			(["marker written (off verified) -> first evacuate", ([$u[].marker_to_first_evacuate] | med | f)] | @tsv),
			(["marker written -> monitor step approves (tick wait)", ([$u[].marker_to_approved] | med | f)] | @tsv),
			(["fence completed -> approves (< 0: on the marker, before the fence op returned)", ([$u[].fence_done_to_approved] | med | f)] | @tsv),
			(["approved -> force-down accepted", ([$u[].approved_to_force_down] | med | f)] | @tsv),
			(["force-down -> first evacuate accepted", ([$u[].force_down_to_first_evacuate] | med | f)] | @tsv),
			(["first -> last evacuate accepted", ([$u[].first_to_last_evacuate] | med | f)] | @tsv),
			(["first evacuate -> all ACTIVE (umha API phase)", ([$u[].evac_to_active] | med | f)] | @tsv),
			(["kill -> all ACTIVE elsewhere", ([$u[].kill_to_all_active] | med | f)] | @tsv),
			(["kill -> incident recovered (service enabled)", ([$u[].kill_to_recovered] | med | f)] | @tsv),
			(["evacuate history entries / instance actions (per run)",
			  ([$u[] | "\(.evacuate_entries)/\(.evacuate_actions)"] | join(", "))] | @tsv)' "$OUT" | column -t -s $'\t'
	fi
	echo
	echo "---- ratios (medians)"
	jq -rs '
		def med: map(select(. != null)) | sort | if length == 0 then null
			elif length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		def m(k): [.[] | .[k]] | med;
		def by(x): [.[] | select(.method == x)];
		def ratio(a; b): if a == null or b == null or b == 0 then "-" else (a / b * 100 | round / 100 | tostring) + "x" end;
		(by("umha")) as $u | (by("fence")) as $fe |
		([by("direct-1"), by("direct-4"), by("direct-all")] | map(select(length > 0) |
		  {method: .[0].method, t: (m("evac_to_active"))} | select(.t != null)) | sort_by(.t)) as $d |
		"fence_evacuate / umha, API calls (first request -> last evacuate accepted): " +
			ratio($fe | m("api_calls"); $u | m("api_calls")) + "   [target >= 5x]",
		"fence_evacuate / umha, API -> all ACTIVE:                                   " +
			ratio($fe | m("api_to_active"); $u | m("api_to_active")),
		"fence_evacuate wall (process start -> exit) / umha API calls:               " +
			ratio($fe | m("wall"); $u | m("api_calls")),
		(if ($d | length) > 0 then
			"fastest direct: " + $d[0].method + " (first call -> all ACTIVE " + ($d[0].t * 100 | round / 100 | tostring) + " s); order: " +
				([$d[] | .method + " " + (.t * 100 | round / 100 | tostring)] | join(", ")),
			"umha first evacuate -> all ACTIVE / fastest direct:                         " +
				ratio($u | m("evac_to_active"); $d[0].t) + "   [target <= 1.2x]",
			"umha kill -> all ACTIVE / fastest direct first call -> all ACTIVE:          " +
				ratio($u | m("kill_to_all_active"); $d[0].t)
		else empty end)' "$OUT"
}

# ---- main ------------------------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || die "must run as root"
# One bench at a time: a second one's restore would clear this one's markers.
exec 9>/tmp/umha-evac-bench.lock
flock -n 9 || die "another bench-lab.sh is running"
lab_is_up || die "the Pacemaker lab is not up (tests/lab/up.sh --with-openstack)"
os_is_up || die "the OpenStack lab is not up (tests/lab/up.sh --with-openstack)"
os_host_check "$HOST"
{ [ -r "$NOVA_API_LOG" ] && [ -r "$PCMK_LOG" ]; } || die "logs not found: $NOVA_API_LOG $PCMK_LOG"
command -v gawk >/dev/null || die "gawk is needed"
os_login || die "no admin token from $OS_AUTH_URL"
IMAGE_ID=$(cat "$OS_STATE/image-id")
LAB_ID=$(lab_id)
[ -n "$LAB_ID" ] || die "$LAB_STATE/started missing: is the lab up?"

# Preflight before the trap: a bench refused here has changed nothing and
# must not "restore" (clear markers, holds) a lab someone else is using.
lab_ready || die "the lab is not healthy to start with"
evacuator_running || die "$EVACUATOR is not running on ctl1"
[ -z "$(hold_of)" ] || die "a hold is set: $(hold_of)"
for n in $(lab_node_names); do
	[ -z "$(marker_of "$n")" ] || die "$n carries $MARKER=$(marker_of "$n")"
done
left=$(nova GET "/servers?all_tenants=1&host=$HOST" | jq '.servers | length')
[ "$left" = 0 ] || die "$HOST already has $left servers (fence_evacuate would evacuate them too)"
TARGET_ROLE_BEFORE=$(evacuator_meta target-role)

WORK=$(mktemp -d /tmp/umha-evac-bench.XXXXXX)
[ -n "$OUT" ] || OUT=$WORK/results.jsonl
: >"$OUT"
BENCH_PREFIX="bench-$$-"
T_BENCH=$(now_ms)
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
log "results: $OUT; R=$R, N=$N on $HOST, methods: $ONLY"

others=()
for m in fence direct-1 direct-4 direct-all; do want "$m" && others+=("$m"); done
if want fence; then
	sed 's/inspect\.getargspec(/inspect.getfullargspec(/' /usr/sbin/fence_evacuate >"$WORK/fence_evacuate"
	grep -q 'getfullargspec' "$WORK/fence_evacuate" || die "patching fence_evacuate failed"
fi
# Rounds: each method once per round, so a drift of the machine's load (other
# sessions' builds share the 2 cores) spreads over every method alike.
for ((r = 1; r <= R; r++)); do
	want umha && run_umha "$r"
	if [ "${#others[@]}" -gt 0 ]; then
		stop_evacuator
		for m in "${others[@]}"; do run_other "$m" "$r"; done
		start_evacuator || die "$EVACUATOR did not start again"
	fi
done

log "all runs done in $(secs "$T_BENCH" "$(now_ms)") s; restoring the lab"
report
echo
echo "bench took $(secs "$T_BENCH" "$(now_ms)") s before restoring; results: $OUT"
