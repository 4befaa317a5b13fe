package replicas_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/integrations/argocdfake"
	"github.com/nexo-org/nexo-bot/integrations/githubfake"
	"github.com/nexo-org/nexo-bot/internal/e2e"
)

// privateRedis runs a throw-away redis-server on a free port (the
// machine's shared Redis is never stopped). start and stop control it.
type privateRedis struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func newPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is needed for the outage test: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &privateRedis{t: t, port: port, dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *privateRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *privateRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatal("redis-server did not start")
}

// stop kills the server (SIGKILL: an outage, not a shutdown).
func (r *privateRedis) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// Redis dies mid-run: commands answer at once that nothing was changed,
// nothing half-done is left, and everything works when Redis is back.
func TestRedisOutage(t *testing.T) {
	rd := newPrivateRedis(t)
	t.Setenv("REDIS_URL", rd.url())
	e := e2e.New(t, e2e.Options{Redis: true})
	dumpOnFailure(t, e)

	e.Command(e2e.Carol, "promote nexo-fe qa 2026.02.18")
	waitChange(t, e, "nexo-fe", "qa")
	e.Eventually("nexo-fe qa done", 10*time.Second, 100, func() bool {
		st, _, _ := changeOf(t, e, "nexo-fe", "qa")
		return st == change.Done
	})

	rd.stop()
	var answers []time.Duration
	for i, text := range []string{"promote nexo-be qa 2026.02.18", "audit nexo-be", "promote nexo-fe staging 2026.02.17"} {
		sent := time.Now()
		e.Command(e2e.Carol, text)
		want := i + 1
		if !e.Slack.WaitFor(func() bool {
			return countEphemerals(e, e2e.Carol, "state store is unavailable, so nothing was changed") >= want
		}, 10*time.Second) {
			t.Fatalf("%q: no 'state store unavailable' answer; ephemerals: %+v", text, e.Slack.Ephemerals(e2e.Carol))
		}
		answers = append(answers, time.Since(sent))
	}
	t.Logf("answers while Redis was down: %v", answers)
	for _, d := range answers {
		if d > 3*time.Second {
			t.Fatalf("an answer took %s (> 3 s)", d)
		}
	}
	prsBefore := e.GitHub.Count("POST", "/repos/nexo-org/nexo-gitops/pulls")

	// Back (empty: this Redis keeps nothing on disk). Nothing half-done
	// exists, and the same command now works.
	rd.start()
	if !e.Slack.WaitFor(func() bool { return e.Store.Ping(context.Background()) == nil }, 10*time.Second) {
		t.Fatal("the store did not come back")
	}
	if wfs := e.Workflows(change.Kind); len(wfs) != 0 {
		t.Fatalf("%d workflows after the outage", len(wfs))
	}
	e.Command(e2e.Carol, "promote nexo-be qa 2026.02.18")
	waitChange(t, e, "nexo-be", "qa")
	e.Eventually("nexo-be qa done", 10*time.Second, 100, func() bool {
		st, _, _ := changeOf(t, e, "nexo-be", "qa")
		return st == change.Done
	})
	if n := e.GitHub.Count("POST", "/repos/nexo-org/nexo-gitops/pulls"); n != prsBefore+1 {
		t.Fatalf("%d PR requests after the outage, want %d", n, prsBefore+1)
	}
}

func countEphemerals(e *e2e.Env, user, text string) int {
	n := 0
	for _, m := range e.Slack.Ephemerals(user) {
		if strings.Contains(m.Text+string(m.Blocks), text) {
			n++
		}
	}
	return n
}

// Slack answers 429 and 5xx in storms; GitHub and Argo CD fail for a
// while. The workflow retries with back-off, says in the thread what it is
// waiting for, and finishes; the card ends as Done and no final message is
// lost or doubled.
func TestSlackStormsAndSlowGitHubAndArgoCD(t *testing.T) {
	e := e2e.New(t, e2e.Options{Redis: true})
	dumpOnFailure(t, e)
	e.Slack.InjectRateLimit("chat.update", 6, 300*time.Millisecond)
	e.Slack.Inject5xx("chat.update", 3)
	e.Slack.Inject5xx("chat.postMessage", 2)
	e.GitHub.Inject(githubfake.Fault{Method: "POST", Path: "/repos/nexo-org/nexo-gitops/pulls", Status: 502, Message: "Server Error", Times: 4})
	e.Argo.AddFault(argocdfake.Fault{Method: "GET", Path: "/api/v1/applications/nexo-fe-qa", Status: 503, Code: 14, Message: "upstream connect error", Times: 12})

	e.Command(e2e.Carol, "promote nexo-fe qa 2026.02.18")
	waitChange(t, e, "nexo-fe", "qa")
	e.Eventually("nexo-fe qa done", 20*time.Second, 300, func() bool {
		st, _, _ := changeOf(t, e, "nexo-fe", "qa")
		return st == change.Done
	})
	_, c, _ := changeOf(t, e, "nexo-fe", "qa")
	if c.Result != records.ResultSuccess {
		t.Fatalf("result %q", c.Result)
	}
	card := e.WaitFind("nexo-fe → qa")
	if !e.Slack.WaitFor(func() bool {
		m, _ := e.Slack.Message(card.Channel, card.TS)
		return strings.Contains(m.Text, "Done")
	}, 10*time.Second) {
		m, _ := e.Slack.Message(card.Channel, card.TS)
		t.Fatalf("final card: %q", m.Text)
	}
	waiting := map[string]int{}
	live := 0
	for _, m := range e.Slack.Messages(e2e.Channel) {
		if strings.HasPrefix(m.Text, ":hourglass_flowing_sand: Still trying to ") {
			waiting[strings.SplitN(m.Text, ":", 3)[2][1:40]]++
		}
		if strings.Contains(m.Text, "is live in qa") {
			live++
		}
	}
	var updates, limited, failed int
	for _, call := range e.Slack.Calls() {
		if call.Method == "chat.update" {
			updates++
			switch {
			case call.Status == 429:
				limited++
			case call.Status >= 500:
				failed++
			}
		}
	}
	m, _ := e.Slack.Message(card.Channel, card.TS)
	t.Logf("thread said: %v; chat.update calls %d (429: %d, 5xx: %d), card revisions %d, live messages %d; PR requests %d", waiting, updates, limited, failed, len(m.Updates), live, e.GitHub.Count("POST", "/repos/nexo-org/nexo-gitops/pulls"))
	if live != 1 {
		t.Fatalf("%d 'live' messages", live)
	}
	if limited != 6 || failed != 3 {
		t.Fatalf("the storms were not all hit: 429 %d, 5xx %d", limited, failed)
	}
	var sawPR, sawArgo bool
	for k := range waiting {
		sawPR = sawPR || strings.Contains(k, "open the pull request")
		sawArgo = sawArgo || strings.Contains(k, "reach Argo CD")
	}
	if !sawPR || !sawArgo {
		t.Fatalf("the thread did not say what it waits for: %v", waiting)
	}
	prs := 0
	for _, p := range e.GitHub.PullRequests() {
		if strings.Contains(p.Title, "nexo-fe") {
			prs++
		}
	}
	if prs != 1 {
		t.Fatalf("%d PRs", prs)
	}
}
