package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A replica that cannot bind server.listen exits 1 at once, naming the
// address, before it touches the store or Slack.
func TestServeExitsWhenServerListenCannotBeBound(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var slackCalls atomic.Int32
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slackCalls.Add(1)
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer slack.Close()
	dir := t.TempDir()
	db := filepath.Join(dir, "nexo.db")
	cfg := filepath.Join(dir, "nexo.yaml")
	doc := fmt.Sprintf("slack: {api_url: %q}\nserver: {listen: %q}\nstore: {backend: bolt, path: %q}\nservices: [{name: nexo-be}]\n",
		slack.URL+"/api/", busy.Addr().String(), db)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-test")
	t.Setenv("SLACK_APP_TOKEN", "xapp-test")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	code := run(ctx, []string{"serve", "--config", cfg}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr.String())
	}
	msg := stderr.String()
	if !strings.Contains(msg, `cannot listen on server.listen "`+busy.Addr().String()+`"`) || !strings.Contains(msg, "address already in use") {
		t.Fatalf("the message does not name the address and the reason:\n%s", msg)
	}
	if n := slackCalls.Load(); n != 0 {
		t.Fatalf("%d calls reached Slack before the bind failed", n)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("the store was opened before the bind failed (%v)", err)
	}
	t.Logf("exit 1 after %s: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(strings.SplitN(msg, "\n", 2)[0]))
}

func TestListenServerEmptyMeansNoListener(t *testing.T) {
	ln, err := listenServer("")
	if err != nil || ln != nil {
		t.Fatalf("listenServer(\"\") = %v, %v; want no listener and no error", ln, err)
	}
	if _, err := listenServer("not-an-address"); err == nil || !strings.Contains(err.Error(), `"not-an-address"`) {
		t.Fatalf("bad address: %v", err)
	}
}
