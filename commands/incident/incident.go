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
	"github.com/nexo-org/nexo-bot/i18n"
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
		return "", commands.Refuse("incident.refuse.bad_severity", "Value", commands.Clip(s, 20))
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
		Name:     "incident",
		Aliases:  []string{"inc"},
		Summary:  "incident.summary",
		Help:     "incident.help",
		Mutating: true,
		Subcommands: []*commands.Spec{
			{
				Name: "declare", Args: []string{"service", "env", "title…"}, Flags: []commands.Flag{{Name: "sev", Value: "P0..P4"}}, Mutating: true,
				Summary: "incident.sub.declare",
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
					return commands.Ephemeral(chat.Message{Text: d.T(r.ChannelID).S("incident.declared", "Channel", inc.Channel, "ID", inc.ID)}), nil
				},
			},
			sub("update", nil, []string{"text…"}, "incident.sub.update", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				return done(Update(ctx, d, id, r.UserID, text(r, 0)))
			}),
			sub("status", nil, []string{strings.Join(Statuses, "|"), "text…?"}, "incident.sub.status", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				return done(SetStatus(ctx, d, id, r.UserID, strings.ToLower(r.Args.Words[0]), text(r, 1)))
			}),
			sub("sev", []string{"severity"}, []string{"P0..P4"}, "incident.sub.sev", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				return done(SetSeverity(ctx, d, id, r.UserID, r.Args.Words[0]))
			}),
			sub("commander", []string{"lead"}, []string{"@user"}, "incident.sub.commander", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				return done(SetRole(ctx, d, id, r.UserID, "commander", r.Args.Words[0]))
			}),
			sub("role", nil, []string{strings.Join(Roles, "|"), "@user"}, "incident.sub.role", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				return done(SetRole(ctx, d, id, r.UserID, strings.ToLower(r.Args.Words[0]), r.Args.Words[1]))
			}),
			sub("followup", []string{"follow-up"}, []string{"text…"}, "incident.sub.followup", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				if err := AddFollowUp(ctx, d, id, r.UserID, text(r, 0)); err != nil {
					return nil, err
				}
				return commands.Ephemeral(chat.Message{Text: d.T(r.ChannelID).S("incident.followup_added")}), nil
			}),
			sub("resolve", nil, []string{"text…?"}, "incident.sub.resolve", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				return done(SetStatus(ctx, d, id, r.UserID, records.StatusResolved, text(r, 0)))
			}),
			sub("close", nil, []string{"text…?"}, "incident.sub.close", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				return done(SetStatus(ctx, d, id, r.UserID, records.StatusClosed, text(r, 0)))
			}),
			sub("show", nil, nil, "incident.sub.show", func(ctx context.Context, r commands.Request, id string) (*chat.Reply, error) {
				s, err := Load(ctx, d, id)
				if err != nil {
					return nil, err
				}
				return commands.Ephemeral(CardIn(d.T(r.ChannelID), d.Config.Slack.Command, s)), nil // in the asker's locale
			}),
		},
	}
}

