#!/usr/bin/env python3
"""A settled CIB with N Pacemaker Remote compute nodes, for bench-idle.sh.

Built from a real capture (crates/cib/fixtures/healthy-cib.xml: ctl1 and
cmp1..cmp3, Pacemaker 2.1.5), not written from scratch: every per-node part
of cmp1 in it is copied N times with that node's ids, names, addresses and
call ids, and the cmp2/cmp3 parts are dropped. Per node that is the
ocf:pacemaker:remote connection primitive, its fence_ipmilan device and the
device's location rule, the history of both on ctl1 (start and recurring
monitor), and the remote node's node_state.

Added to what the capture has, because a production Instance-HA cluster has
them and they make the document (and its parse) as big as it is there:
- the lab's ocf:umha:storage-monitor clone and its location rule (as
  tests/lab/up.sh creates them), with each instance's start and monitor in
  the remote node's own lrm history, its transient attributes (score,
  #health-, -detail) in the node's transient_attributes, and the probe on
  ctl1;
- the evacuator's persistent per-node record (umha-evac-handled,
  umha-evac-state "done <fence>", umha-evac-status) on every K-th node, as
  a closed past incident leaves it: the step reads these, and they do not
  make it do anything. No node carries the marker (umha-evacuate).

Every remote node is online and nothing is failed, so the evacuator's
monitor is an idle step. Operation digests are copied, not recomputed: the
scheduler would plan restarts for the copies (crm_simulate shows them), which
neither crm_verify nor crm_mon nor the evacuator care about.

Usage: gen-cib.py [-n N] [--incident-every K] [--capture FILE] [-o OUT]
"""

import argparse
import copy
import hashlib
import os
import re
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURE = os.path.join(HERE, "..", "..", "crates", "cib", "fixtures", "healthy-cib.xml")

TEMPLATE_NODE = "cmp1"
TEMPLATE_SERVER = "169.254.77.11"
TEMPLATE_IPPORT = 9001
STORAGE_ADDRS = "169.254.78.1 169.254.78.2 fd75:6d68:6100:78::1"
STORAGE_DETAIL = "169.254.78.1=ok,169.254.78.2=ok,fd75:6d68:6100:78::1=ok,path=ok"
# When the capture's cluster started its resources.
EPOCH = 1795318553
# The fence time of the closed past incidents.
PAST_FENCE = EPOCH - 86400


def fail(message):
    sys.exit(f"gen-cib: {message}")


def one(parent, path, what):
    found = parent.find(path)
    if found is None:
        fail(f"the capture has no {what} ({path})")
    return found


def server(i):
    """cmp1..cmp3 keep the capture's 169.254.77.11..13."""
    return f"169.254.{77 + (i - 1) // 200}.{11 + (i - 1) % 200}"


class Calls:
    """ctl1's executor call ids and the transition keys of its operations:
    unique per operation, as in a real history."""

    def __init__(self):
        self.call = 1
        self.action = 1

    def next(self):
        self.call += 1
        self.action += 1
        return self.call, self.action


def retarget_op(op, calls):
    call, action = calls.next()
    op.set("call-id", str(call))
    key = op.get("transition-key", "")
    parts = key.split(":")
    if len(parts) == 4:
        parts[0] = str(action)
        key = ":".join(parts)
        op.set("transition-key", key)
        magic = op.get("transition-magic", "")
        if ";" in magic:
            op.set("transition-magic", magic.split(";", 1)[0] + ";" + key)


def instantiate(template, i, calls):
    """A copy of cmp1's `template` for node cmp<i>."""
    elem = copy.deepcopy(template)
    name = f"cmp{i}"
    for e in elem.iter():
        for k, v in list(e.attrib.items()):
            v = re.sub(TEMPLATE_NODE + r"(?!\d)", name, v)
            if k == "value" and v == TEMPLATE_SERVER:
                v = server(i)
            if k == "value" and e.get("name") == "ipport":
                v = str(TEMPLATE_IPPORT - 1 + i)
            e.set(k, v)
        if e.tag == "lrm_rsc_op":
            retarget_op(e, calls)
    return elem


def digest(text):
    return hashlib.md5(text.encode()).hexdigest()


