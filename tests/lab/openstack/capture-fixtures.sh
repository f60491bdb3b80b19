#!/bin/bash
# Capture real Keystone/Nova JSON from the OpenStack lab as fixtures for the
# OpenStack client crate (crates/openstack).
#
#   tests/lab/openstack/capture-fixtures.sh [--out DIR]
#
# Needs a running lab (up.sh); leaves it as it found it (cmp2 restored, the
# servers it booted deleted). Output: DIR (default
# tests/lab/openstack/fixtures) gets, per fixture, NAME.json (the response body,
# byte for byte) and NAME.cmd (the scenario, the HTTP status and the exact curl
# command, with $TOKEN standing for the token). No token is ever written:
# bodies are checked for Fernet tokens, and an evacuate's adminPass is
# replaced by "REDACTED". See fixtures/README.md for the list.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

out=$OS_LAB_DIR/fixtures
while [ $# -gt 0 ]; do
	case $1 in
	--out)
		out=${2:-}
		shift
		;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) os_die "unknown argument: $1 (try --help)" ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || os_die "must run as root"
os_is_up || os_die "the OpenStack lab is not up (tests/lab/openstack/up.sh)"
mkdir -p "$out"
os_login || os_die "no admin token from $OS_AUTH_URL"

host=cmp2
other=cmp1
prefix="fixture-$$-"
WHEN="$(date -u '+%F %T') UTC"

# capture NAME "SCENARIO" METHOD URL [MICROVERSION|-] [BODY] [TOKEN]
# Saves the body as NAME.json, writes NAME.cmd; prints the HTTP status.
capture() {
	local name=$1 scenario=$2 method=$3 url=$4 mv=${5:--} body=${6:-} token=${7:-$OS_TOKEN}
	local args=(-s -X "$method" --max-time 60 -o "$out/$name.json" -w '%{http_code}' -H 'Accept: application/json')
	local shown="curl -s -X $method -H 'Accept: application/json'"
	if [ "$token" != none ]; then
		args+=(-H "X-Auth-Token: $token")
		if [ "$token" = "$OS_TOKEN" ]; then
			shown="$shown -H \"X-Auth-Token: \$TOKEN\""
		else
			shown="$shown -H 'X-Auth-Token: $token'"
		fi
	fi
	if [ "$mv" != - ]; then
		args+=(-H "OpenStack-API-Version: compute $mv")
		shown="$shown -H 'OpenStack-API-Version: compute $mv'"
	fi
	if [ -n "$body" ]; then
		args+=(-H 'Content-Type: application/json' -d "$body")
		shown="$shown -H 'Content-Type: application/json' -d '$body'"
	fi
	local status
	status=$(curl "${args[@]}" "$url")
	finish_fixture "$name" "$scenario" "$status" "$shown '$url'"
	echo "$status"
}

# finish_fixture NAME SCENARIO STATUS SHOWN_COMMAND: checks, redacts, NAME.cmd.
finish_fixture() {
	local name=$1 scenario=$2 status=$3 shown=$4 f=$out/$1.json
	if grep -q 'gAAAAA' "$f"; then
		rm -f "$f"
		os_die "$name: the response holds a Fernet token; not saved"
	fi
	if grep -q '"adminPass"' "$f"; then
		sed -i -E 's/"adminPass": *"[^"]*"/"adminPass": "REDACTED"/' "$f"
	fi
	cat >"$out/$name.cmd" <<EOF
# Scenario: $scenario
# Captured $WHEN on the umha OpenStack lab (tests/lab/openstack/up.sh: Debian 12
# Zed, Nova 26 max microversion 2.93, compute hosts cmp1..cmp3 on fake.FakeDriver)
# by tests/lab/openstack/capture-fixtures.sh. \$TOKEN: an admin project-scoped token.
# HTTP status: $status$([ -s "$f" ] || echo ' (empty body)')
$shown
EOF
	os_log "fixture $name: HTTP $status"
}

