package dora

import (
	"bytes"
	"context"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/dora/doratest"
	"github.com/nexo-org/nexo-bot/config"
)

// The fixtures the DORA packages share (commands/dora/doratest).
var (
	doraTime       = doratest.Time
	doraPtr        = doratest.Ptr
	doraDeps       = doratest.Deps
	putDoraRecords = doratest.PutRecords
)

func TestDoraSlackCardAndChart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	d, c := doraDeps(t)
	putDoraRecords(t, ctx, d.Store)
	r := commands.NewRouter(d.Config, nil)
	r.Register(Spec(d))

	reply, err := r.HandleCommand(ctx, chat.Command{UserID: "U1", ChannelID: "C0TEAM", Text: "dora nexo-be prod --since 2026-01-15 --until 2026-02-20"})
	if err != nil {
		t.Fatal(err)
	}
	if reply != nil {
		t.Fatalf("the card is posted, not replied: %+v", reply)
	}
	if len(c.Posts()) != 1 {
		t.Fatalf("posts: %+v", c.Posts())
	}
	p := c.Posts()[0]
	if p.Channel != "C0TEAM" || p.Thread != "" {
		t.Fatalf("card posted to %q thread %q", p.Channel, p.Thread)
	}
	text := p.Msg.PlainText()
	// 4 production deployments of nexo-be in the period: the bootstrap
	// (Jan 20) and the promotions of Jan 29 and Feb 5 from git, and Feb 12
	// from nexo's record (the same commit, counted once). The incident of
	// Feb 12 fails 1 of 4; only the record has commit data (3 hours).
	for _, want := range []string{
		"DORA Metrics - nexo-be production (2026-01-15 → 2026-02-19)",
		"*Deployment frequency*\n3.3 deploys/month  ✅ High",
		"*Lead time for changes*\n3.0 hours  ✅ Elite",
		"*Time to restore service*\n25 minutes  ✅ Elite",
		"*Change failure rate*\n25.0%  ⚠️ Low",
		"*Overall performance:* ✅ HIGH PERFORMER",
		"4 deployments on 4 days · 1 failed · 1 incident resolved",
		"1. `2026.02.10`  commit → prod: 3.0 hours",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("card lacks %q:\n%s", want, text)
		}
	}
	if len(c.Uploads()) != 1 {
		t.Fatalf("uploads: %d", len(c.Uploads()))
	}
	u := c.Uploads()[0]
	if u.Channel != "C0TEAM" || u.Thread != p.TS || u.Name != "dora-nexo-be.png" {
		t.Fatalf("upload to %q thread %q (card ts %q) as %q", u.Channel, u.Thread, p.TS, u.Name)
	}
	img, err := png.Decode(bytes.NewReader(u.Content))
	if err != nil {
		t.Fatalf("chart is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 200 || b.Dy() < 100 {
		t.Fatalf("chart is %v", b)
	}

	// Every service together: nexo-fe adds its own 4 deployments.
	if _, err := r.HandleCommand(ctx, chat.Command{UserID: "U1", ChannelID: "C0TEAM", Text: "dora all --since 2026-01-15 --until 2026-02-20"}); err != nil {
		t.Fatal(err)
	}
	if len(c.Posts()) != 2 || len(c.Uploads()) != 2 || c.Uploads()[1].Name != "dora-all.png" {
		t.Fatalf("all: posts %d uploads %d", len(c.Posts()), len(c.Uploads()))
	}
	if all := c.Posts()[1].Msg.PlainText(); !strings.Contains(all, "8 deployments on 4 days") || !strings.Contains(all, "DORA Metrics - all production") {
		t.Fatalf("all services card:\n%s", all)
	}
}

func TestDoraRefusesBadInputAndPostsNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, c := doraDeps(t)
	r := commands.NewRouter(d.Config, nil)
	r.Register(Spec(d))
	cases := []struct{ text, want string }{
		{"dora nexo-be --since 2026-13-01", "`--since 2026-13-01` is not a date"},
		{"dora nexo-be --until 01/02/2026", "`--until 01/02/2026` is not a date"},
		{"dora nexo-be --since 2026-02-01 --until 2026-01-01", "The period is empty"},
		{"dora nexo-be --since 2026-02-01 --until 2026-02-01", "The period is empty"},
		{"dora nexo-be --since 2023-01-01 --until 2026-01-02", "longer than 2 years"},
		{"dora nexo-be --tz Mars/Olympus_Mons", "is not a time zone"},
		{"dora nexo-bee", "Unknown service `nexo-bee`. Did you mean `nexo-be`?"},
		{"dora nexo-be prd", "Unknown environment `prd`"},
		{"dora", "Usage: `/nexo dora <service|all>"},
		{"dora nexo-be production extra", "Usage:"},
		{"dora nexo-be --from 2026-01-01", "`--from` is not an option of `dora`"},
	}
	for _, tc := range cases {
		reply, err := r.HandleCommand(ctx, chat.Command{UserID: "U1", ChannelID: "C0TEAM", Text: tc.text})
		if err != nil {
			t.Fatalf("%s: %v", tc.text, err)
		}
		if reply == nil || !reply.Ephemeral || !strings.Contains(reply.Message.Text, tc.want) {
			t.Errorf("%s: want a refusal with %q, got %+v", tc.text, tc.want, reply)
		}
	}
	if len(c.Posts()) != 0 || len(c.Uploads()) != 0 {
		t.Fatalf("refusals posted %d messages and %d uploads", len(c.Posts()), len(c.Uploads()))
	}
	if docs, err := d.Store.ListDocs(ctx, LeadTimeCollection); err != nil || len(docs) != 0 {
		t.Fatalf("refusals wrote %d cache docs (%v)", len(docs), err)
	}
}

