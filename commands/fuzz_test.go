package commands_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/chat/chattest"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/views"
	"github.com/nexo-org/nexo-bot/store/boltstore"
	"github.com/nexo-org/nexo-bot/workflow"
)

// The seed corpora live in testdata/fuzz/<FuzzName>; `go test` runs them as
// ordinary tests, `go test -fuzz FuzzX` (scripts/fuzz.sh) explores further.

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"promote nexo-be production 2026.02.17", `promote nexo-be prod --reason "fix “quoted” thing"`, "a 'b c' \"d e\"", "“smart quotes”", "unclosed \"quote", "tab\tsep\nnewline", "\x00", "—reason x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := commands.Tokenize(s)
		if err != nil {
			if words != nil {
				t.Fatalf("words %q with error %v", words, err)
			}
			return
		}
		if len(s) > commands.MaxCommandText || !utf8.ValidString(s) {
			t.Fatalf("accepted %d bytes (valid UTF-8: %v)", len(s), utf8.ValidString(s))
		}
		total := 0
		for _, w := range words {
			total += len(w)
			for _, r := range w {
				if unicode.IsControl(r) && r != '\n' && r != '\t' {
					t.Fatalf("control character %U kept in %q", r, w)
				}
			}
		}
		if total > len(s) {
			t.Fatalf("words longer than the input: %d > %d", total, len(s))
		}
		// Words without quotes or spaces come back unchanged when re-joined.
		simple := true
		for _, w := range words {
			if w == "" || strings.ContainsAny(w, "\"'“” \t\n\r\v\f\u0085\u00a0") || strings.IndexFunc(w, unicode.IsSpace) >= 0 {
				simple = false
			}
		}
		if simple {
			again, err := commands.Tokenize(strings.Join(words, " "))
			if err != nil || strings.Join(again, "\x1f") != strings.Join(words, "\x1f") {
				t.Fatalf("re-tokenizing %q gave %q, %v", words, again, err)
			}
		}
	})
}

func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{"nexo-be prod --skip-soak --reason x", "--to=2026.02.10 a b", "--reason", "--reason --skip-soak", "—limit 3", "-- --", "--SKIP-SOAK=1", "--a --a"} {
		f.Add(s)
	}
	bools := map[string]bool{"skip-soak": true}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := commands.Tokenize(s)
		if err != nil {
			return
		}
		a, err := commands.ParseArgs(words, bools)
		if err != nil {
			return
		}
		if len(a.Words)+len(a.Flags) > len(words) {
			t.Fatalf("%d words and %d flags from %d tokens", len(a.Words), len(a.Flags), len(words))
		}
		for k, v := range a.Flags {
			if k != strings.ToLower(k) {
				t.Fatalf("flag name %q not lower-cased", k)
			}
			if bools[k] && v != "true" {
				t.Fatalf("bool flag %q = %q", k, v)
			}
		}
	})
}

// FuzzRouterCommand drives the whole parsing path of a slash command:
// tokenizing, the subcommand lookup, flags, the authorization guard and a
// spec's own argument checks. Nothing may panic, every answer is
// ephemeral, bounded and (for refusals) changes nothing.
func FuzzRouterCommand(f *testing.F) {
	for _, s := range []string{"", "help", "help promote", "audit nexo-be --limit 3", "audit ../../etc", "poke nexo-be prod", "poke nеxo-be prod", "audit nexo-be --limit -1", "promot nexo-be", "audit nexo-be --limt 3", "audit \"nexo-be\" --limit=99999999999999999999"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	dir := f.TempDir()
	st, err := boltstore.Open(filepath.Join(dir, "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := azConfig(f)
	d := &commands.Deps{Config: cfg, Store: st, Chat: &chattest.Recorder{}, Log: log, Engine: workflow.New(st, nil, log, "fuzz")}
	d.Members = commands.NewMembers(cfg, d.Chat)
	r := commands.NewRouter(cfg, log)
	r.Register(views.AuditSpec(d))
	runs := 0
	r.Register(&commands.Spec{Name: "poke", Args: []string{"words…?"}, Mutating: true, Flags: []commands.Flag{{Name: "force"}, {Name: "reason", Value: "text"}}, Run: func(ctx context.Context, req commands.Request) (*chat.Reply, error) {
		runs++
		if _, err := commands.ResolveService(cfg, firstWord(req.Args.Words)); err != nil {
			return nil, err
		}
		return commands.Ephemeral(chat.Message{Text: "ok"}), nil
	}})
	r.SetGuard(&commands.Authz{D: d})
	f.Fuzz(func(t *testing.T, text string, member bool) {
		user := azOutsider
		if member {
			user = azCarol
		}
		before := runs
		reply, err := r.HandleCommand(context.Background(), chat.Command{UserID: user, ChannelID: azChannel, Text: text})
		if err != nil {
			t.Fatalf("%q: error %v", text, err)
		}
		if reply == nil || !reply.Ephemeral {
			t.Fatalf("%q: reply %+v", text, reply)
		}
		if n := len(reply.Message.PlainText()); n > 12000 {
			t.Fatalf("%q: a %d-byte reply", text, n)
		}
		if !member && runs != before {
			t.Fatalf("%q: a mutating command ran for an outsider", text)
		}
	})
}

func firstWord(w []string) string {
	if len(w) == 0 {
		return ""
	}
	return w[0]
}
