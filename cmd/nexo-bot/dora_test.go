package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
	"github.com/nexo-org/nexo-bot/store/boltstore"
)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func timePtr(t time.Time) *time.Time { return &t }

// doraConfig writes a config whose GitOps remote is the playbook's seeded
// history and whose bolt store holds nexo's record of the 2026.02.10
// production promotion of nexo-be (3 hours commit → prod) and an incident
// after it (25 minutes to restore).
func doraConfig(t *testing.T, withRecords bool) (cfgPath, dbPath string) {
	t.Helper()
	remote := gitopstest.SeedPlaybook(t)
	dir := t.TempDir()
	dbPath = filepath.Join(dir, "nexo.db")
	cfgPath = filepath.Join(dir, "nexo.yaml")
	cfg := fmt.Sprintf("store: {backend: bolt, path: %q}\ngitops: {repo_url: %q, workdir: %q}\nservices:\n  - {name: nexo-be}\n  - {name: nexo-fe}\n",
		dbPath, remote.URL, filepath.Join(dir, "gitops"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if !withRecords {
		return cfgPath, dbPath
	}
	st, err := boltstore.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	dep := records.Deployment{ID: "promote-20260212-be", Service: "nexo-be", Env: "production", Tag: "2026.02.10", Previous: "2026.02.03",
		Kind: records.KindPromote, Result: records.ResultSuccess, RequestedAt: mustTime("2026-02-12T14:00:00Z"),
		MergedAt: timePtr(mustTime("2026-02-12T15:00:00Z")), HealthyAt: timePtr(mustTime("2026-02-12T15:05:00Z")),
		FirstCommitAt: timePtr(mustTime("2026-02-12T12:05:00Z"))}
	inc := records.Incident{ID: "inc-20260212-errors", Service: "nexo-be", Env: "production", Status: records.StatusResolved,
		DeclaredAt: mustTime("2026-02-12T16:00:00Z"), ResolvedAt: timePtr(mustTime("2026-02-12T16:25:00Z"))}
	if err := st.PutDoc(ctx, records.DeploymentsCollection, dep.ID, dep); err != nil {
		t.Fatal(err)
	}
	if err := st.PutDoc(ctx, records.IncidentsCollection, inc.ID, inc); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dbPath
}

func runDora(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, append([]string{"dora"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestDoraTerminalFormats(t *testing.T) {
	cfg, _ := doraConfig(t, true)
	period := []string{"--since", "2026-01-15", "--until", "2026-02-20", "--config", cfg}

	// Flags after the words, the env by its alias.
	code, out, errs := runDora(t, append([]string{"nexo-be", "prod"}, period...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 12 || lines[1] != "DORA Metrics - nexo-be production (2026-01-15 → 2026-02-19)" {
		t.Fatalf("text:\n%s", out)
	}
	for _, want := range [][]string{
		{"Deployment Frequency:", "3.3 deploys/month", "✅ High"},
		{"Lead Time for Changes:", "3.0 hours", "✅ Elite"},
		{"Time to Restore Service:", "25 minutes", "✅ Elite"},
		{"Change Failure Rate:", "25.0%", "⚠️ Low"},
		{"Overall Performance:", "✅ HIGH PERFORMER"},
		{"4 deployments on 4 days · 1 failed (0 superseded, 0 rolled back, 0 hotfixed, 1 with incidents) · bands 2023"},
		{"1. 2026.02.10  (commit → prod: 3.0 hours)"},
	} {
		found := false
		for _, l := range lines {
			all := true
			for _, w := range want {
				all = all && strings.Contains(l, w)
			}
			found = found || all
		}
		if !found {
			t.Errorf("no line with %q in:\n%s", want, out)
		}
	}

	// JSON parses and carries the same figures.
	pngPath := filepath.Join(t.TempDir(), "chart.png")
	code, out, errs = runDora(t, append([]string{"nexo-be", "--format", "json", "--png", pngPath}, period...)...)
	if code != 0 {
		t.Fatalf("json exit %d: %s", code, errs)
	}
	var j struct {
		Service   string `json:"service"`
		Env       string `json:"env"`
		Overall   string `json:"overall"`
		Frequency struct {
			Deployments int    `json:"deployments"`
			Band        string `json:"band"`
		} `json:"deployment_frequency"`
		Restore struct {
			MedianSeconds float64 `json:"median_seconds"`
		} `json:"time_to_restore"`
		Failure struct {
			Failed int     `json:"failed"`
			Rate   float64 `json:"rate"`
		} `json:"change_failure_rate"`
		Weeks []json.RawMessage `json:"weeks"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if j.Service != "nexo-be" || j.Env != "production" || j.Overall != "high" || j.Frequency.Deployments != 4 || j.Frequency.Band != "high" ||
		j.Restore.MedianSeconds != 1500 || j.Failure.Failed != 1 || j.Failure.Rate != 0.25 || len(j.Weeks) != 6 {
		t.Fatalf("json figures: %+v\n%s", j, out)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("--png: %v", err)
	}

	// CSV: a header and one row per metric.
	code, out, errs = runDora(t, append([]string{"all", "--format=csv"}, period...)...)
	if code != 0 {
		t.Fatalf("csv exit %d: %s", code, errs)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, out)
	}
	if len(rows) != 7 || strings.Join(rows[0], ",") != "service,env,since,until,metric,value,unit,band,samples" {
		t.Fatalf("csv rows:\n%s", out)
	}
	byMetric := map[string][]string{}
	for _, r := range rows[1:] {
		byMetric[r[4]] = r
	}
	// All services: nexo-fe's 4 deployments join nexo-be's, 1 failed of 8.
	if r := byMetric["change_failure_rate"]; r == nil || r[0] != "all" || r[5] != "12.50" || r[7] != "Medium" || r[8] != "8" {
		t.Fatalf("csv change_failure_rate: %q\n%s", r, out)
	}
}

func TestDoraTerminalWithoutStoreFile(t *testing.T) {
	cfg, db := doraConfig(t, false)
	code, out, errs := runDora(t, "nexo-fe", "--since", "2026-01-15", "--until", "2026-02-20", "--config", cfg)
	if code != 0 || !strings.Contains(errs, "no store at") || !strings.Contains(out, "4 deployments on 4 days · 0 failed") || !strings.Contains(out, "no incidents") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("the report created the store file: %v", err)
	}
}

func TestDoraTerminalBadInput(t *testing.T) {
	cfg, _ := doraConfig(t, false)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"nexo-be", "--nope", "--config", cfg}, 2, "flag provided but not defined: -nope"},
		{[]string{"--config", cfg}, 2, "usage: nexo-bot dora"},
		{[]string{"nexo-be", "production", "extra", "--config", cfg}, 2, "usage: nexo-bot dora"},
		{[]string{"nexo-be", "--format", "xml", "--config", cfg}, 2, "--format must be text, json or csv"},
		{[]string{"nexo-be", "--since", "2026-02-30", "--config", cfg}, 2, "--since 2026-02-30 is not a date"},
		{[]string{"nexo-be", "--since", "2026-02-01", "--until", "2026-01-01", "--config", cfg}, 2, "The period is empty"},
		{[]string{"nexo-be", "--since", "2023-01-01", "--until", "2026-01-02", "--config", cfg}, 2, "longer than 2 years"},
		{[]string{"nexo-bee", "--config", cfg}, 2, "Unknown service nexo-bee. Did you mean nexo-be?"},
		{[]string{"nexo-be", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, 1, "copy docs/examples/nexo.yaml"},
	}
	for _, tc := range cases {
		code, out, errs := runDora(t, tc.args...)
		if code != tc.code || out != "" || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d (want %d), stdout %q, stderr %q (want %q)", tc.args, code, tc.code, out, errs, tc.want)
		}
	}
	// A store that cannot be opened is an error (exit 1), not an empty report.
	dir := t.TempDir()
	bad := filepath.Join(dir, "nexo.yaml")
	if err := os.WriteFile(bad, []byte("store: {backend: redis, redis_url: \"redis://127.0.0.1:1/0\"}\nservices: [{name: nexo-be}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runDora(t, "nexo-be", "--config", bad); code != 1 || out != "" || !strings.Contains(errs, "state store") {
		t.Errorf("unreachable store: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
