//go:build integration

package sandbox

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds Debian's Chromium; the test fails without it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run `bash scripts/integration/install-browser.sh` (apt-get install -y chromium)")
	return ""
}

// The scenario in a real browser: carol-dev types the promotion,
// paula-platform approves, the card reaches Done with Argo CD Healthy. The
// screenshot is kept in artifacts/console.png.
func TestConsoleInABrowser(t *testing.T) {
	bin := chromium(t)
	sb, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: filepath.Join(t.TempDir(), "data"), ProgressAfter: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sb.Close(); err != nil {
			t.Error(err)
		}
	}()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1440, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first action starts the browser: no timeout on its context.
	if err := chromedp.Do(ctx, chromedp.Navigate(sb.URL()+"/")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	ctx, cancelRun := context.WithTimeout(ctx, 120*time.Second)
	defer cancelRun()

	asUser := func(id string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#user-select"); s.value = "` + id + `"; s.dispatchEvent(new Event("change")); return s.value; })()`)
	}
	// waitText polls until the element's text contains every word.
	waitText := func(sel string, words ...string) chromedp.Action[chromedp.Void] {
		conds := make([]string, 0, len(words))
		for _, w := range words {
			conds = append(conds, `t.includes(`+jsString(w)+`)`)
		}
		expr := `(() => { const e = document.querySelector(` + jsString(sel) + `); if (!e) return false; const t = e.innerText; return ` + strings.Join(conds, " && ") + `; })()`
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(90*time.Second))
	}
	want := sb.Tag("nexo-be", "qa")
	start := time.Now()
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#composer-input")),
		asUser(Carol),
		chromedp.SendKeys(chromedp.CSS("#composer-input"), "/nexo promote nexo-be staging\n"),
		waitText("#timeline", "carol-dev", "/nexo promote nexo-be staging"),
		waitText("#timeline", "Promote nexo-be → staging", want, "waiting for 1 more approval"),
		asUser(Paula),
		chromedp.WaitVisible(chromedp.CSS(`#timeline button[data-action="change.approve"]`)),
		chromedp.Click(chromedp.CSS(`#timeline button[data-action="change.approve"]`)),
		waitText("#timeline", "Done", "1/1", "@paula-platform", "✅ healthy"),
		chromedp.Click(chromedp.CSS(`#timeline .replies`)),
		waitText("#thread-body", "is live in staging"),
		waitText("#apps", "nexo-be-staging", want),
	); err != nil {
		t.Fatalf("browser scenario: %v", err)
	}
	t.Logf("typed → Done in the browser: %s", time.Since(start).Round(100*time.Millisecond))
	cardText, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#timeline .msg.message`)))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cardText, "Approve") {
		t.Errorf("the Done card still shows Approve:\n%s", cardText)
	}
	dir := filepath.Join("..", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "console.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	if len(png) < 10000 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(png))
	}
	if a, err := sb.App(context.Background(), "nexo-be-staging"); err != nil || a.Status.Health.Status != "Healthy" {
		t.Fatalf("Argo CD: %v %v", a, err)
	}
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
