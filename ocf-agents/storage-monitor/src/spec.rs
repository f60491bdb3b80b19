//! The agent's table: parameters, actions, examples. Meta-data, the help
//! text and the man page are generated from it.

use std::time::Duration;

use agent_core::{Action, ActionSpec, AgentSpec, Example, ParamSpec, Tool};

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub static SPEC: AgentSpec = AgentSpec {
    provider: agent_core::PROVIDER,
    name: "storage-monitor",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "Storage-network health of a compute node, as node attributes",
    longdesc: "Checks that this node still reaches its storage network and publishes the \
result as node attributes that location rules, Pacemaker's node-health strategy and umha's \
evacuator act on. Run it as a clone on the compute nodes (pacemaker-remote nodes included). \
A compute node that lost its storage network is a node whose VMs are dying, even if it still \
answers on the management network.

Checks, all bounded by the operation's timeout: (1) ICMP echo to every address in \
storage_server_address, IPv4 and IPv6, sent from inside the agent (no ping process is \
forked) and to all addresses in parallel; an address is unreachable when more than \
ping_loss_ratio of its ping_count echoes are lost, or none is answered. (2) Optionally a \
heartbeat file on a shared-storage mount (heartbeat_path): the node writes \
<heartbeat_path>/<node>.heartbeat (node name and time), flushes it to the server and reads it \
back. The file I/O runs in a child process, so a hung NFS or CephFS mount shows as failed \
instead of hanging the agent, and a child stuck on it is never joined by a second one.

Result: red when fewer than min_reachable addresses are reachable or the heartbeat failed; \
yellow when some addresses are unreachable but enough are left; green otherwise. Attributes: \
<name> (default umha-storage) holds multiplier x reachable addresses, and 0 when red, so \
'not_defined umha-storage or umha-storage lte 0' means exactly 'no storage here'; \
#health-<name> holds green/yellow/red when health=true, for node-health-strategy; \
<name>-detail holds one entry per address and the path for operators, e.g. \
'192.0.2.11=ok,192.0.2.12=lost 4/4,path=ok'; <name>-red-count holds the number of \
consecutive red checks while the node is red (1, 2, 3, ... up to 100, where it stops) and is \
deleted at the first check that is not red: umha's evacuator fences a node that stays red for \
storage_error_count checks (UMHA's error_count). Attributes are written through attrd_updater \
with dampening, only when their value changes (plus at start, at every probe and every \
republish_interval, in case the cluster lost them), and deleted at stop. The red count alone \
is written without dampening (it changes at every red check, so a dampening delay as long as \
the monitor interval would hold it back for the whole outage); a healthy node costs no write \
for it, a red one one write per check until the count stops.

