#!/usr/bin/env bash
# Runs the observability part of the integration tier: installs the
# servers (idempotent), then the tests tagged "integration" of the
# Prometheus and Loki clients and their helpers.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/integration/install-observability.sh
go test -tags integration -count=1 -timeout 5m ./integrations/prom/... ./integrations/loki/... ./integrations/promtest/...
