#!/usr/bin/env bash
# Every umha test, from a fresh Debian 12 machine, as root.
#
#   bash tests/run-all.sh            # everything: install, lint, unit, static build, lab
#   UMHA_SKIP_LAB=1 bash tests/run-all.sh   # no cluster: lint, unit and static build only
#   UMHA_LAB_OPENSTACK=0 bash tests/run-all.sh   # the lab without its OpenStack cloud
#                                                # (no OpenStack packages; lab_nova skips)
#
# Steps run in order and stop at the first failure. The lab is torn down on
# exit whatever happens, and only what this script started is stopped.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

started=$(date +%s)
step() { printf '\n=== [%4ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }

# A build cache outside the checkout, when one can be had. Nothing depends on
# it: a missing or empty cache only means a longer build.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
    cache="${UMHA_CACHE_DIR:-/var/cache/umha}"
    if mkdir -p "$cache/target" 2>/dev/null && [ -w "$cache/target" ]; then
        export CARGO_TARGET_DIR="$cache/target"
    fi
fi
export CARGO_TERM_COLOR=never
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# The lab runs with the OpenStack lab joined (Keystone, Nova, ...; nova-compute
# as a clone on the compute nodes) unless UMHA_LAB_OPENSTACK=0. Exported: the
# Nova lab tests fail instead of skipping when it is missing.
export UMHA_LAB_OPENSTACK="${UMHA_LAB_OPENSTACK:-1}"
with_openstack=0
if [ "${UMHA_SKIP_LAB:-0}" != 1 ] && [ "$UMHA_LAB_OPENSTACK" = 1 ]; then
    with_openstack=1
fi

step "system packages (tests/lab/install.sh)"
bash tests/lab/install.sh
if [ "$with_openstack" = 1 ]; then
    step "OpenStack lab packages (tests/lab/openstack/install.sh; ~170 s fresh)"
    bash tests/lab/openstack/install.sh
fi

step "Rust toolchain"
if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust with rustup (https://rustup.rs), then run this again" >&2
    exit 1
fi
cargo --version
# rust-toolchain.toml pins the version; rustup installs it and the components on first use.
MUSL=x86_64-unknown-linux-musl
have_musl=0
if rustup target list --installed 2>/dev/null | grep -qx "$MUSL" \
    || timeout 300 rustup target add "$MUSL" >/dev/null 2>&1; then
    have_musl=1
else
    echo "note: the $MUSL target cannot be had here; the static build step is skipped"
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "unit and component tests"
cargo test --workspace --locked

step "man pages are current (man/generate.sh --check)"
bash man/generate.sh --check

step "fuzz smoke run: every ipmi-lan decoder, ${UMHA_FUZZ_SECONDS:-5}s each"
bash crates/ipmi-lan/fuzz/run.sh "${UMHA_FUZZ_SECONDS:-5}"

if [ "$have_musl" = 1 ]; then
    step "static release build ($MUSL)"
    cargo build --release --locked --target "$MUSL" --workspace --bins
    bad=0
    for bin in "$TARGET_DIR/$MUSL/release/"*; do
        [ -f "$bin" ] && [ -x "$bin" ] || continue
        if ! file "$bin" | grep -Eq 'static(-pie)? linked'; then
            echo "not static: $(file "$bin")"; bad=1
        fi
        # ldd runs the dynamic loader's view: nothing to load.
        if ldd "$bin" 2>&1 | grep -q '=>'; then
            echo "ldd finds shared libraries in $bin:"; ldd "$bin"; bad=1
        fi
        printf '  %-24s %8s bytes  static\n' "$(basename "$bin")" "$(stat -c %s "$bin")"
    done
    [ "$bad" = 0 ]
fi

if [ "${UMHA_SKIP_LAB:-0}" = 1 ]; then
    step "lab tests skipped (UMHA_SKIP_LAB=1)"
    exit 0
fi

if [ "$have_musl" = 1 ]; then
    # The lab runs what ships: the .deb of the static binaries, plus the
    # test-only agents beside it.
    step "the Debian package (packaging/build-deb.sh), installed with dpkg"
    deb=$(bash packaging/build-deb.sh)
    dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'
    dpkg -i "$deb"
    dpkg -L umha | grep -E '^/usr/(sbin|lib/ocf/resource.d/umha)/' | sed 's/^/  /'
    # Read whole before grep -q: under pipefail, grep leaving at the first
    # match can kill the writer with SIGPIPE and fail the check.
    fence_agents=$(stonith_admin --list-installed)
    for agent in fence_ipmi fence_maas; do
        grep -qx "$agent" <<<"$fence_agents" \
            || { echo "stonith_admin --list-installed does not show $agent"; exit 1; }
    done
    ocf_agents=$(crm ra list ocf umha)
    for agent in storage-monitor umha-evacuator; do
        grep -qw "$agent" <<<"$ocf_agents" \
            || { echo "crm ra list ocf umha does not show $agent"; exit 1; }
    done
    step "test-only agents (tests/lab/install-agents.sh --test-only)"
    bash tests/lab/install-agents.sh --test-only
else
    step "umha agents into /usr/sbin and /usr/lib/ocf (tests/lab/install-agents.sh)"
    bash tests/lab/install-agents.sh
fi

# down.sh tears down the OpenStack lab too when it was joined (or bound to
# the lab's bridge).
trap 'bash "$ROOT/tests/lab/down.sh" || true' EXIT
bash tests/lab/down.sh >/dev/null 2>&1 || true
if [ "$with_openstack" = 1 ]; then
    step "lab up with OpenStack (tests/lab/up.sh --with-openstack; ~85 s)"
    bash tests/lab/up.sh --with-openstack
else
    step "lab up (tests/lab/up.sh)"
    bash tests/lab/up.sh
fi

step "lab tests (serial)"
cargo test --locked -p umha-lab-tests -- --ignored --test-threads=1

if [ "$with_openstack" = 1 ]; then
    step "crm-snippets loaded into the lab, crm_verify -L clean (tests/lab/snippets.sh)"
    bash tests/lab/snippets.sh
    step "the README's demo on the lab (tests/lab/demo.sh, with the installed package)"
    UMHA_DEMO_INSTALLED=1 bash tests/lab/demo.sh --keep
fi

if [ "$with_openstack" = 1 ]; then
    # Controller failover needs a second full cluster node: the lab again,
    # with ctl2 in namespaces of its own.
    step "lab with two controllers (tests/lab/up.sh --controllers 2 --with-openstack)"
    bash tests/lab/down.sh
    UMHA_LAB_CONTROLLERS=2 bash tests/lab/up.sh --with-openstack
    step "controller failover test"
    UMHA_LAB_CONTROLLERS=2 cargo test --locked -p umha-lab-tests --test lab_failover -- --ignored --test-threads=1
fi

step "done in $(( $(date +%s) - started ))s"