// incidentFor finds the incident of a channel, or the one named by --incident.
func incidentFor(ctx context.Context, d *commands.Deps, channel, named string) (string, error) {
	if named != "" {
		named = strings.TrimPrefix(strings.TrimSpace(named), "#")
		if !commands.SafeIncident.MatchString(named) {
			return "", commands.Refuse("incident.refuse.bad_id", "Value", commands.Clip(named, 40))
		}
		var s State
		if err := d.Store.GetDoc(ctx, records.IncidentsCollection, named, &s); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return "", commands.Refuse("incident.refuse.no_such", "ID", named)
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
			return "", commands.Refuse("incident.refuse.not_incident_channel")
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
		return nil, commands.Refuse("incident.refuse.no_title")
	}
	if len([]rune(title)) > 150 {
		return nil, commands.Refuse("incident.refuse.title_too_long", "Length", len([]rune(title)), "Max", 150)
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
	t := d.T(chID)
	who := t.S("incident.timeline.by_alert")
	if r.Declarer != "" {
		who = chat.Mention(r.Declarer)
	}
	timeline(ctx, d, s.ID, store.TimelineEntry{Key: "declared", Time: now, Kind: "declared", Actor: r.Declarer,
		Text: t.S("incident.timeline.declared", "Who", who, "Title", title, "Severity", commands.OrDash(r.Severity))})
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
		text := d.T(cfg.Incidents.Channel).S("incident.post.announce", "Severity", commands.OrDash(r.Severity), "Title", title, "Service", svc.Name, "Env", env.Name, "Channel", chID)
		if ts, err := d.Chat.Post(ctx, cfg.Incidents.Channel, "", chat.Message{Text: text}); err == nil {
			s.AnnounceTS = ts
		} else {
			d.Log.Warn("incident announcement", "incident", s.ID, "err", err)
		}
	}
	if r.FromChannel != "" && r.FromChannel != chID && r.FromChannel != cfg.Incidents.Channel {
		_, _ = d.Chat.Post(ctx, r.FromChannel, "", chat.Message{Text: d.T(r.FromChannel).S("incident.post.elsewhere", "Channel", chID, "Service", svc.Name, "Env", env.Name, "Title", title)})
	}
	// The card's and the announcement's ts join the record under its
	// lease: a button pressed on the card, or a timer, may have changed the
	// record since it was created, and a plain write would undo that.
	cardTS, announceTS := s.CardTS, s.AnnounceTS
	if _, err := mutate(ctx, d, s.ID, func(x *State) error {
		if cardTS != "" {
			x.CardTS = cardTS
		}
		if announceTS != "" {
			x.AnnounceTS = announceTS
		}
		return nil
	}); err != nil {
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

// Card is the incident's status card, in the locale of its channel.
func Card(d *commands.Deps, s *State) chat.Message {
	return CardIn(d.T(s.Channel), d.Config.Slack.Command, s)
}

// CardIn is the incident's status card for a reader: times as Slack date
// tokens (each reader sees their own zone).
func CardIn(t i18n.T, cmd string, s *State) chat.Message {
	icon := map[string]string{records.StatusInvestigating: ":mag:", records.StatusIdentified: ":bulb:", records.StatusMonitoring: ":eyes:",
		records.StatusResolved: ":white_check_mark:", records.StatusClosed: ":lock:"}[s.Status]
	role := func(r string) string {
		if u := s.Roles[r]; u != "" {
			return chat.Mention(u)
		}
		return t.S("incident.card.unset")
	}
	commander := t.S("incident.card.unset_commander", "Command", cmd)
	if s.Commander != "" {
		commander = chat.Mention(s.Commander)
	}
	sev := s.Severity
	if sev == "" {
		sev = t.S("incident.card.unset_severity", "Command", cmd)
	}
	status := statusName(t, s.Status)
	fields := []string{
		t.S("incident.card.severity", "Value", sev),
		t.S("incident.card.status", "Value", icon+" "+status),
		t.S("incident.card.service", "Service", s.Service, "Env", s.Env),
		t.S("incident.card.commander", "Value", commander),
		t.S("incident.card.comms", "Value", role("comms")),
		t.S("incident.card.scribe", "Value", role("scribe")),
	}
	ctxLine := []string{t.S("incident.card.declared_at", "At", i18n.Moment(s.DeclaredAt))}
	if s.ResolvedAt != nil {
		ctxLine = append(ctxLine, t.S("incident.card.resolved_at", "At", i18n.Moment(*s.ResolvedAt), "Duration", i18n.Span(s.ResolvedAt.Sub(s.DeclaredAt))))
	}
	if s.AckedBy != "" {
		ctxLine = append(ctxLine, t.S("incident.card.acked", "User", chat.Mention(s.AckedBy)))
	}
	if s.Postmortem != "" {
		ctxLine = append(ctxLine, t.S("incident.card.postmortem", "URL", s.Postmortem))
	}
	text := t.S("incident.card.fallback", "ID", s.ID, "Title", s.Title, "Severity", commands.OrDash(s.Severity), "Status", status)
	m := chat.Message{Text: text, Blocks: []chat.Block{
		{Header: ":fire: " + commands.Clip(s.Title, 140)},
		{Section: &chat.Section{Fields: fields}},
		{Context: ctxLine},
	}}
	if s.Open() {
		var btns []chat.Button
		for _, st := range []string{records.StatusIdentified, records.StatusMonitoring} {
			if st != s.Status {
				btns = append(btns, chat.Button{Text: t.S("incident.button." + st), Action: "incident.status", Value: s.ID + "|" + st})
			}
		}
		btns = append(btns, chat.Button{Text: t.S("incident.button.resolve"), Action: "incident.status", Value: s.ID + "|" + records.StatusResolved, Style: chat.StylePrimary, Confirm: t.S("incident.button.resolve_confirm")})
		m.Blocks = append(m.Blocks, chat.Block{Actions: btns},
			chat.Block{Context: []string{t.S("incident.card.hint", "Command", cmd)}})
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
		return commands.Refuse("incident.refuse.bad_status", "Value", commands.Clip(to, 30), "Statuses", strings.Join(Statuses, ", "))
	}
	if from == to {
		return commands.Refuse("incident.refuse.already_status", "Status", i18n.M("incident.status."+to))
	}
	switch from {
	case records.StatusClosed:
		return commands.Refuse("incident.refuse.closed_final")
	case records.StatusResolved:
		if to != records.StatusClosed && to != records.StatusInvestigating {
			return commands.Refuse("incident.refuse.resolved_moves")
		}
	default:
		if to == records.StatusClosed {
			return commands.Refuse("incident.refuse.resolve_first")
		}
	}
	return nil
}

// Update posts a status update and records it.
func Update(ctx context.Context, d *commands.Deps, id, user, text string) error {
	now := d.Clock().Now().UTC()
	s, err := mutate(ctx, d, id, func(s *State) error {
		if s.Status == records.StatusClosed {
			return commands.Refuse("incident.refuse.closed")
		}
		s.LastUpdateAt = now
		return nil
	})
	if err != nil {
		return err
	}
	timeline(ctx, d, id, store.TimelineEntry{Time: now, Kind: "update", Actor: user, Text: text})
	_, err = d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: d.T(s.Channel).S("incident.post.update", "User", chat.Mention(user), "Status", statusName(d.T(s.Channel), s.Status), "Text", text)})
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
	t := d.T(s.Channel)
	line := t.S("incident.timeline.status", "From", statusName(t, from), "To", statusName(t, to), "User", chat.Mention(user))
	if text != "" {
		line = t.S("incident.timeline.status_note", "From", statusName(t, from), "To", statusName(t, to), "User", chat.Mention(user), "Note", text)
	}
	timeline(ctx, d, id, store.TimelineEntry{Time: now, Kind: "status", Actor: user, Text: line})
	commands.Audit(ctx, d, user, "incident.status", s.Service, s.Env, id, "ok", from+" → "+to)
	refreshCard(ctx, d, s)
	msg := ":arrows_counterclockwise: " + line
	if to == records.StatusResolved {
		msg = t.S("incident.post.resolved", "User", chat.Mention(user), "Duration", i18n.Span(now.Sub(s.DeclaredAt)))
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
			_, _ = d.Chat.Post(ctx, d.Config.Incidents.Channel, s.AnnounceTS, chat.Message{Text: d.T(d.Config.Incidents.Channel).S("incident.post.resolved_announce", "Channel", s.Channel, "Duration", i18n.Span(now.Sub(s.DeclaredAt)))})
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
		return commands.Refuse("incident.refuse.which_severity")
	}
	now := d.Clock().Now().UTC()
	var from string
	s, err := mutate(ctx, d, id, func(s *State) error {
		if !s.Open() {
			return commands.Refuse("incident.refuse.not_open", "Status", i18n.M("incident.status."+s.Status))
		}
		if s.Severity == sev {
			return commands.Refuse("incident.refuse.same_severity", "Severity", sev)
		}
		from = s.Severity
		s.Severity = sev
		return nil
	})
	if err != nil {
		return err
	}
	line := d.T(s.Channel).S("incident.timeline.severity", "From", commands.OrDash(from), "To", sev, "User", chat.Mention(user))
	timeline(ctx, d, id, store.TimelineEntry{Time: now, Kind: "severity", Actor: user, Text: line})
	commands.Audit(ctx, d, user, "incident.severity", s.Service, s.Env, id, "ok", commands.OrDash(from)+" → "+sev)
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
		return commands.Refuse("incident.refuse.bad_role", "Value", commands.Clip(role, 20), "Roles", strings.Join(Roles, ", "))
	}
	target := commands.StripMention(strings.TrimSpace(who))
	if !userIDRE.MatchString(target) {
		return commands.Refuse("incident.refuse.not_a_user", "Value", commands.Clip(who, 40))
	}
	now := d.Clock().Now().UTC()
	s, err := mutate(ctx, d, id, func(s *State) error {
		if s.Status == records.StatusClosed {
			return commands.Refuse("incident.refuse.closed")
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
	line := d.T(s.Channel).S("incident.timeline.role", "Who", chat.Mention(target), "Role", roleName(d.T(s.Channel), role), "User", chat.Mention(user))
	timeline(ctx, d, id, store.TimelineEntry{Time: now, Kind: "role", Actor: user, Text: line})
	commands.Audit(ctx, d, user, "incident.role", s.Service, s.Env, id, "ok", role+"="+target)
	_ = d.Chat.Invite(ctx, s.Channel, []string{target})
	refreshCard(ctx, d, s)
	_, err = d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: ":bust_in_silhouette: " + line})
	return err
}

var userIDRE = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// maxFollowUps bounds an incident's Prevention list.
const maxFollowUps = 50

// AddFollowUp adds an item to the post-mortem's Prevention checklist.
func AddFollowUp(ctx context.Context, d *commands.Deps, id, user, text string) error {
	now := d.Clock().Now().UTC()
	s, err := mutate(ctx, d, id, func(s *State) error {
		if slices.Contains(s.FollowUps, text) {
			return commands.Refuse("incident.refuse.followup_listed")
		}
		if len(s.FollowUps) >= maxFollowUps {
			return commands.Refuse("incident.refuse.followups_full", "Max", maxFollowUps)
		}
		s.FollowUps = append(s.FollowUps, text)
		return nil
	})
	if err != nil {
		return err
	}
	timeline(ctx, d, id, store.TimelineEntry{Time: now, Kind: "followup", Actor: user, Text: d.T(s.Channel).S("incident.timeline.followup", "Text", text)})
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
