#!/bin/bash
# Capture real Pacemaker output from the lab as fixtures for the cib crate.
#
#   tests/lab/capture-fixtures.sh [--no-restart] [--out DIR]
#
# By default the lab is (re)started fresh first, so the "healthy" fixtures have
# an empty fence history; --no-restart uses the running lab as it is. The lab
# is left as found: torn down at the end if it was down, else left up.
# Output: DIR (default crates/cib/fixtures) gets NAME.xml plus NAME.cmd (the
# scenario and the exact commands that made it) for each fixture:
#   healthy-*          fresh lab, 3 remote nodes online
#   fenced-off-*       cmp1 held off after `stonith_admin --fence cmp1`
#   recovered-*        cmp1 powered on again and back online
#   fence-failed-*     a fence of cmp3 that failed (BMC with another password)
#   fence-pending-*    a fence of cmp3 still in progress (its BMC not running)
#   fence-timeout-*    that fence of cmp3 timed out
#   attributes-*       persistent and transient node attributes set
#   quorum-lost-*      corosync expected_votes raised to 2: no quorum
# where * is cib (cibadmin --query), crm_mon (crm_mon --output-as=xml) and
# fence-history (stonith_admin --history '*' --verbose --output-as=xml).
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

out=$(cd "$LAB_DIR/../.." && pwd)/crates/cib/fixtures
restart=1
while [ $# -gt 0 ]; do
	case $1 in
	--no-restart) restart='' ;;
	--out)
		out=$2
		shift
		;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) lab_die "unknown argument: $1" ;;
	esac
	shift
done

lab_require_root
was_up=''
lab_is_up && was_up=1
if [ -n "$restart" ]; then
	"$LAB_DIR/up.sh" --restart
elif [ -z "$was_up" ]; then
	"$LAB_DIR/up.sh"
fi
finish() {
	local rc=$?
	# Undo what a failed run may have left half-done.
	"$LAB_DIR/power" cmp1 release 2>/dev/null || true
	if lab_is_up && grep -q 'expected_votes: 2' "$LAB_STATE/corosync.conf" 2>/dev/null; then
		sed -i 's/expected_votes: 2/expected_votes: 1/' "$LAB_STATE/corosync.conf"
		corosync-cfgtool -R >/dev/null || true
	fi
	if lab_is_up && ! lab_pidfile_alive "$(lab_node_dir cmp3)/bmc/ipmi_sim.pid"; then
		lab_bmc_start cmp3
	fi
	if [ -z "$was_up" ]; then
		"$LAB_DIR/down.sh"
	fi
	exit "$rc"
}
trap finish EXIT

mkdir -p "$out"
lab_log "writing fixtures to $out"
pcmk_version=$(pacemakerd --version | head -n 1)

