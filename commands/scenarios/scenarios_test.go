package scenarios_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/chat/chattest"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/commandstest"
	"github.com/nexo-org/nexo-bot/commands/scenarios"
	"github.com/nexo-org/nexo-bot/store/boltstore"
	"github.com/nexo-org/nexo-bot/workflow"
)

func deps(t *testing.T) *commands.Deps {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &commands.Deps{Config: commandstest.Config(), Store: st, Chat: chattest.New(0), Log: log, Engine: workflow.New(st, nil, log, "test")}
}

func TestEveryScenarioRegistersWithoutCollisions(t *testing.T) {
	r, err := scenarios.Setup(context.Background(), deps(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r.Specs() {
		names = append(names, s.Name)
	}
	want := "help promote hotfix rollback diagnose incident rotate-secret dora status history diff pods logs audit cancel freeze unfreeze"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("commands in help order:\n got %s\nwant %s", got, want)
	}
	reply, err := r.HandleCommand(context.Background(), chat.Command{UserID: commandstest.Carol, ChannelID: "C0DEPLOYS", Text: "help"})
	if err != nil || reply == nil {
		t.Fatalf("help: %+v %v", reply, err)
	}
	for _, n := range names {
		if !strings.Contains(reply.Message.PlainText(), "/nexo "+n) {
			t.Errorf("help does not list %s", n)
		}
	}
}

func TestASecondScenarioTakingANameFailsSetup(t *testing.T) {
	d := deps(t)
	r := commands.New(d)
	for _, register := range scenarios.All {
		register(r, d)
	}
	scenarios.All[0](r, d) // the change scenario once more
	err := r.Err()
	if err == nil || !strings.Contains(err.Error(), "command promote is registered twice") || !strings.Contains(err.Error(), "commands/change/register.go:") {
		t.Fatalf("err = %v", err)
	}
}
