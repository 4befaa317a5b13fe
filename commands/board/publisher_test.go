package board

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/chat/chattest"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store/boltstore"
)

func testPublisher(t *testing.T) (*Publisher, *chattest.Recorder, *testClock) {
	t.Helper()
	cfg := &config.Config{Services: []config.Service{{Name: "nexo-be"}}}
	cfg.ApplyDefaults()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rec := chattest.New(0)
	d := &commands.Deps{Config: cfg, Store: st, Chat: rec, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	d.Members = commands.NewMembers(cfg, rec)
	p := NewPublisher(d, rec)
	p.Debounce, p.Gap = 30*time.Millisecond, time.Millisecond
	clock := &testClock{}
	clock.Set(time.Date(2026, 2, 18, 10, 0, 0, 0, time.UTC))
	p.now = clock.Now
	t.Cleanup(p.Wait)
	p.Start(context.Background())
	return p, rec, clock
}

func waitHomes(t *testing.T, rec *chattest.Recorder, user string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.Homes(user)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s got %d Home views, want %d", user, len(rec.Homes(user)), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A burst of moves is one publish per viewer; only viewers who opened the
// Home tab recently get it; the set of viewers is bounded.
func TestPublisherCoalescesAndPublishesToRecentViewersOnly(t *testing.T) {
	p, rec, clock := testPublisher(t)
	p.Opened("U1")
	p.Opened("U1")
	waitHomes(t, rec, "U1", 1)
	p.Wait()
	if n := len(rec.Homes("U1")); n != 1 {
		t.Fatalf("two openings within the debounce: %d publishes", n)
	}

	for i := 0; i < 20; i++ {
		p.Changed()
	}
	waitHomes(t, rec, "U1", 2)
	p.Wait()
	if n := len(rec.Homes("U1")); n != 2 {
		t.Fatalf("20 moves in a burst: %d publishes after the first, want 1", n-1)
	}
	if len(rec.Homes("U2")) != 0 {
		t.Fatalf("a user who never opened the Home got it")
	}

	// Past Recent, a move no longer publishes to U1.
	clock.Add(DefaultRecent + time.Minute)
	p.Changed()
	time.Sleep(100 * time.Millisecond)
	p.Wait()
	if n := len(rec.Homes("U1")); n != 2 || p.Viewers() != 0 {
		t.Fatalf("stale viewer: %d publishes, %d viewers", n, p.Viewers())
	}

	// The viewers are bounded: the least recent go first.
	p.MaxViewers = 3
	for _, u := range []string{"UA", "UB", "UC", "UD"} {
		clock.Add(time.Second)
		p.Opened(u)
	}
	if p.Viewers() != 3 {
		t.Fatalf("%d viewers kept, want 3", p.Viewers())
	}
	waitHomes(t, rec, "UD", 1)
	p.Wait()
	if len(rec.Homes("UA")) != 0 {
		t.Errorf("the evicted viewer was published to")
	}

	// A page click and a notice publish that viewer's board.
	p.Page("UD", 2)
	waitHomes(t, rec, "UD", 2)
	p.Notice("UD", "refused, for a reason")
	waitHomes(t, rec, "UD", 3)
	if got := rec.Homes("UD")[2].PlainText(); !strings.Contains(got, "refused, for a reason") {
		t.Errorf("the notice is not on the board:\n%s", got)
	}
}

// testClock is a settable wall clock, safe across goroutines.
type testClock struct{ ns atomic.Int64 }

func (c *testClock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) Add(d time.Duration) { c.ns.Add(int64(d)) }
func (c *testClock) Set(t time.Time)     { c.ns.Store(t.UnixNano()) }

// prodFreeze is a freeze gate that holds production.
type prodFreeze struct {
	commands.Freezes
	until time.Time
}

func (f prodFreeze) Active(_ context.Context, service, env string, _ time.Time) (*commands.Freeze, error) {
	if service != "" || env != "production" {
		return nil, nil
	}
	return &commands.Freeze{Env: env, Reason: "Black Friday", End: f.until}, nil
}

// The freeze gate's active freeze reaches the rows of its environment,
// and what is not configured says so.
func TestCollectShowsFreezesFromTheHook(t *testing.T) {
	p, _, _ := testPublisher(t)
	until := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	p.d.Freezes = prodFreeze{until: until}
	b := Collect(context.Background(), p.d, &Links{})
	if len(b.Services) != 1 || len(b.Services[0].Envs) != 4 {
		t.Fatalf("services %+v", b.Services)
	}
	for _, e := range b.Services[0].Envs {
		if e.Frozen != (e.Name == "production") || (e.Frozen && (e.Reason != "Black Friday" || !e.Until.Equal(until))) {
			t.Errorf("%s: frozen %v %q %v", e.Name, e.Frozen, e.Reason, e.Until)
		}
		if !e.NoGitOps || !e.NoArgoCD {
			t.Errorf("%s: sources not configured, yet %+v", e.Name, e)
		}
	}
	p.d.Freezes = nil
	if b := Collect(context.Background(), p.d, &Links{}); b.Services[0].Envs[3].Frozen {
		t.Errorf("no freeze gate, yet a freeze")
	}
}
