#!/bin/bash
# Prove the umha OpenStack lab works, through the scenario the evacuator will
# automate: boot servers on one host, lose that host, evacuate, restore.
#
#   tests/lab/openstack/smoke.sh [-n N] [--host cmpN] [--keep]
#
#  1. boot N servers (default 4; "networks": "none") on the host (default cmp2,
#     availability zone nova:cmp2), wait until all are ACTIVE there;
#  2. host failure: SIGKILL of its nova-compute (compute.sh cmpN kill);
#  3. force its service down (2.53: PUT /os-services/{id} forced_down), then
#     disable it with a reason;
#  4. `nova evacuate` every server, all at once (`openstack server evacuate` of
#     client 6.0.0 evacuates, then exits 1);
#  5. wait until every server is ACTIVE on another host, with exactly one
#     evacuation migration each;
#  6. restore in the order that works: restart nova-compute, wait until its
#     evacuation migrations are "completed", un-force, wait until the service
#     is "up", then enable it (enabling while Nova still counts the service
#     down leaves a "disabled" trait in Placement: NoValidHost for a minute);
#  7. delete the servers (unless --keep) and print a timeline (t=0: the kill).
# Needs a running lab (up.sh). Every wait is bounded.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

n=4
host=cmp2
keep=''
while [ $# -gt 0 ]; do
	case $1 in
	-n)
		n=${2:-}
		shift
		;;
	--host)
		host=${2:-}
		shift
		;;
	--keep) keep=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) os_die "unknown argument: $1 (try --help)" ;;
	esac
	shift
done
if ! [[ $n =~ ^[0-9]+$ ]] || ((n < 1 || n > 200)); then os_die "-n takes 1..200"; fi
[ "$(id -u)" -eq 0 ] || os_die "must run as root"
os_is_up || os_die "the OpenStack lab is not up (tests/lab/openstack/up.sh)"
os_host_check "$host"
os_login || os_die "no admin token from $OS_AUTH_URL"
export OS_MICROVERSION=2.53
T_START=$(os_ms)
prefix="smoke-$$-"

TIMELINE=()
T0=''
# event TEXT: one timeline line, relative to the failure (before it: to the start).
event() {
	local now ref
	now=$(os_ms)
	ref=${T0:-$T_START}
	TIMELINE+=("$(awk -v ms="$((now - ref))" -v t="$1" -v pre="${T0:+  t=}" \
		'BEGIN {printf "%s%+7.1f s  %s", (pre == "" ? "start" : pre), ms / 1000, t}')")
	os_log "$1"
}

# Are all servers of this run gone?
gone() { [ -z "$(servers)" ]; }

# Servers of this run: "id status host task_state" lines.
servers() {
	os_nova GET "/servers/detail?all_tenants=1&name=^$prefix" |
		jq -r '.servers[] | "\(.id) \(.status) \(.["OS-EXT-SRV-ATTR:host"]) \(.["OS-EXT-STS:task_state"])"'
}
all_active_on() {
	local want=$1 out
	out=$(servers) || return 1
	[ "$(wc -l <<<"$out")" -eq "$n" ] || return 1
	! grep -q ERROR <<<"$out" || {
		echo "server in ERROR: $(grep ERROR <<<"$out")" >>"$WORK/fatal"
		exit 1
	}
	[ "$(awk -v h="$want" '$2 == "ACTIVE" && $4 == "null" && (h ~ /^!/ ? $3 != substr(h, 2) : $3 == h)' <<<"$out" | wc -l)" -eq "$n" ]
}

# Every evacuation migration of the servers is "completed".
migrations_completed() {
	local id st
	for id in "${ids[@]}"; do
		st=$(os_nova GET "/os-migrations?instance_uuid=$id&migration_type=evacuation" | jq -r '[.migrations[].status] | join(",")')
		[ "$st" = completed ] || return 1
	done
}