# expect STATUS ACTUAL NAME: a capture must have answered as the API documents.
expect() { [ "$1" = "$2" ] || os_die "$3: expected HTTP $1, got $2 (see $out/$3.json)"; }

servers() {
	os_nova GET "/servers/detail?all_tenants=1&name=^$prefix" |
		jq -r '.servers[] | "\(.id) \(.status) \(.["OS-EXT-SRV-ATTR:host"]) \(.["OS-EXT-STS:task_state"])"'
}
count_active_on() { servers | awk -v h="$1" '$2 == "ACTIVE" && $3 == h && $4 == "null"' | wc -l; }

unforce() { OS_MICROVERSION=2.53 os_nova PUT "/os-services/$service_id" '{"forced_down": false}' >/dev/null 2>&1; }
gone() { [ -z "$(servers)" ]; }

service_id=''
restore() {
	local rc=$? id
	trap - EXIT
	"$OS_LAB_DIR/compute.sh" "$host" start >/dev/null 2>&1 || true
	if [ -n "$service_id" ]; then
		lab_wait 90 "forced_down of $host cleared" unforce || true
		lab_wait 60 "$host up" os_compute_is "$host" up || true
		OS_MICROVERSION=2.53 os_nova PUT "/os-services/$service_id" '{"status": "enabled"}' >/dev/null || true
	fi
	for id in $(servers 2>/dev/null | awk '{print $1}'); do
		os_nova DELETE "/servers/$id" >/dev/null 2>&1 || true
	done
	lab_wait 60 "fixture servers deleted" gone || true
	[ "$rc" -eq 0 ] || os_log "capture FAILED (exit $rc)"
	exit "$rc"
}
trap restore EXIT

# ---- set up: 4 servers on cmp2, 1 on cmp1 -------------------------------------

image_id=$(cat "$OS_STATE/image-id")
boot() {
	os_nova POST /servers "$(jq -cn --arg name "$1" --arg img "$image_id" --arg az "nova:$2" \
		'{server: {name: $name, imageRef: $img, flavorRef: "1", networks: "none", availability_zone: $az, metadata: {HA_Enabled: "True"}}}')" |
		jq -r .server.id
}
export OS_MICROVERSION=2.53
for i in 1 2 3 4; do boot "$prefix$host-$i" "$host" >/dev/null; done
in_use_id=$(boot "${prefix}$other-1" "$other")
ready() { [ "$(count_active_on "$host")" -eq 4 ] && [ "$(count_active_on "$other")" -eq 1 ]; }
lab_wait 120 "fixture servers ACTIVE" ready || exit 1
OS_MICROVERSION=2.26 os_nova PUT "/servers/$in_use_id/tags/umha-test" >/dev/null
mapfile -t ids < <(servers | awk -v h="$host" '$3 == h {print $1}' | sort)
unset OS_MICROVERSION
C=$OS_NOVA_URL

# ---- Keystone -----------------------------------------------------------------

st=$(curl -s -o "$out/keystone-token.json" -w '%{http_code}' --max-time 30 -H 'Content-Type: application/json' \
	-d "$(os_auth_body)" "$OS_AUTH_URL/auth/tokens")
expect 201 "$st" keystone-token
# shellcheck disable=SC2016  # $PASSWORD is shown literally
finish_fixture keystone-token "POST /v3/auth/tokens, password method, project-scoped (admin/admin, domain Default). The token itself is in the X-Subject-Token header (not captured); the body holds the catalog: compute, placement, image, network, identity; public+internal endpoints, region RegionOne" \
	"$st" "curl -s -X POST -H 'Content-Type: application/json' -d '$(os_auth_body | sed 's/"password":"admin"/"password":"\$PASSWORD"/')' '$OS_AUTH_URL/auth/tokens'"
