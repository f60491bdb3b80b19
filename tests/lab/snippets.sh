#!/bin/bash
# Load crm-snippets/ into the running lab, one recipe after the other, and
# check each as an operator would: the recipe loads (crmsh: `crm configure
# load update`; pcs: a CIB file, then `pcs cluster cib-push --config`),
# `crm_verify -L -V` is clean, and every resource it defines starts (the
# compute nodes online, nova-compute up in Nova).
#
#   tests/lab/snippets.sh [crm] [pcs]     both recipes unless named
#
# Before each recipe the lab's own configuration is erased (resources,
# constraints, topology, alerts; nothing is fenced: everything stops
# cleanly), and at the end it is put back. The recipes' example values
# (192.0.2.x addresses, example.org mail relay, systemd:nova-compute) become
# the lab's before loading, and the script refuses to load anything that
# still names an address outside the lab. Needs the lab with OpenStack
# (up.sh --with-openstack) and one controller.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

lab_require_root
SNIPPETS=$(cd "$LAB_DIR/../../crm-snippets" && pwd)
work=$(mktemp -d)
saved=$work/lab-configuration.xml
trap 'rm -rf "$work"' EXIT

[ -r "$LAB_OS_MARKER" ] || lab_die "needs the lab with OpenStack (tests/lab/up.sh --with-openstack)"
lab_have_dc || lab_die "the lab is not up"

# The lab's values for the recipes' examples. No SMTP server listens on the
# port given: alerts spool, nothing leaves the machine.
password_script=$work/bmc-password.sh
printf '#!/bin/sh\necho %s\n' "$LAB_BMC_PASSWORD" >"$password_script"
chmod 0700 "$password_script"
smtp=127.0.0.1:2
history=$work/evacuations.jsonl
compute_nodes='' bmcs=''
for node in $(lab_node_names); do
	compute_nodes+="$node=$(lab_node_ip "$node") "
	bmcs+="$node=$LAB_BMC_HOST:$(lab_node_bmc_port "$node") "
done

