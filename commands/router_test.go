package commands_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/chat/chattest"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/boltstore"
)

func bareRouter(t *testing.T) (*commands.Router, *bytes.Buffer) {
	t.Helper()
	cfg := &config.Config{}
	cfg.ApplyDefaults()
	var logs bytes.Buffer
	return commands.NewRouter(cfg, slog.New(slog.NewJSONHandler(&logs, nil))), &logs
}

func run(t *testing.T, r *commands.Router, text string) *chat.Reply {
	t.Helper()
	reply, err := r.HandleCommand(context.Background(), chat.Command{UserID: "U1", ChannelID: "C1", Text: text})
	if err != nil {
		t.Fatalf("%s: the router returned an error: %v", text, err)
	}
	return reply
}

func TestRegisteringANameTwiceNamesBothPlaces(t *testing.T) {
	r, _ := bareRouter(t)
	noop := func(ctx context.Context, req commands.Request) (*chat.Reply, error) { return nil, nil }
	r.Register(&commands.Spec{Name: "ship", Aliases: []string{"sail"}, Run: noop})
	r.Register(&commands.Spec{Name: "sail", Run: noop})
	r.OnClick("ship.go", func(ctx context.Context, c chat.Click) (*chat.Reply, error) { return nil, nil })
	r.OnClick("ship.go", func(ctx context.Context, c chat.Click) (*chat.Reply, error) { return nil, nil })
	r.OnSubmit("ship.why", func(ctx context.Context, s chat.Submission) (map[string]string, error) { return nil, nil })
	r.OnSubmit("ship.why", func(ctx context.Context, s chat.Submission) (map[string]string, error) { return nil, nil })
	err := r.Err()
	if err == nil {
		t.Fatal("no error for names registered twice")
	}
	msg := err.Error()
	for _, want := range []string{"command sail is registered twice", "button ship.go is registered twice", "modal ship.why is registered twice"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	// Both places: two file:line references of this test file per line.
	for _, line := range strings.Split(msg, "\n") {
		if n := len(regexp.MustCompile(`router_test\.go:\d+`).FindAllString(line, -1)); n != 2 {
			t.Errorf("%q names %d places, want 2", line, n)
		}
	}
	if got := run(t, r, "help ship"); got == nil || !strings.Contains(got.Message.Text, "ship") {
		t.Fatalf("the first registration should stay: %+v", got)
	}
}

func TestUsageComesFromTheSpec(t *testing.T) {
	spec := &commands.Spec{Name: "promote", Args: []string{"service", "env", "version?"},
		Flags: []commands.Flag{{Name: "skip-soak"}, {Name: "reason", Value: `"…"`}}}
	if got, want := spec.Usage(), `promote <service> <env> [version] [--skip-soak] [--reason "…"]`; got != want {
		t.Fatalf("usage %q, want %q", got, want)
	}
	inc := &commands.Spec{Name: "incident", Subcommands: []*commands.Spec{
		{Name: "declare", Args: []string{"service", "env", "title…"}},
		{Name: "resolve", Args: []string{"text…?"}},
	}}
	if got, want := inc.Usage(), "incident declare <service> <env> <title…> | resolve [text…]"; got != want {
		t.Fatalf("usage %q, want %q", got, want)
	}
}

func TestRouterChecksArgumentsAndFlagsBeforeRun(t *testing.T) {
	r, _ := bareRouter(t)
	var ran []string
	r.Register(&commands.Spec{Name: "promote", Args: []string{"service", "env", "version?"},
		Flags: []commands.Flag{{Name: "skip-soak"}, {Name: "reason", Value: `"…"`}},
		Run: func(ctx context.Context, req commands.Request) (*chat.Reply, error) {
			ran = append(ran, strings.Join(req.Args.Words, " "))
			return nil, nil
		}})
	r.Register(&commands.Spec{Name: "incident", Subcommands: []*commands.Spec{
		{Name: "update", Args: []string{"text…"}, Run: func(ctx context.Context, req commands.Request) (*chat.Reply, error) {
			ran = append(ran, "update "+strings.Join(req.Args.Words, " "))
			return nil, nil
		}},
	}})
	cases := map[string]string{
		"promote nexo-be":                        "Usage: `/nexo promote <service> <env> [version] [--skip-soak] [--reason \"…\"]`",
		"promote a b c d":                        "Usage: `/nexo promote",
		"promote a b --skip-soke":                "`--skip-soke` is not an option of `promote`. Did you mean `--skip-soak`?",
		"promote a b --skip-soak=yes":            "--skip-soak takes no value",
		"incident":                               "Usage: `/nexo incident update <text…>`",
		"incident updat hi":                      "`updat` is not a `incident` subcommand. Did you mean `update`?",
		"incident update":                        "Usage: `/nexo incident update <text…>`",
		"promot a b":                             "Did you mean `promote`?",
		"promote \"unclosed":                     "A quote is not closed. Try `/nexo help`.",
		"promote nexo-be staging --reason":       "--reason needs a value",
		"promote nexo-be staging 2026.02.17 --x": "`--x` is not an option",
	}
	for text, want := range cases {
		got := run(t, r, text)
		if got == nil || !got.Ephemeral || !strings.Contains(got.Message.Text, want) {
			t.Errorf("%q: got %+v, want an ephemeral with %q", text, got, want)
		}
	}
	if len(ran) != 0 {
		t.Fatalf("Run was called for refused input: %v", ran)
	}
	run(t, r, "promote nexo-be staging 2026.02.17 --skip-soak --reason late")
	run(t, r, "incident update rolled back")
	if strings.Join(ran, "; ") != "nexo-be staging 2026.02.17; update rolled back" {
		t.Fatalf("ran %v", ran)
	}
}

func TestErrorsBecomeSentencesInOnePlace(t *testing.T) {
	r, logs := bareRouter(t)
	en := commands.English()
	errs := map[string]error{
		"refuse":  commands.Refuse("core.authz.who"),
		"store":   fmt.Errorf("saving: %w", store.ErrUnavailable),
		"slow":    fmt.Errorf("asking Argo CD: %w", context.DeadlineExceeded),
		"explode": errors.New("dial tcp 10.0.0.7:443: connect: connection refused"),
	}
	for name, err := range errs {
		r.Register(&commands.Spec{Name: name, Run: func(ctx context.Context, req commands.Request) (*chat.Reply, error) { return nil, err }})
	}
	if got := run(t, r, "refuse").Message.Text; got != en.S("core.authz.who") {
		t.Errorf("refusal: %q", got)
	}
	if got := run(t, r, "store").Message.Text; got != en.S("core.store_down") {
		t.Errorf("store: %q", got)
	}
	if got := run(t, r, "slow").Message.Text; !strings.HasPrefix(got, "That took too long") {
		t.Errorf("timeout: %q", got)
	}
	got := run(t, r, "explode").Message.Text
	if strings.Contains(got, "10.0.0.7") || strings.Contains(got, "connection refused") {
		t.Fatalf("raw error text reached the user: %q", got)
	}
	m := regexp.MustCompile("Reference `([0-9a-f]{8})`").FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("no reference in %q", got)
	}
	if !strings.Contains(logs.String(), `"ref":"`+m[1]+`"`) || !strings.Contains(logs.String(), "connection refused") {
		t.Fatalf("reference %s is not in the log with the error:\n%s", m[1], logs.String())
	}
}

