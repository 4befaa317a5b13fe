package incident_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/commandstest"
	"github.com/nexo-org/nexo-bot/commands/incident"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/prom"
	"github.com/nexo-org/nexo-bot/store"
)

var updateGolden = flag.Bool("update-incident-golden", false, "rewrite commands/testdata/incident_postmortem.golden")

// TestRenderPostmortemGolden renders the playbook's incident (scenario 5)
// and compares it with the reviewed draft byte for byte.
func TestRenderPostmortemGolden(t *testing.T) {
	at := func(hhmm string) time.Time {
		t, err := time.Parse("2006-01-02 15:04", "2026-02-01 "+hhmm)
		if err != nil {
			panic(err)
		}
		return t.UTC()
	}
	resolved, acked := at("10:44"), at("10:37")
	s := &incident.State{
		Incident: records.Incident{ID: "inc-20260201-high-error-rate", Title: "High Error Rate", Service: "nexo-be", Env: "production", Severity: "P1",
			Status: records.StatusResolved, Commander: "U0ALICE01", DeclaredBy: "U0ALICE01", DeclaredAt: at("10:35"), ResolvedAt: &resolved, Deployment: "promote-42"},
		Slug: "high-error-rate", AckedAt: &acked, RootCause: "Database connection pool too small (10 connections); the new feature increased concurrent DB queries",
		FollowUps: []string{"Add load testing to staging", "Monitor connection pool usage", "Update runbook with pool sizing guide"},
	}
	entries := []store.TimelineEntry{
		{Time: at("10:35"), Kind: "declared", Text: "Incident declared by <@U0ALICE01>: High Error Rate (P1)"},
		{Time: at("10:25"), Kind: "deploy", Text: "Deploy 2026.02.17"},
		{Time: at("10:31"), Kind: "onset", Text: "Error rate spike (5.0%)"},
		{Time: at("10:31"), Kind: "logs", Text: "First error log: Database connection timeout (3× since)"},
		{Time: at("10:35"), Kind: "alert", Text: "Alert fired: HighErrorRate"},
		{Time: at("10:37"), Kind: "rollback", Text: "Rollback to 2026.02.10: success"},
		{Time: at("10:38"), Kind: "pin", Text: "Jaeger: db.query  30s+ (timeout)", Permalink: "https://nexo.slack.com/archives/C1/p1769942280000100"},
		{Time: at("10:44"), Kind: "status", Text: "Status monitoring → resolved by <@U0ALICE01>: Service recovered"},
		{Time: at("11:02").AddDate(0, 0, 1), Kind: "update", Text: "Hotfix 2026.02.18 deployed with a pool of 50"},
	}
	got := incident.RenderPostmortem(commands.English(), s, entries)
	path := filepath.Join("testdata", "postmortem.golden")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("post-mortem differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
	cfg, err := config.Parse([]byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if p := incident.PostmortemPath(cfg, s); p != "incidents/2026-02-01-high-error-rate.md" {
		t.Errorf("path %q", p)
	}
}

// Without a spike the investigation stays calm: no red sparkline (inline
// code), and a service without a ConfigMap gets one quiet line.
func TestInvestigationWithoutSpikeIsQuiet(t *testing.T) {
	cfg := commandstest.Config()
	d := &commands.Deps{Config: cfg}
	base := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	var pts []prom.Point
	for i := 0; i < 30; i++ {
		pts = append(pts, prom.Point{Time: base.Add(time.Duration(i) * time.Minute), Value: 0.001 * float64(i%3)})
	}
	inv := &incident.Investigation{RateNote: i18n.M("incident.inv.no_spike", "Window", i18n.Span(2*time.Hour), "Now", "0.1%", "Threshold", "1.0%"), Points: pts, ConfigName: "nexo-be-config", ConfigMissing: true}
	text := inv.Message(d, commands.English(), "nexo-be", "production").PlainText()
	if strings.ContainsAny(text, "▁▂▃▄▅▆▇█") || strings.Contains(text, ":chart_with_upwards_trend:") {
		t.Fatalf("a sparkline under no spike:\n%s", text)
	}
	if strings.Count(text, "nexo-be-config") != 1 || !strings.Contains(text, "No ConfigMap `nexo-be-config` for nexo-be in production.") || strings.Contains(text, "Config in force") {
		t.Fatalf("the missing ConfigMap is not one quiet line:\n%s", text)
	}
	on := base.Add(20 * time.Minute)
	inv.Onset = &on
	if text := inv.Message(d, commands.English(), "nexo-be", "production").PlainText(); !strings.ContainsAny(text, "▁▂▃▄▅▆▇█") {
		t.Fatalf("no sparkline under a spike:\n%s", text)
	}
}
