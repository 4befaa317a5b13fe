package incident_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/chat/chattest"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/incident"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/commands/scenarios"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/kube/clientset"
	"github.com/nexo-org/nexo-bot/integrations/loki"
	"github.com/nexo-org/nexo-bot/integrations/loki/memserver"
	"github.com/nexo-org/nexo-bot/integrations/pagerduty"
	"github.com/nexo-org/nexo-bot/integrations/pagerdutyfake"
	"github.com/nexo-org/nexo-bot/integrations/prom"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/boltstore"
	"github.com/nexo-org/nexo-bot/workflow"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// ---- a recording chat (the Slack side) ----

// ---- Prometheus's query_range, real JSON, a series the test defines ----

type promSeries struct {
	srv     *httptest.Server
	mu      sync.Mutex
	queries []string
	value   func(t time.Time) float64
}

func newPromSeries(t *testing.T, value func(time.Time) float64) *promSeries {
	p := &promSeries{value: value}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		p.queries = append(p.queries, r.Form.Get("query"))
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/api/v1/query_range" {
			_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
			return
		}
		start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
		end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
		step, _ := time.ParseDuration(r.Form.Get("step"))
		if step == 0 {
			s, _ := strconv.ParseFloat(r.Form.Get("step"), 64)
			step = time.Duration(s * float64(time.Second))
		}
		var vals [][2]any
		for ts := start; ts <= end; ts += step.Seconds() {
			at := time.Unix(int64(ts), 0).UTC()
			vals = append(vals, [2]any{ts, strconv.FormatFloat(p.value(at), 'f', -1, 64)})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "matrix",
			"result": []any{map[string]any{"metric": map[string]string{}, "values": vals}}}})
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// ---- the rig ----

const incConfig = `
slack:
  channel: C0DEPLOYS
incidents:
  channel: C0INCIDENTS
  oncall_group: sre-team
  jaeger_url: https://jaeger.example/trace/{trace_id}
  auto_declare: [critical]
services:
  - name: nexo-be
    owners: [platform-team]
  - name: nexo-fe
    owners: [U0FEOWNER]
groups:
  platform-team: [U0PLATF01, U0CAROL01]
  sre-team: [U0ALICE01, S0SREONCALL]
`

type incRig struct {
	t      *testing.T
	ctx    context.Context
	cfg    *config.Config
	d      *commands.Deps
	router *commands.Router
	chat   *chattest.Recorder
	clock  *workflow.ManualClock
	pager  *pagerdutyfake.Server
	loki   string
	prom   *promSeries
}

// Playbook times (UTC): deploy 10:25, spike 10:31, declared 10:35.
var (
	incDay     = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	incDeploy  = incDay.Add(10*time.Hour + 25*time.Minute)
	incSpike   = incDay.Add(10*time.Hour + 31*time.Minute)
	incDeclare = incDay.Add(10*time.Hour + 35*time.Minute)
)

