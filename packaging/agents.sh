#!/bin/bash
# What umha installs, and where it comes from: one line per binary,
#   package<TAB>kind<TAB>binary<TAB>ship
# kind: fence (stonith/*, to sbin), ocf (ocf-agents/*, to the umha OCF
# provider) or tool (umha and umha-alert, to sbin); ship: yes, or test for
# the agents and tools only the lab uses ([package.metadata.umha] test-only
# = true).
# A last line "target<TAB>DIR" gives cargo's target directory.
#
# Both `make install` (packaging/install.sh, and so the .deb) and the lab's
# tests/lab/install-agents.sh read this list, so what the lab tests and what
# ships cannot drift apart. A new crate under stonith/ or ocf-agents/ is
# picked up without editing anything.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
if ! command -v cargo >/dev/null 2>&1; then
	for dir in "$HOME/.cargo/bin" /root/.cargo/bin; do
		[ -x "$dir/cargo" ] && export PATH="$dir:$PATH" && break
	done
fi
cd "$ROOT"
cargo metadata --locked --format-version 1 --no-deps | python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
root = meta["workspace_root"]
for pkg in meta["packages"]:
    rel = os.path.relpath(os.path.dirname(pkg["manifest_path"]), root).split(os.sep)
    kind = {"stonith": "fence", "ocf-agents": "ocf"}.get(rel[0])
    umha = (pkg.get("metadata") or {}).get("umha") or {}
    ship = "test" if umha.get("test-only") else "yes"
    for t in pkg["targets"]:
        if "bin" not in t["kind"]:
            continue
        # The administrator tools among the crates (umha, umha-alert), and
        # the test-only tools of the lab (umha-maas-sim).
        if kind is None and (t["name"] in ("umha", "umha-alert") or ship == "test"):
            print(pkg["name"], "tool", t["name"], ship, sep="\t")
        elif kind is not None:
            print(pkg["name"], kind, t["name"], ship, sep="\t")
print("target", meta["target_directory"], sep="\t")
'
