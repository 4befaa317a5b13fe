package replicas_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/internal/e2e"
	"github.com/nexo-org/nexo-bot/store"
)

func changeOf(t testing.TB, e *e2e.Env, service, env string) (string, change.Change, bool) {
	for _, wf := range e.Workflows(change.Kind) {
		var c change.Change
		e2e.Decode(t, wf, &c)
		if c.Service == service && c.Env == env {
			return wf.State, c, true
		}
	}
	return "", change.Change{}, false
}

func waitChange(t testing.TB, e *e2e.Env, service, env string) {
	t.Helper()
	if !e.Slack.WaitFor(func() bool { _, _, ok := changeOf(t, e, service, env); return ok }, 15*time.Second) {
		t.Fatalf("no change workflow for %s/%s", service, env)
	}
}

// sender sends envelopes, waits for their acks and redelivers ~10%.
type sender struct {
	t          *testing.T
	e          *e2e.Env
	rng        *rand.Rand
	sent       int
	redelivers int
	pending    []string
}

// statusChannel takes the in-channel status answers, so that they do not
// queue in front of the workflow posts (Slack paces ~1 post/s per channel).
const statusChannel = "C0STATUS"

func (s *sender) command(user, text string) { s.commandIn(e2e.Channel, user, text) }

func (s *sender) commandIn(channel, user, text string) {
	s.pending = append(s.pending, s.e.Slack.SendSlashCommand(user, channel, text))
	s.sent++
	s.flushIfFull()
}

func (s *sender) click(user string, channel, ts, action string) {
	id, err := s.e.Slack.ClickButton(user, channel, ts, action, "")
	if err != nil {
		s.t.Fatal(err)
	}
	s.pending = append(s.pending, id)
	s.sent++
	s.flushIfFull()
}

func (s *sender) flushIfFull() {
	if len(s.pending) >= 40 {
		s.flush()
	}
}

func (s *sender) flush() {
	s.t.Helper()
	for _, id := range s.pending {
		if _, err := s.e.Slack.WaitAck(id, 10*time.Second); err != nil {
			s.t.Fatal(err)
		}
		if s.rng.IntN(10) == 0 {
			if err := s.e.Slack.Redeliver(id); err != nil {
				s.t.Fatal(err)
			}
			s.redelivers++
			if _, err := s.e.Slack.WaitAck(id, 10*time.Second); err != nil {
				s.t.Fatal(err)
			}
		}
	}
	s.pending = nil
}

func TestReplicasHandleEveryEnvelopeExactlyOnce(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d replicas", n), func(t *testing.T) { runReplicas(t, n, envelopes()) })
	}
}

