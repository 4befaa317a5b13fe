package incident

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store"
)

// Store collections of the incident scenario besides records.IncidentsCollection.
const (
	// IncidentChannelsCollection maps a channel id to its incident id.
	IncidentChannelsCollection = "incident_channels"
	// IncidentMessagesCollection keeps the text of messages posted in
	// incident channels ("<channel>/<ts>"), so a :pushpin: reaction, which
	// carries no text, can still put the words into the timeline.
	IncidentMessagesCollection = "incident_messages"
	// AlertsCollection keeps received alerts by fingerprint (the Declare button's value).
	AlertsCollection = "alerts"
)

// Timer kinds of the incident scenario.
const (
	InvestigateTimer = "incident.investigate"
	RepageTimer      = "incident.repage"
	RemindTimer      = "incident.remind"
	NudgeTimer       = "incident.nudge"
	PostmortemTimer  = "incident.postmortem"
)

// NudgeEvery is how often nexo nudges while the commander or the
// severity is unset.
const NudgeEvery = 10 * time.Minute

// Statuses are the lifecycle states, in order.
var Statuses = []string{records.StatusInvestigating, records.StatusIdentified, records.StatusMonitoring, records.StatusResolved, records.StatusClosed}

// Roles are the roles an incident card shows besides the commander.
var Roles = []string{"comms", "scribe"}

// State is the stored incident: the DORA record plus what the
// scenario needs to follow up (card and page messages, pages sent,
// follow-ups). It is stored in records.IncidentsCollection; readers that
// only know records.Incident ignore the extra fields.
type State struct {
	records.Incident
	Slug          string     `json:"slug"`
	CardTS        string     `json:"card_ts,omitempty"`
	AnnounceTS    string     `json:"announce_ts,omitempty"`
	PageTS        string     `json:"page_ts,omitempty"`
	Pages         int        `json:"pages,omitempty"`
	AckedAt       *time.Time `json:"acked_at,omitempty"`
	LastUpdateAt  time.Time  `json:"last_update_at"`
	Onset         *time.Time `json:"onset,omitempty"`
	RootCause     string     `json:"root_cause,omitempty"`
	FollowUps     []string   `json:"follow_ups,omitempty"`
	Alert         string     `json:"alert,omitempty"` // fingerprint of the alert that declared it
	ClosedAt      *time.Time `json:"closed_at,omitempty"`
	Investigated  bool       `json:"investigated,omitempty"`
	PostmortemUp  bool       `json:"postmortem_uploaded,omitempty"`
	PostmortemMD  string     `json:"postmortem_path,omitempty"`
	PostmortemErr string     `json:"postmortem_error,omitempty"`
}

// Open reports whether the incident is neither resolved nor closed.
func (s *State) Open() bool {
	return s.Status != records.StatusResolved && s.Status != records.StatusClosed
}

// Urgent reports P0 and P1: paged, and reminded to post updates.
func (s *State) Urgent() bool { return s.Severity == "P0" || s.Severity == "P1" }

var sevRE = regexp.MustCompile(`^[Pp][0-4]$`)

// ParseSeverity accepts P0..P4 (any case); "" stays unset.
func ParseSeverity(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if !sevRE.MatchString(s) {
		return "", commands.Refusalf("`%s` is not a severity: use P0 (worst) to P4.", commands.Clip(s, 20))
	}
	return strings.ToUpper(s), nil
}

