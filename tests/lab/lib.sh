# shellcheck shell=bash
# shellcheck disable=SC2034  # constants used by the scripts that source this file
# Shared functions and constants of the umha Pacemaker lab.
#
# Sourced by up.sh, down.sh, demo.sh, capture-fixtures.sh, bmc-power and power.
# Nothing here starts anything when sourced; every function is bounded in time.
#
# Layout of the state dir ($LAB_STATE, default /run/umha-lab):
#   corosync.conf corosync.pid corosync.log     the corosync of the cluster node
#   pacemakerd.pid pacemakerd.log pacemaker.log  pacemakerd and its daemons' log
#   cib.xml                                      the CIB written offline by up.sh
#   started                                      marker (mtime = start of up.sh)
#   backup/                                      things up.sh replaced, restored by down.sh
#   storage/share/                               the shared "storage" directory,
#                                                /run/umha-share inside every node
#   nodes/cmpN/                                  one dir per compute node:
#     init.pid init.log          the node's "kernel": holds its netns/UTS/mount ns
#     remoted.pid remoted.log    pacemaker-remoted of the node
#     power.log                  what the BMC was asked to do
#     bmc/ lan.conf bmc.emu ipmi_sim.pid ipmi_sim.log   the node's simulated BMC
#
# Pid files hold the pid on line 1 and the process start time (field 22 of
# /proc/PID/stat) on line 2, so a recycled pid is never mistaken for ours.

# Strict mode for scripts (they set it too); not in an interactive shell that
# sources this by hand, where -e would close the shell on the first error.
case $- in
*i*) ;;
*) set -euo pipefail ;;
esac

# ---- constants --------------------------------------------------------------

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_STATE=${UMHA_LAB_STATE:-/run/umha-lab}
LAB_NODES=${UMHA_LAB_NODES:-3}
# Full cluster nodes: ctl1 (the host's namespaces) and, with 2, ctl2 in
# namespaces of its own like a compute node (UMHA_LAB_CONTROLLERS=2 or
# up.sh --controllers 2; a running lab remembers its choice).
LAB_CONTROLLERS=${UMHA_LAB_CONTROLLERS:-$(cat "$LAB_STATE/controllers" 2>/dev/null || echo 1)}
# A running lab knows how many nodes it was started with.
if [ -z "${UMHA_LAB_NODES:-}" ] && [ -r "$LAB_STATE/nodes.count" ]; then
	LAB_NODES=$(cat "$LAB_STATE/nodes.count")
fi
LAB_CLUSTER_NODE=ctl1
LAB_CLUSTER_NAME=umha-lab
LAB_BRIDGE=umha-br0
LAB_NET=169.254.77
LAB_BRIDGE_IP=$LAB_NET.1
LAB_REMOTE_PORT=3121
# lab_set_controllers N: the number of full cluster nodes, and what follows
# from it. With a second controller the BMCs listen on the bridge, so that
# both controllers (the host's namespace and ctl2's) reach them.
lab_set_controllers() {
	[[ $1 =~ ^[12]$ ]] || lab_die "the lab runs 1 or 2 controllers, not '$1'"
	LAB_CONTROLLERS=$1
	if ((LAB_CONTROLLERS >= 2)); then LAB_BMC_HOST=$LAB_BRIDGE_IP; else LAB_BMC_HOST=127.0.0.1; fi
}
LAB_BMC_PORT_BASE=9000
LAB_BMC_USER='admin'
# A lab password for the simulated BMCs (IPMI allows at most 16/20 characters).
LAB_BMC_PASSWORD=umha-lab-pw
# umha's fence_ipmi (tests/lab/install-agents.sh installs it); UMHA_LAB_FENCE_AGENT=fence_ipmilan
# runs the lab with Debian's agent instead (same device attributes).
LAB_FENCE_AGENT=${UMHA_LAB_FENCE_AGENT:-fence_ipmi}
LAB_REMOTED=${UMHA_LAB_REMOTED:-/usr/local/sbin/pacemaker-remoted}
LAB_PATH=/usr/sbin:/usr/bin:/sbin:/bin
LAB_CIB_DIR=/var/lib/pacemaker/cib
LAB_PENGINE_DIR=/var/lib/pacemaker/pengine
LAB_AUTHKEY=/etc/pacemaker/authkey

# The storage network: a namespace of its own holding a bridge with the storage
# servers' addresses, and per compute node a second veth (st0 in the node, its
# peer umha-scmpN on the storage bridge), separate from the Pacemaker link.
# Link-local IPv4 and a ULA /64: no real network; no default routes anywhere.
LAB_STOR_NS=umha-stor
LAB_STOR_BRIDGE=umha-sbr0
LAB_STOR_NET=169.254.78
# ULA prefix fd75:6d68:6100::/48 ("umha"), subnet 78.
LAB_STOR_NET6=fd75:6d68:6100:78
LAB_STOR_DEV=st0
# The storage servers: two IPv4 and one IPv6 address, all on the storage bridge.
LAB_STOR_ADDRS=("$LAB_STOR_NET.1" "$LAB_STOR_NET.2" "$LAB_STOR_NET6::1")
# A directory every node sees at $LAB_STOR_SHARE_MNT (bind mount into each node's
# private /run): the heartbeat directory of storage-monitor's path check.
LAB_STOR_SHARE=$LAB_STATE/storage/share
LAB_STOR_SHARE_MNT=/run/umha-share
# umha's OCF agents the lab's CIB uses (tests/lab/install-agents.sh installs them).
LAB_OCF_DIR=/usr/lib/ocf/resource.d/umha

# Processes every compute node "boots" when powered on, in order. Each name S
# needs a function lab_svc_S_start NODE. A power cut kills everything in the
# node's network namespace, so nothing is needed to stop them. Later issues add
# services here (or start them later, e.g. nova-compute when the cluster allows).
LAB_NODE_BOOT_SERVICES=(remoted)

# ---- messages ---------------------------------------------------------------

lab_now() { date +%s.%N | cut -c1-14; }