func runReplicas(t *testing.T, replicas, total int) {
	e := e2e.New(t, e2e.Options{Redis: true})
	e.StopBot()
	dumpOnFailure(t, e)
	var reps []*e2e.Replica
	for i := range replicas {
		reps = append(reps, e.StartReplica(fmt.Sprintf("r%d", i)))
	}
	if !e.Slack.WaitFor(func() bool { return e.Slack.Connections() == replicas }, 5*time.Second) {
		t.Fatalf("%d connections, want %d", e.Slack.Connections(), replicas)
	}
	s := &sender{t: t, e: e, rng: rand.New(rand.NewPCG(uint64(replicas), 42))}

	// Workflows: develop (then the auto-promotion to qa after 5 min),
	// staging with an approval and the 30-minute soak in qa, a production
	// hotfix with SLA reminders at 5 and 10 min and a page at 15.
	s.command(e2e.Carol, "promote nexo-be develop 2026.02.18")
	s.command(e2e.Carol, "promote nexo-fe staging 2026.02.17")
	s.command(e2e.Carol, "hotfix nexo-be 2026.02.17-hotfix --incident 456 --reason pool")
	s.flush()
	waitChange(t, e, "nexo-fe", "staging")
	stagingCard := e.WaitFind("Promote", "nexo-fe", "staging")
	hotfixCard := e.WaitFind("nexo-be", "2026.02.17-hotfix")
	start := time.Now()

	// The mix: help, status, typos and bad input, duplicate requests,
	// approvals (duplicated, refused) and audit views.
	mix := []func(){
		func() { s.command(e2e.Alice, "help") },
		func() { s.command(e2e.Bob, "help promote") },
		func() { s.commandIn(statusChannel, e2e.Carol, "status nexo-be") },
		func() { s.command(e2e.Carol, "promot nexo-be qa") },
		func() { s.command(e2e.Carol, "promote nexo-bee qa") },
		func() { s.command(e2e.Carol, "promote ../../etc qa") },
		func() { s.command(e2e.Carol, "promote nexo-be production 2026.13.01") },
		func() { s.command(e2e.Platf, "promote nexo-fe staging 2026.02.17") }, // already open
		func() { s.command(e2e.Platf, "audit nexo-fe --limit 5") },
		func() { s.command("U0STRANGER", "promote nexo-fe qa 2026.02.18") }, // not in a group
		func() { s.click(e2e.Platf, stagingCard.Channel, stagingCard.TS, "change.approve") },
		func() { s.click(e2e.Alice, stagingCard.Channel, stagingCard.TS, "change.approve") }, // wrong group
		func() { s.click(e2e.Carol, hotfixCard.Channel, hotfixCard.TS, "change.approve") },   // requester
	}
	for s.sent < total {
		mix[s.rng.IntN(len(mix))]()
	}
	s.flush()
	sendTime := time.Since(start)

	// The SLA timers: jump to each due time and wait for its message (each
	// jump is longer than a timer claim).
	for i, due := range []time.Duration{5 * time.Minute, 10 * time.Minute, 15 * time.Minute} {
		if d := e2e.Start.Add(due + time.Second).Sub(e.Clock.Now()); d > 0 {
			e.Clock.Advance(d)
		}
		want := i + 1
		if !e.Slack.WaitFor(func() bool { r, p := slaMessages(e); return r+p >= want }, 15*time.Second) {
			t.Fatalf("no SLA message %d at +%s", want, due)
		}
	}
	e.Eventually("staging done", 20*time.Second, 200, func() bool {
		st, _, _ := changeOf(t, e, "nexo-fe", "staging")
		return st == change.Done
	})
	hotfixCard, _ = e.Slack.Message(hotfixCard.Channel, hotfixCard.TS)
	for _, u := range []string{e2e.Alice, e2e.Bob, e2e.Bob} {
		s.click(u, hotfixCard.Channel, hotfixCard.TS, "change.approve")
	}
	s.flush()
	e.Eventually("every change done", 20*time.Second, 300, func() bool {
		for _, k := range [][2]string{{"nexo-be", "develop"}, {"nexo-be", "qa"}, {"nexo-be", "production"}} {
			if st, _, _ := changeOf(t, e, k[0], k[1]); st != change.Done {
				return false
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond) // let the last replies land

	// Exactly once: every envelope's trigger id handled by exactly one
	// replica, once, redeliveries included.
	handled := map[string]int{}
	perReplica := make([]int, len(reps))
	ephemerals := 0
	for i, r := range reps {
		for trig, n := range r.Handled.Snapshot() {
			handled[trig] += n
			perReplica[i] += n
		}
		ephemerals += r.Handled.Ephemerals()
	}
	duplicated, calls := 0, 0
	for _, n := range handled {
		calls += n
		duplicated += n - 1
	}
	lost := s.sent - len(handled)
	delivered := 0
	for _, u := range []string{e2e.Alice, e2e.Bob, e2e.Carol, e2e.Platf, "U0STRANGER"} {
		delivered += len(e.Slack.Ephemerals(u))
	}
	t.Logf("replicas %d: sent %d envelopes (+%d redeliveries), handled %d, duplicated %d, lost %d; per replica %v; ephemeral answers %d returned, %d delivered",
		replicas, s.sent, s.redelivers, len(handled), duplicated, lost, perReplica, ephemerals, delivered)
	if duplicated != 0 || lost != 0 || calls != s.sent {
		t.Fatalf("sent %d, handled %d (calls %d), duplicated %d, lost %d", s.sent, len(handled), calls, duplicated, lost)
	}
	for i, n := range perReplica {
		if n == 0 {
			t.Fatalf("replica %d handled nothing: envelopes were not spread", i)
		}
	}
	if delivered != ephemerals {
		t.Fatalf("the routers returned %d ephemeral answers, Slack got %d", ephemerals, delivered)
	}

	// No doubled side effect: one PR, merge and sync per change.
	wfs := e.Workflows(change.Kind)
	if len(wfs) != 4 {
		t.Fatalf("%d change workflows, want 4", len(wfs))
	}
	if n := e.GitHub.Count("POST", "/repos/nexo-org/nexo-gitops/pulls"); n != 4 {
		t.Fatalf("%d PRs created for 4 changes", n)
	}
	for _, wf := range wfs {
		var c change.Change
		e2e.Decode(t, wf, &c)
		if c.Result != records.ResultSuccess {
			t.Fatalf("%s/%s: result %q (%s)", c.Service, c.Env, c.Result, wf.State)
		}
		if n := e.GitHub.Count("PUT", fmt.Sprintf("/repos/nexo-org/nexo-gitops/pulls/%d/merge", c.PR)); n != 1 {
			t.Fatalf("PR #%d merged %d times", c.PR, n)
		}
		app := e.Config.AppName(c.Service, c.Env)
		if n := e.Argo.CallCount("POST", "/api/v1/applications/"+app+"/sync"); n > 1 {
			t.Fatalf("%s synced %d times", app, n)
		}
		cards := 0
		for _, m := range e.Slack.Messages(e2e.Channel) {
			if m.TS == wf.CardTS || (m.ThreadTS == "" && strings.Contains(m.Text, c.Service+" → "+c.Env) && strings.Contains(m.Text, c.Tag)) {
				cards++
			}
		}
		if cards != 1 {
			t.Fatalf("%d cards for %s/%s", cards, c.Service, c.Env)
		}
	}
	if _, c, _ := changeOf(t, e, "nexo-be", "qa"); !c.Auto {
		t.Fatalf("nexo-be qa was not the auto-promotion: %+v", c)
	}
	// Every timer fired once: 2 reminders (5 and 10 min), 1 SLA page.
	reminders, pages := slaMessages(e)
	t.Logf("sending took %s; timers: %d reminders, %d SLA pages; PRs %d; change workflows completed %d", sendTime.Round(time.Millisecond), reminders, pages, e.GitHub.Count("POST", "/repos/nexo-org/nexo-gitops/pulls"), len(wfs))
	if reminders != 2 || pages != 1 {
		t.Fatalf("%d reminders (want 2), %d pages (want 1)", reminders, pages)
	}
}

// envelopes is how many envelopes each replica test sends
// (NEXO_REPLICA_ENVELOPES, default 1000).
func envelopes() int {
	if n, err := strconv.Atoi(os.Getenv("NEXO_REPLICA_ENVELOPES")); err == nil && n > 0 {
		return n
	}
	return 1000
}

// dumpOnFailure logs the workflows and the channel when the test fails.
func dumpOnFailure(t *testing.T, e *e2e.Env) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		wfs, _ := e.Store.ListWorkflows(context.Background(), store.WorkflowFilter{})
		for _, wf := range wfs {
			t.Logf("workflow %s kind %s state %s done %v", wf.ID, wf.Kind, wf.State, wf.Done)
			for _, st := range wf.Steps[max(0, len(wf.Steps)-6):] {
				t.Logf("   %s %s %s %.200s", st.Time.Format(time.TimeOnly), st.State, st.Result, st.Detail)
			}
		}
		t.Logf("channel:\n%s", e.Dump())
		var warn []string
		for _, l := range strings.Split(e.Logs.String(), "\n") {
			if strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`) {
				warn = append(warn, l)
			}
		}
		t.Logf("last warnings:\n%s", strings.Join(warn[max(0, len(warn)-25):], "\n"))
	})
}

// slaMessages counts the hotfix SLA reminders and pages in the channel.
func slaMessages(e *e2e.Env) (reminders, pages int) {
	for _, m := range e.Slack.Messages(e2e.Channel) {
		if strings.Contains(m.Text, ":alarm_clock: Hotfix nexo-be") {
			reminders++
		}
		if strings.Contains(m.Text, ":rotating_light: Hotfix nexo-be") {
			pages++
		}
	}
	return reminders, pages
}
