package dora

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
)

// Timeout bounds one `/nexo dora` report: reading the store, the GitOps
// history, the compare calls and posting the card and chart.
const Timeout = 90 * time.Second

// DefaultDays is the default period: the last 30 days, today included.
const DefaultDays = 30

// MaxYears bounds a report's period.
const MaxYears = 2

// LeadTimeCollection caches the first-commit time GitHub's compare API
// gave for a pair of tags, keyed "<owner>/<repo>/<base>/<head>".
const LeadTimeCollection = "dora-leadtime"

// maxCompares bounds the compare calls of one report (cache hits are
// free). A variable so tests can lower it.
var maxCompares = 50

// CompareBudget is how many compare calls one report, or one refresh of
// the gauges, may make (cache hits are free).
func CompareBudget() int { return maxCompares }

// compareTimeout bounds one compare call.
const compareTimeout = 15 * time.Second

// Register adds `/nexo dora` (the weekly digest is commands/dora/digest).
func Register(r *commands.Router, d *commands.Deps) {
	r.Register(Spec(d))
}

// Query is what one DORA report measures.
type Query struct {
	// Service is a configured service, or "all".
	Service string
	// Env is the canonical environment name.
	Env string
	// Since (inclusive) and Until (exclusive) are local midnights.
	Since, Until time.Time
	// Location decides the days (the config's timezone unless --tz).
	Location *time.Location
}

// Result is a computed report and what the reader should know about
// its sources (history not read, compare budget used up, …).
type Result struct {
	Report Report
	Notes  []i18n.Msg
	// Imported counts deployments read from the GitOps history; Recorded
	// those from nexo's records.
	Imported, Recorded int
}

// Spec is `/nexo dora <svc|all> [env] [--since] [--until] [--tz]`.
func Spec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:    "dora",
		Args:    []string{"service|all", "env?"},
		Summary: "dora.summary",
		Help:    "dora.help",
		Flags:   []commands.Flag{{Name: "since", Value: "YYYY-MM-DD"}, {Name: "until", Value: "YYYY-MM-DD"}, {Name: "tz", Value: "Area/City"}},
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			ctx, cancel := context.WithTimeout(ctx, Timeout)
			defer cancel()
			q, err := ParseQuery(d.Config, r.Args.Words, r.Args.Flag("since"), r.Args.Flag("until"), r.Args.Flag("tz"), d.Clock().Now())
			if err != nil {
				return nil, err
			}
			res, err := Measure(ctx, d, q)
			if err != nil {
				return nil, err
			}
			return nil, Post(ctx, d, r.ChannelID, res)
		},
	}
}

