package commands_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/chat/chattest"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/scenarios"
	"github.com/nexo-org/nexo-bot/commands/views"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/boltstore"
	"github.com/nexo-org/nexo-bot/workflow"
)

const (
	azChannel  = "C0DEPLOYS"
	azProd     = "C0PRODOPS"
	azOutsider = "U0OUTSIDE"
	azCarol    = "U0CAROL01" // developers
	azOncall   = "U0ONCALL1" // only through the S0SREONCALL user group
	azAdmin    = "U0ADMIN01"
)

type azEnv struct {
	d      *commands.Deps
	r      *commands.Router
	chat   *chattest.Recorder
	runs   []string // what the probe command and button ran
	clicks []chat.Click
}

var azStart = time.Date(2026, 2, 18, 10, 0, 0, 0, time.UTC)

func azConfig(t testing.TB) *config.Config {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "docs", "examples", "nexo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Slack.Channel = azChannel
	cfg.Admins = []string{azAdmin}
	for i := range cfg.Environments {
		if cfg.Environments[i].Name == "production" {
			cfg.Environments[i].Policy.Channels = []string{azProd}
		}
	}
	return cfg
}

func newAzEnv(t *testing.T) *azEnv {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := &chattest.Recorder{Groups: map[string][]string{"S0SREONCALL": {azOncall}}}
	d := &commands.Deps{Config: azConfig(t), Store: st, Chat: c, Log: log, Engine: workflow.New(st, nil, log, "test")}
	router, err := scenarios.Setup(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	e := &azEnv{d: d, r: router, chat: c}
	// A mutating probe command and a probe button: they record that they ran.
	router.Register(&commands.Spec{Name: "poke", Args: []string{"service", "env"}, Mutating: true, Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
		e.runs = append(e.runs, r.UserID+" "+strings.Join(r.Args.Words, " "))
		return commands.Ephemeral(chat.Message{Text: "poked"}), nil
	}})
	router.OnClick("azprobe", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		e.clicks = append(e.clicks, c)
		return nil, nil
	})
	return e
}

func (e *azEnv) command(t *testing.T, user, channel, text string) string {
	t.Helper()
	r, err := e.r.HandleCommand(context.Background(), chat.Command{UserID: user, ChannelID: channel, Text: text})
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	if r == nil {
		return ""
	}
	return r.Message.PlainText()
}

func (e *azEnv) click(t *testing.T, user, channel, action, value string) string {
	t.Helper()
	r, err := e.r.HandleClick(context.Background(), chat.Click{UserID: user, ChannelID: channel, Action: action, Value: value})
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	if r == nil {
		return ""
	}
	return r.Message.PlainText()
}

