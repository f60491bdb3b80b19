#!/bin/bash
# The lab's main job, end to end: a compute node holding instances crashes,
# Pacemaker fences it through its BMC, umha's evacuator brings its instances
# up on the other hosts, and the node comes back into service.
#
#   tests/lab/demo.sh [--keep | --down] [NODE]     (NODE defaults to cmp2)
#   UMHA_DEMO_SERVERS=N   instances booted on NODE first (default 10)
#   UMHA_DEMO_OPENSTACK=0 the Pacemaker part only (no Nova, no evacuation)
#   UMHA_DEMO_INSTALLED=1 skip step 1: packages and agents are installed
#                         already (run-all.sh: from the .deb)
#
# 1. install.sh and openstack/install.sh (each skips in well under a second
#    when everything is installed; about 3 min fresh), then install-agents.sh
#    (builds umha's agents with cargo and installs them: the lab fences with
#    fence_ipmi, runs storage-monitor and the evacuator)
# 2. up.sh --with-openstack (about 75 s from nothing; reuses a lab that is up)
# 3. storage (about 8 s): the storage link of the node running storage-test
#    (cmp2) is cut -> storage-monitor turns its umha-storage to 0 (red) ->
#    storage-test moves away; the link is restored -> green again.
# 4. N instances booted on NODE, then kill -9 of NODE's pacemaker-remoted (a
#    crash of the HA stack: the node stays powered and its VMs keep running
#    until the fence cuts the power)
# 5. a timeline relative to the crash: node lost -> fencing started -> BMC
#    power off (fence_ipmi -> ipmi_sim) -> evacuation marker written -> BMC on
#    -> first evacuate -> all instances ACTIVE elsewhere -> marker cleared ->
#    nova-compute back on the node -> service enabled again; then crm_mon,
#    the fence history and where every instance runs.
#
# At the end the lab is left as the demo found it: torn down if the demo
# started it, left up if it was already up. --keep leaves it up in any case
# (to look around: crm_mon -1, tests/lab/power cmpN status, ...), --down tears
# it down in any case. Every wait is bounded (90 s for the whole failover).
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

keep=''
node=cmp2
for arg in "$@"; do
	case $arg in
	--keep) keep=yes ;;
	--down) keep=no ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	cmp[0-9]*) node=$arg ;;
	*) lab_die "unknown argument: $arg (try --help)" ;;
	esac
done
lab_require_root

with_os=1
[ "${UMHA_DEMO_OPENSTACK:-1}" != 0 ] || with_os=''
n_servers=${UMHA_DEMO_SERVERS:-10}
if [ "${UMHA_DEMO_INSTALLED:-0}" != 1 ]; then
	"$LAB_DIR/install.sh"
	[ -z "$with_os" ] || "$LAB_DIR/openstack/install.sh"
	# Always: the lab's CIB runs umha's OCF agents whatever the fence agent.
	"$LAB_DIR/install-agents.sh"
fi
was_up=''
lab_is_up && was_up=1
if [ -n "$with_os" ]; then
	"$LAB_DIR/up.sh" --with-openstack
else
	"$LAB_DIR/up.sh"
fi
lab_node_check "$node"
if [ -z "$keep" ]; then
	if [ -n "$was_up" ]; then keep=yes; else keep=no; fi
fi
# A storage link the demo cut, restored whatever happens.
stor_cut=''
finish() {
	local rc=$?
	if [ -n "$stor_cut" ]; then
		lab_stor_restore "$stor_cut" || true
	fi
	if [ -n "${server_ids:-}" ]; then
		for id in $server_ids; do lab_os_query os_nova DELETE "/servers/$id" >/dev/null 2>&1 || true; done
	fi
	if [ "$keep" = no ]; then
		"$LAB_DIR/down.sh"
	else
		lab_log "lab left up (tests/lab/down.sh tears it down)"
	fi
	exit "$rc"
}
trap finish EXIT

lab_wait_healthy 60 || lab_die "the lab is not healthy; not starting the demo"
echo
crm_mon -1 | sed -n '/Node List/,/^$/p'

ns_now() { date +%s%N; }
# Seconds (3 decimals) from the crash to a time in ns.
rel() { awk -v a="$1" -v b="$t0" 'BEGIN { printf "%+8.3f s", (a - b) / 1e9 }'; }

