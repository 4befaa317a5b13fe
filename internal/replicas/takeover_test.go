package replicas_test

import (
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/commands/rollback"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/argocdfake"
	"github.com/nexo-org/nexo-bot/integrations/githubfake"
	"github.com/nexo-org/nexo-bot/internal/e2e"
	"github.com/nexo-org/nexo-bot/store"
)

// processLease is workflow.lease_ttl of the process tests: heartbeats every
// 667ms, a replica is gone 2s after its last one.
const processLease = 4 * time.Second

// hold keeps a request in flight until the replica that sent it dies.
const hold = 2 * time.Minute

// takeover is one kill point and how long the survivors took.
type takeover struct {
	flow, point string
	sig         syscall.Signal
	victim      string
	// lease: the kill → a survivor holds the workflow's lease; step: the
	// kill → a survivor saved the workflow's next step.
	lease, step time.Duration
	by          string
}

// scenario drives a production promotion, a hotfix and a rollback through
// nexo-bot processes, killing the replica that works on each at every
// step boundary and in the middle of the GitHub merge, the Argo CD sync
// and the Argo CD rollback requests.
type scenario struct {
	*cluster
	rows []takeover
	// owners maps every lease token seen to its holder.
	owners map[uint64]string
	// pending is the fresh replica being started after the last kill.
	pending chan *nexoProc
}

// leaseOf reads workflow id's lease and remembers who held which token.
func (s *scenario) leaseOf(id string) (owner string, token uint64, held bool) {
	owner, token, held = s.lease(id)
	if held {
		s.owners[token] = owner
	}
	return owner, token, held
}

// settle waits for the replica started after the last kill.
func (s *scenario) settle() {
	s.tb.Helper()
	if s.pending == nil {
		return
	}
	select {
	case p := <-s.pending:
		if p == nil {
			s.tb.Fatalf("the fresh replica did not start\n%s", s.dump())
		}
	case <-time.After(60 * time.Second):
		s.tb.Fatalf("the fresh replica did not start within 60s\n%s", s.dump())
	}
	s.pending = nil
}

// startAsync starts a fresh replica in the background (the flow goes on
// meanwhile, as it does while Kubernetes restarts a pod).
func (s *scenario) startAsync() {
	ch := make(chan *nexoProc, 1)
	s.pending = ch
	go func() {
		p, err := s.tryStart()
		if err != nil {
			s.tb.Errorf("fresh replica: %v", err)
		}
		ch <- p
	}()
}

func (s *scenario) e() *e2e.Env { return s.cluster.e }

// kill stops the replica working on workflow id (the lease holder, or,
// for a parked workflow, the one that parked it) with sig, then measures
// the hand-over: until a survivor holds the lease, and until a survivor
// has done the next step — saved it (a write with a higher fencing token),
// or, when reached is set, redone the step's work up to its next request
// that the test holds. act runs once the victim is dead and Slack has
// dropped its connection (e.g. the approvals clicked on the survivors). A
// fresh replica is then started in the background, so that two or more run
// at every kill.
func (s *scenario) kill(flow, point, id string, sig syscall.Signal, victimOwner string, token uint64, act func(), reached func() bool) {
	s.tb.Helper()
	s.settle()
	victim := s.byOwner(victimOwner)
	if victim == nil {
		s.tb.Fatalf("%s/%s: no replica owns %q\n%s", flow, point, victimOwner, s.dump())
	}
	if len(s.alive()) < 2 {
		s.tb.Fatalf("%s/%s: fewer than two replicas alive", flow, point)
	}
	conns := s.e().Slack.Connections()
	start := time.Now()
	victim.gone = true
	if err := victim.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatal(err)
	}
	row := takeover{flow: flow, point: point, sig: sig, victim: victim.name}
	poll := func() bool {
		if row.lease == 0 {
			if owner, tok, held := s.leaseOf(id); held && tok > token && owner != victimOwner {
				row.lease = time.Since(start)
				if p := s.byOwner(owner); p != nil {
					row.by = p.name
				}
			}
		}
		if s.workflow(id).Fence > token || (reached != nil && reached()) {
			row.step = time.Since(start)
			if row.lease == 0 {
				row.lease = row.step // held and released between two polls
			}
			return true
		}
		return false
	}
	if act != nil {
		s.waitFor(flow+"/"+point+": the victim to end", 40*time.Second, func() bool {
			select {
			case <-victim.done:
				return s.e().Slack.Connections() < conns
			default:
				return false
			}
		})
		act()
	}
	s.waitFor(fmt.Sprintf("%s/%s: a survivor to take the workflow over", flow, point), 45*time.Second, poll)
	select {
	case <-victim.done:
	case <-time.After(40 * time.Second):
		s.tb.Fatalf("%s/%s: replica %s still runs 40s after %s", flow, point, victim.name, sig)
	}
	if sig == syscall.SIGTERM && victim.exit != nil {
		s.tb.Errorf("%s/%s: replica %s exited with %v after SIGTERM", flow, point, victim.name, victim.exit)
	}
	s.rows = append(s.rows, row)
	s.startAsync()
}

