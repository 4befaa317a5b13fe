package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands/dora"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store"
)

// DoraTimeout bounds one `/nexo dora` report: reading the store, the GitOps
// history, the compare calls and posting the card and chart.
const DoraTimeout = 90 * time.Second

// DoraDefaultDays is the default period: the last 30 days, today included.
const DoraDefaultDays = 30

// DoraMaxYears bounds a report's period.
const DoraMaxYears = 2

// DoraLeadTimeCollection caches the first-commit time GitHub's compare API
// gave for a pair of tags, keyed "<owner>/<repo>/<base>/<head>".
const DoraLeadTimeCollection = "dora-leadtime"

// doraMaxCompares bounds the compare calls of one report (cache hits are
// free). A variable so tests can lower it.
var doraMaxCompares = 50

// doraCompareTimeout bounds one compare call.
const doraCompareTimeout = 15 * time.Second

const doraUsage = "dora <service|all> [env] [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--tz Area/City]"

func init() {
	setupHooks = append(setupHooks, func(ctx context.Context, a *App) error {
		a.Router.Register(DoraSpec(a.deps))
		return nil
	})
}

// DoraQuery is what one DORA report measures.
type DoraQuery struct {
	// Service is a configured service, or "all".
	Service string
	// Env is the canonical environment name.
	Env string
	// Since (inclusive) and Until (exclusive) are local midnights.
	Since, Until time.Time
	// Location decides the days (UTC unless --tz).
	Location *time.Location
}

// DoraResult is a computed report and what the reader should know about
// its sources (history not read, compare budget used up, …).
type DoraResult struct {
	Report dora.Report
	Notes  []string
	// Imported counts deployments read from the GitOps history; Recorded
	// those from nexo's records.
	Imported, Recorded int
}

// DoraSpec is `/nexo dora <svc|all> [env] [--since] [--until] [--tz]`.
func DoraSpec(d *Deps) *Spec {
	return &Spec{
		Name:    "dora",
		Usage:   doraUsage,
		Summary: "DORA metrics: deploy frequency, lead time, time to restore, change failure rate",
		Help: "Measures production (dora.env) from nexo's deployment records and incidents plus the GitOps history, rated with the dora.bands table. " +
			"The period is the last 30 days up to today unless `--since`/`--until` (YYYY-MM-DD, until exclusive, at most 2 years) are given; days are UTC unless `--tz`. " +
			"Posts the card in the channel and a chart of weekly deployments and lead time in its thread.\n" +
			"Example: `/nexo dora nexo-be production --since 2026-01-01 --until 2026-02-01`",
		Flags: []string{"since", "until", "tz"},
		Run: func(ctx context.Context, r Request) (*chat.Reply, error) {
			ctx, cancel := context.WithTimeout(ctx, DoraTimeout)
			defer cancel()
			q, err := ParseDoraQuery(d.Config, r.Args.Words, r.Args.Flag("since"), r.Args.Flag("until"), r.Args.Flag("tz"), d.Clock().Now())
			if err != nil {
				return RefusalReply(err)
			}
			res, err := ComputeDora(ctx, d, q)
			if err != nil {
				return RefusalReply(err)
			}
			return nil, PostDora(ctx, d, r.ChannelID, res)
		},
	}
}