declare -A seen=()
mark() { [ -n "${seen[$1]:-}" ] || seen[$1]=$(ns_now); }

# ---- storage: cut the storage link under storage-test ------------------------

stor_score_is() { [ "$(lab_node_attr "$1" umha-storage)" = "$2" ]; }
stor_test_on() { timeout 10 crm_resource --locate --resource storage-test --quiet 2>/dev/null | head -n 1; }
stor_test_off() {
	local on
	on=$(stor_test_on)
	[ -n "$on" ] && [ "$on" != "$1" ]
}
stor_detail_lost() { [[ $(lab_node_attr "$1" umha-storage-detail) == *lost* ]]; }
stor_all_green() {
	local n
	for n in $(lab_node_names); do stor_score_is "$n" 3000 || return 1; done
}

lab_wait 30 "every compute node reaching its storage (umha-storage=3000)" stor_all_green ||
	lab_die "storage-monitor does not report every node green; not starting the demo"
sn=$(stor_test_on)
[ -n "$sn" ] || lab_die "storage-test runs nowhere"
echo
lab_log "cutting $sn's storage link (tests/lab/storage $sn cut); storage-test runs there"
t0=$(ns_now)
stor_cut=$sn
lab_stor_cut "$sn"
lab_wait 30 "$sn's umha-storage at 0" stor_score_is "$sn" 0 || lab_die "$sn's storage attribute did not flip"
s_red=$(ns_now)
s_health=$(lab_node_attr "$sn" '#health-umha-storage')
lab_wait 30 "storage-test off $sn" stor_test_off "$sn" || lab_die "storage-test did not leave $sn"
s_moved=$(ns_now)
# Each attribute has its own dampening: the detail may follow a moment later.
lab_wait 10 "$sn's umha-storage-detail showing the loss" stor_detail_lost "$sn" || true
s_detail=$(lab_node_attr "$sn" umha-storage-detail)
s_to=$(stor_test_on)
lab_stor_restore "$sn"
stor_cut=''
s_restored=$(ns_now)
lab_wait 30 "$sn's umha-storage back at 3000" stor_score_is "$sn" 3000 || lab_die "$sn's storage did not come back"
s_back=$(ns_now)
lab_settled || true
s_settled=$(ns_now)
echo
echo "Storage of $sn (storage-monitor: monitor every 2 s, dampen 1 s; relative to the cut):"
printf '  %s  %s\n' "$(rel "$t0")" "storage link of $sn cut (its port left the storage bridge; Pacemaker link untouched)" \
	"$(rel "$s_red")" "$sn: umha-storage=0, #health-umha-storage=$s_health ($s_detail)" \
	"$(rel "$s_moved")" "storage-test moved to $s_to (rule: not_defined umha-storage or umha-storage lte 0 -> -INFINITY)" \
	"$(rel "$s_restored")" "storage link of $sn restored" \
	"$(rel "$s_back")" "$sn: umha-storage=3000 again" \
	"$(rel "$s_settled")" "cluster settled: storage-test on $(stor_test_on)"

# ---- instances on the node that will crash ------------------------------------

server_ids=''
# "id status host task_state" of the demo's servers.
demo_servers() {
	lab_os_query os_nova GET "/servers/detail?all_tenants=1&name=^umha-demo-" |
		jq -r '.servers[] | "\(.id) \(.status) \(.["OS-EXT-SRV-ATTR:host"]) \(.["OS-EXT-STS:task_state"])"'
}
# All n servers ACTIVE, idle, on (or, with !HOST, off) a host.
demo_all_active() {
	local want=$1 out
	out=$(demo_servers) || return 1
	[ "$(awk -v h="$want" '$2 == "ACTIVE" && $4 == "null" && (h ~ /^!/ ? $3 != substr(h, 2) : $3 == h)' <<<"$out" | wc -l)" -eq "$n_servers" ]
}
marker() { timeout 10 crm_attribute --node "$node" --name "$LAB_EVACUATE_ATTR" --lifetime forever --query --quiet 2>/dev/null || true; }
evac_state() { timeout 10 crm_attribute --node "$node" --name umha-evac-state --lifetime forever --query --quiet 2>/dev/null || true; }
history_lines() { [ -r "$LAB_EVAC_HISTORY" ] && wc -l <"$LAB_EVAC_HISTORY" || echo 0; }
if [ -n "$with_os" ]; then
	image_id=$(cat "$LAB_OS_STATE/image-id")
	echo
	lab_log "booting $n_servers instances on $node"
	for ((i = 1; i <= n_servers; i++)); do
		# networks "none" needs microversion 2.37.
		id=$(OS_MICROVERSION=2.37 lab_os_query os_nova POST /servers "$(jq -cn --arg name "umha-demo-$i" --arg img "$image_id" --arg az "nova:$node" \
			'{server: {name: $name, imageRef: $img, flavorRef: "1", networks: "none", availability_zone: $az}}')" | jq -r .server.id)
		server_ids="$server_ids $id"
	done
	lab_wait 120 "$n_servers instances ACTIVE on $node" demo_all_active "$node" || lab_die "instances did not boot"
