// Package commands is the core every scenario shares: the router and its
// registration table, the parser, target resolution, authorization and
// group membership, refusals and the one place errors become sentences,
// the audit log, thread and card helpers, and approvals. It knows no
// Slack: it receives chat.Command / chat.Click / chat.Submission and
// answers with chat.Message, and posts through chat.Chat.
//
// The scenarios live in packages below it (commands/change,
// commands/rollback, …); each exports Register(r *Router, d *Deps), and
// commands/scenarios calls them in one ordered list.
package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
)

// ClickFunc handles a button whose action starts with a registered prefix.
// A refusal is returned as an error made with Refusalf.
type ClickFunc func(ctx context.Context, c chat.Click) (*chat.Reply, error)

// SubmitFunc handles a modal whose callback id starts with a registered
// prefix: per-input validation errors, or an error (a Refusal's sentence
// is shown on the modal).
type SubmitFunc func(ctx context.Context, s chat.Submission) (map[string]string, error)

// HomeReplyFunc shows user the answer to a button they pressed on the App
// Home tab (which has no channel to answer in).
type HomeReplyFunc func(ctx context.Context, user string, r chat.Reply)

// EventFunc handles a channel event.
type EventFunc func(ctx context.Context, e chat.Event) error

// StartFunc runs once when nexo starts (after every scenario registered).
type StartFunc func(ctx context.Context) error

// Router implements chat.Handler: one table from command names, button
// prefixes and modal ids to the scenario code that handles them.
type Router struct {
	cfg     *config.Config
	log     *slog.Logger
	specs   []*Spec
	byName  map[string]*Spec
	clicks  map[string]ClickFunc
	submits map[string]SubmitFunc
	events  []EventFunc
	starts  []StartFunc
	guard   Guard
	// where remembers the registration site of every name and prefix, to
	// name both places when one is registered twice.
	where map[string]string
	// localize is the catalog in a channel's locale.
	localize func(channel string) i18n.T
	// locate places a click of the App Home tab in the thread of the
	// workflow its value names (see HandleClick).
	locate func(ctx context.Context, c *chat.Click)
	// homeReply shows the answer to a click of the App Home tab there.
	homeReply HomeReplyFunc
	errs      []error
	// Timeout bounds one command's handling.
	Timeout time.Duration
}

// NewRouter builds a router with `help` registered.
func NewRouter(cfg *config.Config, log *slog.Logger) *Router {
	if log == nil {
		log = slog.Default()
	}
	r := &Router{cfg: cfg, log: log, byName: map[string]*Spec{}, clicks: map[string]ClickFunc{}, submits: map[string]SubmitFunc{}, where: map[string]string{}, Timeout: 2 * time.Minute}
	cat := i18n.Default().WithZone(cfg.Zone())
	r.localize = func(channel string) i18n.T { return cat.In(cfg.LocaleOf(channel, "")) }
	r.Register(r.helpSpec())
	return r
}

// New builds the router of a nexo: `help`, `cancel` (any open workflow,
// through its kind's Lifecycle), and the Authz guard in front of every
// mutating command and every button.
func New(d *Deps) *Router {
	if d.Members == nil {
		d.Members = NewMembers(d.Config, d.Chat)
	}
	d.resetListeners() // a new router is a new nexo on these deps
	r := NewRouter(d.Config, d.Log)
	r.localize = d.T
	r.SetGuard(&Authz{D: d})
	r.locate = func(ctx context.Context, c *chat.Click) {
		id, _, _ := strings.Cut(c.Value, "|")
		if id == "" || len(id) > 200 {
			return
		}
		if wf, err := d.Store.GetWorkflow(ctx, id); err == nil {
			c.ChannelID, c.ThreadTS, c.MessageTS = wf.Channel, wf.ThreadTS, wf.CardTS
		}
	}
	return r
}

// claim records that key was registered here; a second claim is an error
// naming both places (see Err).
func (r *Router) claim(key string) bool {
	at := caller()
	if first, taken := r.where[key]; taken {
		r.errs = append(r.errs, fmt.Errorf("%s is registered twice: at %s and at %s", key, first, at))
		return false
	}
	r.where[key] = at
	return true
}