lab_log() { printf '[lab %s] %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }

lab_die() {
	lab_log "ERROR: $*"
	exit 1
}

lab_require_root() {
	[ "$(id -u)" -eq 0 ] || lab_die "must run as root"
}

lab_set_controllers "$LAB_CONTROLLERS"

# ---- node naming ------------------------------------------------------------

# Names of the compute nodes: cmp1 .. cmpN.
lab_node_names() {
	local i
	for ((i = 1; i <= LAB_NODES; i++)); do
		printf 'cmp%d\n' "$i"
	done
}

# The controllers in namespaces of their own: ctl2 (ctl1 is the host's).
lab_controller_names() {
	local i
	for ((i = 2; i <= LAB_CONTROLLERS; i++)); do
		printf 'ctl%d\n' "$i"
	done
}

# Index of a node name (cmp2 -> 2, ctl2 -> 102); fails on anything that is
# not a lab node.
lab_node_index() {
	local n
	case $1 in
	cmp[0-9]*) n=${1#cmp} ;;
	ctl[0-9]*)
		n=${1#ctl}
		[[ $n =~ ^[0-9]+$ ]] && ((n >= 2 && n <= LAB_CONTROLLERS)) || return 1
		printf '%d\n' "$((100 + n))"
		return 0
		;;
	*) return 1 ;;
	esac
	[[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 200)) || return 1
	printf '%d\n' "$n"
}

lab_node_check() {
	lab_node_index "$1" >/dev/null || lab_die "not a lab node: '$1' (expected cmp1..cmp$LAB_NODES$( [ "$LAB_CONTROLLERS" -ge 2 ] && echo ", ctl2..ctl$LAB_CONTROLLERS"))"
}

# Every full cluster node: ctl1 (the host) and the controllers above.
lab_cluster_node_names() {
	printf '%s\n' "$LAB_CLUSTER_NODE"
	lab_controller_names
}

lab_is_controller() { case $1 in ctl[0-9]*) return 0 ;; *) return 1 ;; esac; }

lab_node_ns() { printf 'umha-%s\n' "$1"; }
lab_node_veth() { printf 'umha-v%s\n' "$1"; }
# cmpN: .(10+N); ctlN: .N (ctl1 is the bridge's own .1).
lab_node_ip() {
	if lab_is_controller "$1"; then
		printf '%s.%d\n' "$LAB_NET" "${1#ctl}"
	else
		printf '%s.%d\n' "$LAB_NET" "$((10 + $(lab_node_index "$1")))"
	fi
}
lab_node_bmc_port() { printf '%d\n' "$((LAB_BMC_PORT_BASE + $(lab_node_index "$1")))"; }
lab_node_dir() { printf '%s/nodes/%s\n' "$LAB_STATE" "$1"; }

# ---- processes --------------------------------------------------------------

# Start time of a process (clock ticks since boot), empty if it does not exist.
lab_proc_starttime() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	# shellcheck disable=SC2086  # split the fields on purpose
	set -- $stat
	printf '%s\n' "${20}"
}

# Is PID a live process? A zombie (State: Z) counts as dead: PID 1 here reaps
# orphans late and kill -0 succeeds on a zombie.
lab_alive() {
	local pid=${1:-} state
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	state=$(awk '/^State:/ {print $2; exit}' "/proc/$pid/status" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Print the pid of a pid file if that process is alive and still the one that
# was started (same start time). Fails otherwise.
lab_pidfile_pid() {
	local file=$1 pid='' start='' now
	[ -r "$file" ] || return 1
	{ read -r pid && read -r start; } <"$file" 2>/dev/null || true
	lab_alive "$pid" || return 1
	if [ -n "$start" ]; then
		now=$(lab_proc_starttime "$pid")
		[ "$now" = "$start" ] || return 1
	fi
	printf '%s\n' "$pid"
}

lab_pidfile_alive() { lab_pidfile_pid "$1" >/dev/null; }

# lab_start_daemon NAME PIDFILE LOGFILE [VAR=value ...] CMD [ARGS...]
# Starts CMD in the background the way an init system would: own session
# (setsid), stdin /dev/null, stdout+stderr appended to LOGFILE, every fd above 2
# closed, a clean environment (env -i PATH=... LANG=C.UTF-8 plus the VAR=value
# words given). Writes the daemon's own pid (and start time) to PIDFILE.
# Nothing in the chain forks: the subshell execs setsid, which execs env, which
# execs CMD; so $! is the daemon's pid.
lab_start_daemon() {
	local name=$1 pidfile=$2 logfile=$3 pid start
	shift 3
	[ $# -gt 0 ] || lab_die "lab_start_daemon $name: no command"
	mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
	rm -f "$pidfile"
	printf '=== %s: start %s: %s\n' "$(date '+%F %T')" "$name" "$*" >>"$logfile"
	(
		exec </dev/null >>"$logfile" 2>&1
		local fd
		for fd in /proc/"$BASHPID"/fd/*; do
			fd=${fd##*/}
			if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)); then
				eval "exec $fd>&-"
			fi
		done
		umask 022
		cd /
		exec setsid env -i PATH="$LAB_PATH" LANG=C.UTF-8 "$@"
	) &
	pid=$!
	# Not a job of this shell: no "Killed" notices when it dies.
	disown "$pid" 2>/dev/null || true
	start=$(lab_proc_starttime "$pid")
	printf '%s\n%s\n' "$pid" "$start" >"$pidfile.tmp"
	mv -f "$pidfile.tmp" "$pidfile"
}

# lab_wait TIMEOUT_S DESCRIPTION CMD [ARGS...]
# Polls CMD (every 0.2 s) until it succeeds or TIMEOUT_S seconds have passed.
# Returns 1 with a clear message on timeout. CMD's output is discarded.
lab_wait() {
	local timeout=$1 desc=$2 deadline
	shift 2
	deadline=$(($(date +%s%N) + ${timeout%.*} * 1000000000))
	while true; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		if (($(date +%s%N) >= deadline)); then
			lab_log "timed out after ${timeout}s waiting for: $desc"
			return 1
		fi
		sleep 0.2
	done
}

# lab_stop_pid PID [TIMEOUT_S=5]: TERM, bounded wait, then KILL.
lab_stop_pid() {
	local pid=$1 timeout=${2:-5} i
	lab_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < timeout * 10; i++)); do
		lab_alive "$pid" || return 0
		sleep 0.1
	done
	lab_log "pid $pid ignored SIGTERM for ${timeout}s, sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 30; i++)); do
		lab_alive "$pid" || return 0
		sleep 0.1
	done
	lab_log "pid $pid still alive after SIGKILL"
	return 1
}

