//go:build integration

package incident_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/incident"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/loki"
	"github.com/nexo-org/nexo-bot/integrations/prom"
	"github.com/nexo-org/nexo-bot/integrations/promtest"
)

// TestInvestigationOnRealServers runs the investigation's onset detection
// on a real Prometheus scraping an exporter whose error counter spikes, and
// its log grouping on Loki's HTTP API fed through /loki/api/v1/push.
func TestInvestigationOnRealServers(t *testing.T) {
	const ns, svc = "nexo-production", "nexo-be"
	exp := promtest.NewErrorExporter(t, ns, svc)
	exp.SetRates(100, 0.1) // 0.1% errors
	promURL := promtest.StartPrometheus(t, []string{exp.Target()}, time.Second)
	lokiURL := promtest.StartLoki(t)
	ctx := context.Background()

	cfg, err := config.Parse([]byte("services: [{name: nexo-be}]\nincidents: {jaeger_url: 'https://jaeger.example/trace/{trace_id}'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pc, err := prom.NewClient(promURL, prom.Options{Timeout: 5 * time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	lc, err := loki.NewClient(lokiURL, loki.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d := &commands.Deps{Config: cfg, Prom: pc, Loki: lc, Log: log}
	// The default query uses rate(...[5m]); a 5m window of 1s scrapes still
	// moves within seconds when the error rate jumps from 0.1% to 5%.
	q := config.Expand(cfg.Prometheus.ErrorRateQuery, svc, "production", "namespace", ns)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, ok, err := pc.Scalar(ctx, q, time.Time{}); err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Prometheus never had an error rate")
		}
		time.Sleep(250 * time.Millisecond)
	}
	begin := time.Now()
	time.Sleep(6 * time.Second) // baseline
	spike := time.Now()
	exp.SetRates(200, 10)
	var lines []loki.PushEntry
	for i := 0; i < 5; i++ {
		lines = append(lines, loki.PushEntry{Time: spike.Add(time.Duration(i) * time.Second), Line: fmt.Sprintf(`{"error":"Database connection timeout","trace_id":"trace-%d"}`, i)})
	}
	lines = append(lines, loki.PushEntry{Time: spike.Add(2 * time.Second), Line: `{"error":"Cache miss storm","trace_id":"trace-x"}`})
	if err := loki.Push(ctx, lokiURL, "", []loki.PushStream{{Labels: map[string]string{"namespace": ns, "app": svc, "level": "error"}, Entries: lines}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(8 * time.Second)

	inv := incident.InvestigateWindow(ctx, d, svc, "production", incident.Window{Start: begin, End: time.Now(), Step: time.Second, Baseline: 4})
	if inv.Onset == nil {
		t.Fatalf("no onset: %s (points %v)", commands.English().Msg(inv.RateNote), inv.Points)
	}
	if inv.Onset.Before(spike.Add(-2*time.Second)) || inv.Onset.After(spike.Add(6*time.Second)) {
		t.Errorf("onset %s, spike at %s", inv.Onset.Format("15:04:05.000"), spike.Format("15:04:05.000"))
	}
	if inv.Now < 0.01 {
		t.Errorf("error rate now %.4f", inv.Now)
	}
	if len(inv.Errors) != 2 || inv.Errors[0].Message != "Database connection timeout" || inv.Errors[0].Count != 5 || len(inv.Errors[0].TraceIDs) != 3 {
		t.Fatalf("groups: %+v (%s)", inv.Errors, commands.English().Msg(inv.ErrorNote))
	}
	msg := inv.Message(d, commands.English(), svc, "production").PlainText()
	t.Logf("%s", msg)
	for _, w := range []string{"Error rate spike began", "*5×* Database connection timeout", "<https://jaeger.example/trace/trace-4|trace-4>"} {
		if !strings.Contains(msg, w) {
			t.Errorf("message lacks %q", w)
		}
	}
}
