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
#   - PostgreSQL (throwaway clusters with password auth, in the unit tier),
#   - Redis Sentinel (a primary, a replica, three sentinels) and a
#     three-primary Redis Cluster from Debian's packages, started by the
#     tests on free loopback ports (store/redisstore/redistest).
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
step "install: redis-server, redis-sentinel, redis-tools"
bash scripts/integration/install-redis-ha.sh
step "install: Argo CD v3.6.1 + redis-server (cached after the first build)"
bash scripts/argocd/build.sh
step "install: chromium"
bash scripts/integration/install-browser.sh

# internal/replicas runs only its integration tests here: its unit tests
# (several minutes of replicas and processes) already ran in make test.
pkgs=$(grep -rl '^//go:build integration' --include='*_test.go' . | grep -v '^./tools/' | xargs -n1 dirname | sort -u | sed 's|^\./|./|' | grep -v '^./internal/replicas$')
step "go test -tags integration $pkgs"
go test -tags integration -count=1 -timeout 30m $pkgs
replicas_its=$(grep -h '^func Test' $(grep -l '^//go:build integration' internal/replicas/*_test.go) | sed 's/^func \(Test[A-Za-z0-9_]*\).*/\1/' | paste -sd'|')
step "go test -tags integration -run '^($replicas_its)\$' ./internal/replicas/"
go test -tags integration -count=1 -timeout 15m -run "^($replicas_its)\$" ./internal/replicas/

step "helm chart tests (tools module)"
(cd tools/kube-apiserver && GOWORK=off go test -count=1 ./cmd/...)
step "done"
