#!/bin/bash
# Bring the umha Pacemaker lab up from nothing (about 15 s).
#
#   tests/lab/up.sh             start the lab; if it is already up, say so and exit 0
#   tests/lab/up.sh --restart   tear a running lab down first, then start it
#   tests/lab/up.sh --with-openstack   the same, then the OpenStack lab on top
#                               (tests/lab/openstack, ~45-90 s more; on a lab
#                               already up, only that part is added)
#   tests/lab/up.sh --controllers 2   a second full cluster node ctl2 (a new
#                               lab; default 1, also with --restart)
#
# What it starts (all under setsid, pid files and logs in /run/umha-lab):
#   - corosync (knet on 127.0.0.1, one node "ctl1", votequorum expected_votes 1)
#   - pacemakerd, with a CIB written offline first (dc-deadtime=2s, fencing on,
#     one ocf:pacemaker:remote and one stonith device per compute node)
#   - per compute node cmpN (N = 1..UMHA_LAB_NODES, default 3): a netns
#     umha-cmpN with a veth to bridge umha-br0 (169.254.77.1/24), node at
#     169.254.77.(10+N), an "init" holding its UTS/mount namespaces (hostname
#     cmpN, private /run) and pacemaker-remoted inside
#   - per compute node a simulated BMC (ipmi_sim) on 127.0.0.1:900N whose power
#     control is tests/lab/bmc-power
#   - the MAAS API simulator (umha-maas-sim) on the BMCs' address, port 5240,
#     one machine per compute node, whose power actions run tests/lab/power
#   - a storage network: netns umha-stor with bridge umha-sbr0 holding the
#     storage addresses 169.254.78.1, 169.254.78.2, fd75:6d68:6100:78::1; per
#     node a second veth (st0, 169.254.78.(10+N)) into it (tests/lab/storage
#     cuts and restores it); a shared directory at /run/umha-share in every node
#   - resources: ocf:umha:storage-monitor cloned on the compute nodes
#     (attributes umha-storage, #health-umha-storage), and storage-test
#     (ocf:umha:umha-dummy) that needs umha-storage > 0 and prefers cmp2
#   - with --with-openstack (or UMHA_LAB_OPENSTACK=1): the OpenStack lab's
#     control plane bound to the bridge (UMHA_OS_HOST=169.254.77.1,
#     openstack/up.sh --no-computes), and the clone nova-compute-clone
#     (ocf:umha-lab:nova-compute, installed from tests/lab/ocf) on the compute
#     nodes, so each node's nova-compute runs inside it and dies with it; the
#     constraint nova-compute-gate (-INFINITY where umha-evacuate is defined)
#     keeps it off a node whose evacuation is pending. Waits until Nova reports
#     every compute service up and the hosts mapped.
# Environment:
#   UMHA_LAB_NODES=3                  number of compute nodes
#   UMHA_LAB_FENCE_AGENT=fence_ipmi   agent of the per-node stonith devices
#                                     (/usr/sbin/<agent>, fence_ipmilan options;
#                                     fence_ipmi comes from install-agents.sh,
#                                     fence_ipmilan from the Debian package)
#   UMHA_LAB_KEEP_ON_FAILURE=1        leave a half-started lab for debugging
#   UMHA_LAB_OPENSTACK=1              as --with-openstack
#   UMHA_LAB_CONTROLLERS=2            as --controllers 2: a second full cluster
#                                     node ctl2 in namespaces of its own, with
#                                     its own BMC (the evacuator fails over)
# Needs root, the packages of install.sh and the agents of install-agents.sh
# (fence_ipmi, storage-monitor, umha-dummy). Tear down with down.sh.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

restart=''
with_os=''
[ "${UMHA_LAB_OPENSTACK:-0}" = 1 ] && with_os=1
want_controllers=''
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	arg=${args[i]}
	case $arg in
	--restart) restart=1 ;;
	--with-openstack) with_os=1 ;;
	--controllers=*) want_controllers=${arg#--controllers=} ;;
	--controllers)
		i=$((i + 1))
		want_controllers=${args[i]:-}
		;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) lab_die "unknown argument: $arg (try --help)" ;;
	esac