func newIncRig(t *testing.T, full bool) *incRig {
	t.Helper()
	cfg, err := config.Parse([]byte(incConfig))
	if err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := workflow.NewManualClock(incDeclare)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := &incRig{t: t, ctx: context.Background(), cfg: cfg, clock: clock, chat: chattest.New(incDeclare.Unix())}
	r.chat.Groups = map[string][]string{"S0SREONCALL": {"U0BOB0001"}}
	r.d = &commands.Deps{Config: cfg, Store: st, Chat: r.chat, Engine: workflow.New(st, clock, log, "test"), Log: log}
	if full {
		r.prom = newPromSeries(t, func(at time.Time) float64 {
			if at.Before(incSpike) {
				return 0.002
			}
			return 0.05
		})
		cfg.Prometheus.URL = r.prom.srv.URL
		pc, err := prom.NewClient(r.prom.srv.URL, prom.Options{Timeout: 5 * time.Second, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		r.d.Prom = pc

		ls := httptest.NewServer(memserver.New(memserver.Options{}))
		t.Cleanup(ls.Close)
		r.loki = ls.URL
		lc, err := loki.NewClient(ls.URL, loki.Options{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		r.d.Loki = lc
		labels := map[string]string{"namespace": "nexo-production", "app": "nexo-be", "level": "error"}
		line := func(at time.Time, msg, trace string) loki.PushEntry {
			return loki.PushEntry{Time: at, Line: fmt.Sprintf(`{"timestamp":%q,"error":%q,"trace_id":%q}`, at.Format(time.RFC3339), msg, trace)}
		}
		if err := loki.Push(r.ctx, ls.URL, "", []loki.PushStream{{Labels: labels, Entries: []loki.PushEntry{
			line(incSpike.Add(15*time.Second), "Database connection timeout", "trace-abc123"),
			line(incSpike.Add(20*time.Second), "Database connection timeout", "trace-def456"),
			line(incSpike.Add(25*time.Second), "Database connection timeout", "trace-ghi789"),
			line(incSpike.Add(40*time.Second), "Cache miss storm", "trace-zzz000"),
		}}}); err != nil {
			t.Fatal(err)
		}

		cs := fake.NewSimpleClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "nexo-be-config", Namespace: "nexo-production"},
			Data: map[string]string{"application.yaml": "database:\n  pool:\n    max: 10\n  host: db.internal\nlog_level: info\n", "FEATURE_X": "on"}})
		r.d.Kube = kube.NewFromClients(clientset.Adapt(cs), nil, kube.Options{Timeout: 5 * time.Second})

		r.pager = pagerdutyfake.New()
		t.Cleanup(r.pager.Close)
		pg, err := pagerduty.NewClient(r.pager.URL(), strings.Repeat("k", 32), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		r.d.Pager = pg

		at := incDeploy
		if err := st.PutDoc(r.ctx, records.DeploymentsCollection, "promote-1", records.Deployment{ID: "promote-1", Service: "nexo-be", Env: "production", Tag: "2026.02.17", Previous: "2026.02.10",
			Kind: records.KindPromote, Result: records.ResultSuccess, Requester: "U0CAROL01", RequestedAt: at.Add(-time.Hour), HealthyAt: &at, FinishedAt: &at}); err != nil {
			t.Fatal(err)
		}
	}
	router, err := scenarios.Setup(r.ctx, r.d)
	if err != nil {
		t.Fatal(err)
	}
	r.router = router
	return r
}

func (r *incRig) command(user, channel, text string) *chat.Reply {
	r.t.Helper()
	reply, err := r.router.HandleCommand(r.ctx, chat.Command{UserID: user, ChannelID: channel, Text: text})
	if err != nil {
		r.t.Fatalf("%s: %v", text, err)
	}
	return reply
}

func (r *incRig) click(user, channel string, b chat.Button) *chat.Reply {
	r.t.Helper()
	reply, err := r.router.HandleClick(r.ctx, chat.Click{UserID: user, ChannelID: channel, Action: b.Action, Value: b.Value})
	if err != nil {
		r.t.Fatalf("click %s: %v", b.Action, err)
	}
	return reply
}

// advance moves the clock and fires due timers.
func (r *incRig) advance(d time.Duration) {
	r.clock.Advance(d)
	r.d.Engine.FireDue(r.ctx)
}

func (r *incRig) incident(id string) *incident.State {
	r.t.Helper()
	s, err := incident.Load(r.ctx, r.d, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func refused(reply *chat.Reply) bool {
	return reply != nil && reply.Ephemeral && strings.Contains(reply.Message.PlainText(), ":no_entry_sign:")
}

func mustContain(t *testing.T, what, text string, words ...string) {
	t.Helper()
	for _, w := range words {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// ---- tests ----

func TestSlug(t *testing.T) {
	cases := []struct{ in, want string }{
		{"High Error Rate", "high-error-rate"},
		{"  Conexão   com o banco: TIMEOUT!! ", "conexao-com-o-banco-timeout"},
		{"nexo-be 5xx > 1%", "nexo-be-5xx-1"},
		{"!!!", "incident"},
		{"日本語 only", "only"},
	}
	for _, c := range cases {
		if got := incident.Slug(c.in, 60); got != c.want {
			t.Errorf("Slug(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	long := incident.Slug(strings.Repeat("database connection pool exhausted ", 10), 40)
	if len(long) > 40 || strings.HasSuffix(long, "-") || !strings.HasPrefix(long, "database-connection-pool") {
		t.Errorf("long slug %q (%d)", long, len(long))
	}
}

func TestIncidentChannelName(t *testing.T) {
	at := time.Date(2026, 2, 1, 23, 59, 0, 0, time.UTC)
	if got := incident.ChannelName("", at, "High Error Rate", "nexo-be", "production", "P1"); got != "inc-20260201-high-error-rate" {
		t.Errorf("default template: %q", got)
	}
	if got := incident.ChannelName("{service}-{env}-{sev}-{slug}", at, "DB down", "nexo-be", "production", "P0"); got != "nexo-be-production-p0-db-down" {
		t.Errorf("custom template: %q", got)
	}
	if got := incident.ChannelName("INC {date}/{slug}", at, "Ops", "x", "y", ""); got != "inc-20260201-ops" {
		t.Errorf("unsafe template characters: %q", got)
	}
	long := incident.ChannelName("", at, strings.Repeat("very long title ", 20), "nexo-be", "production", "")
	if len(long) > incident.MaxChannelName-3 || !strings.HasPrefix(long, "inc-20260201-very-long-title") {
		t.Errorf("long name %q (%d)", long, len(long))
	}
	for n := 2; n <= 12; n++ {
		s := incident.WithSuffix(long, n)
		if len(s) > incident.MaxChannelName || !strings.HasSuffix(s, fmt.Sprintf("-%d", n)) {
			t.Errorf("suffix %d: %q (%d)", n, s, len(s))
		}
	}
	full := strings.Repeat("a", 80)
	if s := incident.WithSuffix(full, 3); len(s) != 80 || !strings.HasSuffix(s, "a-3") {
		t.Errorf("suffix on an 80-char name: %q", s)
	}
}

func TestValidTransition(t *testing.T) {
	ok := [][2]string{
		{"investigating", "identified"}, {"identified", "monitoring"}, {"monitoring", "resolved"}, {"resolved", "closed"},
		{"investigating", "resolved"}, {"monitoring", "investigating"}, {"resolved", "investigating"},
	}
	bad := [][2]string{
		{"investigating", "closed"}, {"closed", "investigating"}, {"resolved", "monitoring"}, {"identified", "identified"}, {"investigating", "fixed"},
	}
	for _, c := range ok {
		if err := incident.ValidTransition(c[0], c[1]); err != nil {
			t.Errorf("%s → %s refused: %v", c[0], c[1], err)
		}
	}
	for _, c := range bad {
		if err := incident.ValidTransition(c[0], c[1]); err == nil {
			t.Errorf("%s → %s allowed", c[0], c[1])
		}
	}
}

func TestParseSeverityAndAlertSeverity(t *testing.T) {
	if s, err := incident.ParseSeverity("p1"); err != nil || s != "P1" {
		t.Errorf("p1: %q %v", s, err)
	}
	for _, bad := range []string{"P5", "high", "P-1", "P10"} {
		if _, err := incident.ParseSeverity(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for in, want := range map[string]string{"critical": "P1", "warning": "P3", "P0": "P0", "info": "P4", "weird": ""} {
		if got := incident.AlertSeverity(in); got != want {
			t.Errorf("AlertSeverity(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAlertTarget(t *testing.T) {
	cfg, err := config.Parse([]byte(incConfig))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		labels    map[string]string
		svc, envN string
	}{
		{map[string]string{"service": "nexo-be", "namespace": "nexo-production"}, "nexo-be", "production"},
		{map[string]string{"app": "nexo-fe", "env": "stg"}, "nexo-fe", "staging"},
		{map[string]string{"app": "other", "namespace": "nexo-qa"}, "", "qa"},
		{map[string]string{"service": "nexo-be"}, "nexo-be", ""},
	}
	for _, c := range cases {
		s, e := incident.AlertTarget(cfg, c.labels)
		if s != c.svc || e != c.envN {
			t.Errorf("%v → %q %q, want %q %q", c.labels, s, e, c.svc, c.envN)
		}
	}
}

func TestFlattenConfigMapCallsOutPools(t *testing.T) {
	lines := incident.FlattenConfigMap(map[string]string{"application.yaml": "database:\n  pool:\n    max: 10\n  host: db\nhttp:\n  timeout: 30s\n", "LOG_LEVEL": "info"})
	got := map[string]incident.ConfigLine{}
	for _, l := range lines {
		got[l.Key] = l
	}
	if l := got["database.pool.max"]; l.Value != "10" || !l.Notable {
		t.Errorf("database.pool.max: %+v (all %+v)", l, lines)
	}
	if l := got["http.timeout"]; !l.Notable {
		t.Errorf("http.timeout not notable: %+v", l)
	}
	if l := got["database.host"]; l.Notable || l.Value != "db" {
		t.Errorf("database.host: %+v", l)
	}
	if l := got["LOG_LEVEL"]; l.Notable || l.Value != "info" {
		t.Errorf("LOG_LEVEL: %+v", l)
	}
}

func TestSlackTime(t *testing.T) {
	if got := incident.SlackTime("1769941875.000200"); !got.Equal(time.Unix(1769941875, 200000).UTC()) {
		t.Errorf("got %v", got)
	}
	if !incident.SlackTime("nope").IsZero() || !incident.SlackTime("").IsZero() {
		t.Error("malformed ts gave a time")
	}
}

// TestPlaybookIncidentLifecycle walks scenario 5 through the router: declare,
// investigation, paging and re-paging, acknowledgement, updates, pins,
// reminders, status changes, resolve and the post-mortem draft.
func TestPlaybookIncidentLifecycle(t *testing.T) {
	r := newIncRig(t, true)
	r.chat.Take("inc-20260201-high-error-rate") // a previous incident today

	// Bad input changes nothing.
	for _, bad := range []string{"incident declare nexo-bee production Oops", "incident declare nexo-be prod Oops --sev P9", "incident declare nexo-be production"} {
		if reply := r.command("U0ALICE01", "C0DEPLOYS", bad); !refused(reply) {
			t.Fatalf("%q not refused: %+v", bad, reply)
		}
	}
	if len(r.chat.Created()) != 0 {
		t.Fatalf("channels created by refused commands: %v", r.chat.Created())
	}
	if reply := r.command("U0ALICE01", "C0DEPLOYS", "incident update hello"); !refused(reply) || !strings.Contains(reply.Message.Text, "not an incident channel") {
		t.Fatalf("update outside an incident channel: %+v", reply)
	}

	reply := r.command("U0ALICE01", "C0DEPLOYS", "incident declare nexo-be prod High Error Rate --sev P1")
	if reply == nil || !strings.Contains(reply.Message.Text, "inc-20260201-high-error-rate-2") {
		t.Fatalf("declare reply: %+v", reply)
	}
	id := "inc-20260201-high-error-rate-2"
	s := r.incident(id)
	ch := s.Channel
	if s.Commander != "U0ALICE01" || s.Severity != "P1" || s.Status != records.StatusInvestigating || s.Env != "production" || !s.DeclaredAt.Equal(incDeclare) {
		t.Fatalf("incident: %+v", s)
	}
	inv := strings.Join(r.chat.Invited(ch), ",")
	for _, u := range []string{"U0ALICE01", "U0BOB0001", "U0PLATF01", "U0CAROL01"} {
		if !strings.Contains(inv, u) {
			t.Errorf("%s not invited: %s", u, inv)
		}
	}
	mustContain(t, "incident channel", r.chat.In(ch), "High Error Rate", "P1", "investigating", "<@U0ALICE01>", "Comms", "Scribe", "Acknowledge")
	mustContain(t, "announcement", r.chat.In("C0INCIDENTS"), "High Error Rate", "<#"+ch+">")
	ev := r.pager.Events()
	if len(ev) != 1 || ev[0].EventAction != "trigger" || ev[0].DedupKey != id || ev[0].Payload.Severity != "error" {
		t.Fatalf("pages: %+v", ev)
	}

	// The investigation runs on its timer, right away.
	r.d.Engine.FireDue(r.ctx)
	post, ok := r.chat.Find(ch, "Investigation")
	if !ok {
		t.Fatalf("no investigation:\n%s", r.chat.In(ch))
	}
	text := post.Msg.PlainText()
	mustContain(t, "investigation", text, "spike began at *"+commands.English().WhenTime(incDeclare.Add(-4*time.Minute))+"*", "0.2% → 5.0%", "2026.02.17", "DEPLOY 6 min before the spike!", "Database connection timeout", "*3×*",
		"<https://jaeger.example/trace/trace-abc123|trace-abc123>", "database.pool.max: 10   ← pool/limit/timeout", "Argo CD is not configured", "GitOps repo is not configured")
	if strings.Contains(text, "database.host: db.internal   ←") {
		t.Errorf("database.host called out:\n%s", text)
	}
	qs := r.prom.queries
	if len(qs) == 0 || !strings.Contains(qs[0], `namespace="nexo-production"`) || !strings.Contains(qs[0], `service="nexo-be"`) {
		t.Errorf("PromQL: %q", qs)
	}
	r.d.Engine.FireDue(r.ctx)
	if n := strings.Count(r.chat.In(ch), ":mag: Investigation"); n != 1 {
		t.Errorf("investigation posted %d times", n)
	}

	// Nobody acknowledged: paged again after repage_after (10m).
	r.advance(10*time.Minute + time.Second)
	if ev := r.pager.Events(); len(ev) != 2 || ev[1].DedupKey != id {
		t.Fatalf("re-page: %+v", ev)
	}
	mustContain(t, "re-page", r.chat.In(ch), "Nobody acknowledged in 10 min")
	page, _ := r.chat.Find(ch, "paging on-call again")
	ack := chattest.Buttons(page.Msg)
	if len(ack) != 1 || ack[0].Action != "incident.ack" {
		t.Fatalf("page buttons: %+v", ack)
	}
	r.click("U0BOB0001", ch, ack[0])
	if again := r.click("U0ALICE01", ch, ack[0]); !refused(again) {
		t.Errorf("second ack not refused: %+v", again)
	}
	if ev := r.pager.Events(); len(ev) != 3 || ev[2].EventAction != "acknowledge" {
		t.Fatalf("ack: %+v", ev)
	}
	r.advance(15 * time.Minute)
	if ev := r.pager.Events(); len(ev) != 3 {
		t.Fatalf("paged after the ack: %+v", ev)
	}

	// 30 minutes without an update: the commander is reminded.
	r.advance(6 * time.Minute)
	mustContain(t, "reminder", r.chat.In(ch), "<@U0ALICE01>, no status update for")

	// Updates, status, pins.
	if rep := r.command("U0ALICE01", ch, "incident status closed"); !refused(rep) {
		t.Errorf("closing an open incident allowed: %+v", rep)
	}
	r.command("U0ALICE01", ch, "incident status identified Database connection pool too small (10 connections)")
	r.command("U0BOB0001", ch, "incident update Rolling back to 2026.02.10")
	r.command("U0ALICE01", ch, "incident role scribe <@U0BOB0001|bob>")
	if rep := r.command("U0ALICE01", ch, "incident commander bob"); !refused(rep) {
		t.Errorf("commander without a mention accepted: %+v", rep)
	}
	r.command("U0ALICE01", ch, "incident followup Add load testing to staging")
	r.command("U0ALICE01", ch, "incident followup Monitor connection pool usage")
	pinTS := fmt.Sprintf("%d.000100", incDeclare.Add(8*time.Minute).Unix())
	if err := r.router.HandleEvent(r.ctx, chat.Event{Type: "message", UserID: "U0CAROL01", ChannelID: ch, TS: pinTS, Text: "p95 of db.query is 30s in Jaeger"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // reaction delivered twice, and a pin of the same message
		if err := r.router.HandleEvent(r.ctx, chat.Event{Type: "reaction_added", Reaction: "pushpin", UserID: "U0ALICE01", ChannelID: ch, TS: pinTS}); err != nil {
			t.Fatal(err)
		}
	}
	_ = r.router.HandleEvent(r.ctx, chat.Event{Type: "pin_added", UserID: "U0ALICE01", ChannelID: ch, TS: pinTS, Text: "p95 of db.query is 30s in Jaeger"})
	_ = r.router.HandleEvent(r.ctx, chat.Event{Type: "reaction_added", Reaction: "thumbsup", UserID: "U0ALICE01", ChannelID: ch, TS: pinTS})
	_ = r.router.HandleEvent(r.ctx, chat.Event{Type: "pin_added", UserID: "U0ALICE01", ChannelID: "C0DEPLOYS", TS: pinTS, Text: "not an incident"})

	tl, err := r.d.Store.ListTimeline(r.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	pins := 0
	for _, e := range tl {
		if e.Kind == "pin" {
			pins++
			if !e.Time.Equal(incDeclare.Add(8*time.Minute).Add(100*time.Microsecond)) || e.Text != "p95 of db.query is 30s in Jaeger" || !strings.Contains(e.Permalink, ch) || e.Actor != "U0CAROL01" {
				t.Errorf("pin entry: %+v", e)
			}
		}
	}
	if pins != 1 {
		t.Errorf("%d pin entries, want 1: %+v", pins, tl)
	}

	// A deploy of the same service and env finishing now is posted in the channel.
	incident.NoteDeploy(r.ctx, r.d, "rollback-9", records.KindRollback, "nexo-be", "production", "2026.02.10", "success", "U0ALICE01")
	incident.NoteDeploy(r.ctx, r.d, "rollback-9", records.KindRollback, "nexo-be", "production", "2026.02.10", "success", "U0ALICE01")
	if n := strings.Count(r.chat.In(ch), "Rollback nexo-be production → `2026.02.10`"); n != 1 {
		t.Errorf("deploy posted %d times", n)
	}

	// Resolve: the post-mortem is drafted and uploaded.
	r.command("U0ALICE01", ch, "incident resolve Rolled back to 2026.02.10; hotfix with a pool of 50 follows")
	s = r.incident(id)
	if s.Status != records.StatusResolved || s.ResolvedAt == nil || s.Deployment != "promote-1" {
		t.Fatalf("resolved incident: %+v", s)
	}
	if ev := r.pager.Events(); ev[len(ev)-1].EventAction != "resolve" {
		t.Errorf("PagerDuty not resolved: %+v", ev)
	}
	r.d.Engine.FireDue(r.ctx)
	md := uploaded(r, ch, "2026-02-01-high-error-rate.md")
	mustContain(t, "post-mortem", md, "# Incident: High Error Rate", "## Timeline", "- 10:25 UTC: Deploy 2026.02.17", "- 10:31 UTC: Error rate spike (5.0%)",
		"- 10:35 UTC: Incident declared by <@U0ALICE01>", "p95 of db.query is 30s in Jaeger ([message](https://", "## Root Cause\nDatabase connection pool too small (10 connections)",
		"## Resolution\n1. Rollback nexo-be production → `2026.02.10`: success", "Rolled back to 2026.02.10; hotfix with a pool of 50 follows",
		"## Prevention\n- [ ] Add load testing to staging\n- [ ] Monitor connection pool usage", "## Lessons Learned", "Detected 4 min after the error spike began")
	mustContain(t, "channel", r.chat.In(ch), "no PR was opened")
	// No reminders or nudges after resolve.
	before := len(r.chat.Posts())
	r.advance(2 * time.Hour)
	if len(r.chat.Posts()) != before {
		t.Errorf("posts after resolve: %s", r.chat.In(ch))
	}
	r.command("U0ALICE01", ch, "incident status closed")
	if s := r.incident(id); s.Status != records.StatusClosed || s.ClosedAt == nil {
		t.Errorf("closed: %+v", s)
	}
	audit, _ := r.d.Store.ListAudit(r.ctx, store.AuditFilter{Service: "nexo-be"})
	if len(audit) < 8 {
		t.Errorf("audit: %d entries", len(audit))
	}
}

// TestIncidentWithoutIntegrations: every part of the investigation says in
// one line what is missing; no pager → a mention; unset severity → nudges.
// In every locale.
func TestIncidentWithoutIntegrations(t *testing.T) {
	for _, loc := range i18n.Locales {
		t.Run(loc, func(t *testing.T) { incidentWithoutIntegrations(t, loc) })
	}
}

func incidentWithoutIntegrations(t *testing.T, loc string) {
	r := newIncRig(t, false)
	if err := r.d.Speak(loc); err != nil {
		t.Fatal(err)
	}
	tt := i18n.Default().In(loc)
	words := func(id string, kv ...any) []string { return tt.Fixed(id, kv...) }
	reply := r.command("U0CAROL01", "C0DEPLOYS", "incident declare nexo-fe staging Login page blank")
	if reply == nil || refused(reply) {
		t.Fatalf("declare: %+v", reply)
	}
	s := r.incident("inc-20260201-login-page-blank")
	r.d.Engine.FireDue(r.ctx)
	text := r.chat.In(s.Channel)
	for _, id := range []string{"incident.inv.no_prom", "incident.inv.no_argocd", "incident.inv.no_loki", "incident.inv.no_kube", "incident.inv.no_gitops", "incident.inv.header"} {
		mustContain(t, "investigation", text, words(id)...)
	}
	if strings.Contains(text, tt.S("incident.button.ack")) {
		t.Error("a P-less incident was paged")
	}
	if !strings.Contains(strings.Join(r.chat.Invited(s.Channel), ","), "U0FEOWNER") {
		t.Errorf("owner not invited: %v", r.chat.Invited(s.Channel))
	}
	r.advance(incident.NudgeEvery + time.Second)
	nudge := tt.S("incident.post.nudge_severity", "Command", "/nexo")
	mustContain(t, "nudge", r.chat.In(s.Channel), nudge)
	// Raising to P0 pages; without a pager it mentions the on-call group.
	r.command("U0CAROL01", s.Channel, "incident sev P0")
	mustContain(t, "page", r.chat.In(s.Channel), append(words("incident.page.no_pager"), "<@U0ALICE01>", "<!subteam^S0SREONCALL>")...)
	// A refusal in the reader's words: the severity is already P0.
	if again := r.command("U0CAROL01", s.Channel, "incident sev P0"); !refused(again) || !strings.Contains(again.Message.Text, tt.S("incident.refuse.same_severity", "Severity", "P0")) {
		t.Errorf("same severity: %+v", again)
	}
	n := strings.Count(r.chat.In(s.Channel), nudge)
	r.advance(incident.NudgeEvery + time.Second)
	if strings.Count(r.chat.In(s.Channel), nudge) != n {
		t.Error("nudged after the severity was set")
	}
}

func TestAlertsDeclareButtonAndAutoDeclare(t *testing.T) {
	for _, loc := range i18n.Locales {
		t.Run(loc, func(t *testing.T) { alertsDeclareButtonAndAutoDeclare(t, loc) })
	}
}

func alertsDeclareButtonAndAutoDeclare(t *testing.T, loc string) {
	r := newIncRig(t, false)
	if err := r.d.Speak(loc); err != nil {
		t.Fatal(err)
	}
	tt := i18n.Default().In(loc)
	a := incident.Alert{Status: "firing", Fingerprint: "abc123", StartsAt: incSpike.Add(4 * time.Minute),
		Labels:      map[string]string{"alertname": "HighErrorRate", "service": "nexo-be", "namespace": "nexo-production", "severity": "warning"},
		Annotations: map[string]string{"summary": "Error rate above 1% in production"}}
	if err := incident.ReceiveAlert(r.ctx, r.d, a); err != nil {
		t.Fatal(err)
	}
	post, ok := r.chat.Find("C0DEPLOYS", "[FIRING]")
	if !ok {
		t.Fatal("alert not posted")
	}
	btn := chattest.Buttons(post.Msg)
	if len(btn) != 1 || btn[0].Action != "incident.declare" || btn[0].Value != "abc123" || btn[0].Text != tt.S("incident.button.declare") {
		t.Fatalf("buttons: %+v", btn)
	}
	if reply := r.click("U0BOB0001", "C0DEPLOYS", btn[0]); reply == nil || refused(reply) {
		t.Fatalf("declare click: %+v", reply)
	}
	if reply := r.click("U0ALICE01", "C0DEPLOYS", btn[0]); !refused(reply) || !strings.Contains(reply.Message.Text, tt.Fixed("incident.refuse.already_open", "Service", "nexo-be", "Env", "production")[0]) {
		t.Fatalf("second declare: %+v", reply)
	}
	incs, _ := incident.OpenFor(r.ctx, r.d, "nexo-be", "production")
	if len(incs) != 1 || incs[0].Commander != "U0BOB0001" || incs[0].Severity != "P3" || incs[0].Title != "Error rate above 1% in production" {
		t.Fatalf("incidents: %+v", incs)
	}
	// Resolved → posted in the incident's channel.
	a.Status, a.EndsAt = "resolved", incDeclare.Add(20*time.Minute)
	if err := incident.ReceiveAlert(r.ctx, r.d, a); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "incident channel", r.chat.In(incs[0].Channel), "[RESOLVED] *HighErrorRate*")

	// critical is in auto_declare: declared by itself, commander unset.
	crit := incident.Alert{Status: "firing", Fingerprint: "def456", Labels: map[string]string{"alertname": "Down", "app": "nexo-fe", "env": "production", "severity": "critical"}}
	if err := incident.ReceiveAlert(r.ctx, r.d, crit); err != nil {
		t.Fatal(err)
	}
	fe, _ := incident.OpenFor(r.ctx, r.d, "nexo-fe", "production")
	if len(fe) != 1 || fe[0].Commander != "" || fe[0].Severity != "P1" || fe[0].Alert != "def456" {
		t.Fatalf("auto-declared: %+v", fe)
	}
	mustContain(t, "service channel", r.chat.In("C0DEPLOYS"), tt.Fixed("incident.alert.auto_declared", "Severity", "critical")...)
	// Unknown service: posted, but no Declare button.
	if err := incident.ReceiveAlert(r.ctx, r.d, incident.Alert{Status: "firing", Fingerprint: "x1", Labels: map[string]string{"alertname": "DiskFull"}}); err != nil {
		t.Fatal(err)
	}
	p, _ := r.chat.Find("C0DEPLOYS", "DiskFull")
	mustContain(t, "unknown service", r.chat.In("C0DEPLOYS"), tt.S("incident.alert.unknown_service"), tt.S("incident.alert.no_target"))
	if len(chattest.Buttons(p.Msg)) != 0 {
		t.Errorf("Declare offered for an unknown service: %+v", p.Msg)
	}
	if err := incident.ReceiveAlert(r.ctx, r.d, incident.Alert{Status: "firing", Fingerprint: "bad fingerprint!"}); err == nil {
		t.Error("bad fingerprint accepted")
	}
}

// uploaded is the content of a file uploaded to channel.
func uploaded(r *incRig, channel, name string) string {
	b, ok := r.chat.Uploaded(channel, name)
	if !ok {
		r.t.Fatalf("no upload of %s in %s", name, channel)
	}
	return string(b)
}

// A change made to the incident while Declare is still posting (a button
// pressed on the card, a timer) survives: the card's ts joins the record
// under the incident's lease instead of a plain write of the whole record
// made before the change.
func TestDeclareKeepsChangesMadeWhileItPosts(t *testing.T) {
	r := newIncRig(t, false)
	changed := false
	r.chat.BeforePost = func() {
		if changed {
			return
		}
		for _, name := range r.chat.Created() {
			if _, err := incident.Load(r.ctx, r.d, name); err == nil {
				changed = true
				if err := incident.AddFollowUp(r.ctx, r.d, name, "U0BOB0001", "Monitor connection pool usage"); err != nil {
					t.Errorf("follow-up during Declare: %v", err)
				}
			}
		}
	}
	s, err := incident.Declare(r.ctx, r.d, incident.DeclareRequest{Service: "nexo-be", Env: "production", Title: "High Error Rate", Severity: "P3", Declarer: "U0ALICE01", FromChannel: "C0DEPLOYS"})
	if err != nil {
		t.Fatal(err)
	}
	if !changed {
		t.Fatal("nothing changed the incident while Declare posted")
	}
	got := r.incident(s.ID)
	if len(got.FollowUps) != 1 || got.FollowUps[0] != "Monitor connection pool usage" {
		t.Errorf("the follow-up added during Declare is lost: %+v", got.FollowUps)
	}
	if got.CardTS == "" {
		t.Errorf("the card's ts is not in the record: %+v", got)
	}
}
