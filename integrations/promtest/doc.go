// Package promtest runs observability servers for nexo's integration tier:
// a real Prometheus (Debian's prometheus package, /usr/bin/prometheus),
// Loki's HTTP API (a real Grafana Loki binary when NEXO_LOKI_BIN names
// one, otherwise the in-memory memserver, since Debian has no Grafana Loki
// package), and ErrorExporter, an HTTP service whose request and error
// rates a test controls. Install the servers with
// scripts/integration/install-observability.sh.
package promtest