done
# --controllers, else UMHA_LAB_CONTROLLERS; empty: 1 for a new lab, what it
# runs for a lab already up.
want_controllers=${want_controllers:-${UMHA_LAB_CONTROLLERS:-}}
if [ -n "$want_controllers" ] && ! [[ $want_controllers =~ ^[12]$ ]]; then
	lab_die "--controllers takes 1 or 2"
fi

lab_require_root
t0=$(date +%s%N)

# Set when the cluster was up already and only the OpenStack lab is added.
cluster_was_up=''
if lab_is_up; then
	if [ -z "$restart" ]; then
		if [ -n "$want_controllers" ] && [ "$want_controllers" != "$LAB_CONTROLLERS" ]; then
			lab_die "the lab is up with $LAB_CONTROLLERS controller(s), not $want_controllers: use --restart"
		fi
		if [ -z "$with_os" ]; then
			lab_log "lab is already up (corosync pid $(lab_pidfile_pid "$LAB_STATE/corosync.pid")); use --restart to start it afresh"
			exit 0
		fi
		if [ -e "$LAB_OS_MARKER" ] && lab_os_cloud_up && lab_os_clone_exists; then
			lab_log "lab is already up with the OpenStack lab; use --restart to start it afresh"
			exit 0
		fi
		lab_log "lab is up; adding the OpenStack lab"
		cluster_was_up=1
	else
		lab_log "lab is up; tearing it down first (--restart)"
		"$LAB_DIR/down.sh"
	fi
elif [ -e "$LAB_STATE" ] || ip link show "$LAB_BRIDGE" >/dev/null 2>&1 || lab_netns_exists "$LAB_STOR_NS" ||
	lab_os_bound; then
	lab_log "leftovers of an earlier lab found; cleaning up first"
	"$LAB_DIR/down.sh"
fi
if [ -n "$with_os" ] && [ -z "$cluster_was_up" ] && lab_os_cloud_up; then
	lab_die "an OpenStack lab is up on its own ($LAB_OS_STATE, not bound to $LAB_BRIDGE_IP): tear it down first (tests/lab/openstack/down.sh)"
fi
if [ -n "$cluster_was_up" ] && lab_os_cloud_up && ! lab_os_bound; then
	lab_die "an OpenStack lab is up, not bound to $LAB_BRIDGE_IP ($LAB_OS_STATE/env): tear it down first (tests/lab/openstack/down.sh)"
fi

# timeline: a line "  12.3 s  what" per step, printed at the end.
mark() {
	awk -v ms="$((($(date +%s%N) - t0) / 1000000))" -v what="$1" \
		'BEGIN {printf "%6.1f s  %s\n", ms / 1000, what}' >>"$LAB_STATE/timeline"
}

# A cluster already up keeps the node and controller counts it was started
# with (lib.sh read them); a new one never takes them from a stale state dir.
if [ -z "$cluster_was_up" ]; then
	LAB_NODES=${UMHA_LAB_NODES:-3}
	lab_set_controllers "${want_controllers:-1}"
fi

# ---- prerequisites ----------------------------------------------------------

check_cluster_prerequisites() {
	for cmd in corosync corosync-quorumtool pacemakerd cibadmin crm_attribute crm_mon crm_resource \
		crm_verify stonith_admin ipmi_sim ipmitool xmllint ip nsenter unshare setsid; do
		command -v "$cmd" >/dev/null 2>&1 || PATH=$LAB_PATH command -v "$cmd" >/dev/null 2>&1 ||
			lab_die "$cmd not found; run tests/lab/install.sh first"
	done
	[ -x "/usr/sbin/$LAB_FENCE_AGENT" ] || lab_die "Pacemaker only finds fence agents as /usr/sbin/fence_*: /usr/sbin/$LAB_FENCE_AGENT missing (umha's agents: tests/lab/install-agents.sh; or UMHA_LAB_FENCE_AGENT=fence_ipmilan)"
	for agent in storage-monitor umha-dummy; do
		[ -x "$LAB_OCF_DIR/$agent" ] || lab_die "$LAB_OCF_DIR/$agent missing; run tests/lab/install-agents.sh first"
	done
	[ -x "$LAB_REMOTED" ] || lab_die "$LAB_REMOTED missing; run tests/lab/install.sh first"
	[ -s "$LAB_AUTHKEY" ] || lab_die "$LAB_AUTHKEY missing; run tests/lab/install.sh first"
	((LAB_NODES >= 1 && LAB_NODES <= 99)) || lab_die "UMHA_LAB_NODES must be 1..99"
	for node in $(lab_node_names); do
		port=$(lab_node_bmc_port "$node")
		if [ -n "$(ss -Hlun "sport = :$port" 2>/dev/null)" ]; then
			lab_die "UDP port $port (BMC of $node) is already in use: $(ss -Hlunp "sport = :$port" | head -n 1)"
		fi
	done
}

