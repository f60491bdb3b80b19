# shellcheck shell=bash
# shellcheck disable=SC2034  # constants used by the scripts that source this file
# Shared functions and constants of the umha OpenStack lab.
#
# Sourced by up.sh, down.sh, compute.sh, smoke.sh and capture-fixtures.sh.
# Nothing here starts anything when sourced; every function is bounded in time.
#
# Process handling (lab_start_daemon, lab_alive, lab_pidfile_pid, lab_wait,
# lab_stop_pid, ...) comes from the Pacemaker lab's ../lib.sh, so both labs
# write the same pid files (pid, then process start time) and start daemons
# the same way (setsid, env -i, stdin /dev/null, fds > 2 closed).
#
# Layout:
#   $OS_STATE (default /run/umha-openstack): the control plane
#     clouds.yaml openrc env            credentials and the lab's parameters
#     mariadb/ rabbitmq/ keystone/ placement/ glance/ neutron/ nova/
#                                       one dir per service: config, data,
#                                       NAME.pid, NAME.log
#   $OS_HOSTS_DIR (default /var/lib/umha-lab/openstack/hosts): compute hosts
#     cmpN/ nova.conf nova-compute.pid nova-compute.log state/ instances/ locks/
#   The compute hosts live outside /run on purpose: a Pacemaker lab compute
#   node mounts a private tmpfs on /run, and its nova-compute must still find
#   its config and state there.

# ---- the Pacemaker lab's process helpers ------------------------------------

OS_LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$OS_LAB_DIR/../lib.sh"
for _f in lab_start_daemon lab_alive lab_pidfile_pid lab_pidfile_alive lab_wait lab_stop_pid lab_log lab_die; do
	declare -F "$_f" >/dev/null || {
		echo "tests/lab/lib.sh no longer defines $_f (the OpenStack lab relies on it)" >&2
		exit 1
	}
done
unset _f

# ---- constants --------------------------------------------------------------

OS_STATE=${UMHA_OS_STATE:-/run/umha-openstack}
OS_HOSTS_DIR=${UMHA_OS_HOSTS_DIR:-/var/lib/umha-lab/openstack/hosts}
# Address the control plane listens on and advertises in the catalog (also the
# compute hosts' RabbitMQ address). 127.0.0.1 by default. A compute host in a
# Pacemaker lab netns cannot reach 127.0.0.1 of the root namespace: with the
# Pacemaker lab up, use its bridge address, UMHA_OS_HOST=169.254.77.1.
OS_HOST=${UMHA_OS_HOST:-127.0.0.1}
# A running cloud knows the parameters it was started with.
if [ -r "$OS_STATE/env" ]; then
	# shellcheck source=/dev/null
	. "$OS_STATE/env"
fi
# MariaDB serves only the control plane: always loopback, non-standard port.
OS_DB_HOST=127.0.0.1
OS_DB_PORT=${UMHA_OS_DB_PORT:-13306}
OS_DB_USER=openstack
OS_DB_PASSWORD=umha-lab-db
OS_MQ_PORT=${UMHA_OS_MQ_PORT:-5672}
OS_MQ_DIST_PORT=25672
OS_MQ_USER=umha
OS_MQ_PASSWORD=umha-lab-mq
OS_KEYSTONE_PORT=5000
OS_PLACEMENT_PORT=8778
OS_GLANCE_PORT=9292
OS_NEUTRON_PORT=9696
OS_NOVA_PORT=8774
OS_REGION=RegionOne
OS_ADMIN_USER='admin'
OS_ADMIN_PASSWORD='admin'
OS_ADMIN_PROJECT='admin'
OS_CLOUD_NAME=umha-lab
OS_COMPUTES=${UMHA_OS_COMPUTES:-cmp1 cmp2 cmp3}
OS_FLAVOR=m1.tiny
OS_IMAGE=cirros-fake
OS_PY=/usr/bin/python3
OS_UWSGI=/usr/bin/uwsgi-core

