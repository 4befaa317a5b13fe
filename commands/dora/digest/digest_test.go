package digest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/chat/chattest"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/dora"
	"github.com/nexo-org/nexo-bot/commands/dora/doratest"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// The fixtures the DORA packages share (commands/dora/doratest).
var (
	doraTime = doratest.Time
	doraPtr  = doratest.Ptr
	putDoc   = doratest.PutDoc
)

// digestDeps is a bolt store, the playbook's GitOps history, a recording
// chat and an engine on a manual clock at Wednesday 2026-02-18 10:00 UTC;
// nexo-be posts to its own channel, nexo-fe to slack.channel, which reads
// Portuguese. extra is more YAML.
func digestDeps(t *testing.T, digest string, extra ...string) (*commands.Deps, *chattest.Recorder, *workflow.ManualClock) {
	t.Helper()
	d, c := doratest.DepsWith(t, fmt.Sprintf(`
slack: {channel: C0DEPLOYS, channel_locales: {C0DEPLOYS: pt-BR}}
dora: {digest: %q}
services:
  - {name: nexo-be, channel: C0BACKEND}
  - {name: nexo-fe}
`, digest)+strings.Join(extra, "\n"))
	clock := workflow.NewManualClock(doraTime("2026-02-18T10:00:00Z"))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d.Log, d.Engine = log, workflow.New(d.Store, clock, log, "test")
	return d, c, clock
}

