#!/usr/bin/env bash
# Installs the observability servers of nexo's integration tier from
# Debian's packages, idempotently, and prints their versions.
#
#   prometheus  Debian package "prometheus" -> /usr/bin/prometheus
#   loki        NOT installed: Debian's "loki" package is an unrelated
#               genetics program (MCMC linkage analysis on pedigrees) and
#               Grafana Loki is not packaged. The tier serves Loki's HTTP API
#               from integrations/loki/memserver unless NEXO_LOKI_BIN points
#               at a Grafana Loki binary.
#
# The package's own service is never started: a policy-rc.d that denies
# starts is put in place for the install when none exists, and any daemon
# the postinst still started (user "prometheus") is stopped by pid.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o DPkg::Lock::Timeout=300 -y -q --no-install-recommends)
PACKAGES=(prometheus)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${PACKAGES[@]}"; do
	installed "$p" || missing+=("$p")
done

if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "install-observability: need root to install ${missing[*]}" >&2
		exit 1
	fi
	# apt-get update once, only when apt does not know a package yet.
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
	# A daemon the package may have started runs as user "prometheus";
	# the tier's own servers run as the test's user.
	for pid in $(pgrep -u prometheus -x prometheus 2>/dev/null || true); do
		echo "install-observability: stopping the package's prometheus daemon (pid $pid)"
		kill "$pid" 2>/dev/null || true
	done
fi

echo "prometheus: $(/usr/bin/prometheus --version 2>&1 | head -n1) at /usr/bin/prometheus"
if [[ -n ${NEXO_LOKI_BIN:-} ]]; then
	if [[ -x $NEXO_LOKI_BIN ]]; then
		echo "loki: $("$NEXO_LOKI_BIN" -version 2>&1 | head -n1) at $NEXO_LOKI_BIN"
	else
		echo "install-observability: NEXO_LOKI_BIN=$NEXO_LOKI_BIN is not an executable" >&2
		exit 1
	fi
else
	echo "loki: Grafana Loki is not packaged by Debian; the tier uses the in-memory Loki API (set NEXO_LOKI_BIN to run a real binary)"
fi
