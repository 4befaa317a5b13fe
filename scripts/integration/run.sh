#!/usr/bin/env bash
# make test-integration: the tier that runs against real servers.
#   - Prometheus from Debian's packages (scraping a test exporter),
#   - Loki's HTTP API (Grafana Loki has no Debian package and is AGPL:
#     an in-memory server speaking its API stands in; see docs/testing.md),
#   - a real kube-apiserver v1.37.2 with etcd (built once, cached),
#   - a real Argo CD v3.6.1 (API server, application controller, repo
#     server; built once, cached) with redis-server, deploying to it,
#   - the Helm chart rendered and applied with RBAC impersonation,
#   - headless Chromium driving the sandbox console,
#   - PostgreSQL (throwaway clusters with password auth, in the unit tier).
# Every step installs what it needs; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"
start=$(date +%s)
step() { echo "== $* ($(( $(date +%s) - start ))s)"; }

step "install: prometheus"
bash scripts/integration/install-observability.sh
step "install: etcd + kube-apiserver (cached after the first build)"
bash scripts/kube/build-apiserver.sh
step "install: Argo CD v3.6.1 + redis-server (cached after the first build)"
bash scripts/argocd/build.sh
step "install: chromium"
bash scripts/integration/install-browser.sh

pkgs=$(grep -rl '^//go:build integration' --include='*_test.go' . | grep -v '^./tools/' | xargs -n1 dirname | sort -u | sed 's|^\./|./|')
step "go test -tags integration $pkgs"
go test -tags integration -count=1 -timeout 30m $pkgs

step "helm chart tests (tools module)"
(cd tools/kube-apiserver && GOWORK=off go test -count=1 ./cmd/...)
step "done"
