package replicas_test

import (
	"fmt"
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

const crashLease = 3 * time.Second

// A replica is killed abruptly (no drain, leases left to expire, requests
// in flight cut) at every step boundary of a promotion, and in the middle
// of the PR, merge and Argo CD sync steps (a GitHub / Argo CD delay keeps
// the request in flight when it dies). After each crash a new replica
// starts; the promotion finishes with one PR, one merge, one effective
// sync, one card and one "live" message.
func TestCrashesAtEveryStepBoundaryAndMidStep(t *testing.T) {
	e := e2e.New(t, e2e.Options{Redis: true})
	e.StopBot()
	dumpOnFailure(t, e)
	n := 0
	r := e.StartReplicaWithLease("c0", crashLease)
	var crashedAt []string
	crash := func(where string) {
		t.Helper()
		r.Crash()
		crashedAt = append(crashedAt, where)
		time.Sleep(crashLease + 300*time.Millisecond) // the pod restarts; its lease expires
		n++
		r = e.StartReplicaWithLease(fmt.Sprintf("c%d", n), crashLease)
	}
	pulls := func() int { return e.GitHub.Count("POST", "/repos/nexo-org/nexo-gitops/pulls") }
	merges := func() int { return e.GitHub.Count("PUT", "/repos/nexo-org/nexo-gitops/pulls/*") }
	const app = "nexo-fe-qa"
	syncs := func() int { return e.Argo.CallCount("POST", "/api/v1/applications/"+app+"/sync") }

	// Mid-step: the PR creation, the merge and the sync each hang once at
	// GitHub / Argo CD; the replica dies while the request is in flight.
	e.GitHub.Inject(githubfake.Fault{Method: "POST", Path: "/repos/nexo-org/nexo-gitops/pulls", Delay: 20 * time.Second})
	e.GitHub.Inject(githubfake.Fault{Method: "PUT", Path: "/repos/nexo-org/nexo-gitops/pulls/*", Delay: 20 * time.Second})
	e.Argo.AddFault(argocdfake.Fault{Method: "POST", Path: "/api/v1/applications/" + app + "/sync", Delay: 20 * time.Second, Times: 1})
	id := e.Slack.SendSlashCommand(e2e.Carol, e2e.Channel, "promote nexo-fe qa 2026.02.18")
	if _, err := e.Slack.WaitAck(id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	cut := map[string]bool{}
	seen := map[string]bool{}
	deadline := time.Now().Add(90 * time.Second)
	for {
		st, _, ok := changeOf(t, e, "nexo-fe", "qa")
		if ok && st == change.Done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done; state %q, crashes %v", st, crashedAt)
		}
		switch {
		case !cut["pr"] && pulls() == 1:
			cut["pr"] = true
			crash("pr (GitHub request in flight)")
		case !cut["merge"] && merges() == 1:
			cut["merge"] = true
			crash("merge (GitHub request in flight)")
		case !cut["sync"] && syncs() == 1:
			cut["sync"] = true
			crash("sync (Argo CD request in flight)")
		case ok && !seen[st]:
			seen[st] = true
			crash(st + " (step boundary)")
		default:
			e.Clock.Advance(10 * time.Second)
			time.Sleep(40 * time.Millisecond)
		}
	}
	cutSyncs := 1
	if !cut["pr"] || !cut["merge"] || !cut["sync"] {
		t.Fatalf("mid-step crashes missing: %v", cut)
	}

	_, c, _ := changeOf(t, e, "nexo-fe", "qa")
	t.Logf("crashes injected: %d at %v", len(crashedAt), crashedAt)
	if c.Result != records.ResultSuccess || len(crashedAt) < 6 {
		t.Fatalf("result %q after %d crashes", c.Result, len(crashedAt))
	}
	prs := 0
	for _, p := range e.GitHub.PullRequests() {
		if strings.Contains(p.Title, "nexo-fe") {
			prs++
		}
	}
	if prs != 1 {
		t.Fatalf("%d PRs opened", prs)
	}
	out, err := exec.Command("git", "-C", e.Remote.Path, "log", "--oneline", "main", "--", "helm/nexo-fe/values-qa.yaml").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	mergedOnMain := 0
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(l, "2026.02.18") {
			mergedOnMain++
		}
	}
	if mergedOnMain != 1 {
		t.Fatalf("%d commits of the change on main:\n%s", mergedOnMain, out)
	}
	if effective := syncs() - cutSyncs; effective != 1 {
		t.Fatalf("%d effective syncs (%d calls, %d cut)", effective, syncs(), cutSyncs)
	}
	cards, live := 0, 0
	for _, m := range e.Slack.Messages(e2e.Channel) {
		if m.ThreadTS == "" && strings.Contains(m.Text, "nexo-fe → qa") {
			cards++
		}
		if strings.Contains(m.Text, "is live in qa") {
			live++
		}
	}
	if cards != 1 || live != 1 {
		t.Fatalf("%d cards, %d live messages", cards, live)
	}
	t.Logf("workflows completed: 1; PR requests %d (1 cut), merge requests %d (1 cut), sync requests %d (%d cut); cards 1", pulls(), merges(), syncs(), cutSyncs)
}