// ParseQuery checks the words and flags of a DORA request. words are
// the service (or "all") and an optional environment; since and until are
// YYYY-MM-DD dates (until exclusive) and tz an IANA zone; now decides the
// default period (the last DefaultDays days, today included). Bad input
// is a *commands.Refusal.
func ParseQuery(cfg *config.Config, words []string, since, until, tz string, now time.Time) (Query, error) {
	var q Query
	if len(words) == 0 || len(words) > 2 {
		return q, commands.Refuse("dora.refuse.words", "Services", strings.Join(cfg.ServiceNames(), ", "))
	}
	if strings.EqualFold(words[0], "all") {
		q.Service = "all"
	} else {
		svc, err := commands.ResolveService(cfg, words[0])
		if err != nil {
			return q, err
		}
		q.Service = svc.Name
	}
	q.Env = cfg.DORA.Env
	if q.Env == "" {
		q.Env = DefaultEnv
	}
	if e, ok := cfg.Env(q.Env); ok {
		q.Env = e.Name
	}
	if len(words) == 2 {
		e, err := commands.ResolveEnv(cfg, words[1])
		if err != nil {
			return q, err
		}
		q.Env = e.Name
	}
	q.Location = Location(cfg)
	if tz = strings.TrimSpace(tz); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil || strings.EqualFold(tz, "local") {
			return q, commands.Refuse("dora.refuse.zone", "Zone", commands.Clip(tz, 40))
		}
		q.Location = loc
	}
	parse := func(flag, v string) (time.Time, error) {
		t, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(v), q.Location)
		if err != nil {
			return time.Time{}, commands.Refuse("dora.refuse.date", "Flag", flag, "Value", commands.Clip(v, 30))
		}
		return t, nil
	}
	q.Since, q.Until = DefaultPeriod(now, q.Location)
	if until != "" {
		t, err := parse("until", until)
		if err != nil {
			return q, err
		}
		q.Until, q.Since = t, t.AddDate(0, 0, -DefaultDays)
	}
	if since != "" {
		t, err := parse("since", since)
		if err != nil {
			return q, err
		}
		q.Since = t
	}
	if !q.Since.Before(q.Until) {
		id := "dora.refuse.empty_until"
		if until == "" {
			id = "dora.refuse.empty_today"
		}
		return q, commands.Refuse(id, "Since", q.Since.Format("2006-01-02"), "Until", q.Until.Format("2006-01-02"))
	}
	if q.Until.After(q.Since.AddDate(MaxYears, 0, 0)) {
		return q, commands.Refuse("dora.refuse.too_long", "Since", q.Since.Format("2006-01-02"), "Until", q.Until.Format("2006-01-02"), "Years", MaxYears)
	}
	return q, nil
}

// Location is the time zone of DORA's days and weeks when a request names
// none: the config's `timezone` (default UTC). Reports, the gauges and the
// weekly digest all use it, so they count the same days.
func Location(cfg *config.Config) *time.Location { return cfg.Zone() }

// DefaultPeriod is the period a report measures when no dates are given:
// the DefaultDays local days up to today, today included, in loc.
func DefaultPeriod(now time.Time, loc *time.Location) (since, until time.Time) {
	y, m, day := now.In(loc).Date()
	until = time.Date(y, m, day+1, 0, 0, 0, 0, loc)
	return until.AddDate(0, 0, -DefaultDays), until
}

// Measure gathers the sources and computes the report: nexo's
// deployment and incident records, the GitOps history of the measured
// services' values files (when d.GitOps is set; deployments nexo recorded
// are not counted twice), and, when d.GitHub is set, the lead time of
// imported deployments from the compare API between consecutive tags
// (cached in LeadTimeCollection, at most 50 calls a report). A GitOps or
// GitHub failure is a note, not an error; a store failure is an error.
func Measure(ctx context.Context, d *commands.Deps, q Query) (Result, error) {
	services := []string{q.Service}
	if q.Service == "all" {
		services = d.Config.ServiceNames()
	}
	src, err := Gather(ctx, d, services, q.Env, q.Since, q.Until)
	if err != nil {
		return Result{}, err
	}
	res := Result{Notes: src.Notes, Recorded: src.Recorded, Imported: src.Imported}
	res.Report, err = Compute(Input{
		Service: q.Service, Env: q.Env, Since: q.Since, Until: q.Until, Location: q.Location,
		Deployments: src.Deployments, Incidents: src.Incidents, Bands: d.Config.DORA.Bands,
	})
	if err != nil {
		return res, commands.Refuse("dora.refuse.compute", "Why", err.Error())
	}
	return res, nil
}

// Sources are what reports are computed from.
type Sources struct {
	// Deployments are the records, then the imported deployments of the
	// services.
	Deployments []records.Deployment
	Incidents   []records.Incident
	// Notes tell the reader what is missing (unreadable records, history
	// not read, lead times not looked up).
	Notes              []i18n.Msg
	Recorded, Imported int
}