check_openstack_prerequisites() {
	local f
	[ -r "$LAB_OS_AGENT_SRC" ] || lab_die "$LAB_OS_AGENT_SRC missing (the lab's nova-compute agent)"
	for f in "$LAB_OS_DIR/up.sh" "$LAB_OS_DIR/down.sh" "$LAB_OS_DIR/compute.sh"; do
		[ -x "$f" ] || lab_die "$f missing or not executable"
	done
	for f in /usr/bin/jq /usr/bin/curl /usr/bin/mariadb /usr/bin/python3; do
		[ -x "$f" ] || lab_die "$f missing; run tests/lab/openstack/install.sh first"
	done
	[ -d /usr/lib/python3/dist-packages/nova/cmd ] ||
		lab_die "python3-nova is not installed; run tests/lab/openstack/install.sh first"
}

if [ -z "$cluster_was_up" ]; then
	check_cluster_prerequisites
fi
if [ -n "$with_os" ]; then
	check_openstack_prerequisites
fi

# Only the OpenStack part, on a cluster that was up before: undo just that.
openstack_teardown() {
	lab_log "removing the OpenStack lab again (the cluster stays up)"
	lab_evacuator_delete || true
	lab_os_clone_delete || true
	UMHA_OS_STATE=$LAB_OS_STATE "$LAB_OS_DIR/down.sh" || true
	lab_os_agent_remove
	rm -f "$LAB_OS_MARKER"
}

failed() {
	local rc=$?
	trap - EXIT
	[ "$rc" -ne 0 ] || exit 0
	lab_log "up.sh failed (exit $rc); logs in $LAB_STATE"
	if [ -z "$cluster_was_up" ]; then
		for f in "$LAB_STATE"/corosync.log "$LAB_STATE"/pacemakerd.log; do
			[ -r "$f" ] && { echo "--- tail $f" >&2; tail -n 15 "$f" >&2; }
		done
	fi
	if [ -n "${UMHA_LAB_KEEP_ON_FAILURE:-}" ]; then
		lab_log "UMHA_LAB_KEEP_ON_FAILURE set: leaving the half-started lab; run down.sh to clean up"
	elif [ -n "$cluster_was_up" ]; then
		openstack_teardown
	else
		if [ -d "$LAB_STATE" ]; then
			mkdir -p /tmp/umha-lab-failed-logs
			find "$LAB_STATE" -name '*.log' -exec cp --parents {} /tmp/umha-lab-failed-logs/ \; 2>/dev/null || true
			lab_log "logs copied to /tmp/umha-lab-failed-logs"
		fi
		"$LAB_DIR/down.sh" || true
	fi
	exit "$rc"
}
trap failed EXIT

if [ -z "$cluster_was_up" ]; then
	mkdir -p "$LAB_STATE" "$LAB_STATE/backup"
	chmod 0755 "$LAB_STATE"
	touch "$LAB_STATE/started"
	# Paths the daemons create on first use; down.sh removes the ones that were
	# not there before (if still empty, for the dirs).
	for path in /run/crm /run/mount /run/netns /var/lib/corosync/ringid_1; do
		[ -e "$path" ] || printf '%s\n' "$path" >>"$LAB_STATE/created"
	done
	printf '%s\n' "$LAB_NODES" >"$LAB_STATE/nodes.count"
	printf '%s\n' "$LAB_FENCE_AGENT" >"$LAB_STATE/fence-agent"
	printf '%s\n' "$LAB_CONTROLLERS" >"$LAB_STATE/controllers"
fi
: >"$LAB_STATE/timeline"

# ---- the CIB, written offline -------------------------------------------------

