#!/bin/bash
# Bring the umha OpenStack lab up from nothing (60-90 s, CPU-bound): a real Zed cloud
# (Keystone, Placement, Glance, Neutron, Nova) with fake-driver compute hosts.
#
#   tests/lab/openstack/up.sh             start it; if already up, say so and exit 0
#   tests/lab/openstack/up.sh --restart   tear a running cloud down first
#   tests/lab/openstack/up.sh --no-computes   everything but the compute hosts
#                                         (start them with compute.sh)
#
# What runs (all under setsid, env -i, stdin /dev/null, pid file + log each):
#   MariaDB     127.0.0.1:13306 (own datadir, socket in the state dir)
#   epmd        127.0.0.1:4369,  RabbitMQ $HOST:5672 (user umha)
#   Keystone    $HOST:5000  (uwsgi)     Placement $HOST:8778 (uwsgi)
#   Glance      $HOST:9292  (file store, 1 KiB raw image "cirros-fake")
#   Neutron     $HOST:9696  (ML2, no agents; launcher loads every model)
#   nova-api    $HOST:8774  (uwsgi), nova-conductor, nova-scheduler (host ctl1)
#   nova-compute cmp1 cmp2 cmp3: one process each, fake.FakeDriver (compute.sh)
# $HOST is UMHA_OS_HOST (default 127.0.0.1). Admin: admin/admin, project admin,
# domain Default, region RegionOne. Flavor m1.tiny (1 vCPU, 64 MB, 1 GB).
# Default quota lifted (instances, cores, ram unlimited).
# Credentials: $STATE/clouds.yaml (cloud "umha-lab") and $STATE/openrc.
#
# Environment:
#   UMHA_OS_HOST=127.0.0.1    listen/advertise address of the control plane;
#                             169.254.77.1 when compute hosts run in the
#                             Pacemaker lab's namespaces (its bridge must be up)
#   UMHA_OS_STATE=/run/umha-openstack      control-plane state dir
#   UMHA_OS_HOSTS_DIR=/var/lib/umha-lab/openstack/hosts   compute hosts' dirs
#   UMHA_OS_COMPUTES="cmp1 cmp2 cmp3"          compute host names
#   UMHA_OS_KEEP_ON_FAILURE=1  leave a half-started cloud for debugging
# Needs root and install.sh. Tear down with down.sh.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

restart=''
computes=1
for arg in "$@"; do
	case $arg in
	--restart) restart=1 ;;
	--no-computes) computes='' ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) os_die "unknown argument: $arg (try --help)" ;;
	esac
done

[ "$(id -u)" -eq 0 ] || os_die "must run as root"
T0=$(os_ms)

if os_is_up; then
	if [ -z "$restart" ]; then
		os_log "the OpenStack lab is already up (state in $OS_STATE); use --restart to start it afresh"
		exit 0
	fi
	os_log "the OpenStack lab is up; tearing it down first (--restart)"
	"$OS_LAB_DIR/down.sh"
elif [ -e "$OS_STATE" ] || [ -e "$OS_HOSTS_DIR" ]; then
	os_log "leftovers of an earlier OpenStack lab found; cleaning up first"
	"$OS_LAB_DIR/down.sh"
fi
# Parameters of this run (not those of a cloud just torn down).
OS_HOST=${UMHA_OS_HOST:-127.0.0.1}
OS_COMPUTES=${UMHA_OS_COMPUTES:-cmp1 cmp2 cmp3}
OS_KEYSTONE_URL="http://$OS_HOST:$OS_KEYSTONE_PORT"
OS_AUTH_URL="$OS_KEYSTONE_URL/v3"
OS_NOVA_URL="http://$OS_HOST:$OS_NOVA_PORT/v2.1"
OS_PLACEMENT_URL="http://$OS_HOST:$OS_PLACEMENT_PORT"
OS_GLANCE_URL="http://$OS_HOST:$OS_GLANCE_PORT"
OS_NEUTRON_URL="http://$OS_HOST:$OS_NEUTRON_PORT"

# ---- prerequisites ----------------------------------------------------------

