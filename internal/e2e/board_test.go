package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/bot/slackfake"
	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store"
)

// openHome opens user's Home tab (app_home_opened) and waits for the
// board to be published to them.
func (e *Env) openHome(user string) slackfake.HomeView {
	e.T.Helper()
	before := 0
	if h, ok := e.Slack.Home(user); ok {
		before = h.Publishes
	}
	id := e.Slack.OpenHome(user)
	if _, err := e.Slack.WaitAck(id, 3*time.Second); err != nil {
		e.T.Fatal(err)
	}
	return e.waitHome(user, func(h slackfake.HomeView) bool { return h.Publishes > before })
}

// waitHome waits (real time: the board's publishes are paced on the wall
// clock) for user's Home view to satisfy cond.
func (e *Env) waitHome(user string, cond func(h slackfake.HomeView) bool) slackfake.HomeView {
	e.T.Helper()
	var got slackfake.HomeView
	ok := e.Slack.WaitFor(func() bool {
		h, ok := e.Slack.Home(user)
		got = h
		return ok && cond(h)
	}, 15*time.Second)
	if !ok {
		e.T.Fatalf("%s's Home tab never got there; it shows:\n%s", user, homeText(got))
	}
	return got
}

func homeText(h slackfake.HomeView) string { return unescapeJSON(string(h.Blocks)) }

// clickHome presses a button of user's Home tab.
func (e *Env) clickHome(user, action string) {
	e.T.Helper()
	id, err := e.Slack.ClickHome(user, action, "")
	if err != nil {
		e.T.Fatal(err)
	}
	if _, err := e.Slack.WaitAck(id, 3*time.Second); err != nil {
		e.T.Fatal(err)
	}
}