// Slug turns a title into a channel-safe slug: lowercase ASCII letters and
// digits separated by single hyphens, at most max characters, cut at a
// hyphen when possible.
func Slug(title string, max int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(foldAccents(title)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		default:
			if b.Len() > 0 && !dash {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	if max > 0 && len(s) > max {
		s = s[:max]
		if i := strings.LastIndexByte(s, '-'); i > max/2 {
			s = s[:i]
		}
		s = strings.TrimRight(s, "-")
	}
	if s == "" {
		s = "incident"
	}
	return s
}

// foldAccents maps common Latin accented letters to ASCII ("conexão" →
// "conexao"), so Portuguese titles keep their words.
func foldAccents(s string) string {
	const from, to = "áàâãäéèêëíìîïóòôõöúùûüçñÁÀÂÃÄÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇÑ", "aaaaaeeeeiiiiooooouuuucnAAAAAEEEEIIIIOOOOOUUUUCN"
	fr, tr := []rune(from), []rune(to)
	m := make(map[rune]rune, len(fr))
	for i := range fr {
		m[fr[i]] = tr[i]
	}
	return strings.Map(func(r rune) rune {
		if x, ok := m[r]; ok {
			return x
		}
		if r > unicode.MaxASCII {
			return ' '
		}
		return r
	}, s)
}

// MaxChannelName is Slack's limit on channel names.
const MaxChannelName = 80

var channelUnsafe = regexp.MustCompile(`[^a-z0-9_-]+`)

// ChannelName expands incidents.channel_template ({date} =
// yyyymmdd, {slug}, {service}, {env}, {sev}) into a Slack channel name:
// lowercase, only letters, digits, '-' and '_', at most 80 characters with
// room left for a "-NN" suffix.
func ChannelName(tmpl string, at time.Time, title, service, env, sev string) string {
	if tmpl == "" {
		tmpl = "inc-{date}-{slug}"
	}
	fixed := config.Expand(tmpl, service, env, "date", at.UTC().Format("20060102"), "sev", strings.ToLower(sev), "slug", "")
	room := MaxChannelName - 3 - len(fixed)
	if room < 8 {
		room = 8
	}
	name := config.Expand(tmpl, service, env, "date", at.UTC().Format("20060102"), "sev", strings.ToLower(sev), "slug", Slug(title, room))
	name = channelUnsafe.ReplaceAllString(strings.ToLower(name), "-")
	name = strings.Trim(name, "-_")
	if len(name) > MaxChannelName-3 {
		name = strings.TrimRight(name[:MaxChannelName-3], "-_")
	}
	if name == "" {
		name = "inc-" + at.UTC().Format("20060102")
	}
	return name
}

// WithSuffix is the n-th alternative of a taken channel name: base, base-2, base-3…
func WithSuffix(base string, n int) string {
	if n <= 1 {
		return base
	}
	sfx := fmt.Sprintf("-%d", n)
	if len(base)+len(sfx) > MaxChannelName {
		base = strings.TrimRight(base[:MaxChannelName-len(sfx)], "-_")
	}
	return base + sfx
}

// CreateChannel creates the channel, trying base, base-2, base-3…
// while the name is taken; it returns the id and the name used.
func CreateChannel(ctx context.Context, c chat.Chat, base string) (id, name string, err error) {
	for n := 1; n <= 50; n++ {
		name = WithSuffix(base, n)
		id, err = c.CreateChannel(ctx, name)
		if err == nil {
			return id, name, nil
		}
		if !errors.Is(err, chat.ErrNameTaken) {
			return "", "", fmt.Errorf("creating channel #%s: %w", name, err)
		}
	}
	return "", "", fmt.Errorf("creating channel: #%s and 49 alternatives are taken", base)
}

// Spec is `/nexo incident …`: declare anywhere; the rest in the
// incident's channel (or naming it with --incident).
func Spec(d *commands.Deps) *commands.Spec {
	cmd := d.Config.Slack.Command
	incidentFlag := commands.Flag{Name: "incident", Value: "<id>"}
	// in runs fn on the incident of the channel, or the one --incident names.
	in := func(fn func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error)) func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
		return func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			id, err := incidentFor(ctx, d, r.ChannelID, r.Args.Flag("incident"))
			if err != nil {
				return nil, err
			}
			return fn(ctx, r, id)
		}
	}
	text := func(r commands.Request, from int) string {
		return strings.TrimSpace(strings.Join(r.Args.Words[from:], " "))
	}
	done := func(err error) (*chat.Reply, error) { return nil, err }
	sub := func(name string, aliases []string, args []string, summary string, run func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error)) *commands.Spec {
		return &commands.Spec{Name: name, Aliases: aliases, Args: args, Flags: []commands.Flag{incidentFlag}, Summary: summary, Mutating: true, Run: in(run)}
	}
	return &commands.Spec{
		Name:    "incident",
		Aliases: []string{"inc"},
		Summary: "Declare and run an incident: channel, paging, investigation, timeline, post-mortem",
		Help: "`declare` creates `#inc-<date>-<slug>`, invites you, on-call and the service owners, posts the card, announces it, pages on-call for P0/P1 and posts an investigation (error-rate onset, deploys just before it, top error logs, config in force, a Rollback button).\n" +
			"In the incident channel: `update <text>`, `status investigating|identified|monitoring|resolved|closed [text]`, `sev P2`, `commander @user`, `role comms @user`, `followup <text>` (a Prevention item), `resolve [text]`. Pin a message or react with :pushpin: to add it to the timeline.\n" +
			"On resolve nexo drafts the post-mortem, posts it as a file and opens a PR adding `incidents/<date>-<slug>.md` to the GitOps repo.\n" +
			"Example: `" + cmd + " incident declare nexo-be production High error rate --sev P1`",
		Mutating: true,
		Subcommands: []*commands.Spec{
			{
				Name: "declare", Args: []string{"service", "env", "title…"}, Flags: []commands.Flag{{Name: "sev", Value: "P0..P4"}}, Mutating: true,
				Summary: "Declare an incident: its channel, on-call paged for P0/P1, the investigation",
				Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
					sev, err := ParseSeverity(r.Args.Flag("sev"))
					if err != nil {
						return nil, err
					}
					w := r.Args.Words
					inc, err := Declare(ctx, d, DeclareRequest{Service: w[0], Env: w[1], Title: strings.Join(w[2:], " "), Severity: sev, Declarer: r.UserID, FromChannel: r.ChannelID})
					if err != nil {
						return nil, err
					}
					return commands.Ephemeral(chat.Message{Text: fmt.Sprintf("Incident declared: <#%s> (`%s`).", inc.Channel, inc.ID)}), nil
				},
			},
			sub("update", nil, []string{"text…"}, "Post a status update in the timeline", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				return done(Update(ctx, d, id, r.UserID, text(r, 0)))
			}),
			sub("status", nil, []string{strings.Join(Statuses, "|"), "text…?"}, "Move the incident to a status", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				return done(SetStatus(ctx, d, id, r.UserID, strings.ToLower(r.Args.Words[0]), text(r, 1)))
			}),
			sub("sev", []string{"severity"}, []string{"P0..P4"}, "Set the severity", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				return done(SetSeverity(ctx, d, id, r.UserID, r.Args.Words[0]))
			}),
			sub("commander", []string{"lead"}, []string{"@user"}, "Name the incident commander", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				return done(SetRole(ctx, d, id, r.UserID, "commander", r.Args.Words[0]))
			}),
			sub("role", nil, []string{strings.Join(Roles, "|"), "@user"}, "Name who does comms or writes the timeline", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				return done(SetRole(ctx, d, id, r.UserID, strings.ToLower(r.Args.Words[0]), r.Args.Words[1]))
			}),
			sub("followup", []string{"follow-up"}, []string{"text…"}, "Add a Prevention item to the post-mortem", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				if err := AddFollowUp(ctx, d, id, r.UserID, text(r, 0)); err != nil {
					return nil, err
				}
				return commands.Ephemeral(chat.Message{Text: "Follow-up added to the post-mortem's Prevention list."}), nil
			}),
			sub("resolve", nil, []string{"text…?"}, "Resolve it: the post-mortem draft and its PR", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				return done(SetStatus(ctx, d, id, r.UserID, records.StatusResolved, text(r, 0)))
			}),
			sub("close", nil, []string{"text…?"}, "Close it", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				return done(SetStatus(ctx, d, id, r.UserID, records.StatusClosed, text(r, 0)))
			}),
			sub("show", nil, nil, "Show the incident's card (only to you)", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				s, err := Load(ctx, d, id)
				if err != nil {
					return nil, err
				}
				return commands.Ephemeral(Card(d, s)), nil
			}),
		},
	}
}

