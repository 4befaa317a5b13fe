package board

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/i18n"
)

var now = time.Date(2026, 2, 18, 10, 0, 0, 0, time.UTC)

func sampleBoard(services int) Board {
	b := Board{Now: now, Branch: "main", Apps: "<service>-<env>"}
	for i := 0; i < services; i++ {
		s := Service{Name: fmt.Sprintf("svc-%03d", i)}
		for _, env := range []string{"develop", "qa", "staging", "production"} {
			s.Envs = append(s.Envs, Env{Name: env, Tag: "2026.02.17", GitOK: true, ArgoOK: true, Sync: "Synced", Health: "Healthy", Since: now.Add(-time.Hour)})
		}
		b.Services = append(b.Services, s)
	}
	return b
}

func waitingChange() Change {
	return Change{
		ID: "promote-1", Service: "svc-000", Env: "staging", State: "approval", Requester: "U0CAROL01",
		What: i18n.M("change.what.promotion", "Service", "svc-000", "Env", "staging", "Tag", "2026.02.18"),
		URL:  "https://nexo.slack.com/archives/C0DEPLOYS/p1", Group: "platform-team", Open: true,
		GateOpensAt: now.Add(30 * time.Minute),
	}
}

func inGroup(groups ...string) func(string) bool {
	return func(g string) bool {
		for _, x := range groups {
			if x == g {
				return true
			}
		}
		return false
	}
}

func buttons(m chat.Message) []chat.Button {
	var out []chat.Button
	for _, b := range m.Blocks {
		out = append(out, b.Actions...)
	}
	return out
}

// Beyond Slack's 100 blocks the services continue on further pages: each
// page within the limits, every service on exactly one page, Previous and
// Next where they lead somewhere.
func TestBoardPaginatesWithinSlacksLimits(t *testing.T) {
	for _, loc := range i18n.Locales {
		t.Run(loc, func(t *testing.T) {
			tr := i18n.Default().In(loc)
			b := sampleBoard(250)
			b.Open = []Change{waitingChange()}
			v := Viewer{User: "U0PLATF01", Approver: inGroup("platform-team")}
			pages := Pages(tr, b, v)
			if pages < 3 {
				t.Fatalf("250 services in %d pages; one block each cannot fit in fewer than 3", pages)
			}
			seen := map[string]int{}
			for p := 1; p <= pages; p++ {
				v.Page = p
				m := View(tr, b, v)
				if len(m.Blocks) > MaxBlocks {
					t.Fatalf("page %d has %d blocks", p, len(m.Blocks))
				}
				for _, bl := range m.Blocks {
					if s := bl.Section; s != nil {
						if len(s.Fields) > maxFields || len([]rune(s.Text)) > maxText {
							t.Fatalf("page %d: a section over Slack's limits: %d fields, %d chars", p, len(s.Fields), len(s.Text))
						}
						if strings.HasPrefix(s.Text, "*svc-") {
							seen[s.Text]++
						}
					}
				}
				// The page's services are known before any row is read.
				for _, name := range PageServices(tr, b, v) {
					if !strings.Contains(m.PlainText(), tr.S("board.service", "Service", name)) {
						t.Fatalf("page %d: PageServices names %s, the page does not show it", p, name)
					}
				}
				text := m.PlainText()
				if strings.Contains(text, "⟦") {
					t.Fatalf("page %d has a message missing from the %s catalog:\n%s", p, loc, text)
				}
				if !strings.Contains(text, tr.S("board.updated", "When", tr.When(now), "Page", p, "Pages", pages)) {
					t.Errorf("page %d does not say which page it is", p)
				}
				var prev, next bool
				for _, btn := range buttons(m) {
					switch btn.Action {
					case actionPage + ".prev":
						prev = btn.Value == fmt.Sprint(p-1)
					case actionPage + ".next":
						next = btn.Value == fmt.Sprint(p+1)
					}
				}
				if prev != (p > 1) || next != (p < pages) {
					t.Errorf("page %d of %d: previous %v, next %v", p, pages, prev, next)
				}
			}
			total := 0
			for p := 1; p <= pages; p++ {
				v.Page = p
				total += len(PageServices(tr, b, v))
			}
			if len(seen) != 250 || total != 250 {
				t.Fatalf("%d services shown, want 250", len(seen))
			}
			for s, n := range seen {
				if n != 1 {
					t.Fatalf("%s shown on %d pages", s, n)
				}
			}
			// A page beyond the last shows the last.
			v.Page = pages + 5
			if got := View(tr, b, v); !strings.Contains(got.PlainText(), tr.S("board.updated", "When", tr.When(now), "Page", pages, "Pages", pages)) {
				t.Errorf("page beyond the end: %s", got.PlainText()[:200])
			}
			// One environment per service: the 100 blocks, not the
			// fields, end a page.
			narrow := sampleBoard(150)
			for i := range narrow.Services {
				narrow.Services[i].Envs = narrow.Services[i].Envs[:1]
			}
			v.Page = 1
			if n := Pages(tr, narrow, v); n != 2 {
				t.Errorf("150 one-block services in %d pages, want 2", n)
			}
			if m := View(tr, narrow, v); len(m.Blocks) != MaxBlocks && len(m.Blocks) != MaxBlocks-1 {
				t.Errorf("the first page of narrow services has %d blocks: it should fill Slack's 100", len(m.Blocks))
			}
			// A small board is one page with no page buttons.
			one := sampleBoard(3)
			if Pages(tr, one, v) != 1 || len(buttons(View(tr, one, v))) != 0 {
				t.Errorf("3 services: %d pages, buttons %v", Pages(tr, one, v), buttons(View(tr, one, v)))
			}
		})
	}
}