WORK=$(mktemp -d /tmp/umha-os-smoke.XXXXXX)
service_id=''
ids=()
cleanup() {
	local rc=$? id
	trap - EXIT
	if [ -s "$WORK/fatal" ]; then os_log "$(cat "$WORK/fatal")"; fi
	if [ "$rc" -ne 0 ]; then
		os_log "smoke FAILED (exit $rc); restoring $host"
		"$OS_LAB_DIR/compute.sh" "$host" start || true
		if [ -n "$service_id" ]; then
			lab_wait 60 "migrations of $host completed" migrations_completed || true
			os_nova PUT "/os-services/$service_id" '{"forced_down": false}' >/dev/null || true
			lab_wait 40 "$host up" os_compute_is "$host" up || true
			os_nova PUT "/os-services/$service_id" '{"status": "enabled"}' >/dev/null || true
		fi
	fi
	if [ -z "$keep" ]; then
		for id in $(servers 2>/dev/null | awk '{print $1}'); do
			os_nova DELETE "/servers/$id" >/dev/null 2>&1 || true
		done
		lab_wait 60 "smoke servers deleted" gone || rc=1
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT

up_enabled() {
	[ "$(os_nova GET "/os-services?binary=nova-compute&host=$host" | jq -r '.services[0] | .state + " " + .status')" = "up enabled" ]
}
lab_wait 30 "$host up and enabled" up_enabled ||
	os_die "$host is not up and enabled before the test"

# ---- 1. boot --------------------------------------------------------------

image_id=$(cat "$OS_STATE/image-id")
for ((i = 1; i <= n; i++)); do
	os_nova POST /servers "$(jq -cn --arg name "$prefix$i" --arg img "$image_id" --arg az "nova:$host" \
		'{server: {name: $name, imageRef: $img, flavorRef: "1", networks: "none", availability_zone: $az}}')" >/dev/null
done
event "$n servers requested on $host"
lab_wait 180 "$n servers ACTIVE on $host" all_active_on "$host" || exit 1
event "$n servers ACTIVE on $host"
mapfile -t ids < <(servers | awk '{print $1}')

# ---- 2. failure -------------------------------------------------------------

service_id=$(os_compute_service_id "$host")
[ -n "$service_id" ] || os_die "no nova-compute service for $host"
T0=$(os_ms)
"$OS_LAB_DIR/compute.sh" "$host" kill
event "$host: nova-compute killed (SIGKILL)"

# ---- 3. fence the service: force down, then disable ---------------------------

os_nova PUT "/os-services/$service_id" '{"forced_down": true}' >/dev/null
event "$host: service forced down"
os_nova PUT "/os-services/$service_id" '{"status": "disabled", "disabled_reason": "umha smoke: host failed"}' >/dev/null
event "$host: service disabled"

# ---- 4. evacuate --------------------------------------------------------------

# shellcheck source=/dev/null
. "$OS_STATE/openrc"
pids=()
for id in "${ids[@]}"; do
	timeout 120 nova evacuate "$id" >"$WORK/evacuate-$id.log" 2>&1 &
	pids+=($!)
done
event "nova evacuate x$n issued"
failed=0
for i in "${!pids[@]}"; do
	if ! wait "${pids[$i]}"; then
		failed=1
		os_log "nova evacuate ${ids[$i]} failed: $(cat "$WORK/evacuate-${ids[$i]}.log")"
	fi
done
[ "$failed" -eq 0 ] || exit 1
event "every nova evacuate returned"
lab_wait 180 "$n servers ACTIVE on other hosts" all_active_on "!$host" || exit 1
event "$n servers ACTIVE elsewhere: $(servers | awk '{print $3}' | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')"

# Exactly one evacuation per server (Nova does not refuse duplicates).
for id in "${ids[@]}"; do
	count=$(os_nova GET "/os-migrations?instance_uuid=$id&migration_type=evacuation" | jq '.migrations | length')
	[ "$count" -eq 1 ] || os_die "server $id has $count evacuation migrations"
done

# ---- 6. restore ---------------------------------------------------------------

"$OS_LAB_DIR/compute.sh" "$host" start
event "$host: nova-compute restarted"
lab_wait 90 "evacuation migrations from $host completed" migrations_completed || exit 1
event "$host: evacuation migrations completed"
os_nova PUT "/os-services/$service_id" '{"forced_down": false}' >/dev/null
event "$host: forced_down cleared"
lab_wait 60 "$host up" os_compute_is "$host" up || exit 1
event "$host: service up"
os_nova PUT "/os-services/$service_id" '{"status": "enabled"}' >/dev/null
event "$host: service enabled"

trap - EXIT
if [ -z "$keep" ]; then
	for id in "${ids[@]}"; do
		os_nova DELETE "/servers/$id" >/dev/null
	done
	lab_wait 60 "smoke servers deleted" gone || exit 1
	event "servers deleted"
fi
rm -rf "$WORK"
echo "---- smoke timeline ($n servers on $host; t=0 is the kill)"
printf '%s\n' "${TIMELINE[@]}"
echo "smoke OK: $n servers evacuated from $host in $(awk -v ms="$(($(os_ms) - T0))" 'BEGIN {printf "%.1f", ms / 1000}') s (kill -> restored)"