// caller is the file:line that called Register / OnClick / OnSubmit.
func caller() string {
	for skip := 3; skip < 8; skip++ {
		_, file, line, ok := runtime.Caller(skip)
		if !ok {
			break
		}
		if !strings.HasSuffix(file, "/commands/router.go") {
			return fmt.Sprintf("%s:%d", trimPath(file), line)
		}
	}
	return "?"
}

func trimPath(file string) string {
	if i := strings.Index(file, "/commands/"); i >= 0 {
		return file[i+1:]
	}
	return file
}

// Register adds a subcommand. A name or alias taken already is an error
// reported by Err (registration goes on, so every collision is listed).
func (r *Router) Register(s *Spec) {
	keys := append([]string{s.Name}, s.Aliases...)
	for _, k := range keys {
		if !r.claim("command " + k) {
			return
		}
	}
	r.specs = append(r.specs, s)
	for _, k := range keys {
		r.byName[k] = s
	}
}

// OnClick routes buttons whose action is prefix or starts with prefix+".".
func (r *Router) OnClick(prefix string, fn ClickFunc) {
	if r.claim("button " + prefix) {
		r.clicks[prefix] = fn
	}
}

// OnSubmit routes modals whose callback id is prefix or starts with prefix+".".
func (r *Router) OnSubmit(prefix string, fn SubmitFunc) {
	if r.claim("modal " + prefix) {
		r.submits[prefix] = fn
	}
}

// OnHomeReply sets where the answers to App Home buttons are shown (the
// release board shows them on the Home tab itself).
func (r *Router) OnHomeReply(fn HomeReplyFunc) {
	if r.claim("onhomereply") {
		r.homeReply = fn
	}
}

// OnEvent adds an event listener.
func (r *Router) OnEvent(fn EventFunc) { r.events = append(r.events, fn) }

// OnStart adds work to run once at start (scheduling a scenario's
// recurring timers, say).
func (r *Router) OnStart(fn StartFunc) { r.starts = append(r.starts, fn) }