# lab_stop_pidfile PIDFILE [TIMEOUT_S=5]: stop the process of a pid file (only if
# it is still the process that was started) and remove the pid file.
lab_stop_pidfile() {
	local file=$1 timeout=${2:-5} pid
	if pid=$(lab_pidfile_pid "$file"); then
		lab_stop_pid "$pid" "$timeout" || return 1
	fi
	rm -f "$file"
}

# ---- cluster queries --------------------------------------------------------

lab_is_up() { lab_pidfile_alive "$LAB_STATE/corosync.pid"; }

lab_quorate() {
	corosync-quorumtool -s 2>/dev/null | grep -Eq '^Quorate:[[:space:]]+Yes'
}

# crm_mon's XML, with a bounded run time.
lab_crm_mon_xml() { timeout 10 crm_mon --output-as=xml 2>/dev/null; }

lab_xpath() { xmllint --xpath "$1" - 2>/dev/null; }

# Is there an elected DC?
lab_have_dc() {
	lab_crm_mon_xml | lab_xpath 'string(//summary/current_dc/@present)' | grep -qx true
}

lab_node_online() {
	lab_crm_mon_xml | lab_xpath "string(//nodes/node[@name='$1']/@online)" | grep -qx true
}

lab_node_offline() {
	local xml
	xml=$(lab_crm_mon_xml) || return 1
	printf '%s' "$xml" | lab_xpath "string(//nodes/node[@name='$1']/@online)" | grep -qx false
}

# Number of remote nodes crm_mon shows online.
lab_remote_online_count() {
	lab_crm_mon_xml | lab_xpath 'count(//nodes/node[@type="remote"][@online="true"])'
}

lab_all_remote_online() {
	[ "$(lab_remote_online_count)" = "$LAB_NODES" ]
}

# No pending transition (crm_resource --wait is about 2 s even when settled).
lab_settled() {
	timeout 40 crm_resource --wait --timeout=30s >/dev/null 2>&1
}

# Wait until every compute node is online and the cluster settled.
lab_wait_healthy() {
	local timeout=${1:-60}
	lab_wait "$timeout" "all $LAB_NODES remote nodes online" lab_all_remote_online || return 1
	lab_wait "$timeout" "cluster settled (crm_resource --wait)" lab_settled
}

# ---- network ----------------------------------------------------------------

lab_net_up() {
	if ! ip link show "$LAB_BRIDGE" >/dev/null 2>&1; then
		ip link add "$LAB_BRIDGE" type bridge
	fi
	ip addr replace "$LAB_BRIDGE_IP/24" dev "$LAB_BRIDGE"
	ip link set "$LAB_BRIDGE" up
}

lab_net_node_up() {
	local node=$1 ns veth ip
	ns=$(lab_node_ns "$node")
	veth=$(lab_node_veth "$node")
	ip=$(lab_node_ip "$node")
	if ! ip netns list | grep -qw "^$ns"; then
		ip netns add "$ns"
	fi
	if ! ip link show "$veth" >/dev/null 2>&1; then
		ip link add "$veth" type veth peer name "${veth}p"
		ip link set "${veth}p" netns "$ns"
		ip -n "$ns" link set "${veth}p" name eth0
	fi
	ip link set "$veth" master "$LAB_BRIDGE"
	ip link set "$veth" up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr replace "$ip/24" dev eth0
	ip -n "$ns" link set eth0 up
}

# Remove every netns, veth and the bridge of the lab (whatever exists),
# the storage network's too (its veths and bridge live in the namespaces).
lab_net_down() {
	local ns veth
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^umha-(cmp|ctl)[0-9]+$' || true); do
		ip netns del "$ns" 2>/dev/null || true
	done
	if lab_netns_exists "$LAB_STOR_NS"; then
		ip netns del "$LAB_STOR_NS" 2>/dev/null || true
	fi
	for veth in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^umha-v(cmp|ctl)[0-9]+$' || true); do
		ip link del "$veth" 2>/dev/null || true
	done
	if ip link show "$LAB_BRIDGE" >/dev/null 2>&1; then
		ip link del "$LAB_BRIDGE" 2>/dev/null || true
	fi
}

lab_netns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

# ---- storage network ----------------------------------------------------------

lab_stor_port() { printf 'umha-s%s\n' "$1"; }
lab_stor_node_ip() { printf '%s.%d\n' "$LAB_STOR_NET" "$((10 + $(lab_node_index "$1")))"; }
lab_stor_node_ip6() { printf '%s::%d\n' "$LAB_STOR_NET6" "$((10 + $(lab_node_index "$1")))"; }
# storage_server_address of the lab's storage-monitor: the storage addresses.
lab_stor_addr_list() { printf '%s\n' "${LAB_STOR_ADDRS[*]}"; }

# Linux deletes the IPv6 addresses of an interface that goes down, and they do
# not come back with it, unless keep_addr_on_down is set (per namespace).
lab_stor_keep_addr() {
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.keep_addr_on_down=1 \
		net.ipv6.conf.default.keep_addr_on_down=1 >/dev/null
}

# The storage namespace and its bridge with the storage addresses. Idempotent.
lab_stor_up() {
	local addr
	lab_netns_exists "$LAB_STOR_NS" || ip netns add "$LAB_STOR_NS"
	lab_stor_keep_addr "$LAB_STOR_NS"
	ip -n "$LAB_STOR_NS" link set lo up
	if ! ip -n "$LAB_STOR_NS" link show "$LAB_STOR_BRIDGE" >/dev/null 2>&1; then
		# No STP (ports forward at once), no multicast snooping (IPv6 neighbour
		# discovery is flooded whatever the bridge learnt).
		# A fixed address: a bridge otherwise takes the lowest of its ports'
		# addresses, so cutting one node (its port leaves) could change the
		# servers' MAC under every other node's neighbour cache.
		ip -n "$LAB_STOR_NS" link add "$LAB_STOR_BRIDGE" address 02:75:6d:68:61:78 type bridge stp_state 0 mcast_snooping 0
	fi
	for addr in "${LAB_STOR_ADDRS[@]}"; do
		case $addr in
		*:*) ip -n "$LAB_STOR_NS" -6 addr replace "$addr/64" dev "$LAB_STOR_BRIDGE" nodad ;;
		*) ip -n "$LAB_STOR_NS" addr replace "$addr/24" dev "$LAB_STOR_BRIDGE" ;;
		esac
	done
	ip -n "$LAB_STOR_NS" link set "$LAB_STOR_BRIDGE" up
}