// The board is published on a promotion to whoever opened the Home tab:
// the change in its row with its state, its thread and its soak gate, and
// "waiting for your approval" with Approve for the approver group only.
// An approval from the board moves the change exactly as the thread's
// Approve does; the requester's own approval from the board is refused
// with the policy's sentence, shown on the Home tab.
func TestBoardPublishedOnAPromotionAndApprovedFromTheBoard(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) {
		e := New(t, Options{Locale: locale, Mutate: func(c *config.Config) {
			// Carol asks and is in the approver group: her own approval
			// is the one the policy refuses.
			c.Groups["platform-team"] = append(c.Groups["platform-team"], Carol)
		}})
		platf := e.openHome(Platf)
		if !strings.Contains(homeText(platf), "nexo-be") || !containsAll(homeText(platf), e.Words("board.waiting.none")) {
			t.Fatalf("Paula's first board:\n%s", homeText(platf))
		}
		e.openHome(Alice)
		e.openHome(Carol)

		e.Command(Carol, "promote nexo-be stg")
		wf := onlyChange(t, e, "nexo-be", "staging")
		e.Eventually("the PR", time.Second, 20, func() bool { st, _ := changeState(t, e, wf.ID); return st == change.Approval })

		// Republished on the promotion: Paula, of platform-team, sees it
		// waiting for her with the Approve button and the soak gate.
		gate := Start.Add(30 * time.Minute)
		h := e.waitHome(Platf, func(h slackfake.HomeView) bool {
			return strings.Contains(string(h.Blocks), `"change.approve"`) && strings.Contains(homeText(h), e.Cat.When(gate))
		})
		text := homeText(h)
		for _, words := range [][]string{
			e.Words("board.waiting.title"), e.Words("board.state.approval"), e.Words("board.env.gate"),
			{"2026.02.17", "/archives/" + Channel + "/p"}, // qa's tag, the thread's permalink
		} {
			if !containsAll(text, words) {
				t.Errorf("Paula's board lacks %q:\n%s", words, text)
			}
		}
		// Alice (sre-team) sees the change in its row, with no button.
		a := e.waitHome(Alice, func(h slackfake.HomeView) bool { return strings.Contains(homeText(h), e.Cat.S("board.state.approval")) })
		if strings.Contains(string(a.Blocks), `"change.approve"`) || !containsAll(homeText(a), e.Words("board.waiting.none")) {
			t.Fatalf("Alice is not an approver of staging, yet her board:\n%s", homeText(a))
		}

		// The requester's own approval, from the board: the policy's
		// sentence, on her Home tab; nothing recorded.
		e.waitHome(Carol, func(h slackfake.HomeView) bool { return strings.Contains(string(h.Blocks), `"change.approve"`) })
		e.clickHome(Carol, "change.approve")
		e.waitHome(Carol, func(h slackfake.HomeView) bool { return containsAll(homeText(h), e.Words("policy.own_approval")) })
		if _, c := changeState(t, e, wf.ID); len(c.Approvals) != 0 {
			t.Fatalf("the requester's approval was recorded: %+v", c.Approvals)
		}
		if !e.Slack.WaitFor(func() bool { return auditHas(t, e, Carol, "change.approve", "refused") }, 5*time.Second) {
			t.Errorf("the refused approval is not in the audit log")
		}

		// Paula approves from the board: recorded and audited as from the
		// thread, and the change goes on through its gate to done.
		e.clickHome(Platf, "change.approve")
		e.Eventually("Paula's approval", time.Second, 10, func() bool { _, c := changeState(t, e, wf.ID); return len(c.Approvals) == 1 })
		_, c := changeState(t, e, wf.ID)
		if c.Approvals[0].User != Platf {
			t.Fatalf("approvals %+v", c.Approvals)
		}
		if !e.Slack.WaitFor(func() bool { return auditHas(t, e, Platf, "change.approve", "ok") }, 5*time.Second) {
			t.Errorf("Paula's approval is not in the audit log")
		}
		// Its approvals are in: it waits for its gate, no longer for
		// anyone; the row still shows it and when the gate opens.
		e.waitHome(Platf, func(h slackfake.HomeView) bool {
			return containsAll(homeText(h), e.Words("board.waiting.none")) && !strings.Contains(string(h.Blocks), `"change.approve"`) &&
				strings.Contains(homeText(h), e.Cat.When(gate))
		})
		e.Eventually("the qa soak gate", time.Minute, 60, func() bool { st, _ := changeState(t, e, wf.ID); return st != change.Approval })
		e.Eventually("staging Healthy", 10*time.Second, 100, func() bool {
			st, c := changeState(t, e, wf.ID)
			return st == change.Done && c.Result == records.ResultSuccess
		})
		_, c = changeState(t, e, wf.ID)
		if c.ApprovedAt == nil || c.ApprovedAt.Sub(Start) < 30*time.Minute {
			t.Fatalf("approved at %v: before the soak gate", c.ApprovedAt)
		}
		// Done: the board drops the change and shows the new tag in git.
		e.waitHome(Platf, func(h slackfake.HomeView) bool {
			return !strings.Contains(homeText(h), e.Cat.S("board.state.approval")) && containsAll(homeText(h), e.Words("board.waiting.none"))
		})
		n := e.Slack.CallCount("views.publish")
		if n > 40 {
			t.Errorf("%d views.publish calls for one promotion and three viewers: not coalesced", n)
		}
		t.Logf("views.publish calls for three viewers over the whole promotion: %d", n)
	})
}

func auditHas(t *testing.T, e *Env, user, action, result string) bool {
	t.Helper()
	entries, err := e.Store.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range entries {
		if a.Actor == user && a.Action == action && a.Outcome == result {
			return true
		}
	}
	return false
}

// On Redis too: the board is published on opening and on a promotion, and
// Approve from it records the approval.
func TestBoardOnRedis(t *testing.T) {
	e := New(t, Options{Redis: true})
	e.openHome(Platf)
	e.Command(Carol, "promote nexo-be stg")
	wf := onlyChange(t, e, "nexo-be", "staging")
	e.Eventually("the PR", time.Second, 20, func() bool { st, _ := changeState(t, e, wf.ID); return st == change.Approval })
	e.waitHome(Platf, func(h slackfake.HomeView) bool { return strings.Contains(string(h.Blocks), `"change.approve"`) })
	e.clickHome(Platf, "change.approve")
	e.Eventually("Paula's approval", time.Second, 10, func() bool {
		_, c := changeState(t, e, wf.ID)
		return len(c.Approvals) == 1 && c.Approvals[0].User == Platf
	})
}