// The waiting-for-your-approval section lists a change only to members
// of its approver group, with the thread's own Approve button.
func TestApprovalSectionOnlyForApprovers(t *testing.T) {
	for _, loc := range i18n.Locales {
		t.Run(loc, func(t *testing.T) {
			tr := i18n.Default().In(loc)
			b := sampleBoard(2)
			c := waitingChange()
			b.Open = []Change{c}
			b.Services[0].Envs[2].Change = &c

			approver := View(tr, b, Viewer{User: "U0PLATF01", Approver: inGroup("platform-team")})
			btns := buttons(approver)
			if len(btns) != 1 || btns[0].Action != "change.approve" || btns[0].Value != "promote-1" || btns[0].Text != tr.S("board.waiting.approve") {
				t.Fatalf("approver's buttons %+v", btns)
			}
			text := approver.PlainText()
			for _, want := range []string{
				tr.S("board.waiting.title"),
				tr.S("board.waiting.item", "What", tr.Msg(c.What), "Requester", "<@U0CAROL01>", "State", tr.S("board.state.approval"), "Link", "<"+c.URL+"|"+tr.S("board.thread")+">"),
				tr.S("board.env.gate", "When", tr.When(c.GateOpensAt)),
				tr.S("board.env.change", "What", tr.Msg(c.What), "State", tr.S("board.state.approval"), "Link", "<"+c.URL+"|"+tr.S("board.thread")+">"),
				"<!date^", // Slack date tokens
			} {
				if !strings.Contains(text, want) {
					t.Errorf("approver's board lacks %q:\n%s", want, text)
				}
			}

			other := View(tr, b, Viewer{User: "U0ALICE01", Approver: inGroup("sre-team")})
			if len(buttons(other)) != 0 || !strings.Contains(other.PlainText(), tr.S("board.waiting.none")) {
				t.Fatalf("a non-approver sees %+v:\n%s", buttons(other), other.PlainText())
			}
			// The row still shows the open change to everyone.
			if !strings.Contains(other.PlainText(), tr.Msg(c.What)) {
				t.Errorf("the row lost the open change")
			}

			// Once the viewer approved, no second button.
			c.Approved = []string{"U0PLATF01"}
			b.Open = []Change{c}
			done := View(tr, b, Viewer{User: "U0PLATF01", Approver: inGroup("platform-team")})
			if len(buttons(done)) != 0 || !strings.Contains(done.PlainText(), tr.S("board.waiting.you_approved")) {
				t.Errorf("after approving: %+v", buttons(done))
			}
			// A change past approval waits for no one.
			c.Open, c.Approved = false, nil
			b.Open = []Change{c}
			if len(buttons(View(tr, b, Viewer{User: "U0PLATF01", Approver: inGroup("platform-team")}))) != 0 {
				t.Errorf("a change past approval offers Approve")
			}
		})
	}
}

// Unknowns are said, never shown as error text; freezes come from the
// freeze gate; a notice answers the viewer's last click.
func TestEnvironmentFieldsAndNotice(t *testing.T) {
	for _, loc := range i18n.Locales {
		tr := i18n.Default().In(loc)
		b := sampleBoard(1)
		b.Services[0].Envs[0] = Env{Name: "develop"}
		b.Services[0].Envs[1].Frozen, b.Services[0].Envs[1].Reason, b.Services[0].Envs[1].Until = true, "Black Friday", now.Add(48*time.Hour)
		m := View(tr, b, Viewer{User: "U1", Notice: ":no_entry: nope"})
		text := m.PlainText()
		for _, want := range []string{
			tr.S("board.env.no_tag", "Env", "develop"), tr.S("board.env.argo_down"),
			tr.S("board.env.frozen_until", "Until", tr.When(now.Add(48*time.Hour)), "Reason", "Black Friday"),
			":no_entry: nope",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: lacks %q:\n%s", loc, want, text)
			}
		}
	}
}

// BenchmarkView200 builds one viewer's page of a 200-service board (the
// work of each views.publish besides the reads).
func BenchmarkView200(b *testing.B) {
	tr := i18n.Default().In(i18n.English)
	board := sampleBoard(200)
	board.Open = []Change{waitingChange()}
	v := Viewer{User: "U0PLATF01", Approver: inGroup("platform-team"), Page: 2}
	b.ReportAllocs()
	for b.Loop() {
		_ = View(tr, board, v)
	}
}