// killHolder kills the replica holding workflow id's lease.
func (s *scenario) killHolder(flow, point, id string, sig syscall.Signal, reached func() bool) {
	s.tb.Helper()
	var owner string
	var token uint64
	s.waitFor(flow+"/"+point+": the lease to be held", 20*time.Second, func() bool {
		var held bool
		owner, token, held = s.leaseOf(id)
		return held
	})
	s.kill(flow, point, id, sig, owner, token, nil, reached)
}

// waitCalls waits until n requests matched count.
func (s *scenario) waitCalls(what string, n int, count func() int) {
	s.tb.Helper()
	s.waitFor(what, 30*time.Second, func() bool { return count() >= n })
}

func (s *scenario) state(id string) string { return s.workflow(id).State }

// parkedBy waits until workflow id is parked in state (no lease held, the
// last step a wait) and returns the replica that parked it (the holder of
// the token that wrote it) and that token.
func (s *scenario) parkedBy(id, state string) (owner string, token uint64) {
	s.tb.Helper()
	s.waitFor("workflow "+id+" parked in "+state, 30*time.Second, func() bool {
		if _, _, held := s.leaseOf(id); held {
			return false
		}
		wf := s.workflow(id)
		if wf.State != state || len(wf.Steps) == 0 || wf.Steps[len(wf.Steps)-1].Result != "wait" {
			return false
		}
		token = wf.Fence
		owner = s.owners[token]
		if p := s.byOwner(owner); p == nil || p.gone {
			// Parked again by a replica whose lease we did not catch (a
			// fresh replica resuming it): any live replica will do.
			owner = s.alive()[0].owner
		}
		return true
	})
	return owner, token
}

// command sends `/nexo text` and waits for the ack, redelivering once if
// the envelope went to a connection that was closing.
func (s *scenario) command(user, text string) {
	s.tb.Helper()
	id := s.e().Slack.SendSlashCommand(user, e2e.Channel, text)
	s.acked(id)
}

func (s *scenario) acked(envelope string) {
	s.tb.Helper()
	for attempt := 0; attempt < 3; attempt++ {
		if _, err := s.e().Slack.WaitAck(envelope, 3*time.Second); err == nil {
			return
		}
		if err := s.e().Slack.Redeliver(envelope); err != nil {
			s.tb.Fatal(err)
		}
	}
	s.tb.Fatalf("envelope %s never acked\n%s", envelope, s.dump())
}

func (s *scenario) click(user, ts, action string) {
	s.tb.Helper()
	id, err := s.e().Slack.ClickButton(user, e2e.Channel, ts, action, "")
	if err != nil {
		s.tb.Fatal(err)
	}
	s.acked(id)
}

// openWorkflow waits for the open workflow holding lockKey.
func (s *scenario) openWorkflow(kind, lockKey string) *store.Workflow {
	s.tb.Helper()
	var found *store.Workflow
	s.waitFor("a "+kind+" workflow for "+lockKey, 20*time.Second, func() bool {
		for _, wf := range s.e().Workflows(kind) {
			if wf.LockKey == lockKey && !wf.Done {
				found = wf
				return true
			}
		}
		return false
	})
	return found
}