// incidentFor finds the incident of a channel, or the one named by --incident.
func incidentFor(ctx context.Context, d *commands.Deps, channel, named string) (string, error) {
	if named != "" {
		named = strings.TrimPrefix(strings.TrimSpace(named), "#")
		if !commands.SafeIncident.MatchString(named) {
			return "", commands.Refusalf("`%s` is not an incident id.", commands.Clip(named, 40))
		}
		var s State
		if err := d.Store.GetDoc(ctx, records.IncidentsCollection, named, &s); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return "", commands.Refusalf("No incident `%s`.", named)
			}
			return "", err
		}
		return s.ID, nil
	}
	var ref struct {
		ID string `json:"id"`
	}
	if err := d.Store.GetDoc(ctx, IncidentChannelsCollection, channel, &ref); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", commands.Refusalf("This is not an incident channel: run it in the incident's channel, or add `--incident <id>`.")
		}
		return "", err
	}
	return ref.ID, nil
}

// ByChannel returns the incident whose channel is channel.
func ByChannel(ctx context.Context, d *commands.Deps, channel string) (*State, error) {
	var ref struct {
		ID string `json:"id"`
	}
	if err := d.Store.GetDoc(ctx, IncidentChannelsCollection, channel, &ref); err != nil {
		return nil, err
	}
	return Load(ctx, d, ref.ID)
}

