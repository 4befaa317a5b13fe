package commands

import (
	"context"
	"slices"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/i18n"
)

// Request is one parsed command invocation.
type Request struct {
	chat.Command
	Name string // the subcommand, e.g. "promote" (or "incident update")
	Args Args
}

// Spec describes a subcommand: its words, what it accepts and what it
// runs. The router checks the argument count and the flags against the
// spec before Run, and builds the usage line from it, so no command writes
// its own usage text.
type Spec struct {
	Name    string
	Aliases []string
	// Args are the positional arguments, in order. A name ending in "?"
	// is optional ("version?"); one ending in "…" takes the rest of the
	// words, at least one ("title…"), or none when it also ends in "?"
	// ("text…?"). Names are shown in the usage as <name> or [name].
	Args []string
	// Flags are the --flags accepted; anything else is refused.
	Flags []Flag
	// Subcommands, when set, are chosen by the first word ("incident
	// update …"); each checks its own Args and Flags. The parent's Run is
	// not used then.
	Subcommands []*Spec
	// Summary is the catalog id of the one-line description (in `help`).
	Summary string
	// Help is the catalog id of the long text shown by `/nexo help <name>`.
	Help string
	// HelpData are key/value pairs for Help beside "Command" (limits the
	// text states, so it follows the code: "MaxPods", MaxLogPods).
	HelpData []any
	// Mutating commands change something and are authorised and audited.
	Mutating bool
	// Run does the work. A refusal is returned as an error made with
	// Refusalf (or *Refusal); the router turns every error into the reply.
	Run func(ctx context.Context, r Request) (*chat.Reply, error)
}

// Flag is one --flag of a command. An empty Value makes it a boolean
// flag (--skip-soak); otherwise Value is the placeholder in the usage
// (--since 10m, --to <version>).
type Flag struct {
	Name  string
	Value string
}

// Bool reports whether the flag takes no value.
func (f Flag) Bool() bool { return f.Value == "" }

// Usage is the synopsis built from the spec, in English, e.g.
// "promote <service> <env> [version] [--skip-soak] [--reason "…"]".
func (s *Spec) Usage() string { return s.UsageIn(English()) }

// UsageIn is the synopsis for a reader: command words and flags stay as
// they are typed, the names of the arguments are the catalog's
// (core.arg.<name>; "<serviço> <ambiente> [versão]").
func (s *Spec) UsageIn(t i18n.T) string {
	if len(s.Subcommands) > 0 {
		subs := make([]string, len(s.Subcommands))
		for i, sub := range s.Subcommands {
			subs[i] = sub.UsageIn(t)
		}
		return s.Name + " " + strings.Join(subs, " | ")
	}
	parts := []string{s.Name}
	for _, a := range s.Args {
		name, optional, rest := argShape(a)
		name = argName(t, name)
		if rest {
			name += "…"
		}
		if optional {
			parts = append(parts, "["+name+"]")
		} else {
			parts = append(parts, "<"+name+">")
		}
	}
	for _, f := range s.Flags {
		if f.Bool() {
			parts = append(parts, "[--"+f.Name+"]")
		} else {
			parts = append(parts, "[--"+f.Name+" "+f.Value+"]")
		}
	}
	return strings.Join(parts, " ")
}

// argName is an argument's name for a reader: each "|"-separated part the
// catalog knows (core.arg.<part>) is translated, literal words ("all",
// "argocd") stay.
func argName(t i18n.T, name string) string {
	parts := strings.Split(name, "|")
	for i, p := range parts {
		if got := t.S("core.arg." + p); !strings.HasPrefix(got, "⟦") {
			parts[i] = got
		}
	}
	return strings.Join(parts, "|")
}

// argShape reads an Args entry: "version?" is optional, "title…" takes
// the rest of the words.
func argShape(a string) (name string, optional, rest bool) {
	name = a
	if strings.HasSuffix(name, "?") {
		optional, name = true, strings.TrimSuffix(name, "?")
	}
	if strings.HasSuffix(name, "…") {
		rest, name = true, strings.TrimSuffix(name, "…")
	}
	return name, optional, rest
}

// arity is how many positional words the spec accepts (max < 0: no limit).
func (s *Spec) arity() (min, max int) {
	for _, a := range s.Args {
		_, optional, rest := argShape(a)
		if !optional {
			min++
		}
		if rest {
			return min, -1
		}
		max++
	}
	return min, max
}

// boolFlags is the set of the spec's boolean flags (for ParseArgs).
func (s *Spec) boolFlags() map[string]bool {
	out := map[string]bool{}
	for _, f := range s.Flags {
		if f.Bool() {
			out[f.Name] = true
		}
	}
	return out
}

func (s *Spec) flagNames() []string {
	out := make([]string, len(s.Flags))
	for i, f := range s.Flags {
		out[i] = f.Name
	}
	return out
}

func (s *Spec) hasFlag(name string) bool { return slices.Contains(s.flagNames(), name) }

// unknownFlag refuses the first --flag of words the spec does not take,
// before parsing (so `--typo` at the end is named, not "needs a value").
func (s *Spec) unknownFlag(usage string, words []string) error {
	for _, w := range words {
		if strings.HasPrefix(w, "—") { // Slack's em dash for "--"
			w = "--" + strings.TrimPrefix(w, "—")
		}
		if !strings.HasPrefix(w, "--") || len(w) == 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.ToLower(w[2:]), "=")
		if s.hasFlag(name) {
			continue
		}
		return Refuse("core.unknown_flag", "Flag", clip(name, 40), "Command", s.Name, "Hint", didYouMeanFlag(name, s.flagNames()), "Usage", usage)
	}
	return nil
}

// check refuses a number of words the spec does not accept; usage is the
// full usage line shown with the refusal ("/nexo promote <service> …").
func (s *Spec) check(usage string, args Args) error {
	min, max := s.arity()
	if n := len(args.Words); n < min || (max >= 0 && n > max) {
		return Refuse("core.usage", "Usage", usage)
	}
	return nil
}
