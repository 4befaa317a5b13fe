package dorametrics

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/dora"
	"github.com/nexo-org/nexo-bot/commands/dora/doratest"
	"github.com/nexo-org/nexo-bot/commands/dora/gauges"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store/boltstore"
	"github.com/nexo-org/nexo-bot/workflow"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

var now = time.Date(2026, 2, 18, 10, 0, 0, 0, time.UTC)

func ptr(t time.Time) *time.Time { return &t }

// tracker is a tracker over a bolt store of cfgYAML's services.
func tracker(t testing.TB, cfgYAML string) (*gauges.Tracker, *commands.Deps) {
	t.Helper()
	cfg, err := config.Parse([]byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	d := &commands.Deps{Config: cfg, Store: st, Engine: workflow.New(st, workflow.NewManualClock(now), slog.New(slog.NewTextHandler(io.Discard, nil)), "test")}
	return gauges.NewTracker(d, gauges.Options{}), d
}

// gather is every sample the collector exports, by name.
func gather(t testing.TB, tr *gauges.Tracker) map[string][]*dto.Metric {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, tr); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]*dto.Metric{}
	for _, f := range fams {
		out[f.GetName()] = f.GetMetric()
	}
	return out
}

// value is the sample of name with the given label values ("" when the
// series is absent: ok false).
func value(ms []*dto.Metric, labels map[string]string) (float64, bool) {
	for _, m := range ms {
		match := 0
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
				match++
			}
		}
		if match == len(labels) {
			if g := m.GetGauge(); g != nil {
				return g.GetValue(), true
			}
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

func TestCollectorExportsTheTrackersFigures(t *testing.T) {
	ctx := context.Background()
	tr, d := tracker(t, "services: [{name: nexo-be}, {name: nexo-fe}]\n")
	before := gather(t, tr)
	if _, ok := before[Deployments]; ok {
		t.Fatal("figures exported before the first refresh")
	}
	if v, ok := value(before[RefreshErrors], map[string]string{"source": "store"}); !ok || v != 0 {
		t.Fatalf("refresh errors before: %v %v", v, ok)
	}

	// nexo-be production: 4 deployments, one rolled back, the last before
	// an incident resolved in 40 minutes, lead times of
	// 1, 2, 3 and 30 hours.
	for i, lead := range []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 30 * time.Hour} {
		at := now.Add(-time.Duration(i+1) * 24 * time.Hour)
		dep := records.Deployment{ID: "promote-" + string(rune('a'+i)), Service: "nexo-be", Env: "production", Tag: at.Format("2006.01.02"),
			Kind: records.KindPromote, Result: records.ResultSuccess, RequestedAt: at.Add(-time.Hour), FinishedAt: ptr(at), FirstCommitAt: ptr(at.Add(-lead))}
		if i == 1 {
			dep.RolledBackBy = "rollback-x"
		}
		if err := d.Store.PutDoc(ctx, records.DeploymentsCollection, dep.ID, dep); err != nil {
			t.Fatal(err)
		}
	}
	inc := records.Incident{ID: "inc-1", Service: "nexo-be", Env: "production", Status: records.StatusResolved,
		DeclaredAt: now.Add(-5 * time.Hour), ResolvedAt: ptr(now.Add(-5*time.Hour + 40*time.Minute))}
	if err := d.Store.PutDoc(ctx, records.IncidentsCollection, inc.ID, inc); err != nil {
		t.Fatal(err)
	}
	if err := tr.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got := gather(t, tr)
	be := map[string]string{"service": "nexo-be", "env": "production"}
	var r dora.Report
	for _, row := range tr.Snapshot().Rows {
		if row.Service == "nexo-be" && row.Env == "production" {
			r = row.Report
		}
	}
	for name, want := range map[string]float64{
		Deployments:         4,
		DeploymentFrequency: 4.0 / 30,
		DeployDaysPerWeek:   float64(r.DeploymentFrequency.MedianDaysPerWeek),
		LeadTime:            (2 * time.Hour).Seconds(), // the lower median of 1, 2, 3, 30 hours
		ChangeFailureRate:   0.5,                       // one rolled back, one before the incident
		TimeToRestore:       (40 * time.Minute).Seconds(),
	} {
		if v, ok := value(got[name], be); !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	for metric, want := range map[string]dora.Band{
		BandDeploymentFrequency: r.DeploymentFrequency.Band, BandLeadTime: dora.Elite, BandChangeFailureRate: dora.Low,
		BandTimeToRestore: dora.Elite, BandOverall: r.Overall,
	} {
		labels := map[string]string{"service": "nexo-be", "env": "production", "metric": metric}
		if v, ok := value(got[Band], labels); !ok || v != float64(want) {
			t.Errorf("band %s = %v, want %d (%s)", metric, v, want, want)
		}
	}
	// nexo-fe has no data: zero deployments, no lead time, rate or restore
	// series (N/A is not 0 %), bands 0.
	fe := map[string]string{"service": "nexo-fe", "env": "qa"}
	if v, ok := value(got[Deployments], fe); !ok || v != 0 {
		t.Errorf("nexo-fe deployments = %v %v", v, ok)
	}
	for _, name := range []string{LeadTime, ChangeFailureRate, TimeToRestore} {
		if _, ok := value(got[name], fe); ok {
			t.Errorf("%s exported for a service with no data", name)
		}
	}
	if v, ok := value(got[Band], map[string]string{"service": "nexo-fe", "env": "qa", "metric": BandOverall}); !ok || v != 0 {
		t.Errorf("nexo-fe overall band = %v %v, want 0 (N/A)", v, ok)
	}
	if n := len(got[Deployments]); n != 8 {
		t.Errorf("%d deployment series, want 2 services × 4 environments", n)
	}
	if v, _ := value(got[Refreshed], nil); v != float64(now.Unix()) {
		t.Errorf("refresh timestamp %v, want %d", v, now.Unix())
	}
	// Every exported name is in Names, and every name is exported.
	names := map[string]bool{}
	for _, n := range Names() {
		names[n] = true
		if _, ok := got[n]; !ok {
			t.Errorf("%s is in Names but not exported", n)
		}
	}
	for n := range got {
		if !names[n] {
			t.Errorf("%s is exported but not in Names", n)
		}
	}
}

// BenchmarkScrape200Services is one GET /metrics of the DORA gauges of
// 200 services × 4 environments (8,000 series), as Prometheus scrapes it:
// the collector reads the tracker's snapshot, nothing is computed.
func BenchmarkScrape200Services(b *testing.B) {
	fleet := doratest.Generate(200, []string{"develop", "qa", "staging", "production"}, 90, 0.5, now)
	tr, d := tracker(b, fleet.ConfigYAML())
	if err := fleet.Put(context.Background(), d.Store); err != nil {
		b.Fatal(err)
	}
	if err := tr.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := Register(reg, tr); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	var size int64
	var series int
	scrape := func() {
		resp, err := http.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("scrape: %d %v", resp.StatusCode, err)
		}
		size = int64(len(body))
		series = strings.Count(string(body), "\nnexo_dora_")
	}
	scrape()
	if series < 8000 {
		b.Fatalf("%d series", series)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		scrape()
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/scrape")
	b.ReportMetric(float64(series), "series")
	b.ReportMetric(float64(size), "bytes/scrape")
}