// Load reads an incident.
func Load(ctx context.Context, d *commands.Deps, id string) (*State, error) {
	var s State
	if err := d.Store.GetDoc(ctx, records.IncidentsCollection, id, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// OpenFor lists open incidents, optionally of one service and env.
func OpenFor(ctx context.Context, d *commands.Deps, service, env string) ([]*State, error) {
	docs, err := d.Store.ListDocs(ctx, records.IncidentsCollection)
	if err != nil {
		return nil, err
	}
	var out []*State
	for _, doc := range docs {
		var s State
		if doc.Decode(&s) != nil || !s.Open() {
			continue
		}
		if (service != "" && s.Service != service) || (env != "" && s.Env != env) {
			continue
		}
		out = append(out, &s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DeclaredAt.After(out[j].DeclaredAt) })
	return out, nil
}

// mutate applies fn to the stored incident under its lease, so
// concurrent buttons and commands never lose each other's changes.
func mutate(ctx context.Context, d *commands.Deps, id string, fn func(s *State) error) (*State, error) {
	owner := "nexo"
	if d.Engine != nil {
		owner = d.Engine.Owner()
	}
	var lease store.Lease
	for attempt := 0; ; attempt++ {
		l, ok, err := d.Store.AcquireLease(ctx, "incident/"+id, owner, 15*time.Second)
		if err != nil {
			return nil, err
		}
		if ok {
			lease = l
			break
		}
		if attempt >= 200 {
			return nil, fmt.Errorf("incident %s is busy; try again", id)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	defer func() { _ = d.Store.ReleaseLease(context.WithoutCancel(ctx), lease) }()
	s, err := Load(ctx, d, id)
	if err != nil {
		return nil, err
	}
	if err := fn(s); err != nil {
		return s, err
	}
	if err := d.Store.PutDoc(ctx, records.IncidentsCollection, id, s); err != nil {
		return nil, err
	}
	return s, nil
}

// DeclareRequest asks for an incident.
type DeclareRequest struct {
	Service, Env, Title string
	Severity            string // P0..P4 or ""
	Declarer            string // user id; "" when nexo declares by itself (alerts)
	FromChannel         string
	Alert               string // fingerprint of the alert, when declared from one
}

// Declare creates the channel, the record and the card, invites
// people, announces the incident, pages for P0/P1 and schedules the
// investigation and the follow-ups.
func Declare(ctx context.Context, d *commands.Deps, r DeclareRequest) (*State, error) {
	cfg := d.Config
	svc, env, err := commands.ResolveTarget(cfg, r.Service, r.Env)
	if err != nil {
		return nil, err
	}
	title := strings.Join(strings.Fields(r.Title), " ")
	if title == "" {
		return nil, commands.Refusalf("An incident needs a title.")
	}
	if len([]rune(title)) > 150 {
		return nil, commands.Refusalf("The title is too long (%d characters, at most 150).", len([]rune(title)))
	}
	if r.Severity, err = ParseSeverity(r.Severity); err != nil {
		return nil, err
	}
	now := d.Clock().Now().UTC()
	base := ChannelName(cfg.Incidents.ChannelTemplate, now, title, svc.Name, env.Name, r.Severity)
	chID, name, err := CreateChannel(ctx, d.Chat, base)
	if err != nil {
		return nil, err
	}
	s := &State{
		Incident: records.Incident{ID: name, Title: title, Service: svc.Name, Env: env.Name, Severity: r.Severity, Status: records.StatusInvestigating,
			Commander: r.Declarer, Channel: chID, DeclaredBy: r.Declarer, DeclaredAt: now, PageKey: name, Roles: map[string]string{}},
		Slug: Slug(title, 60), LastUpdateAt: now, Alert: r.Alert,
	}
	if err := d.Store.PutDoc(ctx, records.IncidentsCollection, s.ID, s); err != nil {
		return nil, err
	}
	if err := d.Store.PutDoc(ctx, IncidentChannelsCollection, chID, map[string]string{"id": s.ID}); err != nil {
		return nil, err
	}
	who := "nexo (from an alert)"
	if r.Declarer != "" {
		who = chat.Mention(r.Declarer)
	}
	timeline(ctx, d, s.ID, store.TimelineEntry{Key: "declared", Time: now, Kind: "declared", Actor: r.Declarer,
		Text: fmt.Sprintf("Incident declared by %s: %s (%s)", who, title, commands.OrDash(r.Severity))})
	commands.Audit(ctx, d, orNexo(r.Declarer), "incident.declare", svc.Name, env.Name, s.ID, "ok", title)

	if err := d.Chat.Invite(ctx, chID, incidentInvitees(ctx, d, svc, r.Declarer)); err != nil {
		d.Log.Warn("incident invite", "incident", s.ID, "err", err)
	}
	if ts, err := d.Chat.Post(ctx, chID, "", Card(d, s)); err == nil {
		s.CardTS = ts
	} else {
		d.Log.Warn("incident card", "incident", s.ID, "err", err)
	}
	if cfg.Incidents.Channel != "" {
		text := fmt.Sprintf(":rotating_light: *%s* incident declared: *%s* — %s %s. Join <#%s>.", commands.OrDash(r.Severity), title, svc.Name, env.Name, chID)
		if ts, err := d.Chat.Post(ctx, cfg.Incidents.Channel, "", chat.Message{Text: text}); err == nil {
			s.AnnounceTS = ts
		} else {
			d.Log.Warn("incident announcement", "incident", s.ID, "err", err)
		}
	}
	if r.FromChannel != "" && r.FromChannel != chID && r.FromChannel != cfg.Incidents.Channel {
		_, _ = d.Chat.Post(ctx, r.FromChannel, "", chat.Message{Text: fmt.Sprintf(":rotating_light: Incident <#%s> declared for %s %s: %s", chID, svc.Name, env.Name, title)})
	}
	if err := d.Store.PutDoc(ctx, records.IncidentsCollection, s.ID, s); err != nil {
		return nil, err
	}
	if s.Urgent() {
		pageOnCall(ctx, d, s.ID, false)
	}
	_ = d.Engine.Schedule(ctx, s.ID+"/investigate", now, InvestigateTimer, s.ID)
	scheduleFollowUps(ctx, d, s)
	return Load(ctx, d, s.ID)
}

func orNexo(user string) string {
	if user == "" {
		return "nexo"
	}
	return user
}

// incidentInvitees are the declarer, the on-call group and the service owners.
func incidentInvitees(ctx context.Context, d *commands.Deps, svc *config.Service, declarer string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(u string) {
		if u != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	add(declarer)
	addGroup := func(g string) {
		users, err := d.Members.Of(ctx, g)
		if err != nil {
			d.Log.Warn("incident invite group", "group", g, "err", err)
			return
		}
		for _, u := range users {
			add(u)
		}
	}
	if d.Config.Incidents.OnCallGroup != "" {
		addGroup(d.Config.Incidents.OnCallGroup)
	}
	for _, o := range svc.Owners {
		if _, ok := d.Config.Groups[o]; ok {
			addGroup(o)
		} else {
			add(o)
		}
	}
	return out
}

// timeline appends to an incident's timeline; failures are logged.
func timeline(ctx context.Context, d *commands.Deps, id string, e store.TimelineEntry) {
	if err := d.Store.AppendTimeline(ctx, id, e); err != nil {
		d.Log.Warn("incident timeline", "incident", id, "err", err)
	}
}

// Card is the incident's status card.
func Card(d *commands.Deps, s *State) chat.Message {
	icon := map[string]string{records.StatusInvestigating: ":mag:", records.StatusIdentified: ":bulb:", records.StatusMonitoring: ":eyes:",
		records.StatusResolved: ":white_check_mark:", records.StatusClosed: ":lock:"}[s.Status]
	role := func(r string) string {
		if u := s.Roles[r]; u != "" {
			return chat.Mention(u)
		}
		return "_unset_"
	}
	commander := "_unset_ — `" + d.Config.Slack.Command + " incident commander @user`"
	if s.Commander != "" {
		commander = chat.Mention(s.Commander)
	}
	sev := s.Severity
	if sev == "" {
		sev = "_unset_ — `" + d.Config.Slack.Command + " incident sev P0..P4`"
	}
	fields := []string{
		"*Severity*\n" + sev,
		"*Status*\n" + icon + " " + s.Status,
		"*Service*\n" + s.Service + " (" + s.Env + ")",
		"*Commander*\n" + commander,
		"*Comms*\n" + role("comms"),
		"*Scribe*\n" + role("scribe"),
	}
	ctxLine := []string{fmt.Sprintf("Declared %s UTC", s.DeclaredAt.UTC().Format("2006-01-02 15:04"))}
	if s.ResolvedAt != nil {
		ctxLine = append(ctxLine, fmt.Sprintf("resolved %s UTC (time to restore %s)", s.ResolvedAt.UTC().Format("15:04"), commands.Minutes(s.ResolvedAt.Sub(s.DeclaredAt))))
	}
	if s.AckedBy != "" {
		ctxLine = append(ctxLine, "page acknowledged by "+chat.Mention(s.AckedBy))
	}
	if s.Postmortem != "" {
		ctxLine = append(ctxLine, "<"+s.Postmortem+"|post-mortem PR>")
	}
	text := fmt.Sprintf("Incident %s: %s — %s, %s", s.ID, s.Title, commands.OrDash(s.Severity), s.Status)
	m := chat.Message{Text: text, Blocks: []chat.Block{
		{Header: ":fire: " + commands.Clip(s.Title, 140)},
		{Section: &chat.Section{Fields: fields}},
		{Context: ctxLine},
	}}
	if s.Open() {
		var btns []chat.Button
		for _, st := range []string{records.StatusIdentified, records.StatusMonitoring} {
			if st != s.Status {
				btns = append(btns, chat.Button{Text: commands.TitleCase(st), Action: "incident.status", Value: s.ID + "|" + st})
			}
		}
		btns = append(btns, chat.Button{Text: "Resolve", Action: "incident.status", Value: s.ID + "|" + records.StatusResolved, Style: chat.StylePrimary, Confirm: "Resolve the incident and draft the post-mortem?"})
		m.Blocks = append(m.Blocks, chat.Block{Actions: btns},
			chat.Block{Context: []string{"`" + d.Config.Slack.Command + " incident update <text>` · pin a message or react :pushpin: to add it to the timeline"}})
	}
	return m
}

// refreshCard edits the card in place.
func refreshCard(ctx context.Context, d *commands.Deps, s *State) {
	if s.CardTS == "" {
		return
	}
	if err := d.Chat.Update(ctx, s.Channel, s.CardTS, Card(d, s)); err != nil {
		d.Log.Warn("incident card update", "incident", s.ID, "err", err)
	}
}

// ValidTransition reports whether an incident may go from one status to
// another: open states move freely among themselves and to resolved;
// resolved may be closed or reopened (investigating); closed is final.
func ValidTransition(from, to string) error {
	if !slices.Contains(Statuses, to) {
		return commands.Refusalf("`%s` is not a status: use %s.", commands.Clip(to, 30), strings.Join(Statuses, ", "))
	}
	if from == to {
		return commands.Refusalf("The incident is already %s.", to)
	}
	switch from {
	case records.StatusClosed:
		return commands.Refusalf("The incident is closed; declare a new one.")
	case records.StatusResolved:
		if to != records.StatusClosed && to != records.StatusInvestigating {
			return commands.Refusalf("A resolved incident can be closed, or reopened with `status investigating`.")
		}
	default:
		if to == records.StatusClosed {
			return commands.Refusalf("Resolve the incident before closing it.")
		}
	}
	return nil
}

// Update posts a status update and records it.
func Update(ctx context.Context, d *commands.Deps, id, user, text string) error {
	now := d.Clock().Now().UTC()
	s, err := mutate(ctx, d, id, func(s *State) error {
		if s.Status == records.StatusClosed {
			return commands.Refusalf("The incident is closed.")
		}
		s.LastUpdateAt = now
		return nil
	})
	if err != nil {
		return err
	}
	timeline(ctx, d, id, store.TimelineEntry{Time: now, Kind: "update", Actor: user, Text: text})
	_, err = d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: fmt.Sprintf(":memo: *Update* (%s, %s): %s", chat.Mention(user), s.Status, text)})
	commands.Audit(ctx, d, user, "incident.update", s.Service, s.Env, id, "ok", commands.Clip(text, 200))
	return err
}

// SetStatus moves the lifecycle; text is an optional note (the
// root cause when moving to identified). Resolving schedules the post-mortem.
func SetStatus(ctx context.Context, d *commands.Deps, id, user, to, text string) error {
	now := d.Clock().Now().UTC()
	var from string
	s, err := mutate(ctx, d, id, func(s *State) error {
		from = s.Status
		if err := ValidTransition(s.Status, to); err != nil {
			return err
		}
		s.Status = to
		s.LastUpdateAt = now
		switch to {
		case records.StatusIdentified:
			if text != "" {
				s.RootCause = text
			}
		case records.StatusResolved:
			s.ResolvedAt = &now
			if s.Deployment == "" {
				s.Deployment = lastDeployBefore(ctx, d, s.Service, s.Env, s.DeclaredAt)
			}
		case records.StatusClosed:
			s.ClosedAt = &now
		case records.StatusInvestigating:
			s.ResolvedAt = nil // reopened
		}
		return nil
	})
	if err != nil {
		return err
	}
	line := fmt.Sprintf("Status %s → %s by %s", from, to, chat.Mention(user))
	if text != "" {
		line += ": " + text
	}
	timeline(ctx, d, id, store.TimelineEntry{Time: now, Kind: "status", Actor: user, Text: line})
	commands.Audit(ctx, d, user, "incident.status", s.Service, s.Env, id, "ok", from+" → "+to)
	refreshCard(ctx, d, s)
	msg := ":arrows_counterclockwise: " + line
	if to == records.StatusResolved {
		msg = fmt.Sprintf(":white_check_mark: Resolved by %s after %s. Drafting the post-mortem…", chat.Mention(user), commands.Minutes(now.Sub(s.DeclaredAt)))
		if text != "" {
			msg += "\n" + text
		}
	}
	if _, err := d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: msg}); err != nil {
		return err
	}
	switch to {
	case records.StatusResolved:
		resolvePage(ctx, d, s)
		cancelFollowUps(ctx, d, s)
		if d.Config.Incidents.Channel != "" {
			_, _ = d.Chat.Post(ctx, d.Config.Incidents.Channel, s.AnnounceTS, chat.Message{Text: fmt.Sprintf(":white_check_mark: <#%s> resolved after %s.", s.Channel, commands.Minutes(now.Sub(s.DeclaredAt)))})
		}
		return d.Engine.Schedule(ctx, s.ID+"/postmortem", now, PostmortemTimer, s.ID)
	case records.StatusInvestigating:
		if from == records.StatusResolved {
			scheduleFollowUps(ctx, d, s)
		}
	}
	return nil
}

// SetSeverity changes the severity; raising it to P0/P1 pages.
func SetSeverity(ctx context.Context, d *commands.Deps, id, user, sev string) error {
	sev, err := ParseSeverity(sev)
	if err != nil {
		return err
	}
	if sev == "" {
		return commands.Refusalf("Say which severity: P0 (worst) to P4.")
	}
	now := d.Clock().Now().UTC()
	var from string
	s, err := mutate(ctx, d, id, func(s *State) error {
		if !s.Open() {
			return commands.Refusalf("The incident is %s.", s.Status)
		}
		if s.Severity == sev {
			return commands.Refusalf("The severity is already %s.", sev)
		}
		from = s.Severity
		s.Severity = sev
		return nil
	})
	if err != nil {
		return err
	}
	line := fmt.Sprintf("Severity %s → %s by %s", commands.OrDash(from), sev, chat.Mention(user))
	timeline(ctx, d, id, store.TimelineEntry{Time: now, Kind: "severity", Actor: user, Text: line})
	commands.Audit(ctx, d, user, "incident.severity", s.Service, s.Env, id, "ok", line)
	refreshCard(ctx, d, s)
	if _, err := d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: ":rotating_light: " + line}); err != nil {
		return err
	}
	if s.Urgent() && s.Pages == 0 {
		pageOnCall(ctx, d, s.ID, false)
	}
	scheduleFollowUps(ctx, d, s)
	return nil
}