# The fence device of a lab node: its BMC, IPMI 2.0 (lanplus, cipher 3).
fence_device_xml() {
	local node=$1 port=$2
	printf '%s' "
<primitive id=\"fence-$node\" class=\"stonith\" type=\"$LAB_FENCE_AGENT\">
  <instance_attributes id=\"fence-$node-ia\">
    <nvpair id=\"fence-$node-ip\" name=\"ip\" value=\"$LAB_BMC_HOST\"/>
    <nvpair id=\"fence-$node-ipport\" name=\"ipport\" value=\"$port\"/>
    <nvpair id=\"fence-$node-username\" name=\"username\" value=\"$LAB_BMC_USER\"/>
    <nvpair id=\"fence-$node-password\" name=\"password\" value=\"$LAB_BMC_PASSWORD\"/>
    <nvpair id=\"fence-$node-lanplus\" name=\"lanplus\" value=\"1\"/>
    <nvpair id=\"fence-$node-cipher\" name=\"cipher\" value=\"3\"/>
    <nvpair id=\"fence-$node-hostlist\" name=\"pcmk_host_list\" value=\"$node\"/>
  </instance_attributes>
  <operations>
    <op id=\"fence-$node-monitor-60s\" name=\"monitor\" interval=\"60s\" timeout=\"20s\"/>
  </operations>
</primitive>"
}

write_cib() {
	local cib=$LAB_STATE/cib.xml node ip port
	cibadmin --empty >"$cib"
	export CIB_file=$cib
	crm_attribute --type crm_config --name dc-deadtime --update 2s
	crm_attribute --type crm_config --name stonith-enabled --update true
	crm_attribute --type crm_config --name cluster-recheck-interval --update 1min
	# Operations on the remote nodes all run through ctl1, whose job limit is
	# 2 x cores, cut down when the machine is loaded (often 2 here): allow more.
	crm_attribute --type crm_config --name node-action-limit --update 16
	crm_attribute --type crm_config --name cluster-name --update "$LAB_CLUSTER_NAME"
	for node in $(lab_node_names); do
		ip=$(lab_node_ip "$node")
		port=$(lab_node_bmc_port "$node")
		cibadmin --create --scope resources --xml-text "
<primitive id=\"$node\" class=\"ocf\" provider=\"pacemaker\" type=\"remote\">
  <instance_attributes id=\"$node-ia\">
    <nvpair id=\"$node-server\" name=\"server\" value=\"$ip\"/>
    <nvpair id=\"$node-port\" name=\"port\" value=\"$LAB_REMOTE_PORT\"/>
    <nvpair id=\"$node-reconnect\" name=\"reconnect_interval\" value=\"10s\"/>
  </instance_attributes>
  <operations>
    <op id=\"$node-monitor-5s\" name=\"monitor\" interval=\"5s\" timeout=\"15s\"/>
  </operations>
</primitive>"
		cibadmin --create --scope resources --xml-text "$(fence_device_xml "$node" "$port")"
		# Stonith devices run on the cluster node; remote nodes cannot run them.
		cibadmin --create --scope constraints --xml-text "
<rsc_location id=\"fence-$node-on-cluster-nodes\" rsc=\"fence-$node\">
  <rule id=\"fence-$node-on-cluster-nodes-rule\" score=\"-INFINITY\">
    <expression id=\"fence-$node-on-cluster-nodes-expr\" attribute=\"#kind\" operation=\"ne\" value=\"cluster\"/>
  </rule>
</rsc_location>"
	done
	# A second controller: a fence device of its own (it may not run on the
	# node it fences, nor on remote nodes). No evacuate=1: not a compute node.
	for node in $(lab_controller_names); do
		port=$(lab_node_bmc_port "$node")
		cibadmin --create --scope resources --xml-text "$(fence_device_xml "$node" "$port")"
		cibadmin --create --scope constraints --xml-text "
<rsc_location id=\"fence-$node-not-self\" rsc=\"fence-$node\">
  <rule id=\"fence-$node-not-self-rule\" score=\"-INFINITY\" boolean-op=\"or\">
    <expression id=\"fence-$node-not-self-kind\" attribute=\"#kind\" operation=\"ne\" value=\"cluster\"/>
    <expression id=\"fence-$node-not-self-uname\" attribute=\"#uname\" operation=\"eq\" value=\"$node\"/>
  </rule>
</rsc_location>"
	done
	write_storage_resources
	unset CIB_file
	# Offline there is no quorum, so crm_verify always warns; only errors count.
	local out
	out=$(crm_verify --xml-file "$cib" 2>&1) || true
	if grep -Eqi 'errors found|error:' <<<"$out"; then
		printf '%s\n' "$out" >&2
		lab_die "the generated CIB does not verify"
	fi
}

