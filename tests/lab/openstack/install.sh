#!/bin/bash
# Install what the umha OpenStack lab needs on Debian 12 (idempotent; as root).
#
# Real Keystone, Placement, Glance, Neutron and Nova (Zed, Debian 12's
# packages) plus MariaDB and RabbitMQ. Deliberately NOT nova-compute (it pulls
# libvirt and qemu): compute hosts run nova.cmd.compute from python3-nova with
# the fake driver (see up.sh). About 330 packages, ~620 MB, ~80-100 s fresh;
# well under a second when everything is present.
#
# - debconf is preseeded so no package configures a database (dbconfig-common)
#   or registers Keystone endpoints;
# - a private apt archive dir (an apt hook on these images deletes downloaded
#   .debs after each dpkg run, which broke big installs), one `apt-get -f
#   install` retry;
# - /usr/sbin/policy-rc.d (exit 101) keeps package scripts from starting
#   daemons: created only if missing, removed only if created here.
set -euo pipefail

PACKAGES=(
	mariadb-server-core mariadb-client-core python3-pymysql
	rabbitmq-server
	keystone placement-api glance-api neutron-server
	python3-nova nova-api nova-conductor nova-scheduler
	uwsgi-core uwsgi-plugin-python3
	python3-openstackclient python3-novaclient
	curl jq iproute2 procps util-linux
)
APT_CACHE=/var/cache/umha-lab/apt
POLICY=/usr/sbin/policy-rc.d
APT_OPTS=(-o DPkg::Lock::Timeout=1200 -o "Dir::Cache::Archives=$APT_CACHE" -o Dpkg::Use-Pty=0)
# Free space wanted before a fresh install (MB): ~620 installed + archives.
NEED_MB=1500

log() { printf '[os-install %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root"

# Packages not (fully) installed, one per line. One dpkg-query for all: fast.
missing_packages() {
	local installed p
	installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package}\n' "${PACKAGES[@]}" 2>/dev/null |
		awk '$1 == "ii" {sub(/:.*/, "", $2); print $2}' || true)
	for p in "${PACKAGES[@]}"; do
		grep -qx -- "$p" <<<"$installed" || echo "$p"
	done
}

mapfile -t missing < <(missing_packages)
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

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
		printf '#!/bin/sh\n# umha OpenStack lab install.sh: no daemons started by package scripts\nexit 101\n' >"$POLICY"
		chmod 0755 "$POLICY"
		created_policy=1
	fi
}

check_disk() {
	local dir avail
	for dir in /usr /var/lib /var/cache; do
		avail=$(df -Pm "$dir" | awk 'NR == 2 {print $4}')
		if [ -n "$avail" ] && [ "$avail" -lt "$NEED_MB" ]; then
			die "only ${avail} MB free under $dir; the OpenStack lab needs about $NEED_MB MB"
		fi
	done
}

# Keep every package from configuring a database or registering endpoints.
# All of these default to false today; being explicit survives a changed default.
preseed() {
	local owner pkg
	{
		for q in configure_db create-admin-tenant register-endpoint dbconfig-install; do
			echo "keystone keystone/$q boolean false"
		done
		for pkg in glance neutron nova placement; do
			for q in configure_db configure_rabbit configure_ksat configure_api-endpoint dbconfig-install; do
				echo "$pkg-common $pkg/$q boolean false"
			done
		done
		echo "neutron-common neutron/configure_nova boolean false"
		echo "nova-common nova/configure_neutron boolean false"
		echo "nova-common nova/configure_placement boolean false"
		echo "nova-api novaapi/configure_db boolean false"
		echo "nova-api novaapi/dbconfig-install boolean false"
		for owner in glance-api:glance nova-api:nova placement-api:placement; do
			echo "${owner%%:*} ${owner#*:}/configure_api-endpoint boolean false"
		done
	} | debconf-set-selections
}

apt_update() {
	log "apt-get update"
	timeout 600 apt-get "${APT_OPTS[@]}" update
}

apt_install() {
	DEBIAN_FRONTEND=noninteractive timeout 1500 apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "$@"
}

t0=$(date +%s%N)
log "installing ${#missing[@]} packages (and their dependencies): ${missing[*]}"
check_disk
ensure_policy
preseed
mkdir -p "$APT_CACHE/partial"
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null)" ]; then
	apt_update
fi
if ! apt_install "${missing[@]}"; then
	log "install failed; apt-get update, then apt-get -f install and one retry"
	apt_update || true
	DEBIAN_FRONTEND=noninteractive timeout 1500 apt-get "${APT_OPTS[@]}" -f install -y --no-install-recommends || true
	apt_install "${missing[@]}"
fi
mapfile -t missing < <(missing_packages)
[ ${#missing[@]} -eq 0 ] || die "still missing after install: ${missing[*]}"
# The archives are only a download area; they are not kept.
rm -f "$APT_CACHE"/*.deb
/usr/bin/python3 -c 'import nova, keystone, neutron, glance, placement' ||
	die "/usr/bin/python3 cannot import the OpenStack services"
log "installed in $((($(date +%s%N) - t0) / 1000000)) ms"
