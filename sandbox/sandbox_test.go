package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
)

func start(t *testing.T) *Sandbox {
	t.Helper()
	sb, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: filepath.Join(t.TempDir(), "data"), ProgressAfter: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Error(err)
		}
	})
	return sb
}

func postJSON(t *testing.T, url string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func state(t *testing.T, sb *Sandbox, user string) State {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(sb.URL() + "/api/state?user=" + user)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("state: HTTP %d", resp.StatusCode)
	}
	var st State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// waitItem polls the console's JSON API for an item matching all words.
func waitItem(t *testing.T, sb *Sandbox, user string, timeout time.Duration, words ...string) Item {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last State
	for time.Now().Before(deadline) {
		last = state(t, sb, user)
		for i := len(last.Items) - 1; i >= 0; i-- {
			it := last.Items[i]
			if it.Kind != "command" && containsAll(it.Text+string(it.Blocks), words) {
				return it
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	var b strings.Builder
	for _, it := range last.Items {
		fmt.Fprintf(&b, "- %s %s %s\n", it.Kind, it.TS, clip(it.Text+" "+string(it.Blocks), 400))
	}
	t.Fatalf("no item with %q within %s; items:\n%s", words, timeout, b.String())
	return Item{}
}

func containsAll(s string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// The playbook's steps 13–15 through the console API: carol asks, paula
// approves, the real clients merge in git and follow Argo CD to Healthy.
func TestPromoteToStagingThroughTheConsole(t *testing.T) {
	sb := start(t)
	want := sb.Tag("nexo-be", "qa")
	if code, out := postJSON(t, sb.URL()+"/api/command", CommandRequest{User: Carol, Text: "/nexo promote nexo-be staging"}); code != 200 {
		t.Fatalf("command: %d %v", code, out)
	}
	card := waitItem(t, sb, Paula, 15*time.Second, "Promote nexo-be", "staging", want, "change.approve", "waiting for 1 more approval")
	if card.Kind != "message" || !card.Bot {
		t.Fatalf("card: %+v", card)
	}
	st := state(t, sb, Carol)
	if st.Items[0].Kind != "command" || st.Items[0].Text != "/nexo promote nexo-be staging" || st.Items[0].UserName != "carol-dev" {
		t.Fatalf("the typed command is not first: %+v", st.Items[0])
	}
	if code, out := postJSON(t, sb.URL()+"/api/click", ClickRequest{User: Paula, Channel: Deploys, TS: card.TS, ActionID: "change.approve"}); code != 200 {
		t.Fatalf("click: %d %v", code, out)
	}
	done := waitItem(t, sb, Paula, 60*time.Second, "Promote nexo-be", want, "Done")
	if done.TS != card.TS || done.Edits < 3 || strings.Contains(string(done.Blocks), "change.approve") {
		for _, it := range state(t, sb, Paula).Items {
			t.Logf("%s ts=%s thread=%s edits=%d %s", it.Kind, it.TS, it.ThreadTS, it.Edits, clip(it.Text, 100))
		}
		t.Fatalf("final card (ts %s, first %s, %d edits):\n%s", done.TS, card.TS, done.Edits, done.Blocks)
	}
	if a, err := sb.App(context.Background(), "nexo-be-staging"); err != nil || a.Status.Health.Status != "Healthy" || a.Status.Summary.Images[0] != image("nexo-be", want) {
		t.Fatalf("Argo CD app: %+v", a.Status)
	}
	tag, _, err := sb.currentTag(context.Background(), "nexo-be", "staging")
	if err != nil || tag != want {
		t.Fatalf("values-staging.yaml tag %q, %v", tag, err)
	}
}

func TestDoraHasFiguresAndAChart(t *testing.T) {
	sb := start(t)
	postJSON(t, sb.URL()+"/api/command", CommandRequest{User: Alice, Text: "/nexo dora nexo-be"})
	card := waitItem(t, sb, Alice, 30*time.Second, "DORA Metrics", "nexo-be", "Deployment frequency")
	blocks := string(card.Blocks)
	if card.Kind != "message" || !strings.Contains(blocks, "deploys/month") || !strings.Contains(blocks, "Time to restore") || strings.Contains(blocks, "No deployments") {
		t.Fatalf("DORA card:\n%s", blocks)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, it := range state(t, sb, Alice).Items {
			if it.Kind == "file" && it.File.Image && it.ThreadTS == card.TS {
				resp, err := http.Get(sb.URL() + it.File.URL)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.Header.Get("Content-Type") != "image/png" {
					t.Fatalf("chart content type %q", resp.Header.Get("Content-Type"))
				}
				// The upload is a reply of the card: the card says so, and
				// the thread can be opened.
				for _, c := range state(t, sb, Alice).Items {
					if c.TS == card.TS && c.Replies < 1 {
						t.Fatalf("the DORA card counts %d replies with its chart in the thread", c.Replies)
					}
				}
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("no chart uploaded in the DORA card's thread")
}

func TestBreakAndHeal(t *testing.T) {
	sb := start(t)
	ctx := context.Background()
	good := sb.Tag("nexo-be", "staging")
	if code, _ := postJSON(t, sb.URL()+"/api/break", map[string]string{"kind": BreakBadTag}); code != 200 {
		t.Fatalf("break: %d", code)
	}
	if code, _ := postJSON(t, sb.URL()+"/api/break", map[string]string{"kind": BreakCrashLoop}); code != 200 {
		t.Fatalf("break: %d", code)
	}
	if code, _ := postJSON(t, sb.URL()+"/api/break", map[string]string{"kind": BreakErrorSpike}); code != 200 {
		t.Fatalf("break: %d", code)
	}
	if code, out := postJSON(t, sb.URL()+"/api/break", map[string]string{"kind": "meteor"}); code != 400 || !strings.Contains(fmt.Sprint(out["error"]), "unknown failure") {
		t.Fatalf("unknown failure: %d %v", code, out)
	}
	pods, err := sb.Cluster.Pods(ctx, "nexo-staging", "app=nexo-be")
	if err != nil {
		t.Fatal(err)
	}
	pulling := 0
	for _, p := range pods {
		if w := p.Status.ContainerStatuses[0].State.Waiting; w != nil && w.Reason == "ImagePullBackOff" {
			pulling++
		}
	}
	if pulling != 2 {
		t.Fatalf("%d pods in ImagePullBackOff of %d", pulling, len(pods))
	}
	if !waitFor(10*time.Second, func() bool {
		a, err := sb.App(ctx, "nexo-be-staging")
		return err == nil && a.Status.Health.Status == "Degraded"
	}) {
		t.Fatal("nexo-be-staging never became Degraded")
	}
	crash, _ := sb.Cluster.Pods(ctx, "nexo-qa", "app=nexo-be")
	log, err := sb.Cluster.Logs(ctx, "nexo-qa", crash[0].Name, "nexo-be", true, 5, 0)
	if err != nil || !strings.Contains(log, "panic: database") {
		t.Fatalf("previous log: %q %v", log, err)
	}
	if v := sb.Prom.Value(`x{service="nexo-be"}`); v != 0.05 {
		t.Fatalf("error rate %v", v)
	}

	// The bot sees it: diagnose names the missing tag.
	postJSON(t, sb.URL()+"/api/command", CommandRequest{User: Alice, Text: "/nexo diagnose nexo-be staging"})
	waitItem(t, sb, Alice, 30*time.Second, "ImagePullBackOff", badTag(good))

	if code, _ := postJSON(t, sb.URL()+"/api/heal", map[string]string{}); code != 200 {
		t.Fatalf("heal: %d", code)
	}
	for _, b := range sb.Breakages() {
		if b.Active {
			t.Fatalf("still broken: %+v", b)
		}
	}
	if tag, _, _ := sb.currentTag(ctx, "nexo-be", "staging"); tag != good {
		t.Fatalf("staging tag after heal %q, want %q", tag, good)
	}
	if !waitFor(10*time.Second, func() bool {
		a, err := sb.App(ctx, "nexo-be-staging")
		return err == nil && a.Status.Health.Status == "Healthy"
	}) {
		t.Fatal("nexo-be-staging not Healthy after heal")
	}
	if v := sb.Prom.Value(`x{service="nexo-be"}`); v != BaselineErrorRate {
		t.Fatalf("error rate after heal %v", v)
	}
}

func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cond()
}

func TestBadRequestsChangeNothing(t *testing.T) {
	sb := start(t)
	for _, c := range []struct {
		path string
		body any
		code int
		want string
	}{
		{"/api/command", CommandRequest{User: "U0NOBODY", Text: "/nexo help"}, 400, "unknown user"},
		{"/api/command", CommandRequest{User: Carol, Text: "/deploy now"}, 400, "not a command here"},
		{"/api/command", CommandRequest{User: Carol, Text: "   "}, 400, "/nexo help"},
		{"/api/command", CommandRequest{User: Carol, Channel: "C0NOPE", Text: "/nexo help"}, 404, "no channel"},
		{"/api/click", ClickRequest{User: Carol, Channel: Deploys, TS: "1.000001", ActionID: "change.approve"}, 404, "no message"},
		{"/api/submit", SubmitRequest{User: Carol, ViewID: "V0NOPE"}, 404, "no open view"},
		{"/api/locale", map[string]string{"locale": "klingon"}, 400, "does not speak"},
		{"/api/locale", map[string]string{}, 400, "locale is required"},
	} {
		code, out := postJSON(t, sb.URL()+c.path, c.body)
		if code != c.code || !strings.Contains(fmt.Sprint(out["error"]), c.want) {
			t.Errorf("%s %+v: %d %v", c.path, c.body, code, out)
		}
	}
	if st := state(t, sb, Carol); len(st.Items) != 0 || st.Locale != "en" {
		t.Fatalf("%d items, locale %q after bad requests", len(st.Items), st.Locale)
	}
	if _, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: sb.DataDir}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("reusing a data folder: %v", err)
	}
}

// The language switch makes nexo answer in Portuguese from the next
// message on, and back.
func TestLanguageSwitch(t *testing.T) {
	sb := start(t)
	if code, out := postJSON(t, sb.URL()+"/api/locale", map[string]string{"locale": "pt-BR"}); code != 200 || out["locale"] != "pt-BR" {
		t.Fatalf("switch: %d %v", code, out)
	}
	if st := state(t, sb, Carol); st.Locale != "pt-BR" || len(st.Locales) != 2 {
		t.Fatalf("state: locale %q, locales %v", st.Locale, st.Locales)
	}
	pt := i18n.Default().In(i18n.Portuguese)
	postJSON(t, sb.URL()+"/api/command", CommandRequest{User: Carol, Text: "/nexo promot nexo-be staging"})
	waitItem(t, sb, Carol, 10*time.Second, pt.Fixed("core.not_a_command", "Word", "promot", "Command", "/nexo")[0], "Você quis dizer `promote`?")
	postJSON(t, sb.URL()+"/api/locale", map[string]string{"locale": "en"})
	postJSON(t, sb.URL()+"/api/command", CommandRequest{User: Carol, Text: "/nexo promot nexo-fe staging"})
	waitItem(t, sb, Carol, 10*time.Second, "is not a nexo command", "Did you mean `promote`?")
}

// The embedded config is docs/examples/nexo.yaml.
func TestEmbeddedConfigIsTheExample(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "docs", "examples", "nexo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.Parse(configYAML)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("sandbox/nexo.yaml differs from docs/examples/nexo.yaml: copy it again")
	}
	for _, u := range []string{Alice, Bob, Carol, Paula} {
		found := false
		for _, members := range want.Groups {
			for _, m := range members {
				found = found || m == u
			}
		}
		if !found {
			t.Errorf("user %s is in no group of the example config", u)
		}
	}
}