def op_attrs(base, rsc, key, operation, interval_ms, rc, node, call, action, uuid):
    """An lrm_rsc_op shaped like the capture's (`base`: one of its ops)."""
    tkey = f"{action}:1:{7 if rc == 7 else 0}:{uuid}"
    attrs = dict(base.attrib)
    for drop in ("op-force-restart", "op-restart-digest", "op-secure-params", "op-secure-digest"):
        attrs.pop(drop, None)
    attrs.update(
        {
            "id": key,
            "operation_key": f"{rsc}_{operation}_{interval_ms}",
            "operation": operation,
            "transition-key": tkey,
            "transition-magic": f"0:{rc};{tkey}",
            "on_node": node,
            "call-id": str(call),
            "rc-code": str(rc),
            "interval": str(interval_ms),
            "exec-time": "12" if rc == 0 else "3",
            "op-digest": digest(f"{rsc}-{operation}-{interval_ms}"),
        }
    )
    return attrs


def storage_clone():
    clone = ET.Element("clone", {"id": "storage-monitor-clone"})
    prim = ET.SubElement(
        clone,
        "primitive",
        {"id": "storage-monitor", "class": "ocf", "provider": "umha", "type": "storage-monitor"},
    )
    ia = ET.SubElement(prim, "instance_attributes", {"id": "storage-monitor-ia"})
    for nid, name, value in [
        ("addresses", "storage_server_address", STORAGE_ADDRS),
        ("dampen", "dampen", "1s"),
        ("health", "health", "true"),
        ("heartbeat-path", "heartbeat_path", "/run/umha-share"),
        ("heartbeat-timeout", "heartbeat_timeout", "2s"),
    ]:
        ET.SubElement(ia, "nvpair", {"id": f"storage-monitor-{nid}", "name": name, "value": value})
    ops = ET.SubElement(prim, "operations")
    for nid, name, interval, timeout in [
        ("start", "start", "0s", "20s"),
        ("stop", "stop", "0s", "20s"),
        ("monitor-2s", "monitor", "2s", "10s"),
    ]:
        ET.SubElement(
            ops,
            "op",
            {"id": f"storage-monitor-{nid}", "name": name, "interval": interval, "timeout": timeout},
        )
    return clone


def storage_location():
    loc = ET.Element("rsc_location", {"id": "storage-monitor-on-remote-nodes", "rsc": "storage-monitor-clone"})
    rule = ET.SubElement(loc, "rule", {"id": "storage-monitor-on-remote-nodes-rule", "score": "-INFINITY"})
    ET.SubElement(
        rule,
        "expression",
        {
            "id": "storage-monitor-on-remote-nodes-expr",
            "attribute": "#kind",
            "operation": "ne",
            "value": "remote",
        },
    )
    return loc


def storage_lrm_resource(base_op, node, ops, uuid):
    """storage-monitor's history on `node`: (operation, interval, rc, call, action)..."""
    rsc = ET.Element(
        "lrm_resource", {"id": "storage-monitor", "type": "storage-monitor", "class": "ocf", "provider": "umha"}
    )
    for operation, interval, rc, call, action in ops:
        key = "storage-monitor_last_0" if interval == 0 else f"storage-monitor_{operation}_{interval}"
        ET.SubElement(
            rsc,
            "lrm_rsc_op",
            op_attrs(base_op, "storage-monitor", key, operation, interval, rc, node, call, action, uuid),
        )
    return rsc


def persistent_record(i):
    name = f"cmp{i}"
    fence = PAST_FENCE + i
    node = ET.Element("node", {"type": "remote", "id": name, "uname": name})
    ia = ET.SubElement(node, "instance_attributes", {"id": f"nodes-{name}"})
    for attr, value in [
        ("umha-evac-handled", str(fence)),
        ("umha-evac-state", f"done {fence}"),
        (
            "umha-evac-status",
            f"recovered: evacuated after the fence at {fence}; nova-compute on {name} enabled again",
        ),
    ]:
        ET.SubElement(ia, "nvpair", {"id": f"nodes-{name}-{attr}", "name": attr, "value": value})
    return node


def transient_attributes(i):
    name = f"cmp{i}"
    ta = ET.Element("transient_attributes", {"id": name})
    ia = ET.SubElement(ta, "instance_attributes", {"id": f"status-{name}"})
    for attr, value in [
        ("umha-storage", "3000"),
        ("#health-umha-storage", "green"),
        ("umha-storage-detail", STORAGE_DETAIL),
    ]:
        nid = f"status-{name}-" + attr.replace("#", ".")
        ET.SubElement(ia, "nvpair", {"id": nid, "name": attr, "value": value})
    return ta


