// Package commands turns `/nexo …` into the playbook's scenarios. It knows
// no Slack: it receives chat.Command / chat.Click / chat.Submission and
// answers with chat.Message, and posts through chat.Chat.
package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store"
)

// Request is one parsed command invocation.
type Request struct {
	chat.Command
	Name string // the subcommand, e.g. "promote"
	Args Args
}

// Spec describes a subcommand.
type Spec struct {
	Name    string
	Aliases []string
	// Usage is the synopsis, e.g. "promote <service> <env> [version]".
	Usage   string
	Summary string
	// Help is the long text shown by `/nexo help <name>`.
	Help string
	// BoolFlags take no value.
	BoolFlags []string
	// Flags are the value flags accepted (anything else is refused).
	Flags []string
	// Mutating commands change something and are authorised and audited.
	Mutating bool
	// Run does the work. A refusal is returned as a reply, not an error.
	Run func(ctx context.Context, r Request) (*chat.Reply, error)
}

// ClickFunc handles a button whose action starts with a registered prefix.
type ClickFunc func(ctx context.Context, c chat.Click) (*chat.Reply, error)

// SubmitFunc handles a modal whose callback id starts with a registered prefix.
type SubmitFunc func(ctx context.Context, s chat.Submission) (map[string]string, error)

// EventFunc handles a channel event.
type EventFunc func(ctx context.Context, e chat.Event) error

// Router implements chat.Handler.
type Router struct {
	cfg     *config.Config
	st      store.Store
	log     *slog.Logger
	specs   []*Spec
	byName  map[string]*Spec
	clicks  map[string]ClickFunc
	submits map[string]SubmitFunc
	events  []EventFunc
	guard   Guard
	// Timeout bounds one command's handling.
	Timeout time.Duration
}

// NewRouter builds a router with `help` registered.
func NewRouter(cfg *config.Config, st store.Store, log *slog.Logger) *Router {
	if log == nil {
		log = slog.Default()
	}
	r := &Router{cfg: cfg, st: st, log: log, byName: map[string]*Spec{}, clicks: map[string]ClickFunc{}, submits: map[string]SubmitFunc{}, Timeout: 2 * time.Minute}
	r.Register(r.helpSpec())
	return r
}

// Register adds a subcommand.
func (r *Router) Register(s *Spec) {
	r.specs = append(r.specs, s)
	r.byName[s.Name] = s
	for _, a := range s.Aliases {
		r.byName[a] = s
	}
}

// OnClick routes buttons whose action is prefix or starts with prefix+".".
func (r *Router) OnClick(prefix string, fn ClickFunc) { r.clicks[prefix] = fn }

// OnSubmit routes modals whose callback id is prefix or starts with prefix+".".
func (r *Router) OnSubmit(prefix string, fn SubmitFunc) { r.submits[prefix] = fn }

// SetGuard installs the authorization check run before every mutating
// command and every button (see Authz).
func (r *Router) SetGuard(g Guard) { r.guard = g }

// OnEvent adds an event listener.
func (r *Router) OnEvent(fn EventFunc) { r.events = append(r.events, fn) }

// Specs lists the registered subcommands in registration order.
func (r *Router) Specs() []*Spec { return r.specs }