// ParseDoraQuery checks the words and flags of a DORA request. words are
// the service (or "all") and an optional environment; since and until are
// YYYY-MM-DD dates (until exclusive) and tz an IANA zone; now decides the
// default period (the last DoraDefaultDays days, today included). Bad input
// is a *RefusalError.
func ParseDoraQuery(cfg *config.Config, words []string, since, until, tz string, now time.Time) (DoraQuery, error) {
	var q DoraQuery
	if len(words) == 0 || len(words) > 2 {
		return q, Refusalf("Usage: `%s %s`. Services: %s", cfg.Slack.Command, doraUsage, strings.Join(cfg.ServiceNames(), ", "))
	}
	if strings.EqualFold(words[0], "all") {
		q.Service = "all"
	} else {
		svc, err := ResolveService(cfg, words[0])
		if err != nil {
			return q, err
		}
		q.Service = svc.Name
	}
	q.Env = cfg.DORA.Env
	if q.Env == "" {
		q.Env = dora.DefaultEnv
	}
	if e, ok := cfg.Env(q.Env); ok {
		q.Env = e.Name
	}
	if len(words) == 2 {
		e, err := ResolveEnv(cfg, words[1])
		if err != nil {
			return q, err
		}
		q.Env = e.Name
	}
	q.Location = time.UTC
	if tz = strings.TrimSpace(tz); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil || strings.EqualFold(tz, "local") {
			return q, Refusalf("`%s` is not a time zone: use an IANA name such as `America/Sao_Paulo` or `UTC`.", clip(tz, 40))
		}
		q.Location = loc
	}
	parse := func(flag, v string) (time.Time, error) {
		t, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(v), q.Location)
		if err != nil {
			return time.Time{}, Refusalf("`--%s %s` is not a date: use YYYY-MM-DD, e.g. `--%s 2026-01-01`.", flag, clip(v, 30), flag)
		}
		return t, nil
	}
	y, m, day := now.In(q.Location).Date()
	tomorrow := time.Date(y, m, day+1, 0, 0, 0, 0, q.Location)
	q.Until = tomorrow
	if until != "" {
		t, err := parse("until", until)
		if err != nil {
			return q, err
		}
		q.Until = t
	}
	q.Since = q.Until.AddDate(0, 0, -DoraDefaultDays)
	if since != "" {
		t, err := parse("since", since)
		if err != nil {
			return q, err
		}
		q.Since = t
	}
	if !q.Since.Before(q.Until) {
		what := "`--until`"
		if until == "" {
			what = "today's end"
		}
		return q, Refusalf("The period is empty: `--since %s` is not before %s (%s; `--until` is exclusive).",
			q.Since.Format("2006-01-02"), what, q.Until.Format("2006-01-02"))
	}
	if q.Until.After(q.Since.AddDate(DoraMaxYears, 0, 0)) {
		return q, Refusalf("The period %s → %s is longer than %d years: ask for a shorter one.",
			q.Since.Format("2006-01-02"), q.Until.Format("2006-01-02"), DoraMaxYears)
	}
	return q, nil
}

// ComputeDora gathers the sources and computes the report: nexo's
// deployment and incident records, the GitOps history of the measured
// services' values files (when d.GitOps is set; deployments nexo recorded
// are not counted twice), and, when d.GitHub is set, the lead time of
// imported deployments from the compare API between consecutive tags
// (cached in DoraLeadTimeCollection, at most 50 calls a report). A GitOps or
// GitHub failure is a note, not an error; a store failure is an error.
func ComputeDora(ctx context.Context, d *Deps, q DoraQuery) (DoraResult, error) {
	var res DoraResult
	cfg := d.Config
	deps, bad, err := loadDocs[records.Deployment](ctx, d.Store, records.DeploymentsCollection)
	if err != nil {
		return res, fmt.Errorf("reading deployment records: %w", err)
	}
	incs, badInc, err := loadDocs[records.Incident](ctx, d.Store, records.IncidentsCollection)
	if err != nil {
		return res, fmt.Errorf("reading incident records: %w", err)
	}
	if bad+badInc > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d unreadable records skipped", bad+badInc))
	}
	res.Recorded = len(deps)

	services := []string{q.Service}
	if q.Service == "all" {
		services = cfg.ServiceNames()
	}
	if d.GitOps != nil && len(services) > 0 {
		imported, err := importDoraHistory(ctx, d, services, q.Env, deps)
		if err != nil {
			res.Notes = append(res.Notes, "GitOps history not read ("+clip(err.Error(), 160)+"): nexo's records only")
			doraLog(d).Warn("dora: GitOps history", "err", err)
		} else {
			res.Imported = len(imported)
			if d.GitHub != nil {
				if note := fillDoraLeadTimes(ctx, d, imported, q); note != "" {
					res.Notes = append(res.Notes, note)
				}
			}
			deps = append(deps, imported...)
		}
	}
	res.Report, err = dora.Compute(dora.Input{
		Service: q.Service, Env: q.Env, Since: q.Since, Until: q.Until, Location: q.Location,
		Deployments: deps, Incidents: incs, Bands: cfg.DORA.Bands,
	})
	if err != nil {
		return res, Refusalf("%s", err)
	}
	return res, nil
}