# storage-monitor on every compute node (fast settings for tests: a 2 s
# monitor, 1 s dampening; a flip shows within about 5 s), and a test resource
# that needs storage and prefers cmp2 (cmp1 in a one-node lab).
write_storage_resources() {
	local prefer=cmp2
	((LAB_NODES >= 2)) || prefer=cmp1
	cibadmin --create --scope resources --xml-text "
<clone id=\"storage-monitor-clone\">
  <primitive id=\"storage-monitor\" class=\"ocf\" provider=\"umha\" type=\"storage-monitor\">
    <instance_attributes id=\"storage-monitor-ia\">
      <nvpair id=\"storage-monitor-addresses\" name=\"storage_server_address\" value=\"$(lab_stor_addr_list)\"/>
      <nvpair id=\"storage-monitor-dampen\" name=\"dampen\" value=\"1s\"/>
      <nvpair id=\"storage-monitor-health\" name=\"health\" value=\"true\"/>
      <nvpair id=\"storage-monitor-heartbeat-path\" name=\"heartbeat_path\" value=\"$LAB_STOR_SHARE_MNT\"/>
      <nvpair id=\"storage-monitor-heartbeat-timeout\" name=\"heartbeat_timeout\" value=\"2s\"/>
    </instance_attributes>
    <operations>
      <op id=\"storage-monitor-start\" name=\"start\" interval=\"0s\" timeout=\"20s\"/>
      <op id=\"storage-monitor-stop\" name=\"stop\" interval=\"0s\" timeout=\"20s\"/>
      <op id=\"storage-monitor-monitor-2s\" name=\"monitor\" interval=\"2s\" timeout=\"10s\"/>
    </operations>
  </primitive>
</clone>"
	cibadmin --create --scope constraints --xml-text "
<rsc_location id=\"storage-monitor-on-remote-nodes\" rsc=\"storage-monitor-clone\">
  <rule id=\"storage-monitor-on-remote-nodes-rule\" score=\"-INFINITY\">
    <expression id=\"storage-monitor-on-remote-nodes-expr\" attribute=\"#kind\" operation=\"ne\" value=\"remote\"/>
  </rule>
</rsc_location>"
	cibadmin --create --scope resources --xml-text "
<primitive id=\"storage-test\" class=\"ocf\" provider=\"umha\" type=\"umha-dummy\">
  <operations>
    <op id=\"storage-test-monitor-10s\" name=\"monitor\" interval=\"10s\" timeout=\"20s\"/>
  </operations>
</primitive>"
	cibadmin --create --scope constraints --xml-text "
<rsc_location id=\"storage-test-needs-storage\" rsc=\"storage-test\">
  <rule id=\"storage-test-needs-storage-rule\" score=\"-INFINITY\" boolean-op=\"or\">
    <expression id=\"storage-test-needs-storage-undefined\" attribute=\"umha-storage\" operation=\"not_defined\"/>
    <expression id=\"storage-test-needs-storage-zero\" attribute=\"umha-storage\" operation=\"lte\" value=\"0\" type=\"number\"/>
  </rule>
</rsc_location>"
	cibadmin --create --scope constraints --xml-text "
<rsc_location id=\"storage-test-prefers-$prefer\" rsc=\"storage-test\" node=\"$prefer\" score=\"100\"/>"
}

install_cib() {
	# Keep whatever was there (a fresh machine has nothing) for down.sh.
	if [ -n "$(ls -A "$LAB_CIB_DIR" 2>/dev/null)" ]; then
		mkdir -p "$LAB_STATE/backup/cib"
		cp -a "$LAB_CIB_DIR/." "$LAB_STATE/backup/cib/"
		find "$LAB_CIB_DIR" -mindepth 1 -delete
	fi
	install -o hacluster -g haclient -m 0600 "$LAB_STATE/cib.xml" "$LAB_CIB_DIR/cib.xml"
}