for f in "$OS_PY" "$OS_UWSGI" /usr/sbin/mariadbd \
	/usr/bin/mariadb-install-db /usr/bin/mariadb /usr/lib/rabbitmq/bin/rabbitmq-server /usr/bin/epmd \
	/usr/bin/keystone-manage /usr/bin/keystone-wsgi-public /usr/bin/placement-manage /usr/bin/placement-api \
	/usr/bin/glance-manage /usr/bin/glance-api /usr/bin/neutron-db-manage /usr/bin/nova-manage \
	/usr/bin/nova-api-wsgi /usr/bin/nova-conductor /usr/bin/nova-scheduler /usr/bin/jq /usr/bin/curl; do
	[ -x "$f" ] || os_die "$f missing; run tests/lab/openstack/install.sh first"
done
for f in /usr/lib/uwsgi/plugins/python3_plugin.so /etc/nova/api-paste.ini /etc/glance/glance-api-paste.ini /etc/neutron/api-paste.ini; do
	[ -r "$f" ] || os_die "$f missing; run tests/lab/openstack/install.sh first"
done
# Read whole first: under pipefail, grep -q leaving early can kill ip with
# SIGPIPE and fail the test although the address is there.
addresses=$(ip -o addr show 2>/dev/null || true)
if [ "$OS_HOST" != 127.0.0.1 ] && ! grep -q " inet $OS_HOST/" <<<"$addresses"; then
	os_die "UMHA_OS_HOST=$OS_HOST is not an address of this machine (for 169.254.77.1, bring the Pacemaker lab up first: tests/lab/up.sh)"
fi
busy=''
for hp in "$OS_DB_HOST:$OS_DB_PORT" 127.0.0.1:4369 "$OS_HOST:$OS_MQ_PORT" "127.0.0.1:$OS_MQ_DIST_PORT" \
	"$OS_HOST:$OS_KEYSTONE_PORT" "$OS_HOST:$OS_PLACEMENT_PORT" "$OS_HOST:$OS_GLANCE_PORT" \
	"$OS_HOST:$OS_NEUTRON_PORT" "$OS_HOST:$OS_NOVA_PORT"; do
	if os_port_busy "${hp%:*}" "${hp##*:}"; then busy="$busy $hp"; fi
done
[ -z "$busy" ] || os_die "TCP port(s) already in use:$busy ($(ss -Hltnp | awk '{print $4, $6}' | tr '\n' ';'))"
for h in $OS_COMPUTES; do
	[[ $h =~ ^[a-z][a-z0-9-]{0,62}$ ]] || os_die "bad compute host name: '$h'"
done
avail=$(df -Pm "$(dirname "$OS_STATE")" 2>/dev/null | awk 'NR == 2 {print $4}' || true)
if [ -n "$avail" ] && [ "$avail" -lt 1000 ]; then
	os_die "only ${avail} MB free for $OS_STATE (the cloud needs about 600 MB)"
fi

declare -A PIPES=()
failed() {
	local rc=$?
	trap - EXIT
	[ "$rc" -ne 0 ] || exit 0
	os_log "up.sh failed (exit $rc) after $((($(os_ms) - T0) / 1000)) s"
	if [ -s "$OS_STATE/died" ]; then
		os_log "$(cat "$OS_STATE/died")"
	fi
	# Setup pipelines still running: stop them (and their bounded children)
	# before tearing down, so none starts a daemon afterwards.
	local p c
	for p in "${PIPES[@]}"; do
		c=$(ps -o pid= --ppid "$p" 2>/dev/null || true)
		kill -TERM "$p" 2>/dev/null || true
		# shellcheck disable=SC2086  # one pid per word
		[ -z "$c" ] || kill -TERM $c 2>/dev/null || true
	done
	local f
	for f in "$OS_STATE"/*/*.log "$OS_HOSTS_DIR"/*/*.log; do
		[ -s "$f" ] || continue
		if grep -qE 'ERROR|CRITICAL|Traceback|rror:' "$f"; then
			echo "---- $f (errors, last 15)" >&2
			grep -E 'ERROR|CRITICAL|Traceback|rror:' "$f" | tail -n 15 >&2 || true
		fi
	done
	if [ -n "${UMHA_OS_KEEP_ON_FAILURE:-}" ]; then
		os_log "UMHA_OS_KEEP_ON_FAILURE set: leaving the cloud as it is; logs in $OS_STATE"
	else
		rm -rf /tmp/umha-os-lab-failed-logs
		mkdir -p /tmp/umha-os-lab-failed-logs
		(cd / && find "${OS_STATE#/}" "${OS_HOSTS_DIR#/}" -name '*.log' -exec cp --parents {} /tmp/umha-os-lab-failed-logs/ \; 2>/dev/null) || true
		os_log "tearing down; logs kept in /tmp/umha-os-lab-failed-logs"
		"$OS_LAB_DIR/down.sh" || true
	fi
	exit "$rc"
}
trap failed EXIT