# The recipe for crmsh with the lab's values.
crm_for_lab() {
	local args=() node n
	for node in $(lab_node_names); do
		n=${node#cmp}
		args+=(-e "s|server=192\.0\.2\.1$n |server=$(lab_node_ip "$node") port=$LAB_REMOTE_PORT reconnect_interval=10s |")
		args+=(-e "s|ip=192\.0\.2\.10$n |ip=$LAB_BMC_HOST ipport=$(lab_node_bmc_port "$node") cipher=3 |")
	done
	sed "${args[@]}" \
		-e "s|reconnect_interval=60s ||" \
		-e "s|password_script=/etc/umha/bmc-password.sh|password_script=$password_script|" \
		-e "s|storage_server_address=\"[^\"]*\"|storage_server_address=\"$(lab_stor_addr_list)\"|" \
		-e "s|heartbeat_path=/var/lib/nova/instances|heartbeat_path=$LAB_STOR_SHARE_MNT|" \
		-e "s|systemd:nova-compute|ocf:umha-lab:nova-compute params compute_script=$LAB_OS_DIR/compute.sh hosts_dir=$(lab_os_hosts_dir)|" \
		-e "s|cloud=overcloud clouds_yaml=/etc/openstack/clouds.yaml|cloud=umha-lab clouds_yaml=$LAB_OS_STATE/clouds.yaml|" \
		-e "s|history_file=/var/lib/umha/evacuations.jsonl|history_file=$history|" \
		-e "s|smtp_server=smtp.example.org|smtp_server=$smtp|g" \
		-e "/^#/d" "$SNIPPETS/instance-ha.crm"
}

# Refuse a recipe that would still reach outside the lab.
only_lab_addresses() {
	if grep -nE '192\.0\.2\.|smtp\.example\.org|/etc/umha/|/etc/openstack/' "$1"; then
		lab_die "$1 still names the example values above; not loading it into the lab"
	fi
}

erase() {
	lab_log "erasing the configuration (everything stops cleanly)"
	# With fencing on and no fence device left, Pacemaker would stop nothing:
	# off while the cluster is empty; each recipe turns it on again. crm
	# configure erase refuses while resources run; removed from the CIB,
	# Pacemaker stops them as orphans.
	timeout 20 crm_attribute --type crm_config --name stonith-enabled --update false
	timeout 20 cibadmin --replace --scope constraints --xml-text '<constraints/>'
	timeout 20 cibadmin --replace --scope resources --xml-text '<resources/>'
	timeout 20 cibadmin --delete --xml-text '<fencing-topology/>' >/dev/null 2>&1 || true
	timeout 20 cibadmin --delete --xml-text '<alerts/>' >/dev/null 2>&1 || true
	lab_wait 120 "every resource stopped" nothing_active
	# Remote nodes' entries (they carry persistent node attributes: the
	# evacuator's state, say) share the remote resources' ids, which pcs
	# refuses to create beside them ("'cmp1' already exists"). Removed once
	# the connections are down (the controller writes them while they run).
	timeout 20 cibadmin --delete-all --force --xpath "/cib/configuration/nodes/node[@type='remote']" >/dev/null 2>&1 || true
}

nothing_active() {
	local mon
	mon=$(crm_mon -1 --output-as=xml 2>/dev/null) || return 1
	! grep -q 'active="true"' <<<"$mon" && lab_settled
}

# Hold the valve (`umha hold`): its property set is in the CIB while the
# recipe loads. Released in check_running.
valve_hold() { timeout 20 umha hold --reason "tests/lab/snippets.sh" >/dev/null; }

resource_running() { crm_resource --resource "$1" --locate 2>/dev/null | grep -q 'is running on'; }

# What every recipe must leave running, and a clean crm_verify.
check_running() {
	local what=$1 node out
	lab_wait 120 "$what: cluster settled" lab_settled
	for node in $(lab_node_names); do
		lab_wait 60 "$what: $node online" lab_node_online "$node"
		lab_wait 30 "$what: fence-$node started" resource_running "fence-$node"
	done
	lab_wait 60 "$what: storage-monitor-clone running" resource_running storage-monitor-clone
	lab_wait 120 "$what: nova-compute-clone running" resource_running nova-compute-clone
	lab_wait 60 "$what: umha-evacuator running" resource_running umha-evacuator
	lab_wait 120 "$what: Nova reporting every nova-compute up" lab_os_nova_all_up
	lab_wait 60 "$what: cluster settled" lab_settled
	if ! out=$(crm_verify -L -V 2>&1) || [ -n "$out" ]; then
		printf '%s\n' "$out" >&2
		lab_die "$what: crm_verify -L -V is not clean"
	fi
	timeout 10 cibadmin --query --scope alerts --xpath "//alert[@id='umha-alert']" >/dev/null \
		|| lab_die "$what: no umha-alert alert"
	timeout 10 cibadmin --query --scope configuration --xpath "//fencing-level[@target='cmp1']" >/dev/null \
		|| lab_die "$what: no fencing topology"
	timeout 20 umha release >/dev/null
	lab_log "$what: loaded, crm_verify -L -V clean, every resource running"
}

timeout 20 cibadmin --query --scope configuration >"$saved"
restore() {
	lab_log "putting the lab's own configuration back"
	erase
	timeout 60 cibadmin --replace --scope configuration --xml-file "$saved"
	lab_wait 120 "lab settled again" lab_settled
	lab_wait 120 "Nova reporting every nova-compute up" lab_os_nova_all_up
	lab_log "the lab's own configuration is back"
}
on_exit() {
	local status=$?
	if [ "$status" != 0 ]; then
		lab_log "failed; the cluster as the recipe left it:"
		crm_mon -1 -rf 2>&1 | sed 's/^/    /' >&2 || true
	fi
	restore
	rm -rf "$work"
}
trap on_exit EXIT

recipes=("$@")
[ ${#recipes[@]} -gt 0 ] || recipes=(crm pcs)
wanted() { [[ " ${recipes[*]} " == *" $1 "* ]]; }

# ---- crmsh ----------------------------------------------------------------------
if wanted crm; then
crm_for_lab >"$work/instance-ha.crm"
only_lab_addresses "$work/instance-ha.crm"
erase
# A cluster whose valve has tripped once keeps the hold's property set: the
# recipe must load beside it (its ids must not collide with the primitives').
valve_hold
lab_log "crm configure load update instance-ha.crm"
timeout 120 crm configure load update "$work/instance-ha.crm"
check_running crmsh
fi

# ---- pcs ------------------------------------------------------------------------
if wanted pcs; then
erase
cib=$work/instance-ha.xml
valve_hold
timeout 30 pcs cluster cib "$cib"
lab_log "pcs -f: instance-ha.pcs.sh"
CIB=$cib \
	COMPUTE_NODES="$compute_nodes" \
	BMCS="$bmcs" \
	REMOTE_OPTIONS="port=$LAB_REMOTE_PORT reconnect_interval=10s" \
	BMC_USER="$LAB_BMC_USER" \
	BMC_PASSWORD_SCRIPT="$password_script" \
	BMC_OPTIONS="lanplus=1 cipher=3" \
	STORAGE_ADDRESSES="$(lab_stor_addr_list)" \
	HEARTBEAT_PATH="$LAB_STOR_SHARE_MNT" \
	NOVA_COMPUTE=ocf:umha-lab:nova-compute \
	NOVA_COMPUTE_OPTIONS="compute_script=$LAB_OS_DIR/compute.sh hosts_dir=$(lab_os_hosts_dir)" \
	CLOUD=umha-lab \
	CLOUDS_YAML="$LAB_OS_STATE/clouds.yaml" \
	HISTORY_FILE="$history" \
	SMTP_SERVER="$smtp" \
	sh "$SNIPPETS/instance-ha.pcs.sh"
only_lab_addresses "$cib"
crm_verify --xml-file "$cib" -V 2>&1 | grep -Ei 'error' && lab_die "the pcs CIB file does not verify"
timeout 60 pcs cluster cib-push "$cib" --config
check_running pcs
fi