func TestParseDoraQueryDefaults(t *testing.T) {
	cfg, err := config.Parse([]byte("services: [{name: nexo-be}]\ndora: {env: staging}\n"))
	if err != nil {
		t.Fatal(err)
	}
	now := doraTime("2026-02-17T23:30:00Z")
	q, err := ParseQuery(cfg, []string{"nexo-be"}, "", "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	if q.Env != "staging" || !q.Since.Equal(doraTime("2026-01-19T00:00:00Z")) || !q.Until.Equal(doraTime("2026-02-18T00:00:00Z")) || q.Location != time.UTC {
		t.Fatalf("defaults: %+v", q)
	}
	// 23:30 UTC is already the 18th in Tokyo: today there ends on the 19th.
	q, err = ParseQuery(cfg, []string{"nexo-be", "prod"}, "", "", "Asia/Tokyo", now)
	if err != nil {
		t.Fatal(err)
	}
	if q.Env != "production" || q.Until.Format(time.RFC3339) != "2026-02-19T00:00:00+09:00" || q.Until.Sub(q.Since) != 30*24*time.Hour {
		t.Fatalf("tz: %+v", q)
	}
	// --until alone: the 30 days before it; exactly two years is allowed.
	q, err = ParseQuery(cfg, []string{"all"}, "", "2026-02-01", "", now)
	if err != nil || q.Service != "all" || !q.Since.Equal(doraTime("2026-01-02T00:00:00Z")) {
		t.Fatalf("until alone: %+v %v", q, err)
	}
	if _, err := ParseQuery(cfg, []string{"all"}, "2024-02-01", "2026-02-01", "", now); err != nil {
		t.Fatalf("two years: %v", err)
	}
	if _, err := ParseQuery(cfg, []string{"all"}, "2026-02-18", "", "", now); err == nil {
		t.Fatal("a --since after today was accepted")
	}
}

func TestDoraLeadTimeFromCompareIsCachedAndBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	d, _ := doraDeps(t)
	gh := doratest.WithGitHub(t, d)
	q, err := ParseQuery(d.Config, []string{"nexo-be"}, "2026-01-15", "2026-02-20", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// No records: 4 imported deployments; the bootstrap has no previous tag,
	// the 3 promotions each cost one compare. Each is deployed 63 hours after
	// its tag's date and its first commit is 14 hours before it.
	res, err := Measure(ctx, d, q)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 4 || gh.Calls.Load() != 3 || res.Report.LeadTime.Samples != 3 || res.Report.LeadTime.Median != 77*time.Hour || len(res.Notes) != 0 {
		t.Fatalf("imported %d, calls %d, lead %+v, notes %q", res.Imported, gh.Calls.Load(), res.Report.LeadTime, res.Notes)
	}
	docs, err := d.Store.ListDocs(ctx, LeadTimeCollection)
	if err != nil || len(docs) != 3 || docs[0].ID != "nexo-org/nexo-be/2026.01.20/2026.01.27" {
		t.Fatalf("cache: %+v %v", docs, err)
	}
	// Again: all from the cache.
	res2, err := Measure(ctx, d, q)
	if err != nil || gh.Calls.Load() != 3 || res2.Report.LeadTime != res.Report.LeadTime {
		t.Fatalf("second run: calls %d, lead %+v, %v", gh.Calls.Load(), res2.Report.LeadTime, err)
	}

	// A budget of one call: the newest deployment gets it, the note says so.
	for _, doc := range docs {
		if err := d.Store.DeleteDoc(ctx, LeadTimeCollection, doc.ID); err != nil {
			t.Fatal(err)
		}
	}
	old := maxCompares
	maxCompares = 1
	t.Cleanup(func() { maxCompares = old })
	res3, err := Measure(ctx, d, q)
	if err != nil {
		t.Fatal(err)
	}
	if gh.Calls.Load() != 4 || res3.Report.LeadTime.Samples != 1 || len(res3.Report.Fastest) != 1 || res3.Report.Fastest[0].Tag != "2026.02.10" {
		t.Fatalf("budget: calls %d, lead %+v, fastest %+v", gh.Calls.Load(), res3.Report.LeadTime, res3.Report.Fastest)
	}
	if len(res3.Notes) != 1 || !strings.Contains(commands.English().Msg(res3.Notes[0]), "2 without lead time (compare budget of 1 calls used") {
		t.Fatalf("notes: %q", res3.Notes)
	}
}

func TestDoraWithoutGitOpsUsesRecordsOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, _ := doraDeps(t)
	d.GitOps = nil
	putDoraRecords(t, ctx, d.Store)
	q, err := ParseQuery(d.Config, []string{"nexo-be"}, "2026-01-15", "2026-02-20", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Measure(ctx, d, q)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 0 || res.Recorded != 2 || res.Report.ChangeFailureRate.Deployments != 1 || res.Report.ChangeFailureRate.Failed != 1 {
		t.Fatalf("records only: %+v %+v", res, res.Report.ChangeFailureRate)
	}
}