func (s *scenario) cardTS(id string) string {
	s.tb.Helper()
	var ts string
	s.waitFor("the card of "+id, 20*time.Second, func() bool { ts = s.workflow(id).CardTS; return ts != "" })
	return ts
}

// topLevel counts the channel's thread parents that carry workflow id (its
// buttons and card name it).
func (s *scenario) cards(id string) int {
	n := 0
	for _, m := range s.e().Slack.Messages(e2e.Channel) {
		if m.ThreadTS == "" || m.ThreadTS == m.TS {
			if strings.Contains(e2e.Content(m), id) {
				n++
			}
		}
	}
	return n
}

func (s *scenario) replies(parent string, words ...string) int {
	n := 0
	for _, m := range s.e().Slack.Messages(e2e.Channel) {
		if m.ThreadTS == parent && m.TS != parent {
			all := true
			for _, w := range words {
				all = all && strings.Contains(e2e.Content(m), w)
			}
			if all {
				n++
			}
		}
	}
	return n
}

const (
	gitops  = "/repos/nexo-org/nexo-gitops"
	prodApp = "/api/v1/applications/nexo-be-production"
)

// change walks a production change (promotion or hotfix) of nexo-be to
// tag, killing its replica at every step boundary (and, when midRequest,
// in the middle of the merge and the sync requests); termAtSync stops the
// replica at the sync step with SIGTERM instead (a clean shutdown while
// the step's Argo CD read takes 1s).
func (s *scenario) change(flow, command, tag string, midRequest, termAtSync bool) {
	e := s.e()
	gh, argo := e.GitHub, e.Argo
	pullsBefore := gh.Count("POST", gitops+"/pulls")
	mergesBefore := gh.Count("PUT", gitops+"/pulls/*")
	syncsBefore := argo.CallCount("POST", prodApp+"/sync")
	opsBefore := argo.OperationsStarted("nexo-be-production")

	// card: the status card's post is held; the replica dies before Slack
	// read it.
	cardArrived, _ := e.Slack.HoldNext("chat.postMessage")
	// pr: the branch is pushed; the pull request lookup is held.
	lookups := gh.Count("GET", gitops+"/pulls")
	gh.Inject(githubfake.Fault{Method: "GET", Path: gitops + "/pulls", Delay: hold})
	s.command(e2e.Carol, command)
	wf := s.openWorkflow(change.Kind, commands.LockKey("nexo-be", "production"))
	select {
	case <-cardArrived:
	case <-time.After(20 * time.Second):
		s.tb.Fatalf("%s: the card was never posted\n%s", flow, s.dump())
	}
	s.killHolder(flow, "card (post in flight)", wf.ID, syscall.SIGKILL, nil)
	s.waitCalls(flow+": the PR lookup", lookups+1, func() int { return gh.Count("GET", gitops+"/pulls") })
	s.killHolder(flow, "pr (branch pushed, PR lookup in flight)", wf.ID, syscall.SIGKILL, nil)

	// approval: parked; the replica that parked it dies and the approvals
	// are clicked on the survivors.
	owner, token := s.parkedBy(wf.ID, change.Approval)
	var c change.Change
	e2e.Decode(s.tb, s.workflow(wf.ID), &c)
	pr := fmt.Sprintf("%s/pulls/%d", gitops, c.PR)
	getPR := gh.Count("GET", pr)
	gh.Inject(githubfake.Fault{Method: "GET", Path: pr, Delay: hold}) // merge: PR read held
	if midRequest {
		gh.Inject(githubfake.Fault{Method: "PUT", Path: pr + "/merge", AnswerDelay: hold}) // merged, answer held
	}
	// sync: the app read is held (or slow, for SIGTERM); then the sync
	// request takes effect and its answer is held. Armed now: the sync
	// step follows the merge at once.
	gets := argo.CallCount("GET", prodApp)
	syncRead, syncSig, syncPoint := hold, syscall.SIGKILL, "sync (app read in flight)"
	if termAtSync {
		syncRead, syncSig, syncPoint = time.Second, syscall.SIGTERM, "sync, SIGTERM (clean shutdown during a 1s Argo CD read)"
	}
	argo.AddFault(argocdfake.Fault{Method: "GET", Path: prodApp, Delay: syncRead, Times: 1})
	if midRequest {
		argo.AddFault(argocdfake.Fault{Method: "POST", Path: prodApp + "/sync", AnswerDelay: hold, Times: 1})
	}
	card := s.cardTS(wf.ID)
	s.kill(flow, "approval (parked; approved on a survivor)", wf.ID, syscall.SIGKILL, owner, token, func() {
		s.click(e2e.Alice, card, "change.approve")
		s.click(e2e.Bob, card, "change.approve")
	}, nil)
	s.waitCalls(flow+": the merge's PR read", getPR+1, func() int { return gh.Count("GET", pr) })
	var mergeSent func() bool
	if midRequest {
		mergeSent = func() bool { return gh.Count("PUT", pr+"/merge") > 0 }
	}
	s.killHolder(flow, "merge (PR read in flight)", wf.ID, syscall.SIGKILL, mergeSent)
	var syncSent func() bool
	if midRequest {
		s.waitCalls(flow+": the merge request", 1, func() int { return gh.Count("PUT", pr+"/merge") })
		s.waitFor(flow+": GitHub to merge", 10*time.Second, func() bool { return e.PR(c.PR).Merged })
		s.killHolder(flow, "merge request in flight (merged, answer lost)", wf.ID, syscall.SIGKILL, nil)
		syncSent = func() bool { return argo.CallCount("POST", prodApp+"/sync") > syncsBefore }
	}

	s.waitCalls(flow+": the sync's app read", gets+1, func() int { return argo.CallCount("GET", prodApp) })
	s.killHolder(flow, syncPoint, wf.ID, syncSig, syncSent)
	if midRequest {
		s.waitCalls(flow+": the sync request", syncsBefore+1, func() int { return argo.CallCount("POST", prodApp+"/sync") })
		s.killHolder(flow, "sync request in flight (started, answer lost)", wf.ID, syscall.SIGKILL, nil)
	}

	// rollout: the first poll is held (armed in the poll interval after
	// the sync step saved).
	s.waitFor(flow+": rollout", 30*time.Second, func() bool { return s.state(wf.ID) == change.Rollout })
	gets = argo.CallCount("GET", prodApp)
	argo.AddFault(argocdfake.Fault{Method: "GET", Path: prodApp, Delay: hold, Times: 1})
	s.waitCalls(flow+": the rollout poll", gets+1, func() int { return argo.CallCount("GET", prodApp) })
	s.killHolder(flow, "rollout (Argo CD poll in flight)", wf.ID, syscall.SIGKILL, nil)

	s.waitFor(flow+": done", 60*time.Second, func() bool { return s.workflow(wf.ID).Done })
	e2e.Decode(s.tb, s.workflow(wf.ID), &c)
	if c.Result != records.ResultSuccess {
		s.tb.Fatalf("%s: result %q\n%s", flow, c.Result, s.dump())
	}
	// Exactly one of everything.
	prs := 0
	for _, p := range gh.PullRequests() {
		if p.Head == c.Branch {
			prs++
		}
	}
	if n := gh.Count("POST", gitops+"/pulls") - pullsBefore; n != 1 || prs != 1 {
		s.tb.Errorf("%s: %d PR creations, %d PRs for %s", flow, n, prs, c.Branch)
	}
	if n := gh.Count("PUT", gitops+"/pulls/*") - mergesBefore; n != 1 {
		s.tb.Errorf("%s: %d merge requests", flow, n)
	}
	out, err := exec.Command("git", "-C", e.Remote.Path, "log", "--oneline", "main", "--", "helm/nexo-be/values-prod.yaml").CombinedOutput()
	if err != nil {
		s.tb.Fatal(err)
	}
	onMain := 0
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "→ "+tag) && !strings.Contains(l, tag+"-") {
			onMain++
		}
	}
	if onMain != 1 {
		s.tb.Errorf("%s: %d commits of %s on main:\n%s", flow, onMain, tag, out)
	}
	if n := argo.OperationsStarted("nexo-be-production") - opsBefore; n != 1 {
		s.tb.Errorf("%s: %d Argo CD operations started (%d sync requests)", flow, n, argo.CallCount("POST", prodApp+"/sync")-syncsBefore)
	}
	if n := s.cards(wf.ID); n != 1 {
		s.tb.Errorf("%s: %d cards", flow, n)
	}
	live := "nexo-be `" + tag + "` is live in production" // a promotion's
	if c.Flavor == records.KindHotfix {
		live = "Hotfix `" + tag + "` is live in production" // with the recovery figures and the backfill buttons
	}
	if n := s.replies(card, live); n != 1 {
		s.tb.Errorf("%s: %d \"is live\" messages\n%s", flow, n, s.dump())
	}
}

