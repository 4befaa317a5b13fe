//go:build integration

package replicas_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/internal/e2e"
	"github.com/nexo-org/nexo-bot/store/redisstore/redistest"
)

const storeDown = "The state store is unavailable, so nothing was changed"

// Two nexo-bot processes on a real Sentinel setup (a primary, a replica,
// three sentinels). The Redis primary is killed while a production
// promotion waits for its approvals: while no primary is elected an
// approval click is answered "The state store is unavailable, so nothing
// was changed" within 3 s and changes nothing; once the sentinels promote
// the replica, the promotion goes on and ends with one PR, one merge, one
// Argo CD operation, one card and one "live" message.
func TestSentinelFailoverMidPromotion(t *testing.T) {
	sen := redistest.StartSentinel(t)
	s := &scenario{cluster: newClusterOn(t, sen.URL(), processConfig), owners: map[uint64]string{}}
	s.start()
	s.start()
	e := s.e()
	opsBefore := e.Argo.OperationsStarted("nexo-be-production")
	s.command(e2e.Carol, "promote nexo-be production 2026.02.17")
	wf := s.openWorkflow(change.Kind, commands.LockKey("nexo-be", "production"))
	s.parkedBy(wf.ID, change.Approval)
	card := s.cardTS(wf.ID)
	s.waitFor("the replica to be in sync", 10*time.Second, sen.InSync)

	killed := time.Now()
	old := sen.KillPrimary()
	elected := make(chan string, 1)
	go func() { elected <- sen.WaitNewPrimary(old, 60*time.Second) }()
	var answers []time.Duration
	var primary string
clicks:
	for {
		select {
		case primary = <-elected:
			break clicks
		default:
		}
		before := countEphemerals(e, e2e.Alice, storeDown)
		t0 := time.Now()
		id, err := e.Slack.ClickButton(e2e.Alice, e2e.Channel, card, "change.approve", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Slack.WaitAck(id, 3*time.Second); err != nil {
			t.Fatalf("click during the failover not acked: %v", err)
		}
		answered := e.Slack.WaitFor(func() bool { return countEphemerals(e, e2e.Alice, storeDown) > before }, 3*time.Second)
		took := time.Since(t0)
		select {
		case primary = <-elected:
			// The primary came back while this click was handled: it may
			// have been accepted; the count below tells.
			break clicks
		default:
		}
		if !answered {
			t.Fatalf("no %q answer within 3s while no primary was elected (%s after the kill)\n%s", storeDown, time.Since(killed), s.dump())
		}
		answers = append(answers, took)
		time.Sleep(200 * time.Millisecond)
	}
	window := time.Since(killed)
	if len(answers) == 0 {
		t.Fatalf("the failover took %s: no click fell into it", window)
	}

	// Nothing was changed by the refused clicks.
	var c change.Change
	s.waitFor("the store to answer after the failover", 20*time.Second, func() bool {
		got, err := e.Store.GetWorkflow(context.Background(), wf.ID)
		if err != nil {
			return false
		}
		e2e.Decode(t, got, &c)
		return true
	})
	back := time.Since(killed)
	if len(c.Approvals) > 1 {
		t.Fatalf("%d approvals recorded from the clicks during the failover: %+v", len(c.Approvals), c.Approvals)
	}
	s.click(e2e.Alice, card, "change.approve")
	s.click(e2e.Bob, card, "change.approve")
	s.waitFor("the promotion to finish", 60*time.Second, func() bool {
		got, err := e.Store.GetWorkflow(context.Background(), wf.ID)
		return err == nil && got.Done
	})
	e2e.Decode(t, s.workflow(wf.ID), &c)
	if c.Result != records.ResultSuccess || len(c.Approvals) != 2 {
		t.Fatalf("result %q, approvals %+v\n%s", c.Result, c.Approvals, s.dump())
	}
	prs := 0
	for _, p := range e.GitHub.PullRequests() {
		if p.Head == c.Branch {
			prs++
		}
	}
	if n := e.GitHub.Count("PUT", gitops+"/pulls/*"); prs != 1 || n != 1 {
		t.Fatalf("%d PRs, %d merge requests", prs, n)
	}
	if n := e.Argo.OperationsStarted("nexo-be-production") - opsBefore; n != 1 {
		t.Fatalf("%d Argo CD operations", n)
	}
	if n := s.cards(wf.ID); n != 1 {
		t.Fatalf("%d cards", n)
	}
	if n := s.replies(card, "nexo-be `2026.02.17` is live in production"); n != 1 {
		t.Fatalf("%d live messages", n)
	}
	var worst time.Duration
	var list []string
	for _, a := range answers {
		worst = max(worst, a)
		list = append(list, fmt.Sprintf("%.2fs", a.Seconds()))
	}
	t.Logf("primary %s killed mid-promotion; new primary %s after %s; store answering again after %s; %d approval clicks meanwhile answered %q in %s (worst %s); then 1 PR, 1 merge, 1 Argo CD operation, 1 card, 1 live message",
		old, primary, window.Round(time.Millisecond), back.Round(time.Millisecond), len(answers), storeDown, strings.Join(list, ", "), worst.Round(time.Millisecond))
}