func (e *azEnv) audit(t *testing.T, f store.AuditFilter) []store.AuditEntry {
	t.Helper()
	got, err := e.d.Store.ListAudit(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestAuthzRefusesOutsidersBeforeAnythingRuns(t *testing.T) {
	e := newAzEnv(t)
	for _, text := range []string{"poke nexo-be qa", "promote nexo-be qa 2026.02.18", "hotfix nexo-be 2026.02.17-hotfix --incident 456", "rollback nexo-be production"} {
		got := e.command(t, azOutsider, azChannel, text)
		if !strings.Contains(got, "Only members of developers, platform-team, sre-team") {
			t.Fatalf("%q by an outsider: %q", text, got)
		}
	}
	if len(e.runs) != 0 {
		t.Fatalf("the command ran for an outsider: %v", e.runs)
	}
	wfs, _ := e.d.Store.ListWorkflows(context.Background(), store.WorkflowFilter{})
	if len(wfs) != 0 {
		t.Fatalf("%d workflows created by refused commands", len(wfs))
	}
	// Read-only commands stay open to everybody.
	if got := e.command(t, azOutsider, azChannel, "help"); strings.Contains(got, "Only members") {
		t.Fatalf("help refused: %q", got)
	}
	refusals := e.audit(t, store.AuditFilter{Actor: azOutsider})
	if len(refusals) != 4 {
		t.Fatalf("audit has %d refusals, want 4: %+v", len(refusals), refusals)
	}
	r := refusals[len(refusals)-1] // oldest: the poke
	if r.Action != "poke.authz" || r.Outcome != "refused" || r.Service != "nexo-be" || r.Env != "qa" || r.Time.IsZero() || !strings.Contains(r.Detail, "/nexo poke nexo-be qa") {
		t.Fatalf("audit entry: %+v", r)
	}
}

func TestAuthzAcceptsMembersUserGroupsAndAdmins(t *testing.T) {
	e := newAzEnv(t)
	for _, u := range []string{azCarol, azOncall, azAdmin} {
		if got := e.command(t, u, azChannel, "poke nexo-be qa"); got != "poked" {
			t.Fatalf("%s: %q", u, got)
		}
	}
	if len(e.runs) != 3 {
		t.Fatalf("runs: %v", e.runs)
	}
	// The user group was resolved through the chat once and then cached.
	calls := e.chat.GroupCalls()
	e.command(t, azOncall, azChannel, "poke nexo-fe qa")
	if e.chat.GroupCalls() != calls {
		t.Fatalf("user group resolved again within the cache window (%d → %d calls)", calls, e.chat.GroupCalls())
	}
}

func TestAuthzFailsClosedWhenUserGroupsCannotBeResolved(t *testing.T) {
	e := newAzEnv(t)
	e.chat.SetGroupErr(errors.New("usergroups.users.list: ratelimited"))
	got := e.command(t, azOncall, azChannel, "poke nexo-be qa")
	if !strings.Contains(got, "could not check your groups") || len(e.runs) != 0 {
		t.Fatalf("got %q, runs %v", got, e.runs)
	}
	// A member listed by user id does not need the lookup.
	if got := e.command(t, azCarol, azChannel, "poke nexo-be qa"); got != "poked" {
		t.Fatalf("carol: %q", got)
	}
}

func TestAuthzEnvironmentChannelAllowList(t *testing.T) {
	e := newAzEnv(t)
	got := e.command(t, azCarol, azChannel, "poke nexo-be prod")
	if !strings.Contains(got, "Changes to production are only accepted in <#C0PRODOPS>") {
		t.Fatalf("got %q", got)
	}
	if got := e.command(t, azCarol, azProd, "poke nexo-be production"); got != "poked" {
		t.Fatalf("in the allowed channel: %q", got)
	}
	// Other environments have no list.
	if got := e.command(t, azCarol, azChannel, "poke nexo-be staging"); got != "poked" {
		t.Fatalf("staging: %q", got)
	}
	// Admins may act anywhere.
	if got := e.command(t, azAdmin, azChannel, "poke nexo-be production"); got != "poked" {
		t.Fatalf("admin: %q", got)
	}
	if len(e.runs) != 3 {
		t.Fatalf("runs: %v", e.runs)
	}
	a := e.audit(t, store.AuditFilter{Service: "nexo-be"})
	if len(a) != 1 || a[0].Env != "production" || a[0].Actor != azCarol || a[0].Target != azChannel {
		t.Fatalf("audit: %+v", a)
	}
}

func TestAuthzButtons(t *testing.T) {
	e := newAzEnv(t)
	ctx := context.Background()
	wf := &store.Workflow{ID: "change-az1", Kind: "probe", State: "approval", Channel: azChannel, Data: []byte(`{"service":"nexo-be","env":"staging"}`)}
	if err := e.d.Store.CreateWorkflow(ctx, wf); err != nil {
		t.Fatal(err)
	}
	prodWF := &store.Workflow{ID: "change-az2", Kind: "probe", State: "approval", Channel: azChannel, Data: []byte(`{"service":"nexo-fe","env":"production"}`)}
	if err := e.d.Store.CreateWorkflow(ctx, prodWF); err != nil {
		t.Fatal(err)
	}
	// An outsider's click never reaches the handler.
	if got := e.click(t, azOutsider, azChannel, "azprobe.go", wf.ID); !strings.Contains(got, "Only members") {
		t.Fatalf("outsider click: %q", got)
	}
	// A payload replayed from another channel is refused.
	if got := e.click(t, azCarol, "C0ELSEWHERE", "azprobe.go", wf.ID); !strings.Contains(got, "belongs to a thread in <#C0DEPLOYS>") {
		t.Fatalf("replayed click: %q", got)
	}
	// The env's channel list applies to buttons too.
	if got := e.click(t, azCarol, azChannel, "azprobe.go", prodWF.ID); !strings.Contains(got, "only accepted in") {
		t.Fatalf("prod click outside the prod channel: %q", got)
	}
	if len(e.clicks) != 0 {
		t.Fatalf("handler ran: %+v", e.clicks)
	}
	// The real thing goes through, with the value kept intact.
	if got := e.click(t, azCarol, azChannel, "azprobe.go", wf.ID+"|qa"); got != "" {
		t.Fatalf("member click: %q", got)
	}
	if len(e.clicks) != 1 || e.clicks[0].Value != wf.ID+"|qa" {
		t.Fatalf("clicks: %+v", e.clicks)
	}
	refused := e.audit(t, store.AuditFilter{})
	if len(refused) != 3 {
		t.Fatalf("audit: %+v", refused)
	}
	for _, a := range refused {
		if a.Outcome != "refused" || a.Action != "azprobe.go.authz" || a.Actor == "" {
			t.Fatalf("audit entry: %+v", a)
		}
	}
}

func TestAuditCommand(t *testing.T) {
	e := newAzEnv(t)
	ctx := context.Background()
	for i, action := range []string{"promote.request", "change.approve", "change.approve", "promote.merge"} {
		outcome := "ok"
		if i == 1 {
			outcome = "refused"
		}
		if err := e.d.Store.AppendAudit(ctx, store.AuditEntry{Time: azStart.Add(time.Duration(i) * time.Minute), Actor: azCarol, Action: action, Service: "nexo-be", Env: "staging", Target: "change-1", Outcome: outcome, Detail: "step " + string(rune('A'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	_ = e.d.Store.AppendAudit(ctx, store.AuditEntry{Time: azStart, Actor: azCarol, Action: "promote.request", Service: "nexo-fe", Outcome: "ok"})

	got := e.command(t, azOutsider, azChannel, "audit nexo-be --limit 2")
	lines := strings.Split(strings.TrimSpace(got), "\n")
	var entries []string
	for _, l := range lines {
		if strings.Contains(l, "<@U0CAROL01>") {
			entries = append(entries, l)
		}
	}
	if len(entries) != 2 || !strings.Contains(entries[0], "promote.merge") || !strings.Contains(entries[1], "step C") {
		t.Fatalf("audit nexo-be --limit 2:\n%s", got)
	}
	all := e.command(t, azCarol, azChannel, "audit nexo-be")
	if strings.Count(all, "<@U0CAROL01>") != 4 || strings.Contains(all, "nexo-fe") || !strings.Contains(all, ":no_entry_sign:") {
		t.Fatalf("audit nexo-be:\n%s", all)
	}
	for text, want := range map[string]string{
		"audit nexo-be --limit x": "positive number",
		"audit ../../etc":         "not a valid service name",
		"audit":                   "Usage",
	} {
		if got := e.command(t, azCarol, azChannel, text); !strings.Contains(got, want) {
			t.Fatalf("%q: %q", text, got)
		}
	}
	// The limit is capped.
	for i := 0; i < views.AuditMaxLimit+5; i++ {
		_ = e.d.Store.AppendAudit(ctx, store.AuditEntry{Actor: azCarol, Action: "x", Service: "nexo-fe", Outcome: "ok"})
	}
	if n := strings.Count(e.command(t, azCarol, azChannel, "audit nexo-fe --limit 1000"), "<@U0CAROL01>"); n != views.AuditMaxLimit {
		t.Fatalf("%d entries shown, want the cap %d", n, views.AuditMaxLimit)
	}
}