OS_KEYSTONE_URL="http://$OS_HOST:$OS_KEYSTONE_PORT"
OS_AUTH_URL="$OS_KEYSTONE_URL/v3"
OS_NOVA_URL="http://$OS_HOST:$OS_NOVA_PORT/v2.1"
OS_PLACEMENT_URL="http://$OS_HOST:$OS_PLACEMENT_PORT"
OS_GLANCE_URL="http://$OS_HOST:$OS_GLANCE_PORT"
OS_NEUTRON_URL="http://$OS_HOST:$OS_NEUTRON_PORT"

# ---- messages ---------------------------------------------------------------

os_log() { printf '[os-lab %s] %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }

os_die() {
	os_log "ERROR: $*"
	exit 1
}

# Milliseconds since the epoch.
os_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---- processes --------------------------------------------------------------

# os_start NAME DIR [VAR=value ...] CMD [ARGS...]: a control-plane daemon with
# DIR/NAME.pid and DIR/NAME.log (see lab_start_daemon).
os_start() {
	local name=$1 dir=$2
	shift 2
	lab_start_daemon "$name" "$dir/$name.pid" "$dir/$name.log" "$@"
}

# Live processes of session SID (zombies do not count), one pid per line.
os_session_pids() {
	local sid=$1 pid
	for pid in $(ps -e -o pid=,sid= 2>/dev/null | awk -v s="$sid" '$2 == s {print $1}'); do
		if lab_alive "$pid"; then echo "$pid"; fi
	done
}

# os_stop_pidfile PIDFILE [TIMEOUT_S=10]: stop a daemon started by
# lab_start_daemon together with every process of its session (it is a session
# leader: setsid). SIGTERM to the daemon (it stops its own workers: uwsgi
# workers hit by SIGTERM directly segfault), a bounded wait for the whole
# session, then SIGKILL to whatever of the session is left. Only the process
# recorded in the pid file (same start time) and its session are signalled.
os_stop_pidfile() {
	local file=$1 timeout=${2:-10} pid left i t0 deadline
	if ! pid=$(lab_pidfile_pid "$file"); then
		rm -f "$file"
		return 0
	fi
	t0=$(os_ms)
	deadline=$((t0 + timeout * 1000))
	kill -TERM "$pid" 2>/dev/null || true
	while true; do
		left=$(os_session_pids "$pid")
		if [ -z "$left" ] || (($(os_ms) >= deadline)); then break; fi
		sleep 0.1
	done
	if [ -z "$left" ] && (($(os_ms) - t0 > 3000)); then
		os_log "$(basename "$file" .pid) took $(($(os_ms) - t0)) ms to stop"
	fi
	if [ -n "$left" ]; then
		os_log "$(basename "$file" .pid): session $pid still alive after ${timeout}s, SIGKILL: $(echo "$left" | tr '\n' ' ')"
		# shellcheck disable=SC2086  # one pid per word
		kill -KILL $left 2>/dev/null || true
		for ((i = 0; i < 30; i++)); do
			[ -n "$(os_session_pids "$pid")" ] || break
			sleep 0.1
		done
	fi
	rm -f "$file"
	[ -z "$(os_session_pids "$pid")" ]
}

# ---- HTTP -------------------------------------------------------------------

# Is anything accepting TCP connections on HOST:PORT?
os_port_open() { timeout 2 bash -c ": </dev/tcp/$1/$2" 2>/dev/null; }

# Is something already listening on TCP PORT of HOST (any process)?
os_port_busy() { [ -n "$(ss -Hltn "src $1 and sport = :$2" 2>/dev/null)" ] || [ -n "$(ss -Hltn "src 0.0.0.0 and sport = :$2" 2>/dev/null)" ]; }

# HTTP status of a GET (000 when nothing answers).
os_http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" 2>/dev/null || true; }

os_http_ok() {
	local code
	code=$(os_http_status "$1")
	[[ $code =~ ^[23] ]]
}

# Admin token, cached in OS_TOKEN. Call os_login in the main shell first:
# os_api mostly runs inside $(...), where a token fetched is lost again.
OS_TOKEN=''
os_auth_body() {
	jq -cn --arg u "$OS_ADMIN_USER" --arg p "$OS_ADMIN_PASSWORD" --arg pr "$OS_ADMIN_PROJECT" \
		'{auth: {identity: {methods: ["password"], password: {user: {name: $u, domain: {name: "Default"}, password: $p}}},
		  scope: {project: {name: $pr, domain: {name: "Default"}}}}}'
}