// rollback walks `/nexo rollback nexo-be production --via argocd` with a
// kill at every step boundary and in the middle of the rollback request.
func (s *scenario) rollback() {
	const flow = "rollback"
	e := s.e()
	argo := e.Argo
	rollbacksBefore := argo.CallCount("POST", prodApp+"/rollback")
	opsBefore := argo.OperationsStarted("nexo-be-production")
	cardArrived, _ := e.Slack.HoldNext("chat.postMessage")
	s.command(e2e.Alice, "rollback nexo-be production --via argocd")
	wf := s.openWorkflow(rollback.Kind, commands.LockKey("nexo-be", "production"))
	select {
	case <-cardArrived:
	case <-time.After(20 * time.Second):
		s.tb.Fatalf("rollback: the card was never posted\n%s", s.dump())
	}
	s.killHolder(flow, "card (post in flight)", wf.ID, syscall.SIGKILL, nil)

	owner, token := s.parkedBy(wf.ID, rollback.Approval)
	gets := argo.CallCount("GET", prodApp)
	argo.AddFault(argocdfake.Fault{Method: "GET", Path: prodApp, Delay: hold, Times: 1})
	argo.AddFault(argocdfake.Fault{Method: "POST", Path: prodApp + "/rollback", AnswerDelay: hold, Times: 1})
	card := s.cardTS(wf.ID)
	s.kill(flow, "approval (parked; approved on a survivor)", wf.ID, syscall.SIGKILL, owner, token, func() {
		s.click(e2e.Bob, card, "rollback.approve")
	}, nil)
	s.waitCalls("rollback: the act's app read", gets+1, func() int { return argo.CallCount("GET", prodApp) })
	s.killHolder(flow, "act (app read in flight)", wf.ID, syscall.SIGKILL, func() bool { return argo.CallCount("POST", prodApp+"/rollback") > rollbacksBefore })
	s.waitCalls("rollback: the rollback request", rollbacksBefore+1, func() int { return argo.CallCount("POST", prodApp+"/rollback") })
	s.killHolder(flow, "rollback request in flight (started, answer lost)", wf.ID, syscall.SIGKILL, nil)

	s.waitFor("rollback: follow", 30*time.Second, func() bool { return s.state(wf.ID) == rollback.Follow || s.workflow(wf.ID).Done })
	if !s.workflow(wf.ID).Done {
		gets = argo.CallCount("GET", prodApp)
		argo.AddFault(argocdfake.Fault{Method: "GET", Path: prodApp, Delay: hold, Times: 1})
		s.waitCalls("rollback: the follow poll", gets+1, func() int { return argo.CallCount("GET", prodApp) })
		s.killHolder(flow, "follow (Argo CD poll in flight)", wf.ID, syscall.SIGKILL, nil)
	}
	s.waitFor("rollback: done", 60*time.Second, func() bool { return s.workflow(wf.ID).Done })
	var rb rollback.Rollback
	e2e.Decode(s.tb, s.workflow(wf.ID), &rb)
	if rb.Result != records.ResultSuccess {
		s.tb.Fatalf("rollback: result %q\n%s", rb.Result, s.dump())
	}
	if n := argo.OperationsStarted("nexo-be-production") - opsBefore; n != 1 {
		s.tb.Errorf("rollback: %d Argo CD operations started (%d rollback requests)", n, argo.CallCount("POST", prodApp+"/rollback")-rollbacksBefore)
	}
	if n := s.cards(wf.ID); n != 1 {
		s.tb.Errorf("rollback: %d cards", n)
	}
	if n := s.replies(card, "is Healthy on history"); n != 1 {
		s.tb.Errorf("rollback: %d result messages", n)
	}
}