write_corosync_conf() {
	local nodes quorum c
	if [ "$LAB_CONTROLLERS" -ge 2 ]; then
		# Over the lab bridge: ctl1 is the host (the bridge's address), ctl2
		# its own namespace. two_node keeps the survivor quorate when one
		# dies (and makes both wait for each other at the first start).
		nodes="	node {
		name: $LAB_CLUSTER_NODE
		nodeid: 1
		ring0_addr: $LAB_BRIDGE_IP
	}"
		for c in $(lab_controller_names); do
			nodes="$nodes
	node {
		name: $c
		nodeid: ${c#ctl}
		ring0_addr: $(lab_node_ip "$c")
	}"
		done
		quorum="two_node: 1"
	else
		nodes="	node {
		name: $LAB_CLUSTER_NODE
		nodeid: 1
		ring0_addr: 127.0.0.1
	}"
		quorum="expected_votes: 1"
	fi
	cat >"$LAB_STATE/corosync.conf" <<EOF
# corosync of the umha lab: $LAB_CONTROLLERS cluster node(s), knet
totem {
	version: 2
	cluster_name: $LAB_CLUSTER_NAME
	transport: knet
	crypto_cipher: none
	crypto_hash: none
}
logging {
	to_stderr: yes
	to_logfile: no
	to_syslog: no
	timestamp: hires
}
quorum {
	provider: corosync_votequorum
	$quorum
}
nodelist {
$nodes
}
EOF
}

remoted_listening() {
	local pid
	pid=$(lab_node_init_pid "$1") || return 1
	nsenter -t "$pid" -n -- ss -Hltn "sport = :$LAB_REMOTE_PORT" | grep -q LISTEN
}

# ---- the cluster ----------------------------------------------------------------

start_cluster() {
	write_cib
	install_cib
	write_corosync_conf

	# The bridge first: with two controllers corosync binds to its address.
	lab_net_up
	lab_log "starting corosync"
	lab_start_daemon corosync "$LAB_STATE/corosync.pid" "$LAB_STATE/corosync.log" \
		corosync -f -c "$LAB_STATE/corosync.conf"
	for node in $(lab_controller_names); do
		lab_log "starting $node (corosync + pacemakerd in its own namespaces) and its BMC"
		lab_net_node_up "$node"
		# The same CIB as ctl1's to begin with (dc-deadtime 2 s on both);
		# later boots keep what the cluster wrote there (its "disk").
		lab_controller_dirs "$node"
		install -o hacluster -g haclient -m 0600 "$LAB_STATE/cib.xml" \
			"$(lab_node_dir "$node")/pacemaker/cib/cib.xml"
		lab_node_start "$node"
		lab_bmc_start "$node"
	done

	# While corosync forms its membership: compute nodes and BMCs.
	lab_log "starting $LAB_NODES compute nodes and their BMCs"
	lab_stor_up
	mkdir -p "$LAB_STOR_SHARE"
	for node in $(lab_node_names); do
		lab_net_node_up "$node"
		lab_stor_node_up "$node"
		lab_node_start "$node"
		lab_bmc_start "$node"
	done

	lab_wait 20 "corosync quorate" lab_quorate
	lab_log "corosync is quorate; starting pacemakerd"
	lab_start_daemon pacemakerd "$LAB_STATE/pacemakerd.pid" "$LAB_STATE/pacemakerd.log" \
		PCMK_logfile="$LAB_STATE/pacemaker.log" PCMK_logfacility=none pacemakerd

	for node in $(lab_node_names); do
		lab_wait 10 "pacemaker-remoted of $node listening on :$LAB_REMOTE_PORT" remoted_listening "$node"
		lab_wait 10 "BMC of $node answering IPMI on $LAB_BMC_HOST:$(lab_node_bmc_port "$node")" lab_bmc_ready "$node"
	done

	for node in $(lab_controller_names); do
		lab_wait 10 "BMC of $node answering IPMI on $LAB_BMC_HOST:$(lab_node_bmc_port "$node")" lab_bmc_ready "$node"
	done
	if [ -x "$LAB_MAAS_SIM" ]; then
		lab_maas_start
		lab_wait 10 "the MAAS API simulator answering on $(lab_maas_url)" lab_maas_ready
	else
		lab_log "$LAB_MAAS_SIM not installed (tests/lab/install-agents.sh): no MAAS simulator"
	fi
	lab_wait 30 "a DC elected" lab_have_dc
	for node in $(lab_controller_names); do
		lab_wait 60 "$node online in the cluster" lab_controller_online "$node"
	done
	lab_log "DC elected; waiting for the remote nodes"
	lab_wait 40 "all $LAB_NODES remote nodes online" lab_all_remote_online
	# storage-monitor publishes at start; the transition that starts storage-test
	# follows the attributes (dampened 1 s).
	lab_wait 30 "every compute node publishing umha-storage > 0" lab_stor_all_published
	lab_wait 40 "cluster settled (crm_resource --wait)" lab_settled
	mark "cluster up: $(lab_cluster_node_names | paste -sd' ') + $(lab_node_names | paste -sd' ') online, storage published, settled"
}

