#!/bin/bash
# Tear the umha Pacemaker lab down (about 3 s); safe when nothing is up.
#
# Stops, by pid file only, everything up.sh started (pacemakerd and its
# daemons, corosync, every compute node's processes, the simulated BMCs),
# removes the lab's netns, veths and bridges (the storage network's too), the
# CIB it installed (restoring whatever it replaced), the Pacemaker scheduler
# inputs written while the lab ran, and the state dir (UMHA_LAB_STATE,
# default /run/umha-lab).
# When the lab runs with the OpenStack lab (up.sh --with-openstack, or any
# cloud bound to the lab bridge's address, which cannot outlive it), that goes
# too: Pacemaker is put in maintenance mode first (so its shutdown does not
# stop every nova-compute gracefully, one SIGTERM of several seconds each;
# the power cut of the nodes kills them), then the cloud is torn down with
# tests/lab/openstack/down.sh after the nodes, and the lab's nova-compute
# agent is removed from /usr/lib/ocf/resource.d/umha-lab. A cloud on
# 127.0.0.1 started on its own is left alone.
#   UMHA_LAB_KEEP_LOGS=DIR   copy the lab's logs to DIR before removing them
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

lab_require_root
t0=$(date +%s%N)

if [ -n "${UMHA_LAB_KEEP_LOGS:-}" ] && [ -d "$LAB_STATE" ]; then
	mkdir -p "$UMHA_LAB_KEEP_LOGS"
	(cd "$LAB_STATE" && find . -name '*.log' -exec cp --parents {} "$UMHA_LAB_KEEP_LOGS/" \;) || true
	lab_log "logs kept in $UMHA_LAB_KEEP_LOGS"
fi

with_os=''
if [ -e "$LAB_OS_MARKER" ] || lab_os_bound; then
	with_os=1
fi

# 1. Pacemaker first, so it does not react to the nodes going away. pacemakerd
#    stops its daemons on SIGTERM; the remote connections close cleanly.
controllers=''
for dir in "$LAB_STATE"/nodes/ctl*; do
	[ -d "$dir" ] || continue
	controllers="$controllers ${dir##*/}"
	# a state dir without its "controllers" file still names them
	n=${dir##*/ctl}
	if [[ $n =~ ^[0-9]+$ ]] && ((n > LAB_CONTROLLERS)); then LAB_CONTROLLERS=$n; fi
done
if { [ -n "$with_os" ] || [ -n "$controllers" ]; } && lab_pidfile_alive "$LAB_STATE/pacemakerd.pid"; then
	timeout 10 crm_attribute --type crm_config --name maintenance-mode --update true >/dev/null 2>&1 ||
		lab_log "could not set maintenance-mode (the nodes' power cut stops nova-compute anyway)"
fi
# 1a. A second controller leaves first, cleanly (maintenance mode: nothing
#     moves), so ctl1 does not fence it; its BMC goes before, so that a fence
#     anyway (ctl2's pacemakerd hung) cannot power it on again.
for node in $controllers; do
	dir=$(lab_node_dir "$node")
	lab_stop_pidfile "$dir/bmc/ipmi_sim.pid" 3 || true
	lab_stop_pidfile "$dir/pacemakerd.pid" 15 || true
	lab_node_cut "$node"
done
if [ -e "$LAB_STATE/pacemakerd.pid" ]; then
	pcmk_pid=$(lab_pidfile_pid "$LAB_STATE/pacemakerd.pid" || true)
	# pacemakerd's children, to make sure none is left behind
	children=''
	if [ -n "$pcmk_pid" ]; then
		children=$(ps -o pid= --ppid "$pcmk_pid" 2>/dev/null || true)
	fi
	lab_stop_pidfile "$LAB_STATE/pacemakerd.pid" 8 || true
	for pid in $children; do
		lab_stop_pid "$pid" 2 || true
	done
fi

# 1b. The MAAS simulator, before the nodes: nothing may power one on again.
[ ! -e "$LAB_MAAS_DIR/maas-sim.pid" ] || lab_maas_stop || true

# 2. Compute nodes and a second controller (power cut: kills everything in
#    their netns, ctl2's pacemaker with it) and BMCs.
for dir in "$LAB_STATE"/nodes/cmp* "$LAB_STATE"/nodes/ctl*; do
	[ -d "$dir" ] || continue
	node=${dir##*/}
	lab_node_index "$node" >/dev/null || continue
	lab_node_cut "$node"
	lab_stop_pidfile "$dir/bmc/ipmi_sim.pid" 3 || true
done

# 3. corosync
lab_stop_pidfile "$LAB_STATE/corosync.pid" 5 || true

# 3b. The OpenStack lab: its nova-compute processes died with the nodes.
if [ -n "$with_os" ]; then
	os_logs=()
	[ -z "${UMHA_LAB_KEEP_LOGS:-}" ] || os_logs=(UMHA_OS_KEEP_LOGS="$UMHA_LAB_KEEP_LOGS/openstack")
	env "${os_logs[@]}" UMHA_OS_STATE="$LAB_OS_STATE" "$LAB_OS_DIR/down.sh" ||
		lab_log "tests/lab/openstack/down.sh failed; see its messages above"
fi
lab_os_agent_remove

# 4. Network
lab_net_down

# 5. Files: the CIB we installed (and what Pacemaker wrote next to it), the
#    scheduler inputs written while the lab ran; restore what we replaced.
if [ -e "$LAB_STATE/started" ]; then
	find "$LAB_CIB_DIR" -mindepth 1 -delete 2>/dev/null || true
	if [ -d "$LAB_STATE/backup/cib" ]; then
		cp -a "$LAB_STATE/backup/cib/." "$LAB_CIB_DIR/"
	fi
	find "$LAB_PENGINE_DIR" -maxdepth 1 -type f -name 'pe-*' -newer "$LAB_STATE/started" -delete 2>/dev/null || true
fi
# Paths the daemons created on first use (recorded by up.sh).
if [ -r "$LAB_STATE/created" ]; then
	while read -r path; do
		case $path in
		/run/netns)
			# ip netns bind-mounts it; only when no netns is left in it
			if [ -d "$path" ] && [ -z "$(ls -A "$path")" ]; then
				umount "$path" 2>/dev/null || true
				rmdir "$path" 2>/dev/null || true
			fi
			;;
		/run/crm) rmdir "$path" 2>/dev/null || true ;;
		/var/lib/corosync/ringid_1) rm -f "$path" ;;
		esac
	done <"$LAB_STATE/created"
	# last: umount above may have used it (libmount's lock dir)
	if grep -qx /run/mount "$LAB_STATE/created"; then
		rmdir /run/mount 2>/dev/null || true
	fi
fi
rm -rf "$LAB_STATE"

t1=$(date +%s%N)
lab_log "lab down in $(((t1 - t0) / 1000000)) ms"
