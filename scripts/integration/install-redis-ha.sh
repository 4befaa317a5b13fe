#!/usr/bin/env bash
# Installs what the Redis high-availability tests need, from Debian's
# packages, idempotently, and prints the versions:
#
#   redis-server    the primary, the replica and the three cluster nodes
#   redis-sentinel  the three sentinels
#   redis-tools     redis-cli (`redis-cli --cluster create`)
#
# The tests themselves (store/redisstore/redistest) start every server on
# free loopback ports in a temporary directory and stop them afterwards;
# the packages' own services are never started (a policy-rc.d that denies
# starts is put in place for the install when none exists).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o DPkg::Lock::Timeout=300 -y -q --no-install-recommends)
PACKAGES=(redis-server redis-sentinel redis-tools)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${PACKAGES[@]}"; do
	installed "$p" || missing+=("$p")
done

if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "install-redis-ha: need root to install ${missing[*]}" >&2
		exit 1
	fi
	for p in "${missing[@]}"; do
		if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
			apt-get -o DPkg::Lock::Timeout=300 update -q
			break
		fi
	done
	policy=/usr/sbin/policy-rc.d
	made_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made_policy=1
	fi
	trap 'if [[ $made_policy == 1 ]]; then rm -f "$policy"; fi' EXIT
	apt-get install "${APT_OPTS[@]}" "${missing[@]}"
fi

echo "redis-server: $(redis-server --version)"
echo "redis-sentinel: $(redis-sentinel --version)"
echo "redis-cli: $(redis-cli --version)"
