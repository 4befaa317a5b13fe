package promtest

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/nexo-org/nexo-bot/integrations/loki/memserver"
)

// LokiBinEnv names the environment variable that points StartLoki at a
// Grafana Loki binary. Debian's "loki" package is an unrelated genetics
// program (MCMC linkage analysis), so there is no default path.
const LokiBinEnv = "NEXO_LOKI_BIN"

// StartLoki serves Loki's HTTP API on a random loopback port and returns
// its base URL; the server stops when the test ends. With NEXO_LOKI_BIN
// set it runs that Grafana Loki binary (single binary, filesystem storage
// in a temporary directory, auth_enabled false, TSDB schema v13, old
// samples accepted) and waits for /ready. Without it, it serves
// memserver, the in-memory implementation of the same API.
func StartLoki(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(LokiBinEnv); bin != "" {
		return startRealLoki(t, binary(t, LokiBinEnv, bin, "unset "+LokiBinEnv+" to use the in-memory Loki API"))
	}
	t.Logf("promtest: %s unset; serving Loki's HTTP API from memserver (in memory)", LokiBinEnv)
	srv := httptest.NewServer(memserver.New(memserver.Options{}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func startRealLoki(t testing.TB, bin string) string {
	dir := t.TempDir()
	httpPort, grpcPort := freePort(t), freePort(t)
	cfg := lokiConfig(dir, httpPort, grpcPort)
	writeFile(t, filepath.Join(dir, "loki.yaml"), cfg)
	s := start(t, dir, "loki", bin, "-config.file="+filepath.Join(dir, "loki.yaml"), "-target=all")
	base := "http://" + hostPort(httpPort)
	waitReady(t, s, base+"/ready")
	return base
}

// lokiConfig is a minimal single-binary Grafana Loki 3.x configuration.
func lokiConfig(dir string, httpPort, grpcPort int) string {
	return fmt.Sprintf(`auth_enabled: false
server:
  http_listen_address: 127.0.0.1
  http_listen_port: %d
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: %d
  log_level: warn
common:
  instance_addr: 127.0.0.1
  path_prefix: %[3]s
  replication_factor: 1
  storage:
    filesystem:
      chunks_directory: %[3]s/chunks
      rules_directory: %[3]s/rules
  ring:
    kvstore:
      store: inmemory
ingester:
  lifecycler:
    min_ready_duration: 0s
schema_config:
  configs:
    - from: 2020-10-24
      store: tsdb
      object_store: filesystem
      schema: v13
      index:
        prefix: index_
        period: 24h
limits_config:
  reject_old_samples: false
  allow_structured_metadata: false
analytics:
  reporting_enabled: false
`, httpPort, grpcPort, dir)
}