func processConfig(c *config.Config) {
	c.Workflow.LeaseTTL = config.Duration(processLease)
	c.ArgoCD.PollInterval = config.Duration(300 * time.Millisecond)
	for i := range c.Environments {
		if c.Environments[i].Name == "production" {
			c.Environments[i].Policy.Soak = 0 // the 24h staging soak is not what is tested here
		}
	}
}

// runTakeovers runs the three flows and returns the measured hand-overs.
func runTakeovers(tb testing.TB) []takeover {
	s := &scenario{cluster: newCluster(tb, processConfig), owners: map[uint64]string{}}
	s.start()
	s.start()
	s.change("promotion", "promote nexo-be production 2026.02.17", "2026.02.17", true, false)
	s.change("hotfix", `hotfix nexo-be 2026.02.17-hotfix --incident 456 --reason "pool exhaustion"`, "2026.02.17-hotfix", false, true)
	s.rollback()
	s.settle()
	return s.rows
}

func takeoverTable(rows []takeover) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| flow | kill point | signal | lease taken | next step done |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		sig := "SIGKILL"
		if r.sig == syscall.SIGTERM {
			sig = "SIGTERM"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.2f s | %.2f s |\n", r.flow, r.point, sig, r.lease.Seconds(), r.step.Seconds())
	}
	return b.String()
}