# ---- configuration ----------------------------------------------------------

S=$OS_STATE
mkdir -p "$S" "$OS_HOSTS_DIR"
chmod 0700 "$S"
for d in mariadb rabbitmq keystone placement glance neutron nova; do mkdir -p "$S/$d"; done
cat >"$S/env" <<EOF
# Parameters of the running umha OpenStack lab (written by up.sh).
OS_HOST=$OS_HOST
OS_HOSTS_DIR=$OS_HOSTS_DIR
OS_COMPUTES='$OS_COMPUTES'
EOF

db_url() { printf 'mysql+pymysql://%s:%s@%s:%s/%s?charset=utf8' "$OS_DB_USER" "$OS_DB_PASSWORD" "$OS_DB_HOST" "$OS_DB_PORT" "$1"; }
MQ_URL="rabbit://$OS_MQ_USER:$OS_MQ_PASSWORD@$OS_HOST:$OS_MQ_PORT/"

# [keystone_authtoken] and the service-user sections. The lab uses the admin
# user as every service's user: fewer moving parts, same API behaviour.
auth_section() {
	cat <<EOF
auth_type = password
auth_url = $OS_AUTH_URL
username = $OS_ADMIN_USER
password = $OS_ADMIN_PASSWORD
project_name = $OS_ADMIN_PROJECT
user_domain_name = Default
project_domain_name = Default
region_name = $OS_REGION
EOF
}
authtoken_section() {
	printf '[keystone_authtoken]\nwww_authenticate_uri = %s\nservice_token_roles_required = true\n' "$OS_KEYSTONE_URL"
	auth_section
}

# uwsgi ini of an API: NAME PORT WSGI_FILE PROCESSES THREADS ENV...
uwsgi_ini() {
	local name=$1 port=$2 wsgi=$3 procs=$4 threads=$5 e
	shift 5
	cat <<EOF
[uwsgi]
plugins = python3
procname-prefix-spaced = $name
http-socket = $OS_HOST:$port
master = true
processes = $procs
threads = $threads
enable-threads = true
lazy-apps = true
need-app = true
die-on-term = true
no-orphans = true
buffer-size = 65535
listen = 100
; without it, about 1 request in 20 fails with "Remote end closed connection"
add-header = Connection: close
http-auto-chunked = true
http-chunked-input = true
wsgi-manage-chunked-input = true
disable-logging = true
log-4xx = true
log-5xx = true
chdir = $S/$name
wsgi-file = $wsgi
EOF
	for e in "$@"; do echo "env = $e"; done
}

