#!/bin/bash
# Start, stop or query ONE compute host of the umha OpenStack lab: its
# nova-compute process (fake.FakeDriver), config written by up.sh.
#
#   compute.sh cmpN start [--in-node]   start it (0 when already running)
#   compute.sh cmpN stop                SIGTERM its session, bounded, then SIGKILL (0 when stopped)
#   compute.sh cmpN kill                SIGKILL at once (a crash, not a shutdown)
#   compute.sh cmpN status              0 running, 3 stopped (LSB)
#
# Files (outside /run, so a Pacemaker lab node with its private /run sees them):
#   $UMHA_OS_HOSTS_DIR/cmpN/{nova.conf,nova-compute.pid,nova-compute.log,state,instances,locks}
#   (default /var/lib/umha-lab/openstack/hosts). The pid file holds the pid and
#   its start time, so a pid recycled after a power cut is never taken for it.
#
# --in-node: start it inside Pacemaker lab compute node cmpN (its network, mount
# and UTS namespaces, entered through the node's init), for when this script is
# called from the root namespace. Called from inside the node (e.g. by an OCF
# agent run by that node's pacemaker-remoted) it needs no flag: it starts the
# process where it runs. The cloud must then listen on an address the node can
# reach (UMHA_OS_HOST=169.254.77.1 for up.sh).
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

[ $# -ge 2 ] || usage
host=$1
action=$2
shift 2
in_node=''
for arg in "$@"; do
	case $arg in
	--in-node) in_node=1 ;;
	*) usage ;;
	esac
done
[[ $host =~ ^[a-z][a-z0-9-]{0,62}$ ]] || os_die "bad host name: '$host'"
dir=$(os_host_dir "$host")
pidfile=$dir/nova-compute.pid

case $action in
start)
	[ -r "$dir/nova.conf" ] || os_die "$dir/nova.conf missing: not a compute host of a running lab (up.sh writes it)"
	if lab_pidfile_alive "$pidfile"; then
		exit 0
	fi
	prefix=()
	if [ -n "$in_node" ]; then
		init=$(lab_node_init_pid "$host") || os_die "Pacemaker lab node $host is not powered on"
		prefix=(nsenter -t "$init" -n -m -u --)
	fi
	lab_start_daemon "nova-compute-$host" "$pidfile" "$dir/nova-compute.log" \
		"${prefix[@]}" "$OS_PY" "$OS_HOSTS_DIR/nova-compute.py" --config-file "$dir/nova.conf"
	# A broken install or config dies within a second or two.
	sleep 1
	lab_pidfile_alive "$pidfile" || {
		tail -n 20 "$dir/nova-compute.log" >&2
		os_die "nova-compute of $host died at start; log: $dir/nova-compute.log"
	}
	;;
stop)
	os_stop_pidfile "$pidfile" 10
	;;
kill)
	if pid=$(lab_pidfile_pid "$pidfile"); then
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		lab_wait 5 "nova-compute of $host gone" eval "[ -z \"\$(os_session_pids $pid)\" ]" || exit 1
	fi
	rm -f "$pidfile"
	;;
status)
	if lab_pidfile_alive "$pidfile"; then
		echo "$host: nova-compute running (pid $(lab_pidfile_pid "$pidfile"))"
		exit 0
	fi
	echo "$host: nova-compute stopped"
	exit 3
	;;
*) usage ;;
esac