// Gather reads the sources of reports on services in env: every record,
// and the GitOps history of the services' values files in env, with lead
// times looked up for the imported deployments between since and until.
func Gather(ctx context.Context, d *commands.Deps, services []string, env string, since, until time.Time) (Sources, error) {
	var src Sources
	deps, bad, err := loadDocs[records.Deployment](ctx, d.Store, records.DeploymentsCollection)
	if err != nil {
		return src, fmt.Errorf("reading deployment records: %w", err)
	}
	incs, badInc, err := loadDocs[records.Incident](ctx, d.Store, records.IncidentsCollection)
	if err != nil {
		return src, fmt.Errorf("reading incident records: %w", err)
	}
	if bad+badInc > 0 {
		src.Notes = append(src.Notes, i18n.M("dora.note.unreadable", "Count", bad+badInc))
	}
	src.Recorded, src.Incidents = len(deps), incs
	if d.GitOps != nil && len(services) > 0 {
		imported, err := importHistory(ctx, d, services, env, deps)
		if err != nil {
			ref := commands.NewRef()
			src.Notes = append(src.Notes, i18n.M("dora.note.history", "Ref", ref))
			Logger(d).Warn("dora: GitOps history", "ref", ref, "err", err)
		} else {
			src.Imported = len(imported)
			if d.GitHub != nil {
				if note := fillLeadTimes(ctx, d, imported, since, until); note.ID != "" {
					src.Notes = append(src.Notes, note)
				}
			}
			deps = append(deps, imported...)
		}
	}
	src.Deployments = deps
	return src, nil
}

// Post posts the card in channel (default slack.channel) and uploads
// the chart into its thread. A chart failure is logged, not returned.
func Post(ctx context.Context, d *commands.Deps, channel string, res Result) error {
	if channel == "" {
		channel = d.Config.Slack.Channel
	}
	t := d.T(channel)
	card := Card(t, res.Report)
	if len(res.Notes) > 0 {
		card.Blocks = append(card.Blocks, chat.Block{Context: NotesIn(t, res.Notes)})
	}
	ts, err := d.Chat.Post(ctx, channel, "", card)
	if err != nil {
		return fmt.Errorf("posting the DORA card: %w", err)
	}
	png, err := ChartPNG(t, res.Report)
	if err != nil {
		Logger(d).Warn("dora: chart", "err", err)
		return nil
	}
	name := "dora-" + res.Report.Service + ".png"
	if err := d.Chat.Upload(ctx, channel, ts, name, Title(t, res.Report), png); err != nil {
		Logger(d).Warn("dora: chart upload", "channel", channel, "err", err)
	}
	return nil
}

// loadDocs decodes every document of a collection; undecodable ones are
// counted and skipped.
func loadDocs[T any](ctx context.Context, st store.Store, collection string) ([]T, int, error) {
	docs, err := st.ListDocs(ctx, collection)
	if err != nil {
		return nil, 0, err
	}
	out := make([]T, 0, len(docs))
	bad := 0
	for _, doc := range docs {
		var v T
		if err := doc.Decode(&v); err != nil {
			bad++
			continue
		}
		out = append(out, v)
	}
	return out, bad, nil
}

func importHistory(ctx context.Context, d *commands.Deps, services []string, env string, known []records.Deployment) ([]records.Deployment, error) {
	if err := d.GitOps.Sync(ctx); err != nil {
		return nil, err
	}
	targets := make([]HistoryTarget, 0, len(services))
	for _, s := range services {
		targets = append(targets, HistoryTarget{Service: s, Env: env, Path: d.Config.ValuesPath(s, env)})
	}
	return ImportHistory(ctx, d.GitOps, targets, ImportOptions{TagKey: d.Config.GitOps.TagKey, Known: known})
}

// Logger is d.Log, else slog's default.
func Logger(d *commands.Deps) *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

// NotesIn renders a report's notes for one reader (the CLI and the API
// read them in English).
func NotesIn(t i18n.T, notes []i18n.Msg) []string {
	out := make([]string, len(notes))
	for i, n := range notes {
		out[i] = t.Msg(n)
	}
	return out
}
