#!/bin/bash
# Install what the umha Pacemaker lab needs on Debian 12 (idempotent; as root).
#
# Packages: pacemaker pacemaker-cli-utils corosync crmsh pcs fence-agents
# resource-agents openipmi ipmitool libxml2-utils iproute2 procps util-linux file musl-tools (CI checks that binaries are static),
# python3-aiosmtpd and openssl (a real SMTP server with STARTTLS/TLS and AUTH for the mail alert tests).
# pacemaker-remote conflicts with pacemaker in Debian 12, so its one binary is
# extracted from its .deb to /usr/local/sbin/pacemaker-remoted (its libraries
# all come with pacemaker). Ensures /etc/pacemaker/authkey (root:haclient 0640).
# A second run, with everything present, takes well under a second.
set -euo pipefail

PACKAGES=(pacemaker pacemaker-cli-utils corosync crmsh pcs fence-agents resource-agents
	openipmi ipmitool libxml2-utils iproute2 procps util-linux file musl-tools
	python3-aiosmtpd openssl)
REMOTED=/usr/local/sbin/pacemaker-remoted
AUTHKEY=/etc/pacemaker/authkey
APT_CACHE=/var/cache/umha-lab/apt
POLICY=/usr/sbin/policy-rc.d
APT_OPTS=(-o DPkg::Lock::Timeout=1200 -o "Dir::Cache::Archives=$APT_CACHE" -o Dpkg::Use-Pty=0)

log() { printf '[install %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[ "$(id -u)" -eq 0 ] || {
	log "must run as root"
	exit 1
}

# Packages not (fully) installed, one per line.
missing_packages() {
	local p status
	for p in "${PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
		[ "${status:0:2}" = ii ] || echo "$p"
	done
}

# policy-rc.d keeps package scripts from starting daemons. Only ours is removed.
created_policy=''
cleanup() {
	if [ -n "$created_policy" ]; then
		rm -f "$POLICY"
	fi
	return 0
}
trap cleanup EXIT

ensure_policy() {
	if [ ! -e "$POLICY" ]; then
		printf '#!/bin/sh\n# umha lab install.sh: no daemons started by package scripts\nexit 101\n' >"$POLICY"
		chmod 0755 "$POLICY"
		created_policy=1
	fi
}

apt_update() {
	log "apt-get update"
	timeout 600 apt-get "${APT_OPTS[@]}" update
}

apt_install() {
	DEBIAN_FRONTEND=noninteractive timeout 1200 apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "$@"
}

install_packages() {
	local missing
	mapfile -t missing < <(missing_packages)
	[ ${#missing[@]} -gt 0 ] || return 0
	log "installing: ${missing[*]}"
	ensure_policy
	mkdir -p "$APT_CACHE/partial"
	# Only update the package lists if there are none or the install fails.
	if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null)" ]; then
		apt_update
	fi
	if ! apt_install "${missing[@]}"; then
		log "install failed; apt-get update, then apt-get -f install and one retry"
		apt_update || true
		DEBIAN_FRONTEND=noninteractive timeout 1200 apt-get "${APT_OPTS[@]}" -f install -y --no-install-recommends || true
		apt_install "${missing[@]}"
	fi
	mapfile -t missing < <(missing_packages)
	if [ ${#missing[@]} -gt 0 ]; then
		log "still missing after install: ${missing[*]}"
		exit 1
	fi
}

install_remoted() {
	[ -x "$REMOTED" ] && return 0
	local tmp deb
	log "extracting pacemaker-remoted from the pacemaker-remote .deb"
	tmp=$(mktemp -d)
	# apt-get download drops privileges to _apt, which must be able to write here
	chmod 0755 "$tmp"
	chown _apt "$tmp" 2>/dev/null || true
	if ! (cd "$tmp" && timeout 300 apt-get "${APT_OPTS[@]}" download pacemaker-remote); then
		apt_update
		(cd "$tmp" && timeout 300 apt-get "${APT_OPTS[@]}" download pacemaker-remote)
	fi
	deb=$(find "$tmp" -maxdepth 1 -name 'pacemaker-remote_*.deb' -print -quit)
	[ -n "$deb" ] || {
		log "pacemaker-remote .deb not downloaded"
		exit 1
	}
	dpkg-deb -x "$deb" "$tmp/root"
	install -D -m 0755 "$tmp/root/usr/sbin/pacemaker-remoted" "$REMOTED"
	rm -rf "$tmp"
	# Its libraries all come with pacemaker.
	if ldd "$REMOTED" | grep -q 'not found'; then
		log "$REMOTED has missing libraries:"
		ldd "$REMOTED" | grep 'not found' >&2
		exit 1
	fi
}

ensure_authkey() {
	if [ ! -s "$AUTHKEY" ]; then
		log "creating $AUTHKEY"
		mkdir -p "$(dirname "$AUTHKEY")"
		(umask 077 && dd if=/dev/urandom of="$AUTHKEY" bs=4096 count=1 status=none)
	fi
	chown root:haclient "$AUTHKEY"
	chmod 0640 "$AUTHKEY"
}

install_packages
install_remoted
ensure_authkey