# ---- the OpenStack lab ------------------------------------------------------------

# The cloud bound to the bridge, the agent, the clone and its gate; then wait
# until every nova-compute runs in its node and Nova reports it up.
join_openstack() {
	local nodes
	nodes=$(lab_node_names | paste -sd' ')
	: >"$LAB_OS_MARKER"
	if lab_os_cloud_up; then
		lab_log "the OpenStack lab is already up on $LAB_BRIDGE_IP; joining it"
	else
		lab_log "starting the OpenStack lab on $LAB_BRIDGE_IP (openstack/up.sh --no-computes)"
		UMHA_OS_HOST=$LAB_BRIDGE_IP UMHA_OS_COMPUTES=$nodes UMHA_OS_STATE=$LAB_OS_STATE \
			"$LAB_OS_DIR/up.sh" --no-computes
	fi
	mark "OpenStack control plane up on $LAB_BRIDGE_IP (flavor, image, quota lifted)"
	# openstack/up.sh lifts the default quota class; make sure (idempotent).
	lab_os_query os_nova PUT /os-quota-class-sets/default \
		'{"quota_class_set":{"instances":-1,"cores":-1,"ram":-1,"server_groups":-1,"server_group_members":-1}}' >/dev/null
	lab_os_agent_install
	lab_log "installed $LAB_OS_AGENT; creating $LAB_OS_CLONE and $LAB_OS_RSC-gate"
	lab_os_clone_exists || lab_os_clone_create
	mark "$LAB_OS_CLONE created (gate: -INFINITY where $LAB_EVACUATE_ATTR is defined)"
	lab_wait 90 "$LAB_OS_CLONE running on $nodes" lab_os_clone_everywhere
	mark "nova-compute running on $nodes"
	lab_wait 120 "Nova reporting every nova-compute service up" lab_os_nova_all_up
	mark "Nova reports nova-compute up on $nodes"
	lab_wait 60 "compute hosts mapped to cell1" lab_os_hosts_mapped
	mark "compute hosts mapped to cell1"
	if [ -x "$LAB_OCF_DIR/umha-evacuator" ]; then
		lab_evacuator_exists || lab_evacuator_create
		mark "$LAB_EVACUATOR (ocf:umha:umha-evacuator) on $(lab_cluster_node_names | paste -sd'|'); fence devices write $LAB_EVACUATE_ATTR"
	else
		lab_log "$LAB_OCF_DIR/umha-evacuator not installed (tests/lab/install-agents.sh): no evacuator"
	fi
	lab_wait 60 "cluster settled (crm_resource --wait)" lab_settled
	mark "cluster settled"
}

if [ -z "$cluster_was_up" ]; then
	start_cluster
fi
if [ -n "$with_os" ]; then
	join_openstack
fi

trap - EXIT
t1=$(date +%s%N)
what="$(lab_cluster_node_names | paste -sd' ') + $(lab_node_names | paste -sd' ') online, settled"
if [ -n "$with_os" ]; then
	what="$what; OpenStack on $LAB_BRIDGE_IP, nova-compute up on every node (credentials: $LAB_OS_STATE/clouds.yaml, cloud umha-lab)"
fi
if [ -n "$with_os" ] || [ -n "$cluster_was_up" ]; then
	cat "$LAB_STATE/timeline" >&2
fi
lab_log "lab up in $(((t1 - t0) / 1000000)) ms: $what"