// SetRole assigns the commander, comms or scribe role.
func SetRole(ctx context.Context, d *commands.Deps, id, user, role, who string) error {
	if role != "commander" && !slices.Contains(Roles, role) {
		return commands.Refusalf("`%s` is not a role: use commander, %s.", commands.Clip(role, 20), strings.Join(Roles, ", "))
	}
	target := commands.StripMention(strings.TrimSpace(who))
	if !userIDRE.MatchString(target) {
		return commands.Refusalf("Mention the person (`@name`, picked from Slack's list) so nexo gets their user id; `%s` is not one.", commands.Clip(who, 40))
	}
	now := d.Clock().Now().UTC()
	s, err := mutate(ctx, d, id, func(s *State) error {
		if s.Status == records.StatusClosed {
			return commands.Refusalf("The incident is closed.")
		}
		if role == "commander" {
			s.Commander = target
		} else {
			if s.Roles == nil {
				s.Roles = map[string]string{}
			}
			s.Roles[role] = target
		}
		return nil
	})
	if err != nil {
		return err
	}
	line := fmt.Sprintf("%s is now %s (set by %s)", chat.Mention(target), role, chat.Mention(user))
	timeline(ctx, d, id, store.TimelineEntry{Time: now, Kind: "role", Actor: user, Text: line})
	commands.Audit(ctx, d, user, "incident.role", s.Service, s.Env, id, "ok", role+"="+target)
	_ = d.Chat.Invite(ctx, s.Channel, []string{target})
	refreshCard(ctx, d, s)
	_, err = d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: ":bust_in_silhouette: " + line})
	return err
}

