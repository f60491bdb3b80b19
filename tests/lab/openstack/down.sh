#!/bin/bash
# Tear the umha OpenStack lab down; safe when nothing is up.
#
# Stops, by pid file only (pid + start time; each daemon with its whole
# session), everything up.sh and compute.sh started: compute hosts first, then
# the Nova control plane, Neutron, Glance, Placement, Keystone, RabbitMQ,
# epmd and MariaDB. Then removes the state dir (/run/umha-openstack) and
# the compute hosts' dir (/var/lib/umha-lab/openstack/hosts).
#   UMHA_OS_KEEP_LOGS=DIR   copy the logs to DIR first
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

[ "$(id -u)" -eq 0 ] || os_die "must run as root"
T0=$(os_ms)

if [ -n "${UMHA_OS_KEEP_LOGS:-}" ]; then
	mkdir -p "$UMHA_OS_KEEP_LOGS"
	for d in "$OS_STATE" "$OS_HOSTS_DIR"; do
		[ -d "$d" ] || continue
		(cd / && find "${d#/}" -name '*.log' -exec cp --parents {} "$UMHA_OS_KEEP_LOGS/" \;) || true
	done
	os_log "logs kept in $UMHA_OS_KEEP_LOGS"
fi

rc=0
# stop_group TIMEOUT PIDFILE...: stop them in parallel; a failure is remembered.
stop_group() {
	local timeout=$1 f pids=() t names=''
	shift
	t=$(os_ms)
	for f in "$@"; do
		[ -e "$f" ] || continue
		os_stop_pidfile "$f" "$timeout" &
		pids+=($!)
		names="$names $(basename "$f" .pid)"
	done
	for f in "${pids[@]}"; do
		wait "$f" || rc=1
	done
	[ -z "$names" ] || os_log "stopped$names in $(($(os_ms) - t)) ms"
}

# 1. The compute hosts and every API and RPC service at once: each gets
#    SIGTERM and 6 s to finish (a nova-compute sometimes takes 7 s and more to
#    stop gracefully; this is a lab), then SIGKILL.
stop_group 6 "$OS_HOSTS_DIR"/*/nova-compute.pid \
	"$OS_STATE"/nova/nova-{api,conductor,scheduler}.pid "$OS_STATE"/neutron/neutron.pid \
	"$OS_STATE"/glance/glance.pid "$OS_STATE"/placement/placement.pid "$OS_STATE"/keystone/keystone.pid
# 2. RabbitMQ (its epmd after it), MariaDB.
stop_group 20 "$OS_STATE"/rabbitmq/rabbitmq.pid "$OS_STATE"/mariadb/mariadb.pid
stop_group 5 "$OS_STATE"/rabbitmq/epmd.pid

if [ "$rc" -ne 0 ]; then
	os_log "some processes could not be stopped; keeping $OS_STATE for their pid files"
	exit 1
fi
rm -rf "$OS_STATE" "$OS_HOSTS_DIR"
# Parents created for the lab, if now empty.
rmdir "$(dirname "$OS_HOSTS_DIR")" 2>/dev/null || true
rmdir /var/lib/umha-lab 2>/dev/null || true
os_log "OpenStack lab down in $(($(os_ms) - T0)) ms"