fi
history_from=$(history_lines)

remoted=$(lab_node_remoted_pid "$node") || lab_die "$node's pacemaker-remoted is not running"
echo
lab_log "crashing $node: kill -9 of its pacemaker-remoted (pid $remoted)"
t0=$(ns_now)
t0_s=$((t0 / 1000000000))
kill -KILL "$remoted"

deadline=$((t0 + ${UMHA_DEMO_TIMEOUT:-180} * 1000000000))
while (($(ns_now) < deadline)); do
	mon=$(lab_crm_mon_xml || true)
	online=$(printf '%s' "$mon" | lab_xpath "string(//nodes/node[@name='$node']/@online)" || true)
	hist=$(timeout 10 stonith_admin --history "$node" --verbose --output-as=xml 2>/dev/null || true)
	if [ -z "${seen[lost]:-}" ] && [ "$online" = false ]; then mark lost; fi
	if grep -q 'status="pending"' <<<"$hist"; then mark fencing; fi
	# A successful fence of the node completed at or after the crash (the
	# history has whole seconds only).
	while read -r completed; do
		[ -n "$completed" ] || continue
		c=$(date -d "$completed" +%s 2>/dev/null || echo 0)
		if ((c >= t0_s)); then
			mark fenced
			fence_action=$(grep -o "action=\"[a-z]*\" target=\"$node\"[^>]*status=\"success\"[^>]*completed=\"$completed\"" <<<"$hist" |
				head -n 1 | sed 's/^action="\([a-z]*\)".*delegate="\([^"]*\)".*/\1 of '"$node"' successful (delegate \2)/')
		fi
	done < <(grep -o 'status="success"[^>]*completed="[^"]*"' <<<"$hist" | sed 's/.*completed="\([^"]*\)"/\1/')
	if [ -n "${seen[fenced]:-}" ] && [ "$online" = true ]; then
		mark online
	fi
	if [ -n "$with_os" ]; then
		m=$(marker)
		[ -z "$m" ] || mark marker
		if [ -n "${seen[marker]:-}" ] && [ -z "$m" ]; then mark unmarked; fi
		if [ -z "${seen[evacuate]:-}" ] && [ "$(history_lines)" -gt "$history_from" ] &&
			tail -n +"$((history_from + 1))" "$LAB_EVAC_HISTORY" | grep -q '"event":"evacuate"'; then
			mark evacuate
		fi
		if [ -n "${seen[evacuate]:-}" ] && [ -z "${seen[landed]:-}" ] && demo_all_active "!$node"; then mark landed; fi
		if [ -n "${seen[unmarked]:-}" ] && [ -z "${seen[novaback]:-}" ] &&
			timeout 10 crm_resource --locate --resource "$LAB_OS_CLONE" --quiet 2>/dev/null | grep -qx "$node"; then
			mark novaback
		fi
		if [[ $(evac_state) == done* ]] && [ -n "${seen[landed]:-}" ]; then
			mark closed
			break
		fi
	elif [ -n "${seen[online]:-}" ]; then
		break
	fi
	sleep 0.1
done
if [ -n "${seen[online]:-}" ]; then
	lab_settled && mark settled
fi