// HandleCommand parses and runs a slash command.
func (r *Router) HandleCommand(ctx context.Context, c chat.Command) (*chat.Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	words, err := Tokenize(c.Text)
	if err != nil {
		return Refuse("%s", err), nil
	}
	if len(words) == 0 {
		return r.helpReply(""), nil
	}
	name := strings.ToLower(words[0])
	spec, ok := r.byName[name]
	if !ok {
		msg := fmt.Sprintf("`%s` is not a nexo command.", words[0])
		if s := config.Closest(name, r.names()); s != "" {
			msg += fmt.Sprintf(" Did you mean `%s`?", s)
		}
		return Refuse("%s Try `%s help`.", msg, r.cfg.Slack.Command), nil
	}
	bools := map[string]bool{}
	for _, b := range spec.BoolFlags {
		bools[b] = true
	}
	args, err := ParseArgs(words[1:], bools)
	if err != nil {
		return Refuse("%s. Usage: `%s %s`", err, r.cfg.Slack.Command, spec.Usage), nil
	}
	for f := range args.Flags {
		if !bools[f] && !contains(spec.Flags, f) {
			known := append(append([]string{}, spec.Flags...), spec.BoolFlags...)
			hint := ""
			if s := config.Closest(f, known); s != "" {
				hint = fmt.Sprintf(" Did you mean `--%s`?", s)
			}
			return Refuse("`--%s` is not an option of `%s`.%s Usage: `%s %s`", f, spec.Name, hint, r.cfg.Slack.Command, spec.Usage), nil
		}
	}
	req := Request{Command: c, Name: spec.Name, Args: args}
	if spec.Mutating && r.guard != nil {
		if refusal := r.guard.AllowCommand(ctx, req, spec); refusal != nil {
			return refusal, nil
		}
	}
	start := time.Now()
	reply, err := spec.Run(ctx, req)
	r.log.Info("command", "command", spec.Name, "user", c.UserID, "channel", c.ChannelID, "duration_ms", time.Since(start).Milliseconds(), "err", errString(err))
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return Refuse("The state store is unavailable, so nothing was changed. Try again in a moment."), nil
		}
		return nil, err
	}
	return reply, nil
}

// HandleClick routes a button.
func (r *Router) HandleClick(ctx context.Context, c chat.Click) (*chat.Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	if fn := r.match(r.clicksKeys(), c.Action); fn != "" {
		if r.guard != nil {
			if refusal := r.guard.AllowClick(ctx, c); refusal != nil {
				return refusal, nil
			}
		}
		reply, err := r.clicks[fn](ctx, c)
		if errors.Is(err, store.ErrUnavailable) {
			return Refuse("The state store is unavailable, so nothing was changed. Try again in a moment."), nil
		}
		return reply, err
	}
	return Refuse("This button is no longer handled by nexo."), nil
}

// HandleSubmission routes a modal submission.
func (r *Router) HandleSubmission(ctx context.Context, s chat.Submission) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	keys := make([]string, 0, len(r.submits))
	for k := range r.submits {
		keys = append(keys, k)
	}
	if fn := r.match(keys, s.CallbackID); fn != "" {
		return r.submits[fn](ctx, s)
	}
	return nil, fmt.Errorf("no handler for modal %q", s.CallbackID)
}

// HandleEvent passes an event to every listener.
func (r *Router) HandleEvent(ctx context.Context, e chat.Event) error {
	var errs []error
	for _, fn := range r.events {
		if err := fn(ctx, e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *Router) clicksKeys() []string {
	keys := make([]string, 0, len(r.clicks))
	for k := range r.clicks {
		keys = append(keys, k)
	}
	return keys
}

// match returns the longest registered prefix of id ("a.b" matches "a" and "a.b").
func (r *Router) match(keys []string, id string) string {
	best := ""
	for _, k := range keys {
		if (id == k || strings.HasPrefix(id, k+".")) && len(k) > len(best) {
			best = k
		}
	}
	return best
}

func (r *Router) names() []string {
	out := make([]string, 0, len(r.byName))
	for k := range r.byName {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Refuse is an ephemeral reply that changes nothing.
func Refuse(format string, args ...any) *chat.Reply {
	text := fmt.Sprintf(format, args...)
	return &chat.Reply{Ephemeral: true, Message: chat.Message{Text: text, Blocks: []chat.Block{{Section: &chat.Section{Text: ":no_entry_sign: " + text}}}}}
}

// Ephemeral is an ephemeral reply.
func Ephemeral(m chat.Message) *chat.Reply { return &chat.Reply{Ephemeral: true, Message: m} }

// InChannel is a reply everybody in the channel sees.
func InChannel(m chat.Message) *chat.Reply { return &chat.Reply{Message: m} }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