def generate(capture, n, incident_every, storage):
    tree = ET.parse(capture)
    cib = tree.getroot()
    config = one(cib, "configuration", "configuration")
    resources = one(config, "resources", "resources section")
    constraints = one(config, "constraints", "constraints section")
    nodes = one(config, "nodes", "nodes section")
    status = one(cib, "status", "status section")
    dc = one(status, "node_state[@id='1']", "cluster node ctl1's node_state")
    lrm_resources = one(dc, "lrm/lrm_resources", "ctl1's lrm history")

    remote_names = [
        p.get("id")
        for p in resources.findall("primitive")
        if p.get("class") == "ocf" and p.get("provider") == "pacemaker" and p.get("type") == "remote"
    ]
    if TEMPLATE_NODE not in remote_names:
        fail(f"the capture has no remote node {TEMPLATE_NODE}")
    per_node = set(remote_names) | {f"fence-{r}" for r in remote_names}

    t_conn = one(resources, f"primitive[@id='{TEMPLATE_NODE}']", "cmp1's connection")
    t_fence = one(resources, f"primitive[@id='fence-{TEMPLATE_NODE}']", "cmp1's fence device")
    t_loc = one(constraints, f"rsc_location[@rsc='fence-{TEMPLATE_NODE}']", "cmp1's fence location")
    t_lrm_conn = one(lrm_resources, f"lrm_resource[@id='{TEMPLATE_NODE}']", "cmp1's connection history")
    t_lrm_fence = one(lrm_resources, f"lrm_resource[@id='fence-{TEMPLATE_NODE}']", "cmp1's device history")
    t_state = one(status, f"node_state[@id='{TEMPLATE_NODE}']", "cmp1's node_state")
    base_op = one(t_lrm_conn, "lrm_rsc_op", "an operation in cmp1's history")
    uuid = base_op.get("transition-key", "0:0:0:00000000-0000-0000-0000-000000000000").split(":")[-1]

    # Drop every per-node part of the capture (also those of cmp2, cmp3).
    for p in list(resources):
        if p.get("id") in per_node:
            resources.remove(p)
    for c in list(constraints):
        if c.get("rsc") in per_node:
            constraints.remove(c)
    for r in list(lrm_resources):
        if r.get("id") in per_node:
            lrm_resources.remove(r)
    for s in list(status):
        if s.get("id") in remote_names:
            status.remove(s)
    for nd in list(nodes):
        if nd.get("id") in remote_names:
            nodes.remove(nd)

    calls = Calls()
    for i in range(1, n + 1):
        resources.append(instantiate(t_conn, i, calls))
        resources.append(instantiate(t_fence, i, calls))
        constraints.append(instantiate(t_loc, i, calls))
        lrm_resources.append(instantiate(t_lrm_conn, i, calls))
        lrm_resources.append(instantiate(t_lrm_fence, i, calls))
        state = instantiate(t_state, i, calls)
        if storage:
            state.append(transient_attributes(i))
            lrm = ET.SubElement(state, "lrm", {"id": f"cmp{i}"})
            lrms = ET.SubElement(lrm, "lrm_resources")
            lrms.append(
                storage_lrm_resource(
                    base_op, f"cmp{i}", [("start", 0, 0, 2, 10 * i), ("monitor", 2000, 0, 3, 10 * i + 1)], uuid
                )
            )
        status.append(state)
        if incident_every and i % incident_every == 0:
            nodes.append(persistent_record(i))

    if storage:
        resources.append(storage_clone())
        constraints.append(storage_location())
        call, action = calls.next()
        # The probe on ctl1 (the location rule does not stop probes).
        lrm_resources.append(storage_lrm_resource(base_op, "ctl1", [("monitor", 0, 7, call, action)], uuid))

    cib.set("epoch", str(int(cib.get("epoch", "1")) + 1))
    cib.set("num_updates", "0")
    ET.indent(tree, space="  ")
    return tree


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--nodes", type=int, default=1000, help="remote nodes (default 1000)")
    ap.add_argument(
        "--incident-every",
        type=int,
        default=10,
        metavar="K",
        help="every K-th node carries a closed past incident's record (default 10; 0: none)",
    )
    ap.add_argument("--no-storage", action="store_true", help="leave the storage-monitor clone out")
    ap.add_argument("--capture", default=CAPTURE, help="the CIB capture to scale (default: healthy-cib.xml)")
    ap.add_argument("-o", "--output", default="-", help="output file (default: stdout)")
    args = ap.parse_args()
    if args.nodes < 1:
        fail("-n must be at least 1")
    tree = generate(args.capture, args.nodes, args.incident_every, not args.no_storage)
    if args.output == "-":
        tree.write(sys.stdout, encoding="unicode")
        sys.stdout.write("\n")
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            tree.write(f, encoding="unicode")
            f.write("\n")


if __name__ == "__main__":
    main()