// PostDora posts the card in channel (default slack.channel) and uploads
// the chart into its thread. A chart failure is logged, not returned.
func PostDora(ctx context.Context, d *Deps, channel string, res DoraResult) error {
	if channel == "" {
		channel = d.Config.Slack.Channel
	}
	card := dora.Card(res.Report)
	if len(res.Notes) > 0 {
		card.Blocks = append(card.Blocks, chat.Block{Context: res.Notes})
	}
	ts, err := d.Chat.Post(ctx, channel, "", card)
	if err != nil {
		return fmt.Errorf("posting the DORA card: %w", err)
	}
	png, err := dora.ChartPNG(res.Report)
	if err != nil {
		doraLog(d).Warn("dora: chart", "err", err)
		return nil
	}
	name := "dora-" + res.Report.Service + ".png"
	if err := d.Chat.Upload(ctx, channel, ts, name, dora.Title(res.Report), png); err != nil {
		doraLog(d).Warn("dora: chart upload", "channel", channel, "err", err)
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

func importDoraHistory(ctx context.Context, d *Deps, services []string, env string, known []records.Deployment) ([]records.Deployment, error) {
	if err := d.GitOps.Sync(ctx); err != nil {
		return nil, err
	}
	targets := make([]dora.HistoryTarget, 0, len(services))
	for _, s := range services {
		targets = append(targets, dora.HistoryTarget{Service: s, Env: env, Path: d.Config.ValuesPath(s, env)})
	}
	return dora.ImportHistory(ctx, d.GitOps, targets, dora.ImportOptions{TagKey: d.Config.GitOps.TagKey, Known: known})
}

// doraLeadTime is a cached compare result.
type doraLeadTime struct {
	FirstCommitAt *time.Time `json:"first_commit_at,omitempty"`
	Commits       int        `json:"commits"`
}

// fillDoraLeadTimes sets FirstCommitAt of the imported deployments of the
// period (newest first) from the compare API between their previous and
// new tag, through the cache. It returns a note when some were left out.
func fillDoraLeadTimes(ctx context.Context, d *Deps, imported []records.Deployment, q DoraQuery) string {
	idx := make([]int, 0, len(imported))
	for i, dep := range imported {
		at := dep.DeployedAt()
		if dep.FirstCommitAt != nil || dep.Previous == "" || dep.Kind == records.KindRollback || at.Before(q.Since) || !at.Before(q.Until) {
			continue
		}
		if s, ok := d.Config.Service(dep.Service); !ok || s.Repo == "" {
			continue
		}
		idx = append(idx, i)
	}
	slices.SortFunc(idx, func(a, b int) int { return imported[b].DeployedAt().Compare(imported[a].DeployedAt()) })
	calls, skipped, failed := 0, 0, 0
	for _, i := range idx {
		dep := &imported[i]
		svc, _ := d.Config.Service(dep.Service)
		key := svc.Repo + "/" + dep.Previous + "/" + dep.Tag
		var lt doraLeadTime
		err := d.Store.GetDoc(ctx, DoraLeadTimeCollection, key, &lt)
		switch {
		case err == nil:
		case !errors.Is(err, store.ErrNotFound):
			failed++
			continue
		case calls >= doraMaxCompares:
			skipped++
			continue
		default:
			calls++
			cctx, cancel := context.WithTimeout(ctx, doraCompareTimeout)
			commits, err := d.GitHub.Compare(cctx, svc.Repo, dep.Previous, dep.Tag)
			cancel()
			if err != nil {
				failed++
				doraLog(d).Info("dora: compare", "repo", svc.Repo, "base", dep.Previous, "head", dep.Tag, "err", err)
				continue
			}
			lt = doraLeadTime{Commits: len(commits)}
			for _, c := range commits {
				if !c.Time.IsZero() && (lt.FirstCommitAt == nil || c.Time.Before(*lt.FirstCommitAt)) {
					t := c.Time
					lt.FirstCommitAt = &t
				}
			}
			if err := d.Store.PutDoc(ctx, DoraLeadTimeCollection, key, lt); err != nil {
				doraLog(d).Warn("dora: caching lead time", "key", key, "err", err)
			}
		}
		dep.FirstCommitAt = lt.FirstCommitAt
	}
	var parts []string
	if skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d without lead time (compare budget of %d calls used; run again to continue)", skipped, doraMaxCompares))
	}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d without lead time (GitHub compare failed)", failed))
	}
	if len(parts) == 0 {
		return ""
	}
	return "Imported deployments: " + strings.Join(parts, "; ")
}

func doraLog(d *Deps) *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}