# -- Keystone
mkdir -m 0700 "$S/keystone/fernet-keys" "$S/keystone/credential-keys"
cat >"$S/keystone/keystone.conf" <<EOF
[DEFAULT]
[database]
connection = $(db_url keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $S/keystone/fernet-keys
[fernet_receipts]
key_repository = $S/keystone/fernet-keys
[credential]
key_repository = $S/keystone/credential-keys
[cache]
# Without a cache a token validation runs about 800 SQL queries (1-3 s of CPU
# here). A per-process dict cache is coherent only with ONE keystone process.
enabled = true
backend = oslo_cache.dict
expiration_time = 600
[identity]
# bcrypt's minimum: every password auth costs CPU, and CPU is what the lab lacks
password_hash_rounds = 4
EOF
uwsgi_ini keystone "$OS_KEYSTONE_PORT" /usr/bin/keystone-wsgi-public 1 8 \
	"OS_KEYSTONE_CONFIG_DIR=$S/keystone" >"$S/keystone/uwsgi.ini"

# -- Placement
cat >"$S/placement/placement.conf" <<EOF
[DEFAULT]
[api]
auth_strategy = keystone
[placement_database]
connection = $(db_url placement)
$(authtoken_section)
EOF
uwsgi_ini placement "$OS_PLACEMENT_PORT" /usr/bin/placement-api 1 8 \
	"OS_PLACEMENT_CONFIG_DIR=$S/placement" >"$S/placement/uwsgi.ini"

# -- Glance (eventlet server, file store)
mkdir -p "$S/glance/images" "$S/glance/staging" "$S/glance/locks"
cat >"$S/glance/glance-api.conf" <<EOF
[DEFAULT]
bind_host = $OS_HOST
bind_port = $OS_GLANCE_PORT
workers = 1
node_staging_uri = file://$S/glance/staging
enabled_import_methods = [glance-direct]
[database]
connection = $(db_url glance)
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = $S/glance/images/
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $S/glance/locks
$(authtoken_section)
EOF

# -- Neutron (ML2 without agents: Nova only reads ports)
mkdir -p "$S/neutron/state" "$S/neutron/locks"
cat >"$S/neutron/neutron.conf" <<EOF
[DEFAULT]
bind_host = $OS_HOST
bind_port = $OS_NEUTRON_PORT
core_plugin = ml2
service_plugins =
auth_strategy = keystone
transport_url = $MQ_URL
api_workers = 1
rpc_workers = 1
rpc_state_report_workers = 0
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
state_path = $S/neutron/state
api_paste_config = /etc/neutron/api-paste.ini
[database]
connection = $(db_url neutron)
[oslo_concurrency]
lock_path = $S/neutron/locks
[agent]
root_helper = false
$(authtoken_section)
EOF
cat >"$S/neutron/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat
tenant_network_types =
mechanism_drivers =
extension_drivers = port_security
[ml2_type_flat]
flat_networks = *
EOF
# Debian's neutron-server answers 500 on GET /v2.0/ports with a minimal ML2
# config: SQLAlchemy backrefs of models nothing imported are missing. Load every
# model and configure the mappers before the server starts. (The server module
# is imported first: it monkey-patches eventlet before anything else loads.)
cat >"$S/neutron/neutron-server.py" <<'EOF'
import sys
from neutron.cmd.eventlet.server import main
import neutron.db.migration.models.head  # noqa: F401  every model, every backref
import sqlalchemy.orm
sqlalchemy.orm.configure_mappers()
sys.exit(main())
EOF

# -- Nova control plane
mkdir -p "$S/nova/state" "$S/nova/locks"
cp /etc/nova/api-paste.ini "$S/nova/api-paste.ini"
nova_common() {
	cat <<EOF
transport_url = $MQ_URL
report_interval = 5
service_down_time = 20
# Periodic tasks (the scheduler's host discovery among them) would otherwise
# start after a random delay of up to 60 s.
periodic_fuzzy_delay = 0
[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 30
[placement]
valid_interfaces = public
$(auth_section)
[neutron]
valid_interfaces = public
$(auth_section)
[glance]
valid_interfaces = public
region_name = $OS_REGION
[cinder]
os_region_name = $OS_REGION
[vnc]
enabled = false
EOF
}
cat >"$S/nova/nova.conf" <<EOF
[DEFAULT]
host = ctl1
my_ip = $OS_HOST
state_path = $S/nova/state
enabled_apis = osapi_compute
$(nova_common)
[api]
auth_strategy = keystone
[api_database]
connection = $(db_url nova_api)
[database]
connection = $(db_url nova)
[scheduler]
discover_hosts_in_cells_interval = 2
workers = 1
[conductor]
workers = 1
[oslo_concurrency]
lock_path = $S/nova/locks
$(authtoken_section)
EOF
# nova-api: OS_NOVA_CONFIG_FILES stays unset (default "api-paste.ini;nova.conf"
# in OS_NOVA_CONFIG_DIR); otherwise every call answers 500.
uwsgi_ini nova "$OS_NOVA_PORT" /usr/bin/nova-api-wsgi 2 1 \
	"OS_NOVA_CONFIG_DIR=$S/nova" >"$S/nova/uwsgi.ini"

# -- Compute hosts: one dir and config each, no [database]
cat >"$OS_HOSTS_DIR/nova-compute.py" <<'EOF'
import sys
from nova.cmd.compute import main
sys.exit(main())
EOF
for h in $OS_COMPUTES; do
	hd=$(os_host_dir "$h")
	mkdir -p "$hd/state" "$hd/instances" "$hd/locks"
	cat >"$hd/nova.conf" <<EOF
# nova-compute of lab compute host $h (fake driver). Started by compute.sh.
[DEFAULT]
host = $h
compute_driver = fake.FakeDriver
state_path = $hd/state
instances_path = $hd/instances
my_ip = $OS_HOST
$(nova_common)
[oslo_concurrency]
lock_path = $hd/locks
EOF
done

# -- MariaDB, RabbitMQ
mkdir -p "$S/mariadb/tmp" "$S/rabbitmq/mnesia" "$S/rabbitmq/log"
cat >"$S/rabbitmq/rabbitmq.conf" <<EOF
default_user = $OS_MQ_USER
default_pass = $OS_MQ_PASSWORD
loopback_users = none
log.console = true
log.console.level = warning
log.file = false
EOF
echo '[].' >"$S/rabbitmq/enabled_plugins"
: >"$S/rabbitmq/rabbitmq-env.conf"

# -- credentials for clients
cat >"$S/clouds.yaml" <<EOF
clouds:
  $OS_CLOUD_NAME:
    auth:
      auth_url: $OS_AUTH_URL
      username: $OS_ADMIN_USER
      password: $OS_ADMIN_PASSWORD
      project_name: $OS_ADMIN_PROJECT
      user_domain_name: Default
      project_domain_name: Default
    region_name: $OS_REGION
    interface: public
    identity_api_version: 3
EOF
cat >"$S/openrc" <<EOF
# Admin credentials of the umha OpenStack lab: . $S/openrc
export OS_AUTH_URL=$OS_AUTH_URL
export OS_USERNAME=$OS_ADMIN_USER
export OS_PASSWORD=$OS_ADMIN_PASSWORD
export OS_PROJECT_NAME=$OS_ADMIN_PROJECT
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=$OS_REGION
export OS_INTERFACE=public
export OS_IDENTITY_API_VERSION=3
EOF
chmod 0600 "$S/clouds.yaml" "$S/openrc"

# ---- timeline ---------------------------------------------------------------

mark() { awk -v ms="$(($(os_ms) - T0))" -v what="$1" 'BEGIN {printf "%6.1f s  %s\n", ms / 1000, what}' >>"$S/timeline"; }
: >"$S/timeline"

# ---- MariaDB and RabbitMQ ---------------------------------------------------

DB_SOCK=$S/mariadb/mysqld.sock
MARIADB_OPTS=(--no-defaults --datadir="$S/mariadb/data" --tmpdir="$S/mariadb/tmp" --user=root
	--skip-name-resolve --character-set-server=utf8 --collation-server=utf8_general_ci
	--innodb-log-file-size=32M --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=0
	--innodb-doublewrite=0 --skip-log-bin --max-connections=1000)

# epmd first, on loopback: RabbitMQ would otherwise start one on all addresses.
os_start epmd "$S/rabbitmq" /usr/bin/epmd -address 127.0.0.1
timeout 60 mariadb-install-db "${MARIADB_OPTS[@]}" --auth-root-authentication-method=socket \
	--skip-test-db >"$S/mariadb/install-db.log" 2>&1 || os_die "mariadb-install-db failed: see $S/mariadb/install-db.log"
os_start mariadb "$S/mariadb" /usr/sbin/mariadbd "${MARIADB_OPTS[@]}" --bind-address="$OS_DB_HOST" \
	--port="$OS_DB_PORT" --socket="$DB_SOCK" --pid-file="$S/mariadb/mariadbd.pid"
lab_wait 10 "epmd on 127.0.0.1:4369" os_port_open 127.0.0.1 4369 || exit 1
os_start rabbitmq "$S/rabbitmq" HOME="$S/rabbitmq" \
	RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_USE_LONGNAME=false \
	RABBITMQ_NODE_IP_ADDRESS="$OS_HOST" RABBITMQ_NODE_PORT="$OS_MQ_PORT" RABBITMQ_DIST_PORT="$OS_MQ_DIST_PORT" \
	RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
	ERL_EPMD_ADDRESS=127.0.0.1 \
	RABBITMQ_MNESIA_BASE="$S/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$S/rabbitmq/log" RABBITMQ_LOGS=- \
	RABBITMQ_CONFIG_FILE="$S/rabbitmq/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$S/rabbitmq/enabled_plugins" \
	RABBITMQ_CONF_ENV_FILE="$S/rabbitmq/rabbitmq-env.conf" RABBITMQ_PID_FILE="$S/rabbitmq/beam.pid" \
	/usr/lib/rabbitmq/bin/rabbitmq-server

db_ready() { mariadb --no-defaults -S "$DB_SOCK" -u root -e 'SELECT 1'; }
lab_wait 30 "MariaDB on $DB_SOCK" db_ready || exit 1
mark "MariaDB ready"
mariadb --no-defaults -S "$DB_SOCK" -u root <<EOF
CREATE DATABASE keystone; CREATE DATABASE placement; CREATE DATABASE glance;
CREATE DATABASE neutron; CREATE DATABASE nova_api; CREATE DATABASE nova; CREATE DATABASE nova_cell0;
CREATE USER '$OS_DB_USER'@'%' IDENTIFIED BY '$OS_DB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$OS_DB_USER'@'%';
EOF

# ---- schemas (in parallel), then services in dependency order --------------

# run LOG CMD...: a bounded setup command, output appended to LOG.
run() {
	local log=$1 t rc=0
	shift
	t=$(os_ms)
	printf '=== %s: %s\n' "$(date '+%T')" "$*" >>"$log"
	timeout 300 env -i PATH="$LAB_PATH" LANG=C.UTF-8 HOME="$S" "$@" </dev/null >>"$log" 2>&1 || rc=$?
	printf '=== rc=%s in %s ms\n' "$rc" "$(($(os_ms) - t))" >>"$log"
	return "$rc"
}

# Fernet and credential keys are 32 random bytes, urlsafe base64: written here
# instead of two keystone-manage runs (about 4 s of CPU each).
fernet_key() { head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_'; }
for d in fernet-keys credential-keys; do
	(
		umask 077
		fernet_key >"$S/keystone/$d/0"
		fernet_key >"$S/keystone/$d/1"
	)
done

# Nova's four setup commands (api_db sync, cell_v2 map_cell0, cell_v2
# create_cell, db sync) in one process: each nova-manage run costs about 4 s of
# CPU just importing nova.
cat >"$S/nova/setup.py" <<'PY'
import sys
from nova import config, objects
from nova.cmd import manage
from oslo_log import log as logging

config.parse_args([sys.argv[0], "--config-file", sys.argv[1]])
logging.setup(config.CONF, "nova")
objects.register_all()
steps = [
    ("api_db sync", lambda: manage.ApiDbCommands().sync()),
    ("cell_v2 map_cell0", lambda: manage.CellV2Commands().map_cell0()),
    ("cell_v2 create_cell", lambda: manage.CellV2Commands().create_cell(name="cell1")),
    ("db sync", lambda: manage.DbCommands().sync()),
]
for name, step in steps:
    rc = step()
    print(name, "->", rc, flush=True)
    if rc not in (None, 0):
        sys.exit(1)
PY

pipe_keystone() {
	local c=(--config-file "$S/keystone/keystone.conf") log=$S/keystone/setup.log
	run "$log" "$OS_PY" /usr/bin/keystone-manage "${c[@]}" db_sync &&
		run "$log" "$OS_PY" /usr/bin/keystone-manage "${c[@]}" bootstrap --bootstrap-password "$OS_ADMIN_PASSWORD" \
			--bootstrap-username "$OS_ADMIN_USER" --bootstrap-project-name "$OS_ADMIN_PROJECT" \
			--bootstrap-role-name admin --bootstrap-service-name keystone --bootstrap-region-id "$OS_REGION" \
			--bootstrap-admin-url "$OS_AUTH_URL" --bootstrap-internal-url "$OS_AUTH_URL" \
			--bootstrap-public-url "$OS_AUTH_URL" &&
		os_start keystone "$S/keystone" "$OS_UWSGI" --ini "$S/keystone/uwsgi.ini"
}
pipe_placement() {
	run "$S/placement/setup.log" "$OS_PY" /usr/bin/placement-manage --config-file "$S/placement/placement.conf" db sync &&
		os_start placement "$S/placement" "$OS_UWSGI" --ini "$S/placement/uwsgi.ini"
}
pipe_glance() {
	run "$S/glance/setup.log" "$OS_PY" /usr/bin/glance-manage --config-file "$S/glance/glance-api.conf" db_sync &&
		os_start glance "$S/glance" "$OS_PY" /usr/bin/glance-api --config-file "$S/glance/glance-api.conf"
}
pipe_neutron() {
	run "$S/neutron/setup.log" "$OS_PY" /usr/bin/neutron-db-manage --config-file "$S/neutron/neutron.conf" \
		--config-file "$S/neutron/ml2_conf.ini" upgrade heads &&
		os_start neutron "$S/neutron" "$OS_PY" "$S/neutron/neutron-server.py" \
			--config-file "$S/neutron/neutron.conf" --config-file "$S/neutron/ml2_conf.ini"
}
# nova-conductor and nova-scheduler are started later: they need the catalog
# (the scheduler exits at start when it finds no placement endpoint).
pipe_nova() {
	run "$S/nova/setup.log" "$OS_PY" "$S/nova/setup.py" "$S/nova/nova.conf" &&
		os_start nova-api "$S/nova" "$OS_UWSGI" --ini "$S/nova/uwsgi.ini"
}

for svc in keystone nova placement glance neutron; do
	"pipe_$svc" &
	PIPES[$svc]=$!
done
# wait_pipe SVC: the pipeline's own steps are bounded (timeout 300 each).
wait_pipe() {
	if ! wait "${PIPES[$1]}"; then
		os_die "setting up $1 failed: see $S/$1/setup.log and $S/$1/*.log"
	fi
	unset "PIPES[$1]"
	mark "$1 schema done, started"
}

# ready NAME PIDFILE CHECK...: CHECK succeeds; a daemon that died ends up.sh
# at once (lab_wait discards output, so the reason goes to $S/died).
ready() {
	local name=$1 pidfile=$2
	shift 2
	if ! lab_pidfile_alive "$pidfile"; then
		echo "$name died (log: ${pidfile%.pid}.log)" >>"$S/died"
		exit 1
	fi
	"$@"
}
mq_ready() { os_port_open "$OS_HOST" "$OS_MQ_PORT"; }

# ---- catalog ----------------------------------------------------------------

wait_pipe keystone
lab_wait 60 "Keystone on $OS_KEYSTONE_URL" ready keystone "$S/keystone/keystone.pid" os_http_ok "$OS_AUTH_URL" || exit 1
os_login || os_die "no admin token from $OS_AUTH_URL"
mark "Keystone answers"
add_service() {
	local type=$1 name=$2 url=$3 sid iface
	sid=$(os_api POST "$OS_AUTH_URL/services" "{\"service\":{\"type\":\"$type\",\"name\":\"$name\"}}" | jq -r .service.id)
	[ -n "$sid" ] || return 1
	for iface in public internal; do
		os_api POST "$OS_AUTH_URL/endpoints" "$(jq -cn --arg s "$sid" --arg i "$iface" --arg u "$url" --arg r "$OS_REGION" \
			'{endpoint: {service_id: $s, interface: $i, url: $u, region_id: $r}}')" >/dev/null || return 1
	done
}
# The services forward a user's token together with their own token as
# X-Service-Token (keystonemiddleware does it), and service_token_roles_required
# makes the receiver insist on the "service" role there. The admin user is every
# service's user here, so it gets that role too.
service_role=$(os_api POST "$OS_AUTH_URL/roles" '{"role":{"name":"service"}}' | jq -r .role.id)
admin_uid=$(os_api GET "$OS_AUTH_URL/users?name=$OS_ADMIN_USER" | jq -r '.users[0].id')
admin_pid=$(os_api GET "$OS_AUTH_URL/projects?name=$OS_ADMIN_PROJECT" | jq -r '.projects[0].id')
os_api PUT "$OS_AUTH_URL/projects/$admin_pid/users/$admin_uid/roles/$service_role" >/dev/null
os_login || os_die "no admin token from $OS_AUTH_URL"
add_service compute nova "$OS_NOVA_URL"
add_service placement placement "$OS_PLACEMENT_URL"
add_service image glance "$OS_GLANCE_URL"
add_service network neutron "$OS_NEUTRON_URL"
mark "catalog registered"

lab_wait 60 "RabbitMQ on $OS_HOST:$OS_MQ_PORT" ready rabbitmq "$S/rabbitmq/rabbitmq.pid" mq_ready || exit 1
mark "RabbitMQ ready"

wait_pipe nova
os_start nova-conductor "$S/nova" "$OS_PY" /usr/bin/nova-conductor --config-file "$S/nova/nova.conf"
os_start nova-scheduler "$S/nova" "$OS_PY" /usr/bin/nova-scheduler --config-file "$S/nova/nova.conf"
mark "nova-conductor, nova-scheduler started"

wait_pipe placement
lab_wait 60 "Placement on $OS_PLACEMENT_URL" ready placement "$S/placement/placement.pid" \
	os_http_ok "$OS_PLACEMENT_URL/" || exit 1
mark "Placement answers"

# The compute hosts need Keystone, Placement, RabbitMQ and the conductor (they
# wait for the conductor themselves).
if [ -n "$computes" ]; then
	for h in $OS_COMPUTES; do
		"$OS_LAB_DIR/compute.sh" "$h" start
	done
	mark "compute hosts started: $OS_COMPUTES"
fi

lab_wait 90 "nova-api on $OS_NOVA_URL" ready nova-api "$S/nova/nova-api.pid" os_http_ok "$OS_NOVA_URL/" || exit 1
mark "nova-api answers"
os_nova POST /flavors '{"flavor":{"name":"'"$OS_FLAVOR"'","ram":64,"vcpus":1,"disk":1,"id":"1"}}' >/dev/null
os_nova PUT /os-quota-class-sets/default \
	'{"quota_class_set":{"instances":-1,"cores":-1,"ram":-1,"server_groups":-1,"server_group_members":-1}}' >/dev/null
mark "flavor $OS_FLAVOR, quota lifted"

wait_pipe glance
lab_wait 60 "Glance on $OS_GLANCE_URL" ready glance "$S/glance/glance.pid" os_http_ok "$OS_GLANCE_URL/" || exit 1
image_id=$(os_api POST "$OS_GLANCE_URL/v2/images" \
	'{"name":"'"$OS_IMAGE"'","disk_format":"raw","container_format":"bare","visibility":"public"}' | jq -r .id)
head -c 1024 /dev/zero >"$S/glance/image.raw"
os_api PUT "$OS_GLANCE_URL/v2/images/$image_id/file" '' -H 'Content-Type: application/octet-stream' \
	--data-binary "@$S/glance/image.raw" >/dev/null
[ "$(os_api GET "$OS_GLANCE_URL/v2/images/$image_id" | jq -r .status)" = active ] || os_die "image $image_id not active"
echo "$image_id" >"$S/image-id"
mark "image $OS_IMAGE uploaded ($image_id)"

wait_pipe neutron
ports_ok() { os_api GET "$OS_NEUTRON_URL/v2.0/ports?device_id=none"; }
lab_wait 90 "Neutron answering GET /v2.0/ports" ready neutron "$S/neutron/neutron.pid" ports_ok || exit 1
mark "Neutron answers GET /v2.0/ports"

if [ -n "$computes" ]; then
	computes_up() {
		local n h
		for h in $OS_COMPUTES; do
			ready "nova-compute of $h" "$(os_host_dir "$h")/nova-compute.pid" true
		done
		n=$(os_compute_services | jq '[.[] | select(.state == "up")] | length')
		[ "$n" -eq "$(wc -w <<<"$OS_COMPUTES")" ]
	}
	lab_wait 90 "every nova-compute up" computes_up || exit 1
	mark "nova-compute services up"
	# The scheduler maps new hosts to cell1 every 2 s (discover_hosts_in_cells_interval).
	mapped() {
		local n
		ready nova-scheduler "$S/nova/nova-scheduler.pid" true
		n=$(mariadb --no-defaults -S "$DB_SOCK" -u root -N -e 'SELECT COUNT(*) FROM nova_api.host_mappings')
		[ "$n" -eq "$(wc -w <<<"$OS_COMPUTES")" ]
	}
	lab_wait 60 "compute hosts mapped to cell1" mapped || exit 1
	mark "compute hosts mapped to cell1"
fi

# Every daemon still alive?
for f in "$S"/*/*.pid; do
	case $f in */mariadbd.pid | */beam.pid) continue ;; esac
	lab_pidfile_alive "$f" || os_die "$(basename "$f" .pid) died; log: ${f%.pid}.log"
done

trap - EXIT
total=$(($(os_ms) - T0))
mark "cloud up"
cat "$S/timeline" >&2
rss=$(ps -e -o rss=,sid= | awk -v list=" $(for f in "$S"/*/*.pid "$OS_HOSTS_DIR"/*/*.pid; do [ -r "$f" ] && head -n1 "$f"; done | tr '\n' ' ') " \
	'index(list, " " $2 " ") {s += $1} END {printf "%.2f", s / 1048576}')
os_log "OpenStack lab up in $((total / 1000)).$(((total % 1000) / 100)) s (RSS ${rss} GiB); credentials: $S/clouds.yaml (cloud $OS_CLOUD_NAME), $S/openrc"