st=$(curl -s -o "$out/error-401-keystone-bad-password.json" -w '%{http_code}' --max-time 30 -H 'Content-Type: application/json' \
	-d "$(os_auth_body | sed 's/"password":"admin"/"password":"wrong"/')" "$OS_AUTH_URL/auth/tokens")
expect 401 "$st" error-401-keystone-bad-password
finish_fixture error-401-keystone-bad-password "POST /v3/auth/tokens with a wrong password" "$st" \
	"curl -s -X POST -H 'Content-Type: application/json' -d '$(os_auth_body | sed 's/"password":"admin"/"password":"wrong"/')' '$OS_AUTH_URL/auth/tokens'"

# ---- versions -------------------------------------------------------------------

st=$(capture compute-versions "GET / on the compute endpoint's root (no token): the version list" GET "http://$OS_HOST:$OS_NOVA_PORT/" - '' none)
[[ $st =~ ^(200|300)$ ]] || os_die "compute-versions: HTTP $st"
expect 200 "$(capture compute-version-v2.1 "GET /v2.1/ (the catalog's compute URL, no token): version 2.93, min_version 2.1" GET "$C/" - '' none)" compute-version-v2.1

# ---- services, healthy ------------------------------------------------------------

expect 200 "$(capture services-2.11-healthy "GET /os-services?binary=nova-compute at 2.11: integer ids, all up and enabled" \
	GET "$C/os-services?binary=nova-compute" 2.11)" services-2.11-healthy
expect 200 "$(capture services-2.53-healthy "GET /os-services?binary=nova-compute at 2.53: UUID ids, all up and enabled" \
	GET "$C/os-services?binary=nova-compute" 2.53)" services-2.53-healthy

# ---- servers on a host, paged ------------------------------------------------------

expect 200 "$(capture servers-detail-host-page1 "GET /servers/detail?host=$host&all_tenants=1&limit=3 at 2.53: 4 ACTIVE servers on $host, first page of 3 with servers_links rel=next (marker = last id)" \
	GET "$C/servers/detail?host=$host&all_tenants=1&limit=3" 2.53)" servers-detail-host-page1
marker=$(jq -r '.servers_links[0].href' "$out/servers-detail-host-page1.json" | sed -n 's/.*marker=\([0-9a-f-]*\).*/\1/p')
[ -n "$marker" ] || os_die "page 1 has no next link"
expect 200 "$(capture servers-detail-host-page2 "GET /servers/detail?host=$host&all_tenants=1&limit=3&marker=<last id of page 1> at 2.53: the last server, no servers_links" \
	GET "$C/servers/detail?host=$host&all_tenants=1&limit=3&marker=$marker" 2.53)" servers-detail-host-page2
expect 200 "$(capture servers-detail-host-2.93 "GET /servers/detail?host=$other&all_tenants=1 at 2.93 (max): one server with metadata HA_Enabled=True and tag umha-test" \
	GET "$C/servers/detail?host=$other&all_tenants=1" 2.93)" servers-detail-host-2.93

# ---- errors ----------------------------------------------------------------------------

expect 400 "$(capture error-400-evacuate-source-up "POST /servers/{id}/action {\"evacuate\":{}} at 2.53 on a server whose host ($other) is up: refused" \
	POST "$C/servers/$in_use_id/action" 2.53 '{"evacuate":{}}')" error-400-evacuate-source-up
expect 404 "$(capture error-404-server "GET /servers/{id} of a server that does not exist" \
	GET "$C/servers/00000000-0000-0000-0000-000000000000" 2.53)" error-404-server
expect 406 "$(capture error-406-microversion "GET /servers/detail with OpenStack-API-Version: compute 2.999 (above max 2.93)" \
	GET "$C/servers/detail?limit=1" 2.999)" error-406-microversion
expect 401 "$(capture error-401-nova-bad-token "GET /servers/detail with an invalid token" \
	GET "$C/servers/detail?limit=1" 2.53 '' not-a-valid-token)" error-401-nova-bad-token

# ---- host failure: kill, force down (2.11 form), disable (2.53 form) ------------------

service_id=$(os_compute_service_id "$host")
"$OS_LAB_DIR/compute.sh" "$host" kill
expect 200 "$(capture force-down-2.11-response "PUT /os-services/force-down at 2.11 (the 2.11-2.52 form) after $host's nova-compute was killed" \
	PUT "$C/os-services/force-down" 2.11 "{\"host\":\"$host\",\"binary\":\"nova-compute\",\"forced_down\":true}")" force-down-2.11-response
expect 200 "$(capture disable-2.53-response "PUT /os-services/{uuid} at 2.53: disable $host with a reason (it is already forced down)" \
	PUT "$C/os-services/$service_id" 2.53 '{"status":"disabled","disabled_reason":"umha: host fenced, evacuating"}')" disable-2.53-response
expect 200 "$(capture services-2.11-forced-down "GET /os-services?binary=nova-compute at 2.11: $host forced down (state down) and disabled with a reason" \
	GET "$C/os-services?binary=nova-compute" 2.11)" services-2.11-forced-down
expect 200 "$(capture services-2.53-forced-down "GET /os-services?binary=nova-compute at 2.53: $host forced down (state down) and disabled with a reason" \
	GET "$C/os-services?binary=nova-compute" 2.53)" services-2.53-forced-down
expect 200 "$(capture services-2.53-host-filter "GET /os-services?binary=nova-compute&host=$host at 2.53: one service" \
	GET "$C/os-services?binary=nova-compute&host=$host" 2.53)" services-2.53-host-filter

# ---- evacuate: one at 2.11 (adminPass), the others at 2.53; catch a REBUILD ------------

expect 200 "$(capture evacuate-2.11-response "POST /servers/{id}/action {\"evacuate\":{\"onSharedStorage\":false}} at 2.11: 200 with adminPass (redacted here)" \
	POST "$C/servers/${ids[0]}/action" 2.11 '{"evacuate":{"onSharedStorage":false}}')" evacuate-2.11-response
for id in "${ids[@]:1}"; do
	st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 -X POST -H "X-Auth-Token: $OS_TOKEN" \
		-H 'OpenStack-API-Version: compute 2.53' -H 'Content-Type: application/json' -d '{"evacuate":{}}' "$C/servers/$id/action")
	expect 200 "$st" "evacuate $id"
