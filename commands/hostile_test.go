package commands_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// Hostile input is refused with a clear, bounded answer and changes nothing.

func TestHostileServiceNames(t *testing.T) {
	e := newAzEnv(t)
	for _, name := range []string{"../../etc", "..%2F..%2Fetc", "nexo-be/../../etc", "/etc/passwd", "nexo-be\\..\\x", "nеxo-be" /* Cyrillic е */, "nexo‐be" /* U+2010 hyphen */, "ｎｅｘｏ-be", "NEXO-BE "} {
		_, err := commands.ResolveService(e.d.Config, name)
		if name == "NEXO-BE " {
			if err != nil {
				t.Fatalf("case and spaces should be forgiven: %v", err)
			}
			continue
		}
		if err == nil {
			t.Fatalf("%q accepted as a service", name)
		}
		got := e.command(t, azCarol, azChannel, "poke "+name+" qa")
		if got != "poked" {
			t.Fatalf("probe: %q", got)
		}
		for _, cmd := range []string{"promote " + name + " qa 2026.02.18", "hotfix " + name + " 2026.02.17-hotfix --incident 456", "audit " + name} {
			got := e.command(t, azCarol, azChannel, cmd)
			if !strings.Contains(got, "not a valid service name") && !strings.Contains(got, "Unknown service") {
				t.Fatalf("%q: %q", cmd, got)
			}
		}
	}
	// The look-alike is named as such, with the real name suggested.
	got := e.command(t, azCarol, azChannel, "audit nеxo-be")
	if !strings.Contains(got, "nexo-be") {
		t.Fatalf("look-alike answer: %q", got)
	}
	assertNothingChanged(t, e)
}

func TestHostileTagsCannotInjectYAML(t *testing.T) {
	e := newAzEnv(t)
	for _, tag := range []string{"2026.02.17\n  evil: true", "2026.02.17\nimage:\n  repository: evil", `"x": y`, "2026.02.17 # comment", "2026.02.17'", "2026.02.17\"", "2026.02.17:", "{a: b}", "2026.02.17-${HOME}", "2026.02.17-../../x", "2026.02.17\u2028evil: 1"} {
		if err := commands.ValidateTag(e.d.Config, tag); err == nil {
			t.Fatalf("tag %q accepted", tag)
		}
		quoted := strings.ReplaceAll(tag, `"`, `\"`)
		got := e.command(t, azCarol, azChannel, `hotfix nexo-be "`+quoted+`" --incident 456`)
		if !strings.Contains(got, "not a valid image tag") && !strings.Contains(got, "quote") && !strings.Contains(got, "control characters") {
			t.Fatalf("hotfix with tag %q: %q", tag, got)
		}
	}
	if err := commands.ValidateTag(e.d.Config, "2026.02.17-hotfix"); err != nil {
		t.Fatalf("a good tag refused: %v", err)
	}
	assertNothingChanged(t, e)
}

func TestHostileOversizedText(t *testing.T) {
	e := newAzEnv(t)
	long := "promote nexo-be qa " + strings.Repeat("A", commands.MaxCommandText)
	got := e.command(t, azCarol, azChannel, long)
	if !strings.Contains(got, "the limit is 2000") || len(got) > 500 {
		t.Fatalf("oversized command answer (%d bytes): %q", len(got), got[:min(len(got), 300)])
	}
	// Just under the limit: refused for what it is, echoed clipped.
	name := strings.Repeat("x", commands.MaxCommandText-40)
	got = e.command(t, azCarol, azChannel, "audit "+name)
	if !strings.Contains(got, "not a valid service name") || len(got) > 1000 {
		t.Fatalf("long name answer (%d bytes)", len(got))
	}
	got = e.command(t, azCarol, azChannel, "hotfix nexo-be 2026.02.17-hotfix --incident "+strings.Repeat("9", 500))
	if !strings.Contains(got, "not an incident id") || len(got) > 500 {
		t.Fatalf("long incident answer (%d bytes): %.300q", len(got), got)
	}
	assertNothingChanged(t, e)
}

// azApprover is in platform-team, which approves staging.
const azApprover = "U0PLATF02"

func TestHostileClickReplayedFromAnotherChannel(t *testing.T) {
	e := newAzEnv(t)
	ctx := context.Background()
	wf := &store.Workflow{ID: "change-replay", Kind: change.Kind, State: change.Approval, Channel: azChannel, CardTS: "1700000000.000100", ThreadTS: "1700000000.000100"}
	if err := workflow.Encode(wf, change.Change{Service: "nexo-fe", Env: "staging", Tag: "2026.02.17", Requester: "U0PLATF01", Need: policy.Requirement{Approvals: 1, Group: "platform-team", Requester: "U0PLATF01"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Store.CreateWorkflow(ctx, wf); err != nil {
		t.Fatal(err)
	}
	got := e.click(t, azApprover, "C0ATTACKER", "change.approve", wf.ID)
	if !strings.Contains(got, "belongs to a thread in <#C0DEPLOYS>") {
		t.Fatalf("replayed approve: %q", got)
	}
	after, _ := e.d.Store.GetWorkflow(ctx, wf.ID)
	c, _ := workflow.Decode[change.Change](after)
	if len(c.Approvals) != 0 || after.Version != wf.Version {
		t.Fatalf("the replayed click changed the workflow: %+v", c.Approvals)
	}
	// The same click in the workflow's own channel counts.
	if got := e.click(t, azApprover, azChannel, "change.approve", wf.ID); got != "" {
		t.Fatalf("approve in the right channel: %q", got)
	}
	after, _ = e.d.Store.GetWorkflow(ctx, wf.ID)
	c, _ = workflow.Decode[change.Change](after)
	if len(c.Approvals) != 1 || c.Approvals[0].User != azApprover {
		t.Fatalf("approvals: %+v", c.Approvals)
	}
	refusals, _ := e.d.Store.ListAudit(ctx, store.AuditFilter{Service: "nexo-fe"})
	found := false
	for _, a := range refusals {
		if a.Outcome == "refused" && a.Action == "change.approve.authz" && a.Target == wf.ID && a.Actor == azApprover {
			found = true
		}
	}
	if !found {
		t.Fatalf("the refusal is not audited: %+v", refusals)
	}
}

func assertNothingChanged(t *testing.T, e *azEnv) {
	t.Helper()
	wfs, err := e.d.Store.ListWorkflows(context.Background(), store.WorkflowFilter{})
	if err != nil || len(wfs) != 0 {
		t.Fatalf("%d workflows after refused input (%v)", len(wfs), err)
	}
}
