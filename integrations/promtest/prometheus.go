package promtest

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PrometheusBin is the server binary of Debian's prometheus package;
// the PROMETHEUS_BIN environment variable overrides it.
const PrometheusBin = "/usr/bin/prometheus"

// StartPrometheus runs a real Prometheus on a random loopback port that
// scrapes targets (host:port or http://host:port/path URLs) every
// scrapeInterval (1s when zero), with its TSDB in a temporary directory.
// It returns the base URL once /-/ready answers, and stops the server when
// the test ends.
func StartPrometheus(t testing.TB, scrapeTargets []string, scrapeInterval time.Duration) string {
	t.Helper()
	bin := binary(t, "PROMETHEUS_BIN", PrometheusBin, "run scripts/integration/install-observability.sh")
	if scrapeInterval <= 0 {
		scrapeInterval = time.Second
	}
	cfg, err := prometheusConfig(scrapeTargets, scrapeInterval)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "prometheus.yml"), cfg)
	port := freePort(t)
	s := start(t, dir, "prometheus", bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+hostPort(port),
		"--log.level=warn",
	)
	base := "http://" + hostPort(port)
	waitReady(t, s, base+"/-/ready")
	return base
}

// prometheusConfig is prometheus.yml with one job per metrics path.
func prometheusConfig(targets []string, interval time.Duration) (string, error) {
	if len(targets) == 0 {
		return "", errorf("StartPrometheus needs at least one scrape target")
	}
	type job struct {
		path    string
		scheme  string
		targets []string
	}
	var jobs []*job
	byKey := map[string]*job{}
	for _, raw := range targets {
		scheme, host, path := "http", raw, "/metrics"
		if strings.Contains(raw, "://") {
			u, err := url.Parse(raw)
			if err != nil || u.Host == "" {
				return "", errorf("bad scrape target %q", raw)
			}
			scheme, host = u.Scheme, u.Host
			if u.Path != "" && u.Path != "/" {
				path = u.Path
			}
		}
		if strings.ContainsAny(host, " '\"\n") || host == "" {
			return "", errorf("bad scrape target %q", raw)
		}
		key := scheme + " " + path
		j := byKey[key]
		if j == nil {
			j = &job{path: path, scheme: scheme}
			byKey[key] = j
			jobs = append(jobs, j)
		}
		j.targets = append(j.targets, host)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n", promDuration(interval), promDuration(interval), promDuration(interval))
	b.WriteString("scrape_configs:\n")
	for i, j := range jobs {
		fmt.Fprintf(&b, "  - job_name: nexo-test-%d\n    scheme: %s\n    metrics_path: %q\n    honor_labels: true\n    static_configs:\n      - targets: [", i, j.scheme, j.path)
		for k, h := range j.targets {
			if k > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", h)
		}
		b.WriteString("]\n")
	}
	return b.String(), nil
}

// promDuration writes d in Prometheus' duration syntax (whole ms).
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}
