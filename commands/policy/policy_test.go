package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/i18n"
)

func TestEvaluate(t *testing.T) {
	sre := []string{"sre-team"}
	plat := []string{"platform-team"}
	cases := []struct {
		name    string
		req     Requirement
		appr    []Approval
		ok      bool
		counted int
		missing string
	}{
		{"none needed", Requirement{}, nil, true, 0, ""},
		{"requester does not count", Requirement{Approvals: 1, Group: "sre-team", Requester: "U1"}, []Approval{{User: "U1", Groups: sre}}, false, 0, "1 more approval from sre-team"},
		{"twice counts once", Requirement{Approvals: 2, Group: "sre-team", Requester: "U9"}, []Approval{{User: "U1", Groups: sre}, {User: "U1", Groups: sre}}, false, 1, "1 more approval from sre-team"},
		{"outsider does not count", Requirement{Approvals: 1, Group: "sre-team"}, []Approval{{User: "U3", Groups: plat}}, false, 0, "1 more approval from sre-team"},
		{"two sres", Requirement{Approvals: 2, Group: "sre-team"}, []Approval{{User: "U1", Groups: sre}, {User: "U2", Groups: sre}}, true, 2, ""},
		{"skip soak needs a third sre", Requirement{Approvals: 2, Group: "sre-team", ExtraApprovals: 1, ExtraGroup: "sre-team"}, []Approval{{User: "U1", Groups: sre}, {User: "U2", Groups: sre}}, false, 2, "1 extra approval from sre-team (soak skipped)"},
		{"skip soak satisfied", Requirement{Approvals: 1, Group: "platform-team", ExtraApprovals: 1, ExtraGroup: "sre-team"}, []Approval{{User: "U1", Groups: plat}, {User: "U2", Groups: sre}}, true, 2, ""},
	}
	en := i18n.Default().In(i18n.English)
	for _, c := range cases {
		d := Evaluate(c.req, c.appr)
		if d.Satisfied != c.ok || len(d.Counted) != c.counted || en.Msg(d.Missing) != c.missing {
			t.Errorf("%s: got %+v", c.name, d)
		}
	}
}

func TestCanApprove(t *testing.T) {
	en := i18n.Default().In(i18n.English)
	ask := i18n.M("policy.ask", "Who", "<@U2>")
	req := Requirement{Approvals: 2, Group: "sre-team", Requester: "U1"}
	if ok, why := CanApprove(req, "U1", []string{"sre-team"}, nil, ask); ok || !strings.Contains(en.Msg(why), "requested this change") {
		t.Fatal(ok, why)
	}
	if ok, why := CanApprove(req, "U3", []string{"platform-team"}, nil, ask); ok || !strings.Contains(en.Msg(why), "Only members of sre-team") || !strings.Contains(en.Msg(why), "<@U2>") {
		t.Fatal(ok, why)
	}
	if ok, _ := CanApprove(req, "U2", []string{"sre-team"}, nil, i18n.Msg{}); !ok {
		t.Fatal("sre refused")
	}
	if ok, why := CanApprove(req, "U2", []string{"sre-team"}, []Approval{{User: "U2"}}, i18n.Msg{}); ok || !strings.Contains(en.Msg(why), "already approved") {
		t.Fatal(ok, why)
	}
}

func TestGate(t *testing.T) {
	now := time.Date(2026, 2, 18, 10, 0, 0, 0, time.UTC)
	g := Gate{Env: "staging", Tag: "2026.02.17", Soak: 24 * time.Hour}
	en := i18n.Default().In(i18n.English)
	if open, _, why := g.Open(now); open || !strings.Contains(en.Msg(why), "not Healthy in staging") {
		t.Fatal(open, why)
	}
	g.HealthySince = now.Add(-23 * time.Hour)
	open, at, why := g.Open(now)
	if open || !at.Equal(now.Add(time.Hour)) || !strings.Contains(en.Msg(why), "soak ends at <!date^") || !strings.Contains(en.Msg(why), "|18 Feb 2026 11:00 UTC>") {
		t.Fatal(open, at, why)
	}
	// exactly at the edge the gate is open
	if open, _, _ := g.Open(now.Add(time.Hour)); !open {
		t.Fatal("gate closed at its edge")
	}
}