# A node's storage link: st0 in its netns, the peer on the storage bridge.
# Idempotent. The node's netns outlives its power cycles (only its processes
# die), so the link comes back with the node without being rebuilt.
lab_stor_node_up() {
	local node=$1 ns port
	ns=$(lab_node_ns "$node")
	port=$(lab_stor_port "$node")
	lab_stor_keep_addr "$ns"
	if ! ip -n "$LAB_STOR_NS" link show "$port" >/dev/null 2>&1; then
		ip -n "$ns" link del "$LAB_STOR_DEV" 2>/dev/null || true
		ip -n "$LAB_STOR_NS" link add "$port" type veth peer name "$LAB_STOR_DEV" netns "$ns"
	fi
	ip -n "$LAB_STOR_NS" link set "$port" master "$LAB_STOR_BRIDGE"
	ip -n "$LAB_STOR_NS" link set "$port" up
	ip -n "$ns" addr replace "$(lab_stor_node_ip "$node")/24" dev "$LAB_STOR_DEV"
	ip -n "$ns" -6 addr replace "$(lab_stor_node_ip6 "$node")/64" dev "$LAB_STOR_DEV" nodad
	ip -n "$ns" link set "$LAB_STOR_DEV" up
}

# Cut a node's storage link: its port leaves the storage bridge. A silent loss
# (the carrier stays up, like a dead switch port); the Pacemaker link is
# untouched.
lab_stor_cut() {
	lab_node_check "$1"
	ip -n "$LAB_STOR_NS" link set "$(lab_stor_port "$1")" nomaster
}

lab_stor_restore() {
	lab_node_check "$1"
	ip -n "$LAB_STOR_NS" link set "$(lab_stor_port "$1")" master "$LAB_STOR_BRIDGE"
}

# connected | cut | missing (no storage link at all)
lab_stor_status() {
	local line
	lab_node_check "$1"
	line=$(ip -n "$LAB_STOR_NS" -o link show "$(lab_stor_port "$1")" 2>/dev/null) || {
		echo missing
		return 0
	}
	if [[ $line == *" master $LAB_STOR_BRIDGE "* ]]; then echo connected; else echo cut; fi
}

# A node attribute as the CIB has it (empty when unset); bounded.
lab_node_attr() {
	timeout 10 crm_attribute --node "$1" --name "$2" --lifetime reboot --query --quiet 2>/dev/null || true
}

# Has every compute node published a storage score above 0?
lab_stor_all_published() {
	local node score
	for node in $(lab_node_names); do
		score=$(lab_node_attr "$node" umha-storage)
		[[ $score =~ ^[0-9]+$ ]] && ((score > 0)) || return 1
	done
}

# ---- compute nodes: power on, power cut, run inside -------------------------

lab_node_init_pid() { lab_pidfile_pid "$(lab_node_dir "$1")/init.pid"; }

# Is the node "powered on" (its init process alive)?
lab_node_powered() { lab_node_init_pid "$1" >/dev/null; }

# lab_node_exec NODE CMD...: run CMD inside the node (its netns, mount ns with
# the private /run, and UTS ns with hostname NODE).
lab_node_exec() {
	local node=$1 pid
	shift
	lab_node_check "$node"
	pid=$(lab_node_init_pid "$node") || lab_die "$node is powered off"
	nsenter -t "$pid" -n -m -u -- "$@"
}

# Power on: start the node's init (holder of its namespaces), then every boot
# service (unless its boot is held). Returns at once; safe when already on
# (then it does nothing).
lab_node_start() {
	local node=$1 dir ns svc
	lab_node_check "$node"
	dir=$(lab_node_dir "$node")
	ns=$(lab_node_ns "$node")
	mkdir -p "$dir"
	if lab_node_powered "$node"; then
		return 0
	fi
	ip netns list | grep -qw "^$ns" || lab_die "netns $ns is missing (is the lab up?)"
	mkdir -p "$LAB_STOR_SHARE"
	# The node's "kernel": own UTS ns (hostname), own mount ns (ip netns exec
	# makes one) with a private /run that vanishes at power off like a reboot.
	# The shared storage directory is bind-mounted into that /run: entered
	# (cd) before the tmpfs hides it, then mounted by relative path with
	# --no-canonicalize (which keeps mount from resolving it to a hidden path).
	if lab_is_controller "$node"; then
		lab_controller_dirs "$node"
		lab_start_daemon "$node-init" "$dir/init.pid" "$dir/init.log" \
			ip netns exec "$ns" unshare --uts -- sh -c "$(lab_controller_init "$node")"
	else
		lab_start_daemon "$node-init" "$dir/init.pid" "$dir/init.log" \
			ip netns exec "$ns" unshare --uts -- sh -c \
			"hostname '$node' && cd '$LAB_STOR_SHARE' && mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p '$LAB_STOR_SHARE_MNT' && mount --no-canonicalize --bind . '$LAB_STOR_SHARE_MNT' && cd / && mkdir -p /run/resource-agents /run/lock /run/crm && exec sleep infinity"
	fi
	lab_wait 5 "$node init ready" lab_node_init_ready "$node" || return 1
	if [ -e "$dir/boot-hold" ]; then
		lab_log "$node: boot held, services not started"
		return 0
	fi
	lab_node_boot "$node"
}

# Start the node's boot services (the node must be powered): a compute
# node's LAB_NODE_BOOT_SERVICES, a controller's corosync and pacemakerd.
lab_node_boot() {
	local node=$1 svc services
	if lab_is_controller "$node"; then
		services=(corosync pacemakerd)
	else
		services=("${LAB_NODE_BOOT_SERVICES[@]}")
	fi
	for svc in "${services[@]}"; do
		"lab_svc_${svc}_start" "$node" || return 1
	done
}