done
cat >"$out/evacuate-2.14-plus-response.cmd" <<EOF
# Scenario: POST /servers/{id}/action {"evacuate":{}} at 2.53 (any microversion from 2.14): no body.
# Captured $WHEN on the umha OpenStack lab by tests/lab/openstack/capture-fixtures.sh.
# HTTP status: 200 (empty body, no .json fixture)
curl -s -X POST -H "X-Auth-Token: \$TOKEN" -H 'OpenStack-API-Version: compute 2.53' -H 'Content-Type: application/json' -d '{"evacuate":{}}' '$C/servers/<id>/action'
EOF
# Catch the last server while it is rebuilding (the fake driver is quick: poll fast).
rebuilding=''
for ((i = 0; i < 200; i++)); do
	st=$(curl -s -o "$out/server-rebuild-evacuating.json" -w '%{http_code}' --max-time 10 -H "X-Auth-Token: $OS_TOKEN" \
		-H 'OpenStack-API-Version: compute 2.53' "$C/servers/${ids[3]}")
	if [ "$st" = 200 ] && [ "$(jq -r .server.status "$out/server-rebuild-evacuating.json")" = REBUILD ]; then
		rebuilding=1
		break
	fi
	sleep 0.02
done
[ -n "$rebuilding" ] || os_die "never saw server ${ids[3]} in REBUILD"
finish_fixture server-rebuild-evacuating "GET /servers/{id} at 2.53 right after its evacuate: status REBUILD, task_state $(jq -r '.server["OS-EXT-STS:task_state"]' "$out/server-rebuild-evacuating.json"), still on $host (host_status DOWN)" \
	200 "curl -s -X GET -H 'Accept: application/json' -H \"X-Auth-Token: \$TOKEN\" -H 'OpenStack-API-Version: compute 2.53' '$C/servers/<id>'"
