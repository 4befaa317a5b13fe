#!/usr/bin/env bash
# Builds a real kube-apiserver (k8s.io/kubernetes v1.37.2, from the Go module
# proxy) and helm-template (renders deploy/helm/nexo-bot with Helm's library)
# into tools/kube-apiserver/bin/ and installs etcd from Debian, for the
# integration tier of integrations/kube. Idempotent: does nothing that is
# already done. A cold build takes about 9 minutes on 2 cores; with a warm Go
# build cache it takes seconds.
#
# Usage: scripts/kube/build-apiserver.sh
# Env:   KUBE_APISERVER_BIN  where the binary goes (default tools/kube-apiserver/bin/kube-apiserver)
#        HELM_TEMPLATE_BIN   likewise (default tools/kube-apiserver/bin/helm-template)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mod="$root/tools/kube-apiserver"
bin="${KUBE_APISERVER_BIN:-$mod/bin/kube-apiserver}"
helm_bin="${HELM_TEMPLATE_BIN:-$mod/bin/helm-template}"

log() { printf 'build-apiserver: %s\n' "$*" >&2; }

# etcd: Debian's etcd-server. The package starts a system service on the
# default ports; the tests run their own etcd, so stop it.
if ! command -v etcd >/dev/null 2>&1; then
	log "installing etcd-server"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y --no-install-recommends etcd-server >/dev/null; then
		apt-get update >/dev/null
		apt-get install -y --no-install-recommends etcd-server >/dev/null
	fi
	if command -v systemctl >/dev/null 2>&1; then
		systemctl stop etcd >/dev/null 2>&1 || true
		systemctl disable etcd >/dev/null 2>&1 || true
	fi
	if command -v service >/dev/null 2>&1; then
		service etcd stop >/dev/null 2>&1 || true
	fi
fi
log "etcd: $(command -v etcd)"

if [[ ! -x "$helm_bin" ]]; then
	log "building helm-template into $helm_bin"
	mkdir -p "$(dirname "$helm_bin")"
	(cd "$mod" && GOWORK=off go build -trimpath -o "$helm_bin.tmp" ./cmd/helm-template)
	mv "$helm_bin.tmp" "$helm_bin"
fi

if [[ -x "$bin" ]] && "$bin" --version >/dev/null 2>&1; then
	log "kube-apiserver present: $bin ($("$bin" --version))"
	exit 0
fi

log "building kube-apiserver into $bin (cold: ~9 min)"
start=$(date +%s)
mkdir -p "$(dirname "$bin")"
(
	cd "$mod"
	GOWORK=off go build -trimpath -o "$bin.tmp" k8s.io/kubernetes/cmd/kube-apiserver
)
mv "$bin.tmp" "$bin"
log "built $("$bin" --version) in $(($(date +%s) - start))s"