The monitor returns success while the resource is started, whatever the storage state: \
the attributes carry the health, so a storage outage does not turn into resource failures. \
When the attributes cannot be written (the cluster's attribute manager is unreachable), the \
agent logs an error and retries at the next monitor instead of failing, because a failed \
monitor would restart it and stop would have to delete attributes through the same broken \
path.

Parameter names follow UMHA where they existed (storage_server_address, ping_count, \
ping_loss_ratio) and ocf:pacemaker:ping for the rest (name, multiplier, dampen); ping's \
host_list is storage_server_address, attempts is ping_count and timeout is ping_timeout. \
Unlike ping, host names are refused (no DNS in a monitor) and a loss ratio can be set. \
ICMP needs root (raw sockets) or a group inside net.ipv4.ping_group_range (ping sockets).",
    params: &[
        ParamSpec::list(
            "storage_server_address",
            "Storage addresses to ping",
            "IPv4 and IPv6 addresses of the storage servers (NFS servers, Ceph monitors, iSCSI \
portals) as seen on the storage network, separated by blanks or commas. Literal addresses \
only: host names are not resolved, so that a monitor never depends on DNS. An address \
listed twice counts once. UMHA's storage_server_address; ocf:pacemaker:ping's host_list.",
        )
        .required()
        .reloadable(),
        ParamSpec::integer(
            "ping_count",
            "Echoes per address",
            "How many ICMP echo requests each address gets per check. UMHA's ping_count; \
ocf:pacemaker:ping's attempts.",
        )
        .default("4")
        .range(1, 100)
        .reloadable(),
        ParamSpec::duration(
            "ping_interval",
            "Time between echoes",
            "Time between two echo requests to the same address (all addresses are sent to \
at the same time). From 10ms to 1min.",
        )
        .default("200ms")
        .reloadable(),
        ParamSpec::duration(
            "ping_timeout",
            "Reply timeout",
            "How long each echo waits for its reply before it counts as lost. A check takes at \
most (ping_count - 1) x ping_interval + ping_timeout; it must fit in the start and monitor \
timeouts. ocf:pacemaker:ping's timeout. From 50ms to 1min.",
        )
        .default("1s")
        .reloadable(),
        ParamSpec::string(
            "ping_loss_ratio",
            "Loss ratio for an address to count as down",
            "An address is unreachable when lost/ping_count is MORE than this ratio (UMHA's \
semantics: with 4 echoes and 0.5, 2 lost is still reachable, 3 lost is not), or when no \
echo at all was answered. A number from 0 to 1 or a percentage (50%). 0 means any loss makes \
the address unreachable; 1 means one reply is enough, as with ocf:pacemaker:ping.",
        )
        .default("0.5")
        .reloadable(),
        ParamSpec::string(
            "min_reachable",
            "Addresses needed for storage to count as up",
            "How many of the addresses must be reachable for the node not to be red: a number \
from 1 to the number of addresses, or 'all'. The default 1 declares storage lost only when \
no storage server answers (some unreachable ones make the node yellow). For a Ceph cluster, \
set it to the monitor quorum (e.g. 2 of 3); for a single NFS server with two paths, 1.",
        )
        .default("1")
        .reloadable(),
        ParamSpec::string(
            "name",
            "Attribute name",
            "Name of the score attribute; the health attribute is #health-<name>, the detail \
attribute <name>-detail and the red-check count <name>-red-count. Use a different name for \
each storage-monitor resource (and tell umha-evacuator through its storage_attribute). \
Letters, digits, '_', '-' and '.', starting with a letter.",
        )
        .default("umha-storage")
        .unique(),
        ParamSpec::integer(
            "multiplier",
            "Score per reachable address",
            "The score attribute is multiplier x reachable addresses (0 when the node is red), \
as with ocf:pacemaker:ping, so rules can also prefer better-connected nodes \
(score-attribute).",
        )
        .default("1000")
        .range(1, 1_000_000)
        .reloadable(),
        ParamSpec::duration(
            "dampen",
            "Dampening delay",
            "How long attrd waits for the value to settle before writing it to the CIB \
(attrd_updater --delay, whole seconds). A change is visible to location rules after at most \
the monitor interval plus this. 0 writes at once.",
        )
        .default("5s")
        .reloadable(),
        ParamSpec::boolean(
            "health",
            "Publish #health-<name>",
            "Also publish Pacemaker's node-health attribute #health-<name> = green, yellow or \
red, so that node-health-strategy (e.g. migrate-on-red) acts on storage loss. Off by default \
because it affects every resource on the node once a strategy is set.",
        )
        .default("false")
        .reloadable(),
        ParamSpec::boolean(
            "detail",
            "Publish <name>-detail",
            "Also publish the per-address detail attribute <name>-detail for operators, e.g. \
'192.0.2.11=ok,192.0.2.12=lost 4/4,path=hung' (crm_mon -A shows it). Other words: no-route, \
denied, no-socket, send-error, no-result; path=missing, unusable, error.",
        )
        .default("true")
        .reloadable(),
        ParamSpec::string(
            "heartbeat_path",
            "Heartbeat directory on shared storage",
            "An existing directory on the shared-storage mount (NFS, CephFS) to check, e.g. a \
subdirectory of the instances directory. With heartbeat_write, the node writes \
<node>.heartbeat there (node name and time), flushes it to the server and reads it back; \
umha-evacuator (heartbeat_dir) reads these files to report a node Pacemaker lost while it \
still writes its heartbeat as isolated, not dead. Use a subdirectory \
that exists only on the share: an unmounted share then shows as a missing directory instead \
of a write to the local disk. Empty (the default) disables the path check.",
        )
        .reloadable(),
        ParamSpec::boolean(
            "heartbeat_write",
            "Write a heartbeat file",
            "Write and read back this node's heartbeat file (the default), or, when false, only \
list the directory (for read-only shares). In write mode, a directory that refuses the \
write (read-only, permission denied) is a configuration error at start and validate-all.",
        )
        .default("true")
        .reloadable(),
        ParamSpec::duration(
            "heartbeat_timeout",
            "Heartbeat check timeout",
            "How long the path check may take before the path counts as hung, within the \
operation's timeout. A checker stuck in uninterruptible I/O is left behind (it cannot be \
killed) and no second one is started until it is gone. From 100ms to 10min.",
        )
        .default("10s")
        .reloadable(),
        ParamSpec::duration(
            "republish_interval",
            "Re-write attributes this often",
            "Attributes are written when their value changes, at start and at probes. They are \
also re-written this often even when unchanged, in case the cluster lost them (e.g. the \
cluster node's Pacemaker restarted while this node kept running). 0 disables it; otherwise \
at least 10s.",
        )
        .default("10min")
        .reloadable(),
    ],
    actions: &[
        ActionSpec::new(Action::Start, secs(20)),
        ActionSpec::new(Action::Stop, secs(20)),
        ActionSpec::new(Action::Monitor, secs(20))
            .interval(secs(10))
            .depth(0),
        ActionSpec::new(Action::Reload, secs(20)),
        ActionSpec::new(Action::MetaData, secs(5)),
        ActionSpec::new(Action::ValidateAll, secs(20)),
    ],
    examples: &[
        Example {
            title: "Clone on every compute node; nova-compute only where storage works",
            tool: Tool::Pcs,
            command: "pcs resource create storage ocf:umha:storage-monitor \\
    storage_server_address=\"192.0.2.11 192.0.2.12 2001:db8::11\" \\
    heartbeat_path=/var/lib/nova/instances/.umha-heartbeat \\
    op monitor interval=10s timeout=20s clone
pcs constraint location nova-compute-clone rule score=-INFINITY \\
    not_defined umha-storage or umha-storage lte 0",
        },
        Example {
            title: "The same",
            tool: Tool::Crm,
            command: "crm configure primitive storage ocf:umha:storage-monitor \\
    params storage_server_address=\"192.0.2.11 192.0.2.12 2001:db8::11\" \\
    op monitor interval=10s timeout=20s
crm configure clone storage-clone storage
crm configure location nova-needs-storage nova-compute-clone \\
    rule -inf: not_defined umha-storage or umha-storage lte 0",
        },
        Example {
            title: "UMHA's settings, and Pacemaker's node-health strategy",
            tool: Tool::Pcs,
            command: "pcs resource update storage ping_count=4 ping_loss_ratio=0.5 health=true
pcs property set node-health-strategy=migrate-on-red",
        },
        Example {
            title: "What a node sees",
            tool: Tool::Shell,
            command: "crm_mon -1 -A
attrd_updater -Q -n umha-storage-detail -N cmp2",
        },
    ],
    see_also: &["ocf_pacemaker_ping(7)", "attrd_updater(8)", "crm_mon(8)"],
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

    #[test]
    fn only_the_attribute_name_needs_a_restart() {
        for p in SPEC.params {
            assert_eq!(SPEC.advertised_unique(p), p.name == "name", "{}", p.name);
        }
    }
}