# BMC power changes, from the node's power log (ms timestamps).
power_log=$(lab_node_dir "$node")/power.log
declare -A bmc=()
if [ -r "$power_log" ]; then
	while read -r day time op what value; do
		[ "$op" = set ] || continue
		ts=$(date -d "$day $time" +%s%N 2>/dev/null) || continue
		((ts >= t0)) || continue
		case $what:$value in
		power:0) [ -n "${bmc[off]:-}" ] || bmc[off]=$ts ;;
		power:1) [ -n "${bmc[on]:-}" ] || bmc[on]=$ts ;;
		reset:1) [ -n "${bmc[reset]:-}" ] || bmc[reset]=$ts ;;
		esac
	done <"$power_log"
fi

agent=$(cat "$LAB_STATE/fence-agent" 2>/dev/null || echo "$LAB_FENCE_AGENT")
echo
echo "Timeline of the failover of $node (relative to the crash; polled every ~0.15 s, the fence history has whole seconds):"
{
	printf '%s\t%s\n' "$t0" "crash: kill -9 of $node's pacemaker-remoted (pid $remoted)"
	[ -z "${seen[lost]:-}" ] || printf '%s\t%s\n' "${seen[lost]}" "node lost: crm_mon shows $node offline"
	[ -z "${seen[fencing]:-}" ] || printf '%s\t%s\n' "${seen[fencing]}" "fencing started: a pending fence of $node in the fence history"
	[ -z "${bmc[off]:-}" ] || printf '%s\t%s\n' "${bmc[off]}" "BMC: power off ($agent -> ipmi_sim -> bmc-power: every process of $node killed)"
	[ -z "${bmc[reset]:-}" ] || printf '%s\t%s\n' "${bmc[reset]}" "BMC: reset ($agent -> ipmi_sim -> bmc-power)"
	[ -z "${bmc[on]:-}" ] || printf '%s\t%s\n' "${bmc[on]}" "BMC: power on ($node boots: pacemaker-remoted starts)"
	[ -z "${seen[fenced]:-}" ] || printf '%s\t%s\n' "${seen[fenced]}" "fenced: ${fence_action:-fence of $node successful} in the fence history"
	[ -z "${seen[online]:-}" ] || printf '%s\t%s\n' "${seen[online]}" "node back online: crm_mon shows $node online"
	[ -z "${seen[marker]:-}" ] || printf '%s\t%s\n' "${seen[marker]}" "evacuation marker $LAB_EVACUATE_ATTR set on $node (written by $agent after the verified off; keeps nova-compute off $node)"
	[ -z "${seen[evacuate]:-}" ] || printf '%s\t%s\n' "${seen[evacuate]}" "first evacuate call (umha-evacuator: $node forced down and disabled in Nova first)"
	[ -z "${seen[landed]:-}" ] || printf '%s\t%s\n' "${seen[landed]}" "all $n_servers instances ACTIVE on other hosts"
	[ -z "${seen[unmarked]:-}" ] || printf '%s\t%s\n' "${seen[unmarked]}" "marker cleared: every instance settled"
	[ -z "${seen[novaback]:-}" ] || printf '%s\t%s\n' "${seen[novaback]}" "nova-compute started again on $node (the gate lifted)"
	[ -z "${seen[closed]:-}" ] || printf '%s\t%s\n' "${seen[closed]}" "incident closed: nova-compute on $node un-forced, up and enabled again"
	[ -z "${seen[settled]:-}" ] || printf '%s\t%s\n' "${seen[settled]}" "cluster settled (crm_resource --wait)"
} | sort -n | while IFS=$'\t' read -r ts what; do
	printf '  %s  %s\n' "$(rel "$ts")" "$what"
done

echo
crm_mon -1 -A
echo
stonith_admin --history '*' --verbose
if [ -n "$with_os" ]; then
	echo
	echo "Instances (id status host task_state):"
	demo_servers | sed 's/^/  /'
	echo
	echo "Evacuation history ($LAB_EVAC_HISTORY), this incident:"
	tail -n +"$((history_from + 1))" "$LAB_EVAC_HISTORY" | jq -r '[.time[11:23], .event, (.instance_name // .node // ""), .message] | join("  ")' | sed 's/^/  /' | tail -n 40
fi

if [ -z "${seen[online]:-}" ] || [ -z "${seen[fenced]:-}" ]; then
	lab_die "$node was not fenced and back online in time"
fi
if [ -n "$with_os" ] && [ -z "${seen[closed]:-}" ]; then
	lab_die "the evacuation of $node did not complete in time"
fi
