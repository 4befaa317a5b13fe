package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/bot/slackfake"
	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/incident"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/commands/rollback"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/loki"
	"github.com/nexo-org/nexo-bot/integrations/loki/memserver"
	"github.com/nexo-org/nexo-bot/integrations/pagerdutyfake"
)

// spikeProm answers Prometheus's query and query_range with the real JSON
// envelope: the error rate is 0.2% until spikeAt, then 5%.
type spikeProm struct {
	srv       *httptest.Server
	mu        sync.Mutex
	spikeAt   time.Time
	recovered time.Time
}

func newSpikeProm(t *testing.T) *spikeProm {
	p := &spikeProm{spikeAt: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		num := func(k string) float64 { v, _ := strconv.ParseFloat(r.Form.Get(k), 64); return v }
		w.Header().Set("Content-Type", "application/json")
		var data map[string]any
		if r.URL.Path == "/api/v1/query_range" {
			step := num("step")
			if step <= 0 {
				step = 60
			}
			var vals [][2]any
			for ts := num("start"); ts <= num("end"); ts += step {
				vals = append(vals, [2]any{ts, p.value(ts)})
			}
			data = map[string]any{"resultType": "matrix", "result": []any{map[string]any{"metric": map[string]string{}, "values": vals}}}
		} else {
			ts := num("time")
			data = map[string]any{"resultType": "vector", "result": []any{map[string]any{"metric": map[string]string{}, "value": [2]any{ts, p.value(ts)}}}}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *spikeProm) value(ts float64) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := time.Unix(int64(ts), 0)
	if at.Before(p.spikeAt) || (!p.recovered.IsZero() && !at.Before(p.recovered)) {
		return "0.002"
	}
	return "0.05"
}

func (p *spikeProm) recover(at time.Time) {
	p.mu.Lock()
	p.recovered = at
	p.mu.Unlock()
}

func (p *spikeProm) spike(at time.Time) {
	p.mu.Lock()
	p.spikeAt = at
	p.mu.Unlock()
}

// channelMessages returns the messages of a channel containing all words.
func channelFind(e *Env, channel string, words ...string) (slackfake.Message, bool) {
	msgs := e.Slack.Messages(channel)
	for i := len(msgs) - 1; i >= 0; i-- {
		if containsAll(Content(msgs[i]), words) {
			return msgs[i], true
		}
	}
	return slackfake.Message{}, false
}

func waitChannel(t *testing.T, e *Env, channel string, words ...string) slackfake.Message {
	t.Helper()
	var m slackfake.Message
	if !e.Slack.WaitFor(func() bool { var ok bool; m, ok = channelFind(e, channel, words...); return ok }, 10*time.Second) {
		var b strings.Builder
		for _, x := range e.Slack.Messages(channel) {
			fmt.Fprintf(&b, "- %s\n", clip(Content(x), 600))
		}
		t.Fatalf("no message with %q in %s:\n%s", words, channel, b.String())
	}
	return m
}

func commandIn(t *testing.T, e *Env, user, channel, text string) {
	t.Helper()
	id := e.Slack.SendSlashCommand(user, channel, text)
	if _, err := e.Slack.WaitAck(id, 3*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestPlaybookIncident is scenario 5 end to end: nexo-be 2026.02.17 reaches
// production at 10:25, the error rate jumps at 10:31, Alice declares; the
// investigation names the deploy and "Database connection timeout"; the
// Rollback button rolls back through Argo CD; resolve; the post-mortem PR
// is opened with the timeline. It runs in every locale: the texts are the
// catalog's, the post-mortem keeps the playbook's headings and tells the
// time in the config's timezone (America/Sao_Paulo in the example config).
func TestPlaybookIncident(t *testing.T) {
	EachLocale(t, playbookIncident)
}

func playbookIncident(t *testing.T, locale string) {
	prom := newSpikeProm(t)
	lokiSrv := httptest.NewServer(memserver.New(memserver.Options{}))
	defer lokiSrv.Close()
	zero := 0
	pd := pagerdutyfake.New()
	defer pd.Close()
	routingKey := strings.Repeat("r", 32)
	e := New(t, Options{Locale: locale, PrometheusURL: prom.srv.URL, Mutate: func(c *config.Config) {
		c.Loki.URL = lokiSrv.URL
		c.PagerDuty.URL, c.PagerDuty.RoutingKey = pd.URL(), routingKey
		c.Incidents.Channel = "C0INCIDENT"
		prod := &c.Environments[len(c.Environments)-1]
		prod.Policy.Approvals, prod.Policy.Soak, prod.Policy.RollbackApprovals = 0, 0, &zero
		prod.WatchWindow = config.Duration(time.Minute)
	}})
	e.Slack.AddChannel("C0INCIDENT", "incidents", Alice, Bob)
	ctx := context.Background()

	// 10:24: the deploy that will hurt.
	e.Clock.Set(Start.Add(24 * time.Minute))
	e.Command(Carol, "promote nexo-be production 2026.02.17")
	wf := onlyChange(t, e, "nexo-be", "production")
	e.Eventually("production deploy", 30*time.Second, 80, func() bool { st, _ := changeState(t, e, wf.ID); return st == change.Done })
	_, c := changeState(t, e, wf.ID)
	if c.Result != records.ResultSuccess || c.HealthyAt == nil {
		t.Fatalf("deploy: %+v", c)
	}
	deployedAt := *c.HealthyAt
	spike := deployedAt.Truncate(time.Minute).Add(6 * time.Minute)
	prom.spike(spike)
	trace := []string{"trace-abc123", "trace-def456", "trace-ghi789"}
	var lines []loki.PushEntry
	for i, tr := range trace {
		at := spike.Add(time.Duration(15+5*i) * time.Second)
		lines = append(lines, loki.PushEntry{Time: at, Line: fmt.Sprintf(`{"timestamp":%q,"error":"Database connection timeout","trace_id":%q}`, at.Format(time.RFC3339), tr)})
	}
	if err := loki.Push(ctx, lokiSrv.URL, "", []loki.PushStream{{Labels: map[string]string{"namespace": "nexo-production", "app": "nexo-be", "level": "error"}, Entries: lines}}); err != nil {
		t.Fatal(err)
	}

	// 4 minutes after the spike, Alice declares.
	e.Clock.Set(spike.Add(4 * time.Minute))
	e.Command(Alice, "incident declare nexo-be production High error rate --sev P1")
	var incCh slackfake.Channel
	if !e.Slack.WaitFor(func() bool {
		for _, ch := range e.Slack.Channels() {
			if strings.HasPrefix(ch.Name, "inc-") && strings.HasSuffix(ch.Name, "-high-error-rate") {
				incCh = ch
				return true
			}
		}
		return false
	}, 10*time.Second) {
		t.Fatalf("no incident channel: %+v", e.Slack.Channels())
	}
	if want := "inc-" + spike.Format("20060102") + "-high-error-rate"; incCh.Name != want {
		t.Fatalf("channel %q, want %q", incCh.Name, want)
	}
	if !e.Slack.WaitFor(func() bool {
		for _, ch := range e.Slack.Channels() {
			if ch.ID == incCh.ID {
				m := strings.Join(ch.Members, ",")
				return strings.Contains(m, Alice) && strings.Contains(m, Bob) && strings.Contains(m, Platf) && strings.Contains(m, "U0PLATF02")
			}
		}
		return false
	}, 10*time.Second) {
		t.Errorf("declarer, on-call and owners not all invited: %+v", e.Slack.Channels())
	}
	// The card, in the channel's words, down to the transport's confirm
	// dialog on Resolve; its time a Slack date token.
	waitChannel(t, e, incCh.ID, "High error rate", "P1", e.Cat.S("incident.status.investigating"), e.Cat.S("incident.button.resolve_confirm"),
		`"`+e.Cat.S("bot.confirm.title")+`"`, `"`+e.Cat.S("bot.confirm.yes")+`"`, "<!date^")
	// P1: on-call is paged through PagerDuty's Events API v2.
	if !e.Slack.WaitFor(func() bool { return len(pd.Events()) > 0 }, 10*time.Second) {
		t.Fatal("on-call was not paged")
	}
	if ev := pd.Events()[0]; ev.EventAction != "trigger" || ev.RoutingKey != routingKey || ev.DedupKey == "" || ev.Payload == nil || !strings.Contains(ev.Payload.Summary, "High error rate") {
		t.Fatalf("page: %+v", ev)
	}
	waitChannel(t, e, "C0INCIDENT", "High error rate", "<#"+incCh.ID+">")

	inv := waitChannel(t, e, incCh.ID, e.Cat.S("incident.inv.header"), "DEPLOY")
	text := Content(inv)
	spikeAt := "*" + e.Cat.WhenTime(spike) + "*"
	for _, w := range []string{spikeAt, "2026.02.17", e.Cat.S("incident.inv.suspect_spike", "Before", i18n.Span(6*time.Minute)), "Database connection timeout", "3×", "trace-abc123",
		e.Cat.S("incident.button.rollback", "Tag", "2026.02.10")} {
		if !strings.Contains(text, w) {
			t.Errorf("investigation lacks %q:\n%s", w, text)
		}
	}

	// Rollback from the button: the menu (Argo CD's history has only the
	// current entry, so the path offered is the GitOps revert PR).
	e.Click(Alice, inv, "rollback.start")
	menu := e.Ephemeral(Alice, "nexo-be", "2026.02.10", "rollback.run")
	if _, err := e.Slack.ClickButton(Alice, menu.Channel, menu.TS, "rollback.run", ""); err != nil {
		t.Fatal(err)
	}
	// The first path the menu offers (Argo CD when its history has the
	// stable entry, else the GitOps revert PR), whichever it is.
	var rbID, rbKind string
	if !e.Slack.WaitFor(func() bool {
		for _, w := range e.Workflows("") {
			if w.Channel != incCh.ID {
				continue
			}
			switch w.Kind {
			case rollback.Kind:
				rbID, rbKind = w.ID, w.Kind
				return true
			case change.Kind:
				var ch change.Change
				Decode(t, w, &ch)
				if ch.Flavor == records.KindRollback {
					rbID, rbKind = w.ID, w.Kind
					return true
				}
			}
		}
		return false
	}, 10*time.Second) {
		t.Fatalf("no rollback started; ephemerals %+v", e.Slack.Ephemerals(Alice))
	}
	prom.recover(e.Clock.Now())
	e.Eventually("the rollback", 30*time.Second, 60, func() bool {
		w, err := e.Store.GetWorkflow(ctx, rbID)
		return err == nil && w.Done
	})
	w, _ := e.Store.GetWorkflow(ctx, rbID)
	var result, tag string
	if rbKind == rollback.Kind {
		var rb rollback.Rollback
		Decode(t, w, &rb)
		result, tag = rb.Result, rb.Tag
	} else {
		var ch change.Change
		Decode(t, w, &ch)
		result, tag = ch.Result, ch.Tag
	}
	if result != records.ResultSuccess || tag != "2026.02.10" {
		t.Fatalf("rollback %s: %s to %s", rbKind, result, tag)
	}
	t.Logf("rolled back through %s (%s)", rbKind, rbID)
	if rbKind == change.Kind {
		waitChannel(t, e, incCh.ID, "nexo-be production", "2026.02.10")
		if got := e.Remote.File(t, "main", "helm/nexo-be/values-prod.yaml"); !strings.Contains(got, `tag: "2026.02.10"`) {
			t.Fatalf("values-prod.yaml after the rollback:\n%s", got)
		}
	}

	// Resolve: post-mortem file and PR with the timeline.
	commandIn(t, e, Alice, incCh.ID, "incident status identified Database connection pool too small (10 connections)")
	waitChannel(t, e, incCh.ID, e.Cat.S("incident.status.investigating")+" → "+e.Cat.S("incident.status.identified"))
	commandIn(t, e, Alice, incCh.ID, "incident resolve Rolled back to 2026.02.10")
	waitChannel(t, e, incCh.ID, e.Words("incident.pm.proposed")[0])
	var pr *struct{ Title, Body, Head string }
	for _, p := range e.GitHub.PullRequests() {
		if strings.HasPrefix(p.Head, "postmortem/") {
			pr = &struct{ Title, Body, Head string }{p.Title, p.Body, p.Head}
		}
	}
	if pr == nil || pr.Title != "docs: post-mortem do incident de "+spike.Format("2006-01-02") || pr.Head != "postmortem/"+incCh.Name {
		t.Fatalf("post-mortem PR: %+v", pr)
	}
	md := e.Remote.File(t, pr.Head, "incidents/"+spike.Format("2006-01-02")+"-high-error-rate.md")
	// The playbook's headings in every locale; local times (config timezone).
	clock := e.Cat.Clock
	for _, w := range []string{"# Incident: High error rate", "## Timeline", "- " + clock(deployedAt) + ": " + e.Cat.S("incident.timeline.suspect", "Tag", "2026.02.17"),
		"- " + clock(spike) + ": " + e.Cat.S("incident.timeline.onset", "Rate", e.Cat.Decimal(5, 1)+"%"),
		"## Resolution\n1. ", "2026.02.10", "## Root Cause\nDatabase connection pool too small", "## Prevention\n- [ ]", "## Lessons Learned",
		e.Cat.S("incident.pm.detected", "Duration", i18n.Span(4*time.Minute), "Onset", clock(spike), "Declared", clock(spike.Add(4*time.Minute)))} {
		if !strings.Contains(md, w) {
			t.Errorf("post-mortem lacks %q:\n%s", w, md)
		}
	}
	uploaded := false
	for _, u := range e.Slack.Uploads() {
		if strings.Contains(fmt.Sprintf("%+v", u), "high-error-rate.md") {
			uploaded = true
		}
	}
	if !uploaded {
		t.Errorf("post-mortem not uploaded: %+v", e.Slack.Uploads())
	}
	var inc incident.State
	if err := e.Store.GetDoc(ctx, records.IncidentsCollection, incCh.Name, &inc); err != nil {
		t.Fatal(err)
	}
	if inc.ResolvedAt == nil || inc.Deployment != wf.ID || inc.Postmortem == "" {
		t.Fatalf("incident record: %+v", inc)
	}
}