func startDora(t *testing.T, d *commands.Deps) {
	t.Helper()
	r := commands.New(d)
	Register(r, d)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func nextDigest(t *testing.T, st store.Store) time.Time {
	t.Helper()
	var n nextDoc
	if err := st.GetDoc(context.Background(), collection, "next", &n); err != nil {
		t.Fatal(err)
	}
	return n.Due
}

func postsTo(c *chattest.Recorder, channel string) []chattest.Post {
	var out []chattest.Post
	for _, p := range c.Posts() {
		if p.Channel == channel {
			out = append(out, p)
		}
	}
	return out
}

// The week of 2026-02-16 in production, for nexo-be: besides the 2026.02.10
// release (from git, Thursday the 12th: the week before), a promotion on
// Tuesday and a hotfix of it on Wednesday; an incident resolved in 30
// minutes.
func putDigestWeek(t *testing.T, st store.Store) {
	t.Helper()
	putDoc(t, st, records.DeploymentsCollection, "promote-be-0217", records.Deployment{ID: "promote-be-0217", Service: "nexo-be", Env: "production",
		Tag: "2026.02.17", Previous: "2026.02.10", Kind: records.KindPromote, Result: records.ResultSuccess, RequestedAt: doraTime("2026-02-17T09:00:00Z"),
		MergedAt: doraPtr(doraTime("2026-02-17T10:00:00Z")), HealthyAt: doraPtr(doraTime("2026-02-17T10:10:00Z")), FirstCommitAt: doraPtr(doraTime("2026-02-16T10:10:00Z"))})
	putDoc(t, st, records.DeploymentsCollection, "hotfix-be-0218", records.Deployment{ID: "hotfix-be-0218", Service: "nexo-be", Env: "production",
		Tag: "2026.02.17-hotfix", Previous: "2026.02.17", Kind: records.KindHotfix, Result: records.ResultSuccess, RequestedAt: doraTime("2026-02-18T08:00:00Z"),
		MergedAt: doraPtr(doraTime("2026-02-18T08:20:00Z")), HealthyAt: doraPtr(doraTime("2026-02-18T08:30:00Z")), FirstCommitAt: doraPtr(doraTime("2026-02-18T07:30:00Z"))})
	putDoc(t, st, records.IncidentsCollection, "inc-be-0217", records.Incident{ID: "inc-be-0217", Service: "nexo-be", Env: "production",
		Status: records.StatusResolved, DeclaredAt: doraTime("2026-02-17T12:00:00Z"), ResolvedAt: doraPtr(doraTime("2026-02-17T12:30:00Z"))})
}

func TestDigestPostsEachTeamsWeekOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, c, clock := digestDeps(t, "Mon 09:00")
	putDigestWeek(t, d.Store)
	startDora(t, d)
	if due := nextDigest(t, d.Store); !due.Equal(doraTime("2026-02-23T09:00:00Z")) {
		t.Fatalf("first digest due %s, want Monday 2026-02-23 09:00 UTC", due)
	}
	clock.Set(doraTime("2026-02-23T08:59:59Z"))
	if n := d.Engine.FireDue(ctx); n != 0 || len(c.Posts()) != 0 {
		t.Fatalf("fired %d timers, %d posts before Monday 09:00", n, len(c.Posts()))
	}
	clock.Set(doraTime("2026-02-23T09:00:00Z"))
	if n := d.Engine.FireDue(ctx); n != 1 {
		t.Fatalf("fired %d timers at 09:00", n)
	}
	be, fe := postsTo(c, "C0BACKEND"), postsTo(c, "C0DEPLOYS")
	if len(be) != 1 || len(fe) != 1 || len(c.Posts()) != 2 {
		t.Fatalf("posts: %+v", c.Posts())
	}
	text := be[0].Msg.PlainText()
	for _, want := range []string{
		"DORA weekly digest — production",
		"Week 2026-02-16 → 2026-02-22, compared with the week before · DORA 2023 bands · UTC",
		"*nexo-be* — ",
		// This week: the promotion and its hotfix; the week before the
		// 2026.02.10 release from git.
		"Deployments: 2 on 2 days, ↑ from 1 (better)",
		// The promotion shipped a day-old commit, the hotfix one an hour
		// old: the lower median is the hour; the week before has no
		// commit data (imported without GitHub).
		"Lead time: 60 minutes, week before: no commit data",
		// The hotfix fails the promotion (1 of 2); the week before nothing failed.
		"Change failure rate: 50.0% (1 of 2), ↑ from 0.0% (worse)",
		"Time to restore: 30 minutes, week before: no incidents",
		"`/nexo dora <service>` shows the last 30 days",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("nexo-be digest lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "nexo-fe") {
		t.Errorf("nexo-be's channel got nexo-fe:\n%s", text)
	}
	// nexo-fe's channel reads Portuguese.
	feText := fe[0].Msg.PlainText()
	for _, want := range []string{"Resumo semanal de DORA — production", "Semana 2026-02-16 → 2026-02-22, comparada com a anterior", "*nexo-fe* — ",
		"Deploys: nenhum, ↓ de 1 (pior)", "Tempo de restauração: nenhum incident, semana anterior: nenhum incident", "`/nexo dora <serviço>`"} {
		if !strings.Contains(feText, want) {
			t.Errorf("nexo-fe digest lacks %q:\n%s", want, feText)
		}
	}
	if strings.Contains(feText, "nexo-be") {
		t.Errorf("nexo-fe's channel got nexo-be:\n%s", feText)
	}
	if due := nextDigest(t, d.Store); !due.Equal(doraTime("2026-03-02T09:00:00Z")) {
		t.Fatalf("next digest due %s, want a week later", due)
	}

	// The same timer handled again (its claim expired while it ran): the
	// posts are not repeated.
	if err := fired(ctx, d, store.Timer{ID: Timer, Kind: Timer, Due: doraTime("2026-02-23T09:00:00Z")}); err != nil {
		t.Fatal(err)
	}
	if len(c.Posts()) != 2 {
		t.Fatalf("a timer handled twice posted %d messages", len(c.Posts()))
	}
	// A week later: the next digest.
	clock.Set(doraTime("2026-03-02T09:00:00Z"))
	if n := d.Engine.FireDue(ctx); n != 1 || len(c.Posts()) != 4 {
		t.Fatalf("second week: fired %d, %d posts", n, len(c.Posts()))
	}
	if text := postsTo(c, "C0BACKEND")[1].Msg.PlainText(); !strings.Contains(text, "Week 2026-02-23 → 2026-03-01") || !strings.Contains(text, "Deployments: none, ↓ from 2 (worse)") {
		t.Errorf("second week:\n%s", text)
	}
}

func TestDigestMissedWhileDownIsPostedAtStartAndOffCancelsIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, c, clock := digestDeps(t, "Mon 09:00")
	startDora(t, d)
	// No replica ran on Monday morning; one starts at 11:00.
	clock.Set(doraTime("2026-02-23T11:00:00Z"))
	startDora(t, d)
	if due := nextDigest(t, d.Store); !due.Equal(doraTime("2026-02-23T09:00:00Z")) {
		t.Fatalf("missed digest rescheduled to %s", due)
	}
	if n := d.Engine.FireDue(ctx); n != 1 || len(c.Posts()) != 2 {
		t.Fatalf("missed digest: fired %d, %d posts", n, len(c.Posts()))
	}
	if text := c.Posts()[0].Msg.PlainText(); !strings.Contains(text, "Week 2026-02-16 → 2026-02-22") {
		t.Fatalf("the missed digest is of its own week:\n%s", text)
	}
	// More than a day late: skipped, the next one is scheduled.
	clock.Set(doraTime("2026-03-03T10:00:00Z"))
	startDora(t, d)
	if due := nextDigest(t, d.Store); !due.Equal(doraTime("2026-03-09T09:00:00Z")) {
		t.Fatalf("a digest more than a day late: next due %s", due)
	}

	// dora.digest removed: the timer and its schedule are gone.
	d.Config.DORA.Digest = ""
	startDora(t, d)
	clock.Set(doraTime("2026-03-09T09:00:00Z"))
	if n := d.Engine.FireDue(ctx); n != 0 {
		t.Fatalf("fired %d timers with the digest off", n)
	}
	var n nextDoc
	if err := d.Store.GetDoc(ctx, collection, "next", &n); err == nil {
		t.Fatalf("schedule kept with the digest off: %+v", n)
	}
	if len(c.Posts()) != 2 {
		t.Fatalf("posts with the digest off: %d", len(c.Posts()))
	}
}

