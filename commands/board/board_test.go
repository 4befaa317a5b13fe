package board_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/commandstest"
	"github.com/nexo-org/nexo-bot/store"
)

// A Home-tab Approve from someone outside the change's approver group
// (a button forged, or left on a view published before they left the
// group) goes through the thread's approval code: refused with the
// policy's sentence, shown on their Home tab, audited, nothing recorded.
func TestBoardApproveFromANonApproverIsRefusedByThePolicy(t *testing.T) {
	r := commandstest.NewRig(t, commandstest.Options{})
	data := `{"flavor":"promote","service":"nexo-be","env":"staging","tag":"2026.02.17","requester":"` + commandstest.Carol +
		`","need":{"Approvals":1,"Group":"platform-team"}}`
	wf := &store.Workflow{ID: "promote-board1", Kind: "change", State: "approval", Channel: "C0DEPLOYS", CardTS: "1771400001.000001", ThreadTS: "1771400001.000001", Data: []byte(data)}
	if err := r.Store.CreateWorkflow(r.Ctx, wf); err != nil {
		t.Fatal(err)
	}
	reply, err := r.Router.HandleClick(r.Ctx, chat.Click{UserID: commandstest.Alice, Surface: chat.SurfaceHome, Action: "change.approve", Value: wf.ID})
	if err != nil || reply != nil {
		t.Fatalf("a Home click is answered on the Home: %+v, %v", reply, err)
	}
	en := commands.English()
	want := en.Fixed("policy.only_members_of", "Group", "platform-team", "WhoCan", "")
	if len(want) == 0 {
		t.Fatal("no fixed text to look for")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		homes := r.Chat.Homes(commandstest.Alice)
		if n := len(homes); n > 0 && containsAll(homes[n-1].PlainText(), want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Alice's Home never said %q; it has %d views", want, len(homes))
		}
		time.Sleep(20 * time.Millisecond)
	}
	got, err := r.Store.GetWorkflow(context.Background(), wf.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != wf.Version || strings.Contains(string(got.Data), `"approvals"`) {
		t.Fatalf("the refused approval changed the change: %s", got.Data)
	}
	entries, err := r.Store.ListAudit(r.Ctx, store.AuditFilter{Actor: commandstest.Alice})
	if err != nil {
		t.Fatal(err)
	}
	refused := false
	for _, e := range entries {
		refused = refused || (e.Action == "change.approve" && e.Outcome == "refused" && e.Target == wf.ID)
	}
	if !refused {
		t.Fatalf("the refusal is not audited: %+v", entries)
	}
	// The same button in the thread says the same sentence.
	thread := r.Click(commandstest.Alice, "change.approve", wf.ID)
	if thread == nil || !containsAll(thread.Message.Text, want) {
		t.Fatalf("the thread's answer: %+v", thread)
	}
}

func containsAll(s string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}