# Steps of the current scenario, recorded for the .cmd files.
steps=()
scenario=''
done_scenarios=()
current=''
# begin NAME TEXT: start the next scenario.
begin() {
	if [ -n "$current" ]; then done_scenarios+=("$current"); fi
	current=$1
	scenario=$2
	steps=()
}
# step CMD...: run CMD and record it.
step() {
	local line
	line=$(printf '%q ' "$@")
	line=${line% }
	line=${line//$LAB_DIR/tests\/lab}
	steps+=("$line")
	"$@"
}
# note TEXT: record a comment (a wait, an expectation).
note() { steps+=("# $*"); }

# capture NAME CMD...: run CMD, write its output to NAME.xml and NAME.cmd.
capture() {
	local name=$1 xml cmdline
	shift
	cmdline=$(printf '%q ' "$@")
	xml=$("$@")
	printf '%s\n' "$xml" >"$out/$name.xml"
	xmllint --noout "$out/$name.xml" || lab_die "$name.xml is not well-formed"
	{
		printf '# Scenario: %s\n' "$scenario"
		printf '# Captured %s on the umha lab (tests/lab/up.sh: ctl1 + cmp1..cmp%s, %s)\n' \
			"$(date -u '+%F %T UTC')" "$LAB_NODES" "$pcmk_version"
		printf '# Made by tests/lab/capture-fixtures.sh on a lab freshly brought up; earlier scenarios of that run: %s\n' \
			"${done_scenarios[*]:-none}"
		printf '# Steps of this scenario:\n'
		if [ ${#steps[@]} -gt 0 ]; then printf '%s\n' "${steps[@]}"; fi
		printf '# Capture:\n%s> %s.xml\n' "$cmdline" "$name"
	} >"$out/$name.cmd"
	lab_log "captured $name.xml ($(wc -c <"$out/$name.xml") bytes)"
}

capture_all() {
	local prefix=$1
	capture "$prefix-cib" cibadmin --query
	capture "$prefix-crm_mon" crm_mon --output-as=xml
	capture "$prefix-fence-history" stonith_admin --history '*' --verbose --output-as=xml
}

node_state_attr() {
	cibadmin --query --xpath "//node_state[@id='$1']" 2>/dev/null |
		lab_xpath "string(//node_state/@$2)"
}

cmp1_fenced_off() {
	[ "$(node_state_attr cmp1 in_ccm)" = false ] &&
		[ -n "$(node_state_attr cmp1 node_fenced)" ] &&
		[ "$(node_state_attr cmp1 node_fenced)" != 0 ] &&
		! lab_node_remoted_pid cmp1
}

no_pending_fencing() {
	! stonith_admin --history '*' --verbose --output-as=xml 2>/dev/null | grep -q 'status="pending"'
}

fencing_pending() { ! no_pending_fencing; }

have_quorum() { [ "$(cibadmin --query --xpath /cib 2>/dev/null | lab_xpath 'string(/cib/@have-quorum)')" = "$1" ]; }

transient_attr_set() {
	cibadmin --query --xpath "//node_state[@id='cmp3']/transient_attributes" 2>/dev/null | grep -q 'name="umha-test-t"'
}

# ---- (a) healthy --------------------------------------------------------------
begin healthy "healthy lab: ctl1 (cluster node, DC) and cmp1..cmp$LAB_NODES (remote nodes) online, one $LAB_FENCE_AGENT device per remote node, no fencing yet"
note "tests/lab/up.sh --restart"
lab_wait_healthy 60
capture_all healthy

# ---- (b) cmp1 fenced off, held off ------------------------------------------------
begin fenced-off "cmp1 fenced with stonith_admin --fence (off) and kept down: the controller also saw the connection drop and follows with its own reboot, which powers cmp1 on again, but cmp1's boot is held (power hold: powered, no pacemaker-remoted), so it stays offline; node_state in_ccm=false, node_fenced=<epoch>"
step "$LAB_DIR/power" cmp1 hold
step timeout 90 stonith_admin --fence cmp1 --timeout 60
note "waited: cmp1 node_state in_ccm=false and node_fenced set, no fencing pending, cluster settled"
lab_wait 60 "cmp1 fenced and off" cmp1_fenced_off
# The controller's own reboot request may come a moment after the off.
lab_settled || true
lab_wait 60 "no fencing pending" no_pending_fencing
lab_settled || true
lab_wait 60 "no fencing pending" no_pending_fencing
capture_all fenced-off

# ---- (c) cmp1 back -----------------------------------------------------------------
begin recovered "cmp1 back after being fenced off: its boot released (pacemaker-remoted starts), reconnected, cluster settled"
step "$LAB_DIR/power" cmp1 release
note "waited: all remote nodes online, crm_resource --wait"
lab_wait_healthy 60
capture_all recovered

# ---- (d) failed fencing -------------------------------------------------------------
begin fence-failed "a failed fence: cmp3's BMC restarted with a password that does not match the stonith device fence-cmp3, then stonith_admin --fence cmp3 (fails, cmp3 stays up)"
note "cmp3's BMC (ipmi_sim) restarted with password 'wrong-pw' (lab_bmc_stop cmp3; lab_bmc_start cmp3 wrong-pw)"
lab_bmc_stop cmp3
lab_bmc_start cmp3 wrong-pw
sleep 0.5
step timeout 90 stonith_admin --fence cmp3 --timeout 20 || true
note "expected: stonith_admin fails"
lab_wait 30 "no fencing pending" no_pending_fencing
capture "fence-failed-fence-history" stonith_admin --history '*' --verbose --output-as=xml
capture "fence-failed-crm_mon" crm_mon --output-as=xml

begin fence-pending "a fence in progress: cmp3's BMC not running (nothing listens on 127.0.0.1:9003), stonith_admin --fence cmp3 --timeout 10 started in the background and captured while pending; history also holds the earlier failed fence (wrong password)"
note "cmp3's BMC (ipmi_sim) stopped (lab_bmc_stop cmp3)"
lab_bmc_stop cmp3
steps+=("timeout 90 stonith_admin --fence cmp3 --timeout 10 &")
timeout 90 stonith_admin --fence cmp3 --timeout 10 >/dev/null 2>&1 &
fence_pid=$!
note "waited: a pending fence event in the history"
lab_wait 10 "a pending fence event" fencing_pending
capture "fence-pending-fence-history" stonith_admin --history '*' --verbose --output-as=xml
capture "fence-pending-crm_mon" crm_mon --output-as=xml

begin fence-timeout "a fence that timed out: cmp3's BMC not running (nothing listens on 127.0.0.1:9003), stonith_admin --fence cmp3 --timeout 10 fails after 10 s (cmp3 stays up); history also holds the earlier failed fence (wrong password)"
note "cmp3's BMC (ipmi_sim) stopped (lab_bmc_stop cmp3)"
steps+=("timeout 90 stonith_admin --fence cmp3 --timeout 10")
wait "$fence_pid" || true
note "expected: stonith_admin fails (Fence agent did not complete within 10s)"
lab_wait 60 "no fencing pending" no_pending_fencing
capture "fence-timeout-fence-history" stonith_admin --history '*' --verbose --output-as=xml
lab_bmc_start cmp3
lab_wait 10 "BMC of cmp3 answering" lab_bmc_ready cmp3
crm_resource --cleanup --resource fence-cmp3 >/dev/null 2>&1 || true
lab_wait_healthy 60

# ---- (e) node attributes ------------------------------------------------------------
begin attributes "node attributes: a persistent one on cmp2 (nodes section) and a transient one on cmp3 (status section, transient_attributes)"
step crm_attribute -N cmp2 -n umha-test -v 42 -l forever
step attrd_updater -N cmp3 -n umha-test-t -U 7
note "waited: umha-test-t written to cmp3's transient_attributes"
lab_wait 20 "transient attribute in the CIB" transient_attr_set
capture attributes-cib cibadmin --query
capture attributes-crm_mon crm_mon --output-as=xml
crm_attribute -N cmp2 -n umha-test -D -l forever >/dev/null 2>&1 || true
attrd_updater -N cmp3 -n umha-test-t -D >/dev/null 2>&1 || true

# ---- (f) quorum lost --------------------------------------------------------------------
begin quorum-lost "quorum lost: corosync expected_votes raised to 2 with one vote present (corosync-quorumtool -e refuses that, a config reload does it); no-quorum-policy=stop stops every resource, so the remote nodes go offline"
step sed -i 's/expected_votes: 1/expected_votes: 2/' "$LAB_STATE/corosync.conf"
step corosync-cfgtool -R
note "waited: cib have-quorum=0, cluster settled"
lab_wait 30 "quorum lost in the CIB" have_quorum 0
lab_settled || true
capture quorum-lost-cib cibadmin --query
capture quorum-lost-crm_mon crm_mon --output-as=xml
sed -i 's/expected_votes: 2/expected_votes: 1/' "$LAB_STATE/corosync.conf"
corosync-cfgtool -R >/dev/null
lab_wait 30 "quorum back in the CIB" have_quorum 1
lab_wait_healthy 60

lab_log "fixtures written to $out"
