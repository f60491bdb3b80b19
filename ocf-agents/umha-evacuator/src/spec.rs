//! The agent's table: parameters, actions, examples. Meta-data, the help
//! text and the man page are generated from it.

use std::time::Duration;

use agent_core::{Action, ActionSpec, AgentSpec, Example, ParamSpec, Tool};

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub static SPEC: AgentSpec = AgentSpec {
    provider: agent_core::PROVIDER,
    name: "umha-evacuator",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "Evacuates the instances of fenced compute nodes through Nova",
    longdesc: "Run one instance of this agent on the controllers (a primitive, not a clone). \
Every monitor is one bounded reconcile step over state kept in the CIB, so whichever \
controller runs it continues where another stopped.

A step reads the CIB (and the fence history when a compute node is down). A compute node's \
instances are evacuated only when the node is confirmed fenced after it failed: either it \
carries the marker attribute (marker_attribute, written by a umha fence agent with evacuate=1 \
only after it read back that the power is off), or it is a Pacemaker Remote node that the \
controller records as fenced and not reconnected since, and the fence history shows a \
successful off or reboot that completed after the node was lost. The cluster must have \
quorum. The agent then forces the node's nova-compute service down and disables it with a \
reason, and evacuates its instances with bounded parallelism. Before every evacuate it reads \
the instance and its migrations afresh: Nova accepts a second evacuate of an instance that is \
already rebuilding, and the instance ends up stuck. Each instance is followed until it runs on \
another host (or is stopped there, if it was stopped), retried a bounded number of times, and \
its outcome is recorded. When every instance is settled the marker is cleared (the crm \
snippets' location rule keeps nova-compute off a node while its marker is set), and with \
on_recovery=enable the service is enabled again once nova-compute is back and its evacuation \
migrations are completed: un-force, wait for up, then enable.

The valve (UMHA's [valve]) stops everything when too many compute nodes fail within \
failure_window: nothing is evacuated, the cluster property umha-hold (property set \
umha-evacuator) is set and an alert is logged. Release the hold with umha release, or \
crm_attribute --type crm_config --set-name umha-valve --name umha-hold --delete. \
A node counts as failed when it is down, carries a marker, or was fenced or lost within the \
window, so slow cascades trip it too.

Storage-driven recovery (UMHA's own scenario): a compute node still in the cluster whose \
ocf:umha:storage-monitor reports red for storage_error_count consecutive checks (its \
attribute <storage_attribute>-red-count) is sick: its instances lost their disks, and \
Pacemaker, which sees it online, will not fence it. With storage_fencing=true (the default, \
as UMHA did) the agent asks Pacemaker to fence it (stonith_admin --fence, off, in the \
background so a slow fence does not hold up the monitor); the normal path then evacuates it \
once the fence is confirmed. One request per episode: the request time is kept in the \
persistent node attribute umha-storage-fence (written before the request, so a restarted or \
failed-over agent does not ask again), the request is repeated only when \
storage_fence_timeout passed without a confirmed or pending fence, and a node fenced after the \
request that comes back still red is not fenced again (an alert says so). \
umha-storage-status holds a line about the episode; both attributes go when the node's \
storage works again. Never for an offline node (Pacemaker fences those), a node whose \
evacuation is open, without quorum, or while the hold is set; a dry run reports 'would \
fence'. The storage valve (UMHA's storage_number and storage_ratio): when \
max_storage_failed_hosts, or max_storage_failed_ratio of the compute nodes (and at least \
two), are red at once or were fenced for their storage within failure_window, the storage \
system is at fault: nothing is fenced, the hold is set and an alert is logged.

With heartbeat_dir (the controllers' mount of storage-monitor's heartbeat_path), a node \
Pacemaker lost whose heartbeat file was written after the loss and is younger than \
heartbeat_max_age is reported as 'isolated, not dead' (status line, log, alert): it still \
runs and reaches its storage, so its instances may still be running. This is reporting \
only: fencing and the evacuation gate are unchanged, and a missing or stale heartbeat is never \
taken as proof that a node is dead.

Recovery methods (Masakari's, natively). Compute nodes are grouped into segments by the \
node attribute segment_attribute (nodes without it form the default segment); each segment \
has a method, recovery_method unless segment_recovery_methods names it: auto (Nova's \
scheduler picks a host for each instance), reserved_host (only the segment's reserved hosts; \
what they cannot take is not evacuated, and is reported), rh_priority (reserved hosts first, \
the rest to the scheduler) or auto_priority (the scheduler first; an instance it found no \
host for, its evacuation migration in error, goes to a reserved host next). A reserved host \
carries the persistent node attribute reserved_attribute=true. While idle the agent keeps it \
disabled in Nova (reason 'umha: reserved host'; a host someone else disabled is left as it \
is, and never taken) and notes that in its attribute umha-reserved-disabled; deleting \
reserved_attribute puts the host back into service (the agent enables it). When a node of \
the segment fails, the agent picks reserved hosts that are online in Pacemaker, not under \
maintenance, with nova-compute up and room for the instances (Placement: inventory minus \
usage of each resource class the flavors need), first fit, largest instances first, the \
next reserved host taking what the first cannot; it enables each host it uses and \
evacuates to it by name, which Nova (compute microversion 2.29 or later, never with \
force) still checks through its scheduler, and removes reserved_attribute from a host once \
it took an instance, as Masakari does. Placement is read only when none of the incident's \
instances is being rebuilt, so the room it reports includes what was sent before. What no \
reserved host can take is named in the node's status, the history (event unplaced) and an \
alert, and the incident stays open (marker kept) as for a failed evacuation; after making \
room, delete the node's umha-evac-state to run it again. A dry run shows the reserved host \
each instance would go to and enables nothing. With on_recovery=manual (unset, the \
default in segments whose method uses reserved hosts) the node gets the persistent \
attribute umha-maintenance (time and reason) and its nova-compute stays forced down and \
disabled: 'umha host enable NODE' puts it back (un-force, wait for up, enable, \
delete the attribute). A node under maintenance is never taken as a reserved host.

Per compute node the agent keeps umha-evac-state, umha-evac-handled and umha-evac-status \
(persistent node attributes; crm_mon -A shows the status line). Every decision and instance \
outcome is appended to history_file as JSON lines. With dry_run=true (UMHA's \
really_evacuate=false) every decision is logged and recorded, and Nova is never written.

Credentials come from clouds.yaml (cloud, clouds_yaml); no password is ever a resource \
parameter. The monitor succeeds while the agent is started, whatever it finds: problems are \
shown in the node attributes, the log and the history, because restarting the agent would \
not fix a cloud. Wrong credentials or a broken clouds.yaml fail start and validate-all with \
OCF_ERR_CONFIGURED.",
    params: &[
        ParamSpec::string(
            "cloud",
            "Cloud name in clouds.yaml",
            "The entry of clouds.yaml with the credentials (an admin, or a user allowed to \
list and evacuate servers of all projects and to update compute services). Keystone v3 \
password or application credential, region, interface and cacert are read from it; \
'verify: false' there turns TLS verification off.",
        )
        .default("umha"),
        ParamSpec::string(
            "clouds_yaml",
            "Path of clouds.yaml",
            "Read this file instead of the standard places (OS_CLIENT_CONFIG_FILE, \
~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml). secure.yaml next to it is \
merged as usual. Keep it readable by root only.",
        ),
        ParamSpec::list(
            "compute_nodes",
            "Compute nodes",
            "The Pacemaker node names of the compute nodes this agent protects. Empty (the \
default) means every Pacemaker Remote node, unless compute_attribute is set.",
        ),
        ParamSpec::string(
            "compute_attribute",
            "Node attribute that marks compute nodes",
            "NAME or NAME=VALUE: the nodes whose node attribute NAME is set (to VALUE) are the \
compute nodes. Used when compute_nodes is empty.",
        ),
        ParamSpec::string(
            "host_map",
            "Node name to Nova host map",
            "node:host pairs separated by ';' (pcmk_host_map syntax), for nodes whose Nova \
host name is not their Pacemaker name. Unmapped nodes match a nova-compute service by exact \
name, then by short name (the part before the first dot) when exactly one service has it; \
an ambiguous or missing match is refused and shown in the node's status.",
        ),
        ParamSpec::string(
            "marker_attribute",
            "Evacuation marker attribute",
            "The persistent node attribute that says an evacuation is owed, holding the fence \
time (epoch seconds). It must match evacuate_attribute of the fence devices (default \
umha-evacuate) and the nova-compute location rule.",
        )
        .default("umha-evacuate"),
        ParamSpec::integer(
            "max_failed_hosts",
            "Valve: failed nodes that stop evacuation",
            "When this many compute nodes failed within failure_window, nothing is evacuated \
and the hold is set. UMHA's power_off_number (default 6). 0 disables the rule.",
        )
        .default("6")
        .range(0, 100_000),
        ParamSpec::string(
            "max_failed_ratio",
            "Valve: share of failed nodes that stops evacuation",
            "When this share of all compute nodes (a number from 0 to 1, or a percentage) \
failed within failure_window, and at least two did, nothing is evacuated and the hold is \
set. UMHA's power_off_ratio (default 0.6). 0 disables the rule.",
        )
        .default("0.6"),
        ParamSpec::duration(
            "failure_window",
            "Valve: window",
            "How far back failures count for the valve (and for the storage valve).",
        )
        .default("10min"),
        ParamSpec::boolean(
            "storage_fencing",
            "Fence nodes that lost their storage",
            "Ask Pacemaker to fence (power off) a compute node that is still in the cluster \
but whose storage-monitor has reported red for storage_error_count consecutive checks: its \
instances lost their disks, and Pacemaker sees nothing wrong with it. The instances are then \
evacuated like those of any fenced node. UMHA fenced such nodes, hence the default; false \
only reports them.",
        )
        .default("true")
        .reloadable(),
        ParamSpec::integer(
            "storage_error_count",
            "Red checks that make a node sick",
            "Consecutive red checks of storage-monitor (its <name>-red-count attribute) after \
which an online node counts as having lost its storage. UMHA's error_count. storage-monitor \
stops counting at 100.",
        )
        .default("3")
        .range(1, 100)
        .reloadable(),
        ParamSpec::string(
            "storage_attribute",
            "storage-monitor's attribute name",
            "The name parameter of the ocf:umha:storage-monitor clone: the score is read from \
<storage_attribute> and the red-check count from <storage_attribute>-red-count.",
        )
        .default("umha-storage")
        .reloadable(),
        ParamSpec::duration(
            "storage_fence_timeout",
            "Fencing timeout for a sick node",
            "The fencing operation's timeout (stonith_admin --timeout). A request that has no \
confirmed fence after it this long, and no fence pending, is made again. At least 10s.",
        )
        .default("2min")
        .reloadable(),
        ParamSpec::integer(
            "max_storage_failed_hosts",
            "Storage valve: red nodes that stop fencing",
            "When this many compute nodes are red at once, or were fenced for their storage \
within failure_window, the storage system is at fault: nothing is fenced, the hold is set \
and an alert is logged. UMHA's storage_number (default 6). 0 disables the rule.",
        )
        .default("6")
        .range(0, 100_000)
        .reloadable(),
        ParamSpec::string(
            "max_storage_failed_ratio",
            "Storage valve: share of red nodes that stops fencing",
            "The same as a share of all compute nodes (a number from 0 to 1, or a \
percentage), and at least two nodes, so that one node alone never trips it. UMHA's \
storage_ratio (default 0.6). 0 disables the rule.",
        )
        .default("0.6")
        .reloadable(),
        ParamSpec::string(
            "heartbeat_dir",
            "storage-monitor's heartbeat directory, as the controllers mount it",
            "The directory where storage-monitor (heartbeat_path) writes <node>.heartbeat, as \
seen from the node running this agent. When a compute node is lost, its heartbeat is read \
(in a child process, so a dead share cannot hang the agent); written after the loss and \
younger than heartbeat_max_age, it makes the node 'isolated, not dead' in its status line, \
the log and the alert. Reporting only. Empty (the default) turns this off.",
        )
        .reloadable(),
        ParamSpec::duration(
            "heartbeat_max_age",
            "Age of a heartbeat that still counts",
            "An older heartbeat says nothing about the node. Allow for storage-monitor's \
monitor interval and the share's attribute caching.",
        )
        .default("1min")
        .reloadable(),
        ParamSpec::string(
            "instance_selection",
            "Which instances to evacuate",
            "tagged: instances whose flavor (extra spec) or image (property) has \
evacuable_tag=true, or all instances when no flavor or image in the cloud is tagged (as \
fence_compute does); metadata: instances whose metadata ha_metadata_key is true (Masakari's \
HA_Enabled); all: every instance.",
        )
        .choices(&["tagged", "metadata", "all"])
        .default("tagged"),
        ParamSpec::string(
            "evacuable_tag",
            "Tag for instance_selection=tagged",
            "The flavor extra spec / image property that marks evacuable instances.",
        )
        .default("evacuable"),
        ParamSpec::string(
            "ha_metadata_key",
            "Metadata key for instance_selection=metadata",
            "The instance metadata key that marks evacuable instances.",
        )
        .default("HA_Enabled"),
        ParamSpec::boolean(
            "evacuate_local_disk",
            "Evacuate instances on local disks",
            "An instance that boots from an image on the compute node's local disk is rebuilt \
from that image elsewhere, and what it wrote is lost (unless the instances directory is on \
shared storage, which Nova detects). UMHA's allow_evacuate_local_vm, false by default: such \
instances stay. Boot-from-volume instances are always evacuated.",
        )
        .default("false"),
        ParamSpec::boolean(
            "evacuate_error_instances",
            "Evacuate instances in ERROR",
            "Instances that were in ERROR before the failure stay by default.",
        )
        .default("false"),
        ParamSpec::list(
            "exclude_instances",
            "Instances never evacuated",
            "Instance ids or names that stay where they are.",
        ),
        ParamSpec::integer(
            "max_parallel",
            "Evacuations issued at once",
            "How many instances are checked and evacuated at the same time. Nova's own \
rebuild work is the bottleneck, not the API calls: on the lab (20 instances), 4 in flight \
finished about 1 s sooner than one by one or all at once (see the benchmark in the README).",
        )
        .default("4")
        .range(1, 64),
        ParamSpec::integer(
            "max_attempts",
            "Evacuate attempts per instance",
            "An instance whose evacuation failed is evacuated again, up to this many attempts \
in total; then it is reported as failed and the node's marker stays.",
        )
        .default("3")
        .range(1, 10),
        ParamSpec::duration(
            "instance_timeout",
            "Longest rebuild of one instance",
            "An evacuation not finished after this long is reported as failed. It is never \
evacuated again while Nova may still be working on it.",
        )
        .default("10min"),
        ParamSpec::string(
            "on_recovery",
            "What to do with the service after evacuation",
            "enable: when every instance is settled, the marker is cleared, and once \
nova-compute is back and its evacuation migrations are completed, the service is \
un-forced, waited for, and enabled (in that order: enabling a service Nova still counts as \
down leaves it unusable for about a minute). manual: leave it forced down and disabled, \
and mark the node under maintenance (persistent attribute umha-maintenance: time and \
reason; Masakari's on_maintenance) until the operator runs 'umha host enable NODE'. \
Unset: manual for the nodes of segments whose recovery method uses reserved hosts (Masakari \
leaves every failed host on maintenance: a reserved host took its place, and the operator \
decides whether the repaired host becomes the segment's next reserved host), enable for \
the others.",
        )
        .choices(&["enable", "manual"]),
        ParamSpec::string(
            "recovery_method",
            "Where the instances go (Masakari's recovery methods)",
            "For every segment not named in segment_recovery_methods: auto (Nova's scheduler \
chooses), reserved_host (the segment's reserved hosts only; what they cannot take is \
reported and not evacuated), rh_priority (reserved hosts first, then the scheduler), \
auto_priority (the scheduler first, then reserved hosts for an instance it found no host \
for; needs max_attempts of at least 2).",
        )
        .choices(&["auto", "reserved_host", "rh_priority", "auto_priority"])
        .default("auto"),
        ParamSpec::list(
            "segment_recovery_methods",
            "Recovery method per segment",
            "SEGMENT:METHOD pairs separated by blanks or commas, e.g. 'az1:reserved_host \
az2:rh_priority'. A segment is the value of the nodes' segment_attribute.",
        ),
        ParamSpec::string(
            "segment_attribute",
            "Node attribute naming a node's segment",
            "Nodes with the same value form a segment (Masakari's failover segment); reserved \
hosts only take instances of their own segment. Nodes without it form the default segment.",
        )
        .default("umha-segment"),
        ParamSpec::string(
            "reserved_attribute",
            "Node attribute marking a reserved host",
            "A persistent node attribute (crm_attribute --node N --name umha-reserved \
--update true --lifetime forever); true, yes, 1 or on. The agent keeps such a host disabled \
in Nova while idle, and removes the attribute when the host took instances.",
        )
        .default("umha-reserved"),
        ParamSpec::boolean(
            "dry_run",
            "Decide and record, but never write to Nova",
            "UMHA's really_evacuate=false. Every decision is logged and written to the history \
with dry_run=true; Nova is only read. The marker is still cleared when the incident is \
closed, so nova-compute is not kept off the node.",
        )
        .default("false")
        .reloadable(),
        ParamSpec::string(
            "history_file",
            "Evacuation history",
            "Append-only JSON-lines file with every decision and instance outcome.",
        )
        .default("/var/log/umha/evacuations.jsonl"),
        ParamSpec::duration(
            "step_time",
            "Work per monitor",
            "How long one monitor may keep evacuating and following instances before it \
returns (less when the monitor timeout is shorter). The next monitor continues.",
        )
        .default("20s"),
        // Alert mails, shared with umha-alert (crates/alert).
        alert::params::MAIL_TO,
        alert::params::MAIL_FROM,
        alert::params::SMTP_SERVER,
        alert::params::SMTP_TLS,
        alert::params::SMTP_USER,
        alert::params::SMTP_PASSWORD_FILE,
        alert::params::SMTP_CA_FILE,
        alert::params::SMTP_TLS_VERIFY,
        alert::params::MAIL_SUBJECT_PREFIX,
        alert::params::SEND_INTERVAL,
        alert::params::MAIL_BATCH_DELAY,
        alert::params::MAIL_SPOOL,
    ],
    actions: &[
        ActionSpec::new(Action::Start, secs(30)),
        ActionSpec::new(Action::Stop, secs(30)),
        ActionSpec::new(Action::Monitor, secs(60))
            .interval(secs(5))
            .depth(0),
        ActionSpec::new(Action::Reload, secs(30)),
        ActionSpec::new(Action::MetaData, secs(5)),
        ActionSpec::new(Action::ValidateAll, secs(30)),
    ],
    examples: &[
        Example {
            title: "The evacuator on the controllers, with UMHA's valve",
            tool: Tool::Crm,
            command: "crm configure primitive evacuator ocf:umha:umha-evacuator \\
    params cloud=umha max_failed_hosts=6 max_failed_ratio=0.6 \\
    op monitor interval=5s timeout=60s
crm configure location evacuator-on-controllers evacuator \\
    rule -inf: #kind ne cluster",
        },
        Example {
            title: "The same with pcs, and nova-compute kept off nodes still being evacuated",
            tool: Tool::Pcs,
            command: "pcs resource create evacuator ocf:umha:umha-evacuator cloud=umha \\
    op monitor interval=5s timeout=60s
pcs constraint location evacuator rule score=-INFINITY '#kind' ne cluster
pcs constraint location nova-compute-clone rule score=-INFINITY defined umha-evacuate",
        },
        Example {
            title: "Storage-driven fencing with UMHA's storage valve, and isolation reports",
            tool: Tool::Crm,
            command: "crm resource param evacuator set storage_error_count 3
crm resource param evacuator set max_storage_failed_hosts 6
crm resource param evacuator set max_storage_failed_ratio 0.6
crm resource param evacuator set heartbeat_dir /var/lib/nova/instances/.umha-heartbeat",
        },
        Example {
            title: "Masakari's reserved hosts: cmp3 stands by for the nodes of segment az1",
            tool: Tool::Crm,
            command: "crm node attribute cmp1 set umha-segment az1
crm node attribute cmp2 set umha-segment az1
crm node attribute cmp3 set umha-segment az1
crm node attribute cmp3 set umha-reserved true
crm resource param evacuator set segment_recovery_methods az1:rh_priority",
        },
        Example {
            title: "Release the valve's hold",
            tool: Tool::Shell,
            command: "crm_attribute --type crm_config --set-name umha-valve --name umha-hold --delete",
        },
        Example {
            title: "What it did",
            tool: Tool::Shell,
            command: "crm_mon -1 -A
tail /var/log/umha/evacuations.jsonl",
        },
    ],
    see_also: &[
        "fence_ipmi(8)",
        "ocf_umha_storage-monitor(7)",
        "crm_attribute(8)",
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use agent_core::testing::{check_spec, xmllint_dtd};

    #[test]
    fn table_is_valid() {
        check_spec(&SPEC).unwrap();
    }

    #[test]
    fn meta_data_is_valid_against_the_dtd() {
        match xmllint_dtd(&SPEC.metadata_xml()) {
            None => println!("SKIPPED: xmllint or the OCF DTD is not installed"),
            Some(r) => r.unwrap(),
        }
    }
}
