#!/bin/sh
# umha Instance HA for pcs, written into a CIB file first and pushed at once,
# so the cluster never runs half of it:
#
#   pcs cluster cib instance-ha.xml
#   CIB=instance-ha.xml sh instance-ha.pcs.sh      # edit the settings below first
#   crm_verify --xml-file instance-ha.xml -V
#   pcs cluster cib-push instance-ha.xml --config
#
# The same configuration as instance-ha.crm (see there for what each part
# does). Every setting can also come from the environment.
set -eu

: "${CIB:?set CIB to a file made by pcs cluster cib}"
# Compute nodes as NAME=ADDRESS of pacemaker-remoted (with
# /etc/pacemaker/authkey from the controllers), and NAME=ADDRESS[:PORT] of
# their BMCs (the port only when it is not IPMI's 623).
: "${COMPUTE_NODES:=cmp1=192.0.2.11 cmp2=192.0.2.12 cmp3=192.0.2.13}"
: "${BMCS:=cmp1=192.0.2.101 cmp2=192.0.2.102 cmp3=192.0.2.103}"
: "${REMOTE_OPTIONS:=reconnect_interval=60s}"
: "${BMC_USER:=admin}"
# A root-only script printing the BMC password: never in the CIB, ps or logs.
: "${BMC_PASSWORD_SCRIPT:=/etc/umha/bmc-password.sh}"
: "${BMC_OPTIONS:=lanplus=1}"
: "${STORAGE_ADDRESSES:=192.0.2.201 192.0.2.202}"
: "${HEARTBEAT_PATH:=/var/lib/nova/instances}"
: "${NOVA_COMPUTE:=systemd:nova-compute}"
: "${NOVA_COMPUTE_OPTIONS:=}"
: "${CLOUD:=overcloud}"
: "${CLOUDS_YAML:=/etc/openstack/clouds.yaml}"
: "${HISTORY_FILE:=/var/lib/umha/evacuations.jsonl}"
: "${MAIL_TO:=ops@example.org}"
: "${SMTP_SERVER:=smtp.example.org}"
: "${SMTP_TLS:=starttls}"
: "${ALERT_RECIPIENT:=oncall@example.org}"

p() { pcs -f "$CIB" "$@"; }

# Returns what NAME maps to in a list of NAME=VALUE words.
lookup() {
	for pair in $2; do
		[ "${pair%%=*}" = "$1" ] && { printf '%s\n' "${pair#*=}"; return 0; }
	done
	echo "no entry for $1 in: $2" >&2
	return 1
}

p property set stonith-enabled=true cluster-recheck-interval=1min

for pair in $COMPUTE_NODES; do
	node=${pair%%=*}
	# pcs cluster node add-remote does the same and also copies the authkey
	# through pcsd; on a CIB file the resource is created directly. A node
	# that was a remote node before keeps an entry with its name in the
	# nodes section, and pcs refuses the id ("'cmp1' already exists"):
	# remove it first with crm_node --force --remove cmp1.
	# shellcheck disable=SC2086 # option lists are words
	p resource create "$node" ocf:pacemaker:remote server="${pair#*=}" $REMOTE_OPTIONS \
		op monitor interval=20s timeout=30s --force

	bmc=$(lookup "$node" "$BMCS")
	case $bmc in
	*:*) bmc_address="ip=${bmc%:*} ipport=${bmc##*:}" ;;
	*) bmc_address="ip=$bmc" ;;
	esac
	# evacuate=1: the verified off marks the node umha-evacuate=<time>.
	# shellcheck disable=SC2086
	p stonith create "fence-$node" fence_ipmi $bmc_address \
		username="$BMC_USER" password_script="$BMC_PASSWORD_SCRIPT" $BMC_OPTIONS \
		pcmk_host_list="$node" evacuate=1 op monitor interval=60s timeout=20s
	p constraint location "fence-$node" rule score=-INFINITY '#kind' ne cluster
	p stonith level add 1 "$node" "fence-$node"
done

p resource create storage-monitor ocf:umha:storage-monitor \
	storage_server_address="$STORAGE_ADDRESSES" heartbeat_path="$HEARTBEAT_PATH" health=true \
	op start timeout=20s op stop timeout=20s op monitor interval=10s timeout=20s \
	clone interleave=true
p constraint location storage-monitor-clone rule score=-INFINITY '#kind' ne remote

# shellcheck disable=SC2086
p resource create nova-compute "$NOVA_COMPUTE" $NOVA_COMPUTE_OPTIONS \
	op start timeout=120s op stop timeout=120s op monitor interval=10s timeout=30s \
	clone interleave=true
p constraint location nova-compute-clone rule score=-INFINITY '#kind' ne remote
# The gate: never on a node whose evacuation is pending.
p constraint location nova-compute-clone rule id=nova-compute-gate score=-INFINITY defined umha-evacuate
p constraint order start storage-monitor-clone then start nova-compute-clone kind=Optional

p resource create umha-evacuator ocf:umha:umha-evacuator \
	cloud="$CLOUD" clouds_yaml="$CLOUDS_YAML" recovery_method=auto \
	max_failed_hosts=2 max_failed_ratio=0.5 storage_fencing=true storage_error_count=3 \
	history_file="$HISTORY_FILE" mail_to="$MAIL_TO" smtp_server="$SMTP_SERVER" smtp_tls="$SMTP_TLS" \
	dry_run=false \
	op start timeout=30s op stop timeout=30s op monitor interval=10s timeout=60s
p constraint location umha-evacuator rule score=-INFINITY '#kind' ne cluster

p alert create id=umha-alert path=/usr/sbin/umha-alert \
	options mail_to="$MAIL_TO" smtp_server="$SMTP_SERVER" smtp_tls="$SMTP_TLS" send_interval=10min \
	meta timeout=30s
p alert recipient add umha-alert value="$ALERT_RECIPIENT" id=umha-alert-oncall