func TestClicksAndModalsNeverReturnRawErrors(t *testing.T) {
	r, logs := bareRouter(t)
	r.OnClick("boom", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		return nil, errors.New("pq: password authentication failed for user nexo")
	})
	r.OnSubmit("boom", func(ctx context.Context, s chat.Submission) (map[string]string, error) {
		return nil, errors.New("pq: password authentication failed for user nexo")
	})
	reply, err := r.HandleClick(context.Background(), chat.Click{UserID: "U1", Action: "boom"})
	if err != nil || reply == nil || strings.Contains(reply.Message.Text, "pq:") || !strings.Contains(reply.Message.Text, "Reference") {
		t.Fatalf("click: %+v %v", reply, err)
	}
	fields, err := r.HandleSubmission(context.Background(), chat.Submission{CallbackID: "boom", Values: map[string]string{"reason": "x", "a": "y"}})
	if err != nil || len(fields) != 1 || strings.Contains(fields["a"], "pq:") || !strings.Contains(fields["a"], "Reference") {
		t.Fatalf("modal: %+v %v", fields, err)
	}
	if strings.Count(logs.String(), "password authentication failed") != 2 {
		t.Fatalf("both errors should be logged:\n%s", logs.String())
	}
}

func TestHomeClicksArePlacedInTheirWorkflowsThreadAndAnsweredOnTheHome(t *testing.T) {
	cfg := &config.Config{Groups: config.Groups{"sre-team": {"U1"}}}
	cfg.ApplyDefaults()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := &commands.Deps{Config: cfg, Store: st, Chat: chattest.New(0), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r := commands.New(d)
	ctx := context.Background()
	if err = st.CreateWorkflow(ctx, &store.Workflow{ID: "wf-1", Kind: "x", State: "approval", Channel: "C9", ThreadTS: "1.1", CardTS: "1.1"}); err != nil {
		t.Fatal(err)
	}
	var seen chat.Click
	r.OnClick("x.approve", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		seen = c
		return nil, commands.Refuse("core.button_gone")
	})
	var homeUser string
	var homeReply chat.Reply
	r.OnHomeReply(func(ctx context.Context, user string, rep chat.Reply) { homeUser, homeReply = user, rep })

	reply, err := r.HandleClick(ctx, chat.Click{UserID: "U1", Surface: chat.SurfaceHome, Action: "x.approve", Value: "wf-1"})
	if err != nil || reply != nil {
		t.Fatalf("a Home click's answer goes to the Home: reply %+v, err %v", reply, err)
	}
	if seen.ChannelID != "C9" || seen.ThreadTS != "1.1" || seen.MessageTS != "1.1" {
		t.Fatalf("the click is not placed in the workflow's thread: %+v", seen)
	}
	if homeUser != "U1" || !strings.Contains(homeReply.Message.Text, commands.English().S("core.button_gone")) {
		t.Fatalf("home answer %q to %q", homeReply.Message.Text, homeUser)
	}
	// A message's button is answered where it was pressed, as before.
	homeUser = ""
	reply, _ = r.HandleClick(ctx, chat.Click{UserID: "U1", ChannelID: "C9", Action: "x.approve", Value: "wf-1"})
	if reply == nil || homeUser != "" {
		t.Fatalf("a message click: reply %+v, home %q", reply, homeUser)
	}
}