var userIDRE = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// AddFollowUp adds an item to the post-mortem's Prevention checklist.
func AddFollowUp(ctx context.Context, d *commands.Deps, id, user, text string) error {
	now := d.Clock().Now().UTC()
	_, err := mutate(ctx, d, id, func(s *State) error {
		if slices.Contains(s.FollowUps, text) {
			return commands.Refusalf("That follow-up is already listed.")
		}
		if len(s.FollowUps) >= 50 {
			return commands.Refusalf("The incident already has 50 follow-ups.")
		}
		s.FollowUps = append(s.FollowUps, text)
		return nil
	})
	if err != nil {
		return err
	}
	timeline(ctx, d, id, store.TimelineEntry{Time: now, Kind: "followup", Actor: user, Text: "Follow-up: " + text})
	return nil
}

// lastDeployBefore is the id of the last successful deployment of service in
// env that finished before t (DORA attaches the incident to it).
func lastDeployBefore(ctx context.Context, d *commands.Deps, service, env string, t time.Time) string {
	docs, err := d.Store.ListDocs(ctx, records.DeploymentsCollection)
	if err != nil {
		return ""
	}
	var best records.Deployment
	for _, doc := range docs {
		var dep records.Deployment
		if doc.Decode(&dep) != nil || dep.Service != service || dep.Env != env || dep.Result != records.ResultSuccess {
			continue
		}
		if at := dep.DeployedAt(); at.Before(t) && (best.ID == "" || at.After(best.DeployedAt())) {
			best = dep
		}
	}
	return best.ID
}
