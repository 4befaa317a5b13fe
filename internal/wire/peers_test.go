package wire_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/internal/wire"
	"github.com/nexo-org/nexo-bot/store/boltstore"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// Two replicas on one store: each one's /readyz names both, its
// nexo_replicas_alive says 2; when one stops, the other sees 1.
func TestReadyzAndGaugeShowThePeers(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg, err := config.Parse([]byte("services: [{name: nexo-be}]\nworkflow: {lease_ttl: 3s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	build := func(owner string) (*wire.Runtime, context.CancelFunc) {
		rt, err := wire.Build(context.Background(), cfg, config.Secrets{SlackBotToken: "xoxb-test"}, wire.Options{NoSlack: true, Store: st, Owner: owner, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if rt.Engine.LeaseTTL != 3*time.Second {
			t.Fatalf("workflow.lease_ttl not applied: %s", rt.Engine.LeaseTTL)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := rt.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return rt, cancel
	}
	a, stopA := build("replica-a")
	b, stopB := build("replica-b")
	defer stopB()
	ctx := context.Background()
	a.Engine.Beat(ctx)
	b.Engine.Beat(ctx)
	a.Engine.Beat(ctx)
	for name, rt := range map[string]*wire.Runtime{"replica-a": a, "replica-b": b} {
		code, body := get(t, rt.Handler(), "/readyz")
		if code != http.StatusOK || !strings.Contains(body, "replicas alive: 2: ") || !strings.Contains(body, name+" (this replica)") {
			t.Fatalf("%s /readyz: %d %q", name, code, body)
		}
		_, metrics := get(t, rt.Handler(), "/metrics")
		if !strings.Contains(metrics, "\nnexo_replicas_alive 2\n") {
			t.Fatalf("%s /metrics has no nexo_replicas_alive 2:\n%s", name, grep(metrics, "nexo_replicas"))
		}
	}
	// replica-a stops cleanly: it retires, replica-b sees it gone at its
	// next beat.
	stopA()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.Engine.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if lost := b.Engine.Beat(ctx); len(lost) != 1 || lost[0] != "replica-a" {
		t.Fatalf("replica-b saw %v go, want [replica-a]", lost)
	}
	_, body := get(t, b.Handler(), "/readyz")
	_, metrics := get(t, b.Handler(), "/metrics")
	if !strings.Contains(body, "replicas alive: 1: replica-b (this replica)") || !strings.Contains(metrics, "\nnexo_replicas_alive 1\n") {
		t.Fatalf("after replica-a stopped: %q\n%s", body, grep(metrics, "nexo_replicas"))
	}
}

func grep(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