// Real nexo-bot processes on one Redis: every kill of the replica working
// on a production promotion, a hotfix and a rollback — at each step
// boundary and in the middle of the merge, sync and rollback requests — is
// taken over by a survivor (it holds the workflow's lease) within the
// lease TTL plus a poll, and the table says when the next step was done;
// each change ends with exactly one PR, merge, Argo CD operation, card and
// "live" message.
func TestProcessesTakeOverAKilledReplicasWork(t *testing.T) {
	rows := runTakeovers(t)
	t.Logf("takeover after each kill (workflow.lease_ttl %s: heartbeat every %s, gone after %s):\n%s",
		processLease, processLease/6, processLease/2, takeoverTable(rows))
	var worst, worstStep time.Duration
	for _, r := range rows {
		worst, worstStep = max(worst, r.lease), max(worstStep, r.step)
		// The bound of issue 16: a survivor holds the work within the
		// lease TTL plus a poll.
		if r.lease > processLease+time.Second {
			t.Errorf("%s/%s: a survivor took the workflow %s after the kill, more than the lease TTL %s plus a poll", r.flow, r.point, r.lease, processLease)
		}
	}
	leases := make([]time.Duration, len(rows))
	for i, r := range rows {
		leases[i] = r.lease
	}
	sort.Slice(leases, func(i, j int) bool { return leases[i] < leases[j] })
	t.Logf("%d kills; lease taken after: median %s, worst %s; next step done after at worst %s",
		len(rows), leases[len(leases)/2].Round(time.Millisecond), worst.Round(time.Millisecond), worstStep.Round(time.Millisecond))
}

// BenchmarkTakeover runs the same kills once and reports the table
// (`make bench`).
func BenchmarkTakeover(b *testing.B) {
	for i := 0; i < b.N; i++ {
		rows := runTakeovers(b)
		b.Logf("takeover after each kill (workflow.lease_ttl %s):\n%s", processLease, takeoverTable(rows))
		var worst time.Duration
		for _, r := range rows {
			worst = max(worst, r.lease)
		}
		b.ReportMetric(worst.Seconds(), "worst-takeover-s")
	}
}
