package freeze

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/argocdfake"
	"github.com/nexo-org/nexo-bot/store/boltstore"
)

const app = "nexo-be-production"

type rig struct {
	d    *commands.Deps
	argo *argocdfake.Server
	en   i18n.T
}

func newRig(t *testing.T, yaml string) *rig {
	t.Helper()
	cfg, err := config.Parse([]byte("services: [{name: nexo-be}]\ntimezone: America/Sao_Paulo\n" + yaml))
	if err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fake := argocdfake.New(argocdfake.Options{})
	t.Cleanup(fake.Close)
	fake.AddApp(app, argocdfake.AppSpec{Namespace: "nexo-production", Path: "helm/nexo-be", Revision: "abc"})
	ac, err := argocd.NewClient(argocd.Options{Server: fake.URL(), Token: fake.Token(), Timeout: 2 * time.Second, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d := &commands.Deps{Config: cfg, Store: st, ArgoCD: ac, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return &rig{d: d, argo: fake, en: i18n.Default().WithZone(time.UTC).In("en")}
}

func (r *rig) gate(t *testing.T, emergency bool, now time.Time) commands.FreezeGate {
	t.Helper()
	g, err := (&Gate{D: r.d}).Gate(context.Background(), "nexo-be", "production", emergency, now)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestRecurringFreezeInItsTimeZone(t *testing.T) {
	r := newRig(t, `freezes:
  - {env: prod, reason: "no Friday-evening deploys", schedule: "0 18 * * fri", duration: 63h}
`)
	// Friday 2026-12-04 18:00 in São Paulo (UTC-3) is 21:00 UTC.
	if g := r.gate(t, false, utc("2026-12-04 20:59")); g.Blocked || g.Freeze != nil {
		t.Fatalf("blocked before the window: %+v", g)
	}
	g := r.gate(t, false, utc("2026-12-05 12:00"))
	if !g.Blocked || !g.Until.Equal(utc("2026-12-07 12:00")) || g.Freeze.Source != commands.FreezeConfig {
		t.Fatalf("Saturday: %+v", g)
	}
	if got := r.en.Msg(g.Why); !strings.HasPrefix(got, "production is frozen until <!date^") || !strings.HasSuffix(got, ": no Friday-evening deploys") {
		t.Fatalf("why: %q", got)
	}
	if g := r.gate(t, false, utc("2026-12-07 12:00")); g.Blocked {
		t.Fatalf("still blocked at the end: %+v", g)
	}
	// An emergency passes, and says so.
	g = r.gate(t, true, utc("2026-12-05 12:00"))
	if g.Blocked || g.Freeze == nil || !strings.HasPrefix(r.en.Msg(g.Why), "Passing the freeze: no Friday-evening deploys") {
		t.Fatalf("hotfix: %+v %q", g, r.en.Msg(g.Why))
	}
}

func TestRecurringFreezeAcrossDST(t *testing.T) {
	// New York springs forward on 2026-03-08: a 01:00 start lasting 3 h of
	// real time ends at 05:00 EDT (09:00 UTC), not 04:00.
	r := newRig(t, `freezes:
  - {env: production, reason: "nightly batch", schedule: "0 1 * * *", duration: 3h, timezone: America/New_York}
`)
	g := r.gate(t, false, utc("2026-03-08 07:30")) // 03:30 EDT
	if !g.Blocked || !g.Until.Equal(utc("2026-03-08 09:00")) {
		t.Fatalf("DST day: %+v", g)
	}
	g = r.gate(t, false, utc("2026-03-09 07:30")) // 03:30 EDT, an ordinary day: 01:00 EDT + 3h = 04:00 EDT
	if !g.Blocked || !g.Until.Equal(utc("2026-03-09 08:00")) {
		t.Fatalf("next day: %+v", g)
	}
}

func TestDatedRangeChainedWithAnAdHocFreeze(t *testing.T) {
	r := newRig(t, `freezes:
  - {env: production, reason: "year-end freeze", from: "2026-12-22", until: "2027-01-04"}
`)
	// 2026-12-22 00:00 in São Paulo is 03:00 UTC.
	if g := r.gate(t, false, utc("2026-12-22 02:59")); g.Blocked {
		t.Fatalf("blocked before from: %+v", g)
	}
	g := r.gate(t, false, utc("2026-12-22 03:00"))
	if !g.Blocked || !g.Until.Equal(utc("2027-01-04 03:00")) {
		t.Fatalf("in the range: %+v", g)
	}
	// An admin's freeze that starts inside it and ends later extends it.
	if err := r.d.Store.PutDoc(context.Background(), collection, "production", AdHoc{Env: "production", Reason: "migration", From: utc("2027-01-03 00:00"), Until: utc("2027-01-06 00:00"), By: "U1"}); err != nil {
		t.Fatal(err)
	}
	g = r.gate(t, false, utc("2026-12-30 12:00"))
	if !g.Blocked || !g.Until.Equal(utc("2027-01-06 00:00")) || g.Freeze.Reason != "year-end freeze" {
		t.Fatalf("chained: %+v", g)
	}
	if g := r.gate(t, false, utc("2027-01-06 00:00")); g.Blocked {
		t.Fatalf("blocked after both: %+v", g)
	}
	// Other environments are not frozen.
	og, err := (&Gate{D: r.d}).Gate(context.Background(), "nexo-be", "staging", false, utc("2026-12-30 12:00"))
	if err != nil || og.Blocked {
		t.Fatalf("staging: %+v %v", og, err)
	}
}

func TestArgoCDDenyWindow(t *testing.T) {
	r := newRig(t, "")
	deny := argocd.SyncWindow{Kind: "deny", Schedule: "0 22 * * *", Duration: "8h", TimeZone: "America/Sao_Paulo", Applications: []string{"*-production"}, Description: "nightly batch"}
	r.argo.SetSyncWindows("default", deny)
	at := utc("2026-12-03 02:00") // 23:00 in São Paulo
	g := r.gate(t, false, at)
	if !g.Blocked || g.Freeze.Source != commands.FreezeArgoCD || !g.Until.Equal(utc("2026-12-03 09:00")) {
		t.Fatalf("promotion: %+v", g)
	}
	if got := r.en.Msg(g.Why); !strings.Contains(got, "production is closed for nexo-be-production until") || !strings.Contains(got, "deny window `0 22 * * *` (8h) of project default, “nightly batch”") {
		t.Fatalf("why: %q", got)
	}
	// Without manualSync a hotfix is blocked too: Argo CD would refuse it.
	g = r.gate(t, true, at)
	if !g.Blocked || !strings.Contains(r.en.Msg(g.Why), "manual ones too") {
		t.Fatalf("hotfix without manualSync: %+v %q", g, r.en.Msg(g.Why))
	}
	// With manualSync the hotfix passes and says so; promotions still wait.
	deny.ManualSync = true
	r.argo.SetSyncWindows("default", deny)
	g = r.gate(t, true, at)
	if g.Blocked || !strings.HasPrefix(r.en.Msg(g.Why), "Passing the Argo CD deny window") {
		t.Fatalf("hotfix with manualSync: %+v %q", g, r.en.Msg(g.Why))
	}
	if g := r.gate(t, false, at); !g.Blocked {
		t.Fatalf("promotion with manualSync: %+v", g)
	}
	// Outside the window everything goes; a window for other apps is ignored.
	if g := r.gate(t, false, utc("2026-12-03 12:00")); g.Blocked || g.Freeze != nil {
		t.Fatalf("outside: %+v", g)
	}
	r.argo.SetSyncWindows("default", argocd.SyncWindow{Kind: "deny", Schedule: "0 22 * * *", Duration: "8h", Applications: []string{"nexo-fe-*"}})
	if g := r.gate(t, false, at); g.Blocked {
		t.Fatalf("another app's window: %+v", g)
	}
}

func TestArgoCDAllowWindow(t *testing.T) {
	r := newRig(t, "")
	r.argo.SetSyncWindows("default", argocd.SyncWindow{Kind: "allow", Schedule: "0 10 * * mon-fri", Duration: "6h", Namespaces: []string{"nexo-production"}})
	// Saturday 2026-12-05: outside every allow window until Monday 10:00 UTC.
	g := r.gate(t, false, utc("2026-12-05 12:00"))
	if !g.Blocked || !g.Until.Equal(utc("2026-12-07 10:00")) || !strings.Contains(r.en.Msg(g.Why), "allow window `0 10 * * mon-fri` (6h)") {
		t.Fatalf("weekend: %+v %q", g, r.en.Msg(g.Why))
	}
	if g := r.gate(t, true, utc("2026-12-05 12:00")); !g.Blocked {
		t.Fatalf("a hotfix outside an allow window without manualSync: %+v", g)
	}
	if g := r.gate(t, false, utc("2026-12-07 11:00")); g.Blocked {
		t.Fatalf("inside the allow window: %+v", g)
	}
}

// When Argo CD cannot be read the gate does not invent a window: the
// change goes (argocd-server enforces its windows at the sync).
func TestArgoCDUnreadable(t *testing.T) {
	r := newRig(t, "")
	r.argo.Close()
	if g := r.gate(t, false, utc("2026-12-05 12:00")); g.Blocked {
		t.Fatalf("blocked by an unknown window: %+v", g)
	}
}

func TestParseEnd(t *testing.T) {
	now := utc("2026-12-02 12:00")
	sp, _ := time.LoadLocation("America/Sao_Paulo")
	for in, want := range map[string]time.Time{
		"4h":               utc("2026-12-02 16:00"),
		"3d":               utc("2026-12-05 12:00"),
		"2026-12-24":       utc("2026-12-24 03:00"),
		"2026-12-24 18:00": utc("2026-12-24 21:00"),
	} {
		got, err := parseEnd(in, now, sp)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %s %v, want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"soon", "0s", "24/12"} {
		if _, err := parseEnd(bad, now, sp); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestListingShowsActiveAndUpcomingConfigFreezes(t *testing.T) {
	r := newRig(t, `freezes:
  - {env: production, reason: "year-end", from: "2026-12-22", until: "2027-01-04"}
  - {env: production, reason: "far away", from: "2027-06-01", until: "2027-06-02"}
  - {env: staging, reason: "Fridays", schedule: "0 18 * * fri", duration: 63h}
`)
	now := utc("2026-12-10 12:00") // a Thursday
	prod := configEntries(r.d.Config, "production", now)
	if len(prod) != 1 || prod[0].reason != "year-end" || !prod[0].start.Equal(utc("2026-12-22 03:00")) {
		t.Fatalf("production: %+v", prod)
	}
	stg := configEntries(r.d.Config, "staging", now)
	if len(stg) != 1 || !stg[0].start.Equal(utc("2026-12-11 21:00")) || !stg[0].end.Equal(utc("2026-12-14 12:00")) {
		t.Fatalf("staging: %+v", stg)
	}
	if got := configEntries(r.d.Config, "qa", now); len(got) != 0 {
		t.Fatalf("qa: %+v", got)
	}
}