// Start runs the OnStart functions in registration order.
func (r *Router) Start(ctx context.Context) error {
	for _, fn := range r.starts {
		if err := fn(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Err reports every name, alias, button prefix or modal id registered
// twice, with both places.
func (r *Router) Err() error { return errors.Join(r.errs...) }

// SetGuard installs the authorization check run before every mutating
// command and every button (see Authz).
func (r *Router) SetGuard(g Guard) { r.guard = g }

// Specs lists the registered subcommands in registration order.
func (r *Router) Specs() []*Spec { return r.specs }

// HandleCommand parses and runs a slash command. It never returns an
// error: every failure is a reply (see ErrorReply).
func (r *Router) HandleCommand(ctx context.Context, c chat.Command) (*chat.Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	start := time.Now()
	name, reply, err := r.runCommand(ctx, c)
	r.log.Info("command", "command", name, "user", c.UserID, "channel", c.ChannelID, "duration_ms", time.Since(start).Milliseconds(), "err", errString(err))
	if err != nil {
		return ErrorReply(ctx, r.localize(c.ChannelID), r.log, "command "+name, err), nil
	}
	return reply, nil
}

func (r *Router) runCommand(ctx context.Context, c chat.Command) (string, *chat.Reply, error) {
	t := r.localize(c.ChannelID)
	words, err := Tokenize(c.Text)
	if ref := (*Refusal)(nil); errors.As(err, &ref) {
		return "", nil, Refuse("core.parse_bad", "Problem", ref.Msg, "Command", r.cfg.Slack.Command)
	} else if err != nil {
		return "", nil, err
	}
	if len(words) == 0 {
		reply, err := r.helpReply(t, "")
		return "help", reply, err
	}
	name := strings.ToLower(words[0])
	spec, ok := r.byName[name]
	if !ok {
		return name, nil, Refuse("core.not_a_command", "Word", clip(words[0], 40), "Hint", Suggest(name, r.names()), "Command", r.cfg.Slack.Command)
	}
	words = words[1:]
	display := spec.Name
	if len(spec.Subcommands) > 0 {
		sub, err := r.subcommand(t, spec, words)
		if err != nil {
			return spec.Name, nil, err
		}
		display = spec.Name + " " + sub.Name
		spec, words = sub, words[1:]
	}
	usage := func() string { return r.cfg.Slack.Command + " " + r.usageOf(t, display, spec) }
	if err := spec.unknownFlag(usage(), words); err != nil {
		return display, nil, err
	}
	args, err := ParseArgs(words, spec.boolFlags())
	if ref := (*Refusal)(nil); errors.As(err, &ref) {
		return display, nil, Refuse("core.parse_usage", "Problem", ref.Msg, "Usage", usage())
	} else if err != nil {
		return display, nil, err
	}
	if err := spec.check(usage(), args); err != nil {
		return display, nil, err
	}
	req := Request{Command: c, Name: display, Args: args}
	if spec.Mutating && r.guard != nil {
		if err := r.guard.AllowCommand(ctx, req, spec); err != nil {
			return display, nil, err
		}
	}
	reply, err := spec.Run(ctx, req)
	return display, reply, err
}

// usageOf is a spec's usage under the name it was reached by
// ("incident update <text…>").
func (r *Router) usageOf(t i18n.T, display string, s *Spec) string {
	if display == s.Name {
		return s.UsageIn(t)
	}
	return strings.TrimSuffix(display, s.Name) + s.UsageIn(t)
}

// subcommand picks the subcommand named by the first word.
func (r *Router) subcommand(t i18n.T, spec *Spec, words []string) (*Spec, error) {
	var names []string
	for _, s := range spec.Subcommands {
		names = append(names, s.Name)
	}
	if len(words) == 0 {
		return nil, Refuse("core.usage", "Usage", r.cfg.Slack.Command+" "+spec.UsageIn(t))
	}
	w := strings.ToLower(words[0])
	for _, s := range spec.Subcommands {
		if s.Name == w || slices.Contains(s.Aliases, w) {
			return s, nil
		}
	}
	return nil, Refuse("core.not_a_subcommand", "Word", clip(words[0], 30), "Command", spec.Name, "Hint", Suggest(w, names), "List", strings.Join(names, ", "))
}

// HandleClick routes a button. It never returns an error.
//
// A button of the App Home tab (Surface home) has no channel nor message:
// when its value names a workflow, the click is placed in that workflow's
// thread (its channel, thread and card), so the guard and the handler see
// it exactly as a press of the same button in the thread; its answer is
// shown on the Home tab through OnHomeReply.
func (r *Router) HandleClick(ctx context.Context, c chat.Click) (*chat.Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	if c.Surface != chat.SurfaceHome {
		return r.handleClick(ctx, c)
	}
	if c.ChannelID == "" && r.locate != nil {
		r.locate(ctx, &c)
	}
	reply, err := r.handleClick(ctx, c)
	if reply != nil && r.homeReply != nil && (reply.Message.Text != "" || len(reply.Message.Blocks) > 0) {
		r.homeReply(ctx, c.UserID, *reply)
		return nil, err
	}
	return reply, err
}

func (r *Router) handleClick(ctx context.Context, c chat.Click) (*chat.Reply, error) {
	t := r.localize(c.ChannelID)
	fn := r.match(keysOf(r.clicks), c.Action)
	if fn == "" {
		return ErrorReply(ctx, t, r.log, "button "+c.Action, Refuse("core.button_gone")), nil
	}
	if r.guard != nil {
		if err := r.guard.AllowClick(ctx, c); err != nil {
			return ErrorReply(ctx, t, r.log, "button "+c.Action, err), nil
		}
	}
	reply, err := r.clicks[fn](ctx, c)
	if err != nil {
		return ErrorReply(ctx, t, r.log, "button "+c.Action, err), nil
	}
	return reply, nil
}

// HandleSubmission routes a modal submission. It never returns an error:
// a failure is shown on the modal's first input (a Refusal its sentence,
// anything else the fixed sentence with a reference).
func (r *Router) HandleSubmission(ctx context.Context, s chat.Submission) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	fn := r.match(keysOf(r.submits), s.CallbackID)
	var err error
	errs := map[string]string(nil)
	if fn == "" {
		err = Refuse("core.form_gone")
	} else {
		errs, err = r.submits[fn](ctx, s)
	}
	if err == nil {
		return errs, nil
	}
	text := ErrorText(ctx, r.localize(""), r.log, "modal "+s.CallbackID, err)
	keys := keysOf(s.Values)
	sort.Strings(keys)
	if len(keys) == 0 {
		return nil, nil
	}
	return map[string]string{keys[0]: text}, nil
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

func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
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
	out := keysOf(r.byName)
	sort.Strings(out)
	return out
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