func TestDigestMessagesSayTheTrendAndSplitLongLists(t *testing.T) {
	week := func(deploys, failed int, lead, restore time.Duration, overall dora.Band) dora.Report {
		r := dora.Report{Overall: overall}
		r.ChangeFailureRate.Deployments, r.ChangeFailureRate.Failed = deploys, failed
		r.DeploymentFrequency.DeployDays = deploys
		if deploys == 0 {
			r.NoDeployments = true
		} else {
			r.ChangeFailureRate.Rate = float64(failed) / float64(deploys)
		}
		if lead > 0 {
			r.LeadTime.Median, r.LeadTime.Samples = lead, deploys
		}
		if restore > 0 {
			r.TimeToRestore.Median, r.TimeToRestore.Resolved = restore, 1
		}
		return r
	}
	g := Digest{Channel: "C1", Env: "production", Since: doraTime("2026-02-16T00:00:00Z"), Until: doraTime("2026-02-23T00:00:00Z"), Location: time.UTC, Bands: "2023",
		Rows: []Row{
			{Service: "fast", Week: week(5, 0, time.Hour, 20*time.Minute, dora.Elite), Previous: week(3, 1, 3*time.Hour, time.Hour, dora.High)},
			{Service: "same", Week: week(2, 0, 2*time.Hour, 0, dora.High), Previous: week(2, 0, 2*time.Hour, 0, dora.High)},
			{Service: "quiet", Week: week(0, 0, 0, 0, dora.NA), Previous: week(0, 0, 0, 0, dora.NA)},
		}}
	ms := Messages(i18n.Default().In(i18n.English), g, "/nexo")
	if len(ms) != 1 {
		t.Fatalf("%d messages", len(ms))
	}
	text := ms[0].PlainText()
	for _, want := range []string{
		"*fast* — 🏆 ELITE PERFORMER (week before: ✅ HIGH PERFORMER)",
		"Deployments: 5 on 5 days, ↑ from 3 (better)",
		"Lead time: 60 minutes, ↓ from 3.0 hours (better)",
		"Change failure rate: 0.0% (0 of 5), ↓ from 33.3% (better)",
		"Time to restore: 20 minutes, ↓ from 60 minutes (better)",
		"*same* — ✅ HIGH PERFORMER\nDeployments: 2 on 2 days, same as the week before",
		"Lead time: 2.0 hours, same as the week before",
		"Time to restore: no incidents, week before: no incidents",
		"*quiet* — N/A (not enough data)\nNo deployments and no incidents either week.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("digest lacks %q:\n%s", want, text)
		}
	}
	// 85 services: three messages of at most 40, within Slack's 50 blocks.
	g.Rows = nil
	for i := 0; i < 85; i++ {
		g.Rows = append(g.Rows, Row{Service: fmt.Sprintf("svc-%02d", i), Week: week(1, 0, time.Hour, 0, dora.High), Previous: week(1, 0, time.Hour, 0, dora.High)})
	}
	ms = Messages(i18n.Default().In(i18n.English), g, "/nexo")
	if len(ms) != 3 {
		t.Fatalf("%d messages for 85 services", len(ms))
	}
	seen := 0
	for i, m := range ms {
		if len(m.Blocks) > 50 || m.Blocks[0].Header != fmt.Sprintf("DORA weekly digest — production (%d/3)", i+1) {
			t.Errorf("message %d: %d blocks, header %q", i, len(m.Blocks), m.Blocks[0].Header)
		}
		for _, b := range m.Blocks {
			if b.Section != nil {
				seen++
			}
		}
	}
	if text := ms[0].PlainText(); !strings.Contains(text, "*svc-00* — ✅ HIGH PERFORMER\nDeployments: 1 on 1 day, same as the week before") {
		t.Errorf("one deployment on one day:\n%s", text)
	}
	if seen != 85 {
		t.Fatalf("%d services shown of 85", seen)
	}
	var empty chat.Message = Messages(i18n.Default().In(i18n.English), Digest{Env: "production", Location: time.UTC, Since: g.Since, Until: g.Until}, "/nexo")[0]
	if len(empty.Blocks) != 3 {
		t.Fatalf("a channel with no service: %+v", empty)
	}
}

// "Mon 09:00" is in the config's time zone, and so are the digest's days.
func TestDigestFollowsTheConfigsTimeZone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, c, clock := digestDeps(t, "Mon 09:00", "timezone: America/Sao_Paulo")
	startDora(t, d)
	if due := nextDigest(t, d.Store); !due.Equal(doraTime("2026-02-23T12:00:00Z")) {
		t.Fatalf("digest due %s, want Monday 09:00 in São Paulo (12:00 UTC)", due)
	}
	clock.Set(doraTime("2026-02-23T12:00:00Z"))
	if n := d.Engine.FireDue(ctx); n != 1 {
		t.Fatalf("fired %d timers", n)
	}
	text := postsTo(c, "C0BACKEND")[0].Msg.PlainText()
	if !strings.Contains(text, "Week 2026-02-16 → 2026-02-22, compared with the week before · DORA 2023 bands · America/Sao_Paulo") {
		t.Fatalf("digest period:\n%s", text)
	}
}