# ---- a second controller (UMHA_LAB_CONTROLLERS=2) ----------------------------
#
# ctl2 is a full cluster node in namespaces of its own, powered and fenced
# like a compute node (its init holds the namespaces, its BMC cuts them). Its
# Pacemaker state is its own: /var/lib/pacemaker, /var/lib/corosync, /run
# and /dev/shm (libqb's IPC buffers) are private; /run/umha-lab and
# /run/umha-openstack are the host's (the lab's files, clouds.yaml), bound
# into its /run. Everything else (agents, /etc/pacemaker/authkey) is the
# host's file system.

# Its persistent state (kept across power cycles, like a disk).
lab_controller_dirs() {
	local dir
	dir=$(lab_node_dir "$1")
	mkdir -p "$dir/pacemaker/cib" "$dir/pacemaker/pengine" "$dir/pacemaker/blackbox" \
		"$dir/pacemaker/cores" "$dir/corosync"
	chown -R hacluster:haclient "$dir/pacemaker"
	chmod 0750 "$dir/pacemaker" "$dir/pacemaker/cib" "$dir/pacemaker/pengine"
}

# The init's script: hostname, the private mounts, then sleep as "the OS".
# The host's /run is bound at /run/host and the lab's dirs under /run are
# symlinks into it, not bind mounts: the OpenStack lab's state dir is made
# (and remade) after ctl2 boots, and a link follows it where a bind mount
# would keep an empty or deleted directory.
lab_controller_init() {
	local node=$1 dir links='' p top
	dir=$(lab_node_dir "$node")
	for p in "$LAB_STATE" "$LAB_OS_STATE"; do
		case $p in
		/run/?*)
			top=${p#/run/}
			top=${top%%/*}
			links="$links ln -sfn 'host/$top' '/run/$top' &&"
			;;
		esac
	done
	printf '%s' "hostname '$node' && mount --rbind /run /mnt && mount -t tmpfs -o mode=0755 tmpfs /run && \
mkdir -p /run/host /run/resource-agents /run/lock /run/crm && mount --rbind /mnt /run/host && umount -l /mnt && \
$links mount -t tmpfs -o mode=1777 tmpfs /dev/shm && \
mount --bind '$dir/pacemaker' /var/lib/pacemaker && mount --bind '$dir/corosync' /var/lib/corosync && \
exec sleep infinity"
}

lab_svc_corosync_start() {
	local node=$1 dir pid
	dir=$(lab_node_dir "$node")
	pid=$(lab_node_init_pid "$node") || return 1
	lab_start_daemon "$node-corosync" "$dir/corosync.pid" "$dir/corosync.log" \
		nsenter -t "$pid" -n -m -u -- corosync -f -c "$LAB_STATE/corosync.conf"
}

lab_svc_pacemakerd_start() {
	local node=$1 dir pid
	dir=$(lab_node_dir "$node")
	pid=$(lab_node_init_pid "$node") || return 1
	lab_start_daemon "$node-pacemakerd" "$dir/pacemakerd.pid" "$dir/pacemakerd.log" \
		PCMK_logfile="$dir/pacemaker.log" PCMK_logfacility=none \
		nsenter -t "$pid" -n -m -u -- pacemakerd
}

# crm_mon's view from the host: is NODE an online cluster node?
lab_controller_online() {
	lab_crm_mon_xml | lab_xpath "boolean(//nodes/node[@name='$1' and @online='true' and @type='member'])" | grep -qx true
}

# Hold a node's boot: from its next power on, its services do not start (an OS
# hung at boot). The BMC still reports power on, so fencing succeeds.
lab_node_hold() {
	mkdir -p "$(lab_node_dir "$1")"
	touch "$(lab_node_dir "$1")/boot-hold"
}

# Release the hold; a node that is powered boots now.
lab_node_release() {
	local node=$1
	rm -f "$(lab_node_dir "$node")/boot-hold"
	if lab_node_powered "$node" && ! lab_node_booted "$node"; then
		lab_node_boot "$node"
	fi
}

# Has the node booted (its first boot service alive: a compute node's
# pacemaker-remoted, a controller's corosync)?
lab_node_booted() {
	if lab_is_controller "$1"; then
		lab_pidfile_alive "$(lab_node_dir "$1")/corosync.pid"
	else
		lab_node_remoted_pid "$1" >/dev/null
	fi
}

# Ready once the init has its private /run (and hostname) in place.
lab_node_init_ready() {
	local pid
	pid=$(lab_node_init_pid "$1") || return 1
	[ "$(nsenter -t "$pid" -u hostname 2>/dev/null)" = "$1" ] &&
		nsenter -t "$pid" -m -- test -d /run/crm
}

lab_svc_remoted_start() {
	local node=$1 dir pid
	dir=$(lab_node_dir "$node")
	pid=$(lab_node_init_pid "$node") || return 1
	lab_start_daemon "$node-remoted" "$dir/remoted.pid" "$dir/remoted.log" \
		PCMK_logfacility=none PCMK_logfile=none PCMK_stderr=yes \
		nsenter -t "$pid" -n -m -u -- "$LAB_REMOTED"
}

# Power cut: SIGKILL every process in the node's network namespace at once.
# Bounded (about 2 s at most); zombies count as dead.
lab_node_cut() {
	local node=$1 dir ns pids pid i left
	lab_node_check "$node"
	dir=$(lab_node_dir "$node")
	ns=$(lab_node_ns "$node")
	for ((i = 0; i < 20; i++)); do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		# the init may not be in the netns listing yet if it is starting
		if pid=$(lab_node_init_pid "$node"); then pids="$pids $pid"; fi
		left=''
		for pid in $pids; do
			if lab_alive "$pid"; then
				kill -KILL "$pid" 2>/dev/null || true
				left=1
			fi
		done
		[ -n "$left" ] || break
		sleep 0.1
	done
	rm -f "$dir"/*.pid
}

# Is the node's pacemaker-remoted running?
lab_node_remoted_pid() { lab_pidfile_pid "$(lab_node_dir "$1")/remoted.pid"; }

# ---- simulated BMCs (OpenIPMI ipmi_sim) -------------------------------------

# lab_bmc_write_config NODE [PASSWORD]
lab_bmc_write_config() {
	local node=$1 password=${2:-$LAB_BMC_PASSWORD} dir port
	dir=$(lab_node_dir "$node")/bmc
	port=$(lab_node_bmc_port "$node")
	mkdir -p "$dir/state"
	cat >"$dir/lan.conf" <<EOF
# ipmi_sim configuration of the simulated BMC of $node (umha lab)
name "$node"
set_working_mc 0x20
  startlan 1
    addr $LAB_BMC_HOST $port
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcd$(printf '%02x' "$(lab_node_index "$node")")
  endlan
  chassis_control "/usr/bin/env UMHA_LAB_STATE=$LAB_STATE $LAB_DIR/bmc-power $node"
user 2 true  "$LAB_BMC_USER" "$password" admin 10 none md2 md5 straight
EOF
	cat >"$dir/bmc.emu" <<EOF
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
EOF
}

# lab_bmc_start NODE [PASSWORD]: start the node's simulated BMC (a different
# password simulates a misconfigured fence device).
lab_bmc_start() {
	local node=$1 dir
	dir=$(lab_node_dir "$node")/bmc
	lab_bmc_write_config "$node" "${2:-}"
	lab_start_daemon "$node-bmc" "$dir/ipmi_sim.pid" "$dir/ipmi_sim.log" \
		ipmi_sim -n -c "$dir/lan.conf" -f "$dir/bmc.emu" -s "$dir/state"
}

lab_bmc_ready() {
	timeout 5 ipmitool -I lanplus -C 3 -H "$LAB_BMC_HOST" -p "$(lab_node_bmc_port "$1")" \
		-U "$LAB_BMC_USER" -P "$LAB_BMC_PASSWORD" -N 1 -R 1 chassis power status
}

lab_bmc_stop() { lab_stop_pidfile "$(lab_node_dir "$1")/bmc/ipmi_sim.pid" 3; }

# ---- the OpenStack lab on the cluster (up.sh --with-openstack) ---------------
#
# The cloud of tests/lab/openstack runs its control plane in the root
# namespace, bound to the lab bridge's address; each compute node's
# nova-compute is the clone resource nova-compute-clone (agent
# ocf:umha-lab:nova-compute), started by the node's pacemaker-remoted inside
# the node, so a power cut kills it with the node. A location rule keeps it off
# any node carrying the evacuation marker umha-evacuate.

LAB_OS_DIR=$LAB_DIR/openstack
LAB_OS_STATE=${UMHA_OS_STATE:-/run/umha-openstack}
LAB_OS_AGENT_SRC=$LAB_DIR/ocf/nova-compute
LAB_OS_AGENT_DIR=/usr/lib/ocf/resource.d/umha-lab
LAB_OS_AGENT=$LAB_OS_AGENT_DIR/nova-compute
LAB_OS_RSC=nova-compute
LAB_OS_CLONE=nova-compute-clone
# Node attribute set while a node's evacuation is pending (fence_ipmi's
# evacuate=1 writes it, the evacuator removes it): nova-compute must not run there.
LAB_EVACUATE_ATTR=umha-evacuate
# Present while the lab runs with the OpenStack lab joined (written by up.sh).
LAB_OS_MARKER=$LAB_STATE/openstack
# Paths up.sh installed outside its state dir (removed by down.sh).
LAB_INSTALLED=$LAB_STATE/installed

# Is the OpenStack lab's control plane up (its MariaDB alive)?
lab_os_cloud_up() { lab_pidfile_alive "$LAB_OS_STATE/mariadb/mariadb.pid"; }

# Does a cloud's state say it listens on this lab's bridge (so it cannot
# outlive the lab)?
lab_os_bound() {
	[ -r "$LAB_OS_STATE/env" ] && grep -qx "OS_HOST=$LAB_BRIDGE_IP" "$LAB_OS_STATE/env"
}

# The compute hosts' dir of the running cloud (its env file), else the default.
lab_os_hosts_dir() {
	local dir=''
	[ -r "$LAB_OS_STATE/env" ] && dir=$(sed -n 's/^OS_HOSTS_DIR=//p' "$LAB_OS_STATE/env")
	printf '%s\n' "${dir:-${UMHA_OS_HOSTS_DIR:-/var/lib/umha-lab/openstack/hosts}}"
}

# lab_os_query CMD...: run an OpenStack lab lib.sh function (os_compute_services,
# os_nova, ...) with an admin token, in a subshell.
lab_os_query() {
	(
		# Not followed by shellcheck: openstack/lib.sh sources this file.
		# shellcheck source=/dev/null
		. "$LAB_OS_DIR/lib.sh"
		os_login
		"$@"
	)
}

# Install the lab's nova-compute agent where Pacemaker finds it, recording
# what was created in $LAB_INSTALLED for down.sh.
lab_os_agent_install() {
	if [ ! -d "$LAB_OS_AGENT_DIR" ]; then
		mkdir -p "$LAB_OS_AGENT_DIR"
		printf '%s\n' "$LAB_OS_AGENT_DIR" >>"$LAB_INSTALLED"
	fi
	if ! cmp -s "$LAB_OS_AGENT_SRC" "$LAB_OS_AGENT"; then
		install -o root -g root -m 0755 "$LAB_OS_AGENT_SRC" "$LAB_OS_AGENT.new"
		mv -f "$LAB_OS_AGENT.new" "$LAB_OS_AGENT"
	fi
	grep -qxF "$LAB_OS_AGENT" "$LAB_INSTALLED" 2>/dev/null || printf '%s\n' "$LAB_OS_AGENT" >>"$LAB_INSTALLED"
}

# Remove the agent if this lab installed it (recorded) or it is this
# checkout's copy (a state dir lost), and its provider dir if now empty.
lab_os_agent_remove() {
	if [ -e "$LAB_OS_AGENT" ] && { grep -qxF "$LAB_OS_AGENT" "$LAB_INSTALLED" 2>/dev/null ||
		cmp -s "$LAB_OS_AGENT_SRC" "$LAB_OS_AGENT"; }; then
		rm -f "$LAB_OS_AGENT"
	fi
	rmdir "$LAB_OS_AGENT_DIR" 2>/dev/null || true
}

# Create nova-compute-clone in the live CIB: on remote nodes only, never on
# a node with umha-evacuate. Created stopped, constrained, then started, so no
# instance starts before the gate exists.
lab_os_clone_create() {
	local hosts_dir
	hosts_dir=$(lab_os_hosts_dir)
	timeout 20 cibadmin --create --scope resources --xml-text "
<clone id=\"$LAB_OS_CLONE\">
  <meta_attributes id=\"$LAB_OS_CLONE-meta\">
    <nvpair id=\"$LAB_OS_CLONE-target-role\" name=\"target-role\" value=\"Stopped\"/>
  </meta_attributes>
  <primitive id=\"$LAB_OS_RSC\" class=\"ocf\" provider=\"umha-lab\" type=\"nova-compute\">
    <instance_attributes id=\"$LAB_OS_RSC-ia\">
      <nvpair id=\"$LAB_OS_RSC-compute-script\" name=\"compute_script\" value=\"$LAB_OS_DIR/compute.sh\"/>
      <nvpair id=\"$LAB_OS_RSC-hosts-dir\" name=\"hosts_dir\" value=\"$hosts_dir\"/>
    </instance_attributes>
    <operations>
      <op id=\"$LAB_OS_RSC-start\" name=\"start\" interval=\"0s\" timeout=\"60s\"/>
      <op id=\"$LAB_OS_RSC-stop\" name=\"stop\" interval=\"0s\" timeout=\"30s\"/>
      <op id=\"$LAB_OS_RSC-monitor-10s\" name=\"monitor\" interval=\"10s\" timeout=\"20s\"/>
    </operations>
  </primitive>
</clone>" || return 1
	timeout 20 cibadmin --create --scope constraints --xml-text "
<rsc_location id=\"$LAB_OS_RSC-on-remote-nodes\" rsc=\"$LAB_OS_CLONE\">
  <rule id=\"$LAB_OS_RSC-on-remote-nodes-rule\" score=\"-INFINITY\">
    <expression id=\"$LAB_OS_RSC-on-remote-nodes-expr\" attribute=\"#kind\" operation=\"ne\" value=\"remote\"/>
  </rule>
</rsc_location>" || return 1
	timeout 20 cibadmin --create --scope constraints --xml-text "
<rsc_location id=\"$LAB_OS_RSC-gate\" rsc=\"$LAB_OS_CLONE\">
  <rule id=\"$LAB_OS_RSC-gate-rule\" score=\"-INFINITY\">
    <expression id=\"$LAB_OS_RSC-gate-expr\" attribute=\"$LAB_EVACUATE_ATTR\" operation=\"defined\"/>
  </rule>
</rsc_location>" || return 1
	timeout 20 crm_resource --resource "$LAB_OS_CLONE" --meta --delete-parameter target-role >/dev/null
}

lab_os_clone_exists() {
	timeout 10 cibadmin --query --scope resources --xpath "//clone[@id='$LAB_OS_CLONE']" >/dev/null 2>&1
}

# Nodes where nova-compute-clone is active, one per line.
lab_os_clone_nodes() {
	timeout 10 crm_resource --locate --resource "$LAB_OS_CLONE" --quiet 2>/dev/null | tr ' ' '\n' | sed '/^$/d' | sort -u
}

lab_os_clone_everywhere() {
	[ "$(lab_os_clone_nodes | wc -l)" -eq "$LAB_NODES" ]
}

lab_os_clone_nowhere() { [ -z "$(lab_os_clone_nodes)" ]; }

# Take the clone and its constraints out of the live CIB (stopped first, bounded).
lab_os_clone_delete() {
	lab_os_clone_exists || return 0
	timeout 20 crm_resource --resource "$LAB_OS_CLONE" --meta --set-parameter target-role \
		--parameter-value Stopped >/dev/null 2>&1 || true
	lab_wait 60 "$LAB_OS_CLONE stopped everywhere" lab_os_clone_nowhere || true
	timeout 20 cibadmin --delete --xml-text "<rsc_location id=\"$LAB_OS_RSC-gate\"/>" >/dev/null 2>&1 || true
	timeout 20 cibadmin --delete --xml-text "<rsc_location id=\"$LAB_OS_RSC-on-remote-nodes\"/>" >/dev/null 2>&1 || true
	timeout 20 cibadmin --delete --xml-text "<clone id=\"$LAB_OS_CLONE\"/>" >/dev/null 2>&1 || true
}

# Does Nova report every compute node's nova-compute service "up"?
lab_os_nova_all_up() {
	local n
	n=$(lab_os_query os_compute_services | jq '[.[] | select(.state == "up")] | length') || return 1
	[ "$n" -eq "$LAB_NODES" ]
}

# Are all compute nodes mapped to cell1 (the scheduler discovers hosts every
# 2 s)? Only then can a boot name a host ("nova:cmpN").
lab_os_hosts_mapped() {
	local n
	n=$(timeout 10 mariadb --no-defaults -S "$LAB_OS_STATE/mariadb/mysqld.sock" -u root -N \
		-e 'SELECT COUNT(*) FROM nova_api.host_mappings' 2>/dev/null) || return 1
	[ "$n" -eq "$LAB_NODES" ]
}

# ---- the evacuator (ocf:umha:umha-evacuator) on the cluster node ------------

LAB_EVACUATOR=${LAB_EVACUATOR:-evacuator}
LAB_EVAC_HISTORY=$LAB_STATE/evacuations.jsonl
# storage_fencing is off in the lab: lab_storage and the demo cut storage
# links longer than the evacuator's threshold on purpose; lab_storage_recovery
# turns it on for its own tests.
# The valve's window. The default (10min) would count one lab test's failed
# node in the next test; 20s keeps tests independent while two nodes failing
# together still count together.
LAB_EVAC_WINDOW=${UMHA_LAB_EVAC_WINDOW:-20s}

lab_evacuator_exists() {
	timeout 10 cibadmin --query --scope resources --xpath "//primitive[@id='$LAB_EVACUATOR']" >/dev/null 2>&1
}

# Fence devices write the marker after a verified off (umha fence agents only;
# fence_ipmilan has no such option), and the evacuator runs on a cluster node
# (ctl1, or ctl2 with two controllers: clouds.yaml and the history file are
# at the same paths there), never on a remote node.
lab_evacuator_create() {
	local node agent
	agent=$(cat "$LAB_STATE/fence-agent" 2>/dev/null || echo "$LAB_FENCE_AGENT")
	if [ "$agent" = fence_ipmi ]; then
		for node in $(lab_node_names); do
			timeout 20 crm_resource --resource "fence-$node" --set-parameter evacuate \
				--parameter-value 1 >/dev/null || return 1
		done
	else
		lab_log "fence agent $agent cannot write the evacuation marker; the evacuator relies on the fence history"
	fi
	timeout 20 cibadmin --create --scope resources --xml-text "
<primitive id=\"$LAB_EVACUATOR\" class=\"ocf\" provider=\"umha\" type=\"umha-evacuator\">
  <instance_attributes id=\"$LAB_EVACUATOR-ia\">
    <nvpair id=\"$LAB_EVACUATOR-cloud\" name=\"cloud\" value=\"umha-lab\"/>
    <nvpair id=\"$LAB_EVACUATOR-clouds-yaml\" name=\"clouds_yaml\" value=\"$LAB_OS_STATE/clouds.yaml\"/>
    <nvpair id=\"$LAB_EVACUATOR-local-disk\" name=\"evacuate_local_disk\" value=\"true\"/>
    <nvpair id=\"$LAB_EVACUATOR-history\" name=\"history_file\" value=\"$LAB_EVAC_HISTORY\"/>
    <nvpair id=\"$LAB_EVACUATOR-window\" name=\"failure_window\" value=\"$LAB_EVAC_WINDOW\"/>
    <nvpair id=\"$LAB_EVACUATOR-storage-fencing\" name=\"storage_fencing\" value=\"false\"/>
  </instance_attributes>
  <operations>
    <op id=\"$LAB_EVACUATOR-start\" name=\"start\" interval=\"0s\" timeout=\"30s\"/>
    <op id=\"$LAB_EVACUATOR-stop\" name=\"stop\" interval=\"0s\" timeout=\"30s\"/>
    <op id=\"$LAB_EVACUATOR-monitor-5s\" name=\"monitor\" interval=\"5s\" timeout=\"60s\"/>
  </operations>
</primitive>" || return 1
	timeout 20 cibadmin --create --scope constraints --xml-text "
<rsc_location id=\"$LAB_EVACUATOR-on-cluster-nodes\" rsc=\"$LAB_EVACUATOR\">
  <rule id=\"$LAB_EVACUATOR-on-cluster-nodes-rule\" score=\"-INFINITY\">
    <expression id=\"$LAB_EVACUATOR-on-cluster-nodes-expr\" attribute=\"#kind\" operation=\"ne\" value=\"cluster\"/>
  </rule>
</rsc_location>"
}

lab_evacuator_delete() {
	local node
	lab_evacuator_exists || return 0
	timeout 20 crm_resource --resource "$LAB_EVACUATOR" --meta --set-parameter target-role \
		--parameter-value Stopped >/dev/null 2>&1 || true
	lab_wait 40 "$LAB_EVACUATOR stopped" eval "[ -z \"\$(crm_resource --resource $LAB_EVACUATOR --locate 2>/dev/null | grep 'is running')\" ]" || true
	timeout 20 cibadmin --delete --xml-text "<rsc_location id=\"$LAB_EVACUATOR-on-cluster-nodes\"/>" >/dev/null 2>&1 || true
	timeout 20 cibadmin --delete --xml-text "<primitive id=\"$LAB_EVACUATOR\"/>" >/dev/null 2>&1 || true
	for node in $(lab_node_names); do
		timeout 20 crm_resource --resource "fence-$node" --delete-parameter evacuate >/dev/null 2>&1 || true
	done
}

# ---- the MAAS API simulator (umha-maas-sim), fence_maas's way to the power ---
#
# No MAAS can be installed, so the lab runs umha's simulator of the MAAS 2.0
# API on the BMCs' address. Its power actions run tests/lab/power, the same
# power cut and restore as the BMCs; each compute node is a MAAS machine
# whose hostname is the node's name. Installed with install-agents.sh
# (--test-only), never shipped.

LAB_MAAS_SIM=${UMHA_LAB_MAAS_SIM:-/usr/sbin/umha-maas-sim}
LAB_MAAS_PORT=5240
LAB_MAAS_DIR=$LAB_STATE/maas
# The lab's key (consumer:token:secret); fence devices read it through
# api_key_script, never from the CIB.
LAB_MAAS_KEY=umhalabconsumer:umhalabtoken:umha-lab-maas-secret

lab_maas_url() { printf 'http://%s:%s/MAAS\n' "$LAB_BMC_HOST" "$LAB_MAAS_PORT"; }
# A MAAS-style system_id for a node: six lowercase characters.
lab_maas_system_id() { printf 'umh%03d\n' "$(lab_node_index "$1")"; }
lab_maas_key_script() { printf '%s\n' "$LAB_MAAS_DIR/api-key.sh"; }

lab_maas_start() {
	local node machines=()
	mkdir -p "$LAB_MAAS_DIR"
	chmod 0700 "$LAB_MAAS_DIR"
	(umask 077 && printf '%s\n' "$LAB_MAAS_KEY" >"$LAB_MAAS_DIR/api-key")
	printf '#!/bin/sh\nexec head -n1 %s\n' "$LAB_MAAS_DIR/api-key" >"$(lab_maas_key_script)"
	chmod 0700 "$(lab_maas_key_script)"
	for node in $(lab_node_names); do
		machines+=(--machine "$node=$(lab_maas_system_id "$node")")
	done
	lab_start_daemon maas-sim "$LAB_MAAS_DIR/maas-sim.pid" "$LAB_MAAS_DIR/maas-sim.log" \
		"$LAB_MAAS_SIM" --listen "$LAB_BMC_HOST:$LAB_MAAS_PORT" \
		--api-key-file "$LAB_MAAS_DIR/api-key" "${machines[@]}" \
		--power-delay 1 --query-latency 0.2 --power-cmd "$LAB_DIR/power"
}

# Does the simulator answer HTTP (401 without a key counts: it is up)?
lab_maas_ready() {
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$(lab_maas_url)/api/2.0/machines/" 2>/dev/null) || true
	[ -n "$code" ] && [ "$code" != 000 ]
}

lab_maas_stop() { lab_stop_pidfile "$LAB_MAAS_DIR/maas-sim.pid" 3; }