os_token() {
	local headers
	if [ -z "$OS_TOKEN" ]; then
		headers=$(curl -s -D - -o /dev/null --max-time 20 -H 'Content-Type: application/json' \
			-d "$(os_auth_body)" "$OS_AUTH_URL/auth/tokens") || return 1
		OS_TOKEN=$(printf '%s\n' "$headers" | awk 'tolower($1) == "x-subject-token:" {print $2}' | tr -d '\r')
		[ -n "$OS_TOKEN" ] || return 1
	fi
	printf '%s\n' "$OS_TOKEN"
}

os_login() {
	OS_TOKEN=''
	os_token >/dev/null
}

# os_api METHOD URL [JSON_BODY] [EXTRA CURL ARGS...]: an authenticated call;
# prints the body; fails on a status >= 400 (the body then goes to stderr).
# OS_MICROVERSION (e.g. 2.53) is sent as the compute microversion when set.
os_api() {
	local method=$1 url=$2 body=${3:-} out code token
	shift 2
	[ $# -gt 0 ] && shift
	token=$(os_token) || {
		os_log "no token from $OS_AUTH_URL"
		return 1
	}
	local args=(-s -X "$method" --max-time 60 -H "X-Auth-Token: $token" -H 'Accept: application/json'
		-w '\n%{http_code}')
	if [ -n "${OS_MICROVERSION:-}" ]; then
		args+=(-H "OpenStack-API-Version: compute $OS_MICROVERSION")
	fi
	if [ -n "$body" ]; then
		args+=(-H 'Content-Type: application/json' -d "$body")
	fi
	out=$(curl "${args[@]}" "$@" "$url") || {
		os_log "$method $url: no answer"
		return 1
	}
	code=${out##*$'\n'}
	out=${out%$'\n'*}
	if ((code >= 400)); then
		printf '%s %s -> %s %s\n' "$method" "$url" "$code" "$out" >&2
		return 1
	fi
	printf '%s\n' "$out"
}

os_nova() {
	local method=$1 path=$2
	shift 2
	os_api "$method" "$OS_NOVA_URL$path" "$@"
}

# ---- nova queries -----------------------------------------------------------

# JSON list of nova-compute services ({host,state,status,forced_down,id}).
os_compute_services() {
	OS_MICROVERSION=2.53 os_nova GET '/os-services?binary=nova-compute' |
		jq -c '[.services[] | {host, state, status, forced_down, id}]'
}

# State ("up"/"down") of a host's nova-compute service.
os_compute_state() {
	OS_MICROVERSION=2.53 os_nova GET "/os-services?binary=nova-compute&host=$1" |
		jq -r '.services[0].state // "missing"'
}

os_compute_is() { [ "$(os_compute_state "$1")" = "$2" ]; }

# Service uuid of a host's nova-compute.
os_compute_service_id() {
	OS_MICROVERSION=2.53 os_nova GET "/os-services?binary=nova-compute&host=$1" |
		jq -r '.services[0].id // empty'
}

# ---- compute hosts ----------------------------------------------------------

os_host_dir() { printf '%s/%s\n' "$OS_HOSTS_DIR" "$1"; }

os_host_check() {
	local h
	for h in $OS_COMPUTES; do
		[ "$h" = "$1" ] && return 0
	done
	os_die "not a compute host of this lab: '$1' (have: $OS_COMPUTES)"
}

os_is_up() { lab_pidfile_alive "$OS_STATE/mariadb/mariadb.pid"; }