expect 200 "$(capture migrations-evacuation-in-progress "GET /os-migrations?source_compute=$host&migration_type=evacuation at 2.59, right after 4 evacuate calls (statuses accepted/pre-migrating/done as they come)" \
	GET "$C/os-migrations?source_compute=$host&migration_type=evacuation" 2.59)" migrations-evacuation-in-progress

all_moved() { [ "$(servers | awk -v h="$host" '$2 == "ACTIVE" && $3 != h && $4 == "null"' | wc -l)" -ge 4 ]; }
lab_wait 120 "evacuated servers ACTIVE elsewhere" all_moved || exit 1
expect 200 "$(capture migrations-evacuation-done "GET /os-migrations?instance_uuid={id}&migration_type=evacuation at 2.80: the server is ACTIVE elsewhere, the source is still down: status done" \
	GET "$C/os-migrations?instance_uuid=${ids[0]}&migration_type=evacuation" 2.80)" migrations-evacuation-done
expect 200 "$(capture migrations-evacuation-host-2.23 "GET /os-migrations?host=$host&migration_type=evacuation at 2.23 (before uuid/paging): integer ids, status done" \
	GET "$C/os-migrations?host=$host&migration_type=evacuation" 2.23)" migrations-evacuation-host-2.23
expect 200 "$(capture servers-detail-host-after-evacuation "GET /servers/detail?host=$host&all_tenants=1 at 2.53 after the evacuation: empty" \
	GET "$C/servers/detail?host=$host&all_tenants=1" 2.53)" servers-detail-host-after-evacuation
st=$(capture error-400-unforce-migrations-pending "PUT /os-services/{uuid} {\"forced_down\":false} at 2.53 while $host's nova-compute is still dead and its evacuation migrations are 'done' (not 'completed')" \
	PUT "$C/os-services/$service_id" 2.53 '{"forced_down":false}')
if [ "$st" != 400 ]; then
	os_log "note: clearing forced_down with migrations pending answered $st (not 400); forcing it down again"
	mv "$out/error-400-unforce-migrations-pending.json" "$out/unforce-migrations-pending-$st.json"
	mv "$out/error-400-unforce-migrations-pending.cmd" "$out/unforce-migrations-pending-$st.cmd"
	OS_MICROVERSION=2.53 os_nova PUT "/os-services/$service_id" '{"forced_down": true}' >/dev/null
fi

# ---- restore -----------------------------------------------------------------------------

"$OS_LAB_DIR/compute.sh" "$host" start
completed() {
	[ "$(os_nova GET "/os-migrations?source_compute=$host&migration_type=evacuation" |
		jq '[.migrations[] | select(.status != "completed")] | length')" -eq 0 ]
}
lab_wait 90 "evacuation migrations completed" completed || exit 1
expect 200 "$(capture migrations-evacuation-completed "GET /os-migrations?source_compute=$host&migration_type=evacuation at 2.80 after $host's nova-compute restarted: all completed" \
	GET "$C/os-migrations?source_compute=$host&migration_type=evacuation" 2.80)" migrations-evacuation-completed
expect 200 "$(capture unforce-2.53-response "PUT /os-services/{uuid} {\"forced_down\":false} at 2.53 once the migrations are completed" \
	PUT "$C/os-services/$service_id" 2.53 '{"forced_down":false}')" unforce-2.53-response
lab_wait 60 "$host up" os_compute_is "$host" up || exit 1
expect 200 "$(capture enable-2.53-response "PUT /os-services/{uuid} {\"status\":\"enabled\"} at 2.53 once $host is up again" \
	PUT "$C/os-services/$service_id" 2.53 '{"status":"enabled"}')" enable-2.53-response
service_id=''
os_log "fixtures written to $out"
