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

// browse starts a sandbox and a headless Chromium on its console; both stop
// with the test (the sandbox with the browser's event stream still open).
func browse(t *testing.T) (*Sandbox, context.Context) {
	t.Helper()
	bin := chromium(t)
	sb, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: filepath.Join(t.TempDir(), "data"), ProgressAfter: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Error(err)
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1440, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// The first action starts the browser: no timeout on its context.
	if err := chromedp.Do(ctx, chromedp.Navigate(sb.URL()+"/")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	ctx, cancelRun := context.WithTimeout(ctx, 180*time.Second)
	t.Cleanup(cancelRun)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#composer-input"))); err != nil {
		t.Fatal(err)
	}
	return sb, ctx
}

func asUser(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#user-select"); s.value = "` + id + `"; s.dispatchEvent(new Event("change")); return s.value; })()`)
}

// waitText polls until the element's text contains every word.
func waitText(sel string, words ...string) chromedp.Action[chromedp.Void] {
	conds := make([]string, 0, len(words))
	for _, w := range words {
		conds = append(conds, `t.includes(`+jsString(w)+`)`)
	}
	expr := `(() => { const e = document.querySelector(` + jsString(sel) + `); if (!e) return false; const t = e.innerText; return ` + strings.Join(conds, " && ") + `; })()`
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(90*time.Second))
}

func command(text string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS("#composer-input"), text+"\n")
}

// screenshot saves a PNG in artifacts/ and checks it is one.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if len(png) < 10000 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(png))
	}
	dir := filepath.Join("..", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// failed ends the test after a browser step failed, with what the page
// showed: the timeline's and the toast's text, and a screenshot in
// artifacts/failed-<test>.png.
func failed(t *testing.T, ctx context.Context, step string, err error) {
	t.Helper()
	shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const tl = document.querySelector("#timeline"), toast = document.querySelector("#toast");
		return "timeline:\n" + (tl ? tl.innerText : "(none)") + "\ntoast: " + (toast && !toast.hidden ? toast.innerText : "(none)"); })()`))
	if png, perr := chromedp.Run(ctx, chromedp.CaptureScreenshot()); perr == nil {
		_ = os.MkdirAll(filepath.Join("..", "artifacts"), 0o755)
		_ = os.WriteFile(filepath.Join("..", "artifacts", "failed-"+t.Name()+".png"), png, 0o644)
	}
	t.Fatalf("%s: %v\n%s", step, err, shown)
}

// The scenario in a real browser: carol-dev types the promotion,
// paula-platform approves, the card reaches Done with Argo CD Healthy; the
// PR button leads to a readable page of the sandbox's PR. Screenshots:
// artifacts/console.png, artifacts/console-pr.png.
func TestConsoleInABrowser(t *testing.T) {
	sb, ctx := browse(t)
	want := sb.Tag("nexo-be", "qa")
	start := time.Now()
	if err := chromedp.Do(ctx,
		asUser(Carol),
		command("/nexo promote nexo-be staging"),
		waitText("#timeline", "carol-dev", "/nexo promote nexo-be staging"),
		waitText("#timeline", "Promote nexo-be → staging", want, "waiting for 1 more approval"),
		asUser(Paula),
		chromedp.WaitVisible(chromedp.CSS(`#timeline button[data-action="change.approve"]`)),
	); err != nil {
		failed(t, ctx, "promotion card", err)
	}
	buttonURL, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#timeline button[data-action="link.pr"]').dataset.url`))
	if err != nil || !strings.Contains(buttonURL, "/pull/") {
		t.Fatalf("PR button URL %q: %v", buttonURL, err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#timeline button[data-action="change.approve"]`)),
		waitText("#timeline", "Done", "1/1", "@paula-platform", "✅ healthy"),
		chromedp.Click(chromedp.CSS(`#timeline .replies`)),
		waitText("#thread-body", "is live in staging"),
		waitText(`#apps tr[data-app="nexo-be-staging"]`, "Healthy", want),
	); err != nil {
		failed(t, ctx, "approval to Done", err)
	}
	t.Logf("typed → Done in the browser: %s", time.Since(start).Round(100*time.Millisecond))
	cardText, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#timeline .msg.message`)))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "console.png")
	if strings.Contains(cardText, "Approve") {
		t.Errorf("the Done card still shows Approve:\n%s", cardText)
	}
	if a, err := sb.App(context.Background(), "nexo-be-staging"); err != nil || a.Status.Health.Status != "Healthy" {
		t.Fatalf("Argo CD: %v %v", a, err)
	}

	// The card's PR link (a button while it waits, a link once Done) opens
	// the PR's html_url: a page, not the API's 401 JSON.
	prURL, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const a = document.querySelector('#timeline .msg.message a[href*="/pull/"]'); return a ? a.href : ""; })()`))
	if err != nil || prURL != buttonURL {
		t.Fatalf("the Done card links %q (%v), the button opened %q", prURL, err, buttonURL)
	}
	tab, cancelTab := chromedp.NewContext(ctx)
	defer cancelTab()
	if err := chromedp.Do(tab, chromedp.Navigate(prURL), chromedp.WaitVisible(chromedp.CSS("#diff"))); err != nil {
		t.Fatalf("PR page %s: %v", prURL, err)
	}
	page, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"promote(nexo-be): staging → " + want, "Merged", "values-staging.yaml", `+  tag: "` + want + `"`, "Reviewers", "Labels", "merged commit"} {
		if !strings.Contains(page, w) {
			t.Errorf("the PR page lacks %q:\n%s", w, page)
		}
	}
	screenshot(t, tab, "console-pr.png")
}

// What a person sees besides the happy path: the Argo CD sidebar keeps its
// width while apps are Progressing and Degraded, the DORA chart is a reply
// in its card's thread, and a channel mention is a link to the channel.
// Screenshots: artifacts/console-sidebar.png, artifacts/console-dora.png.
func TestConsoleAsAPersonSeesIt(t *testing.T) {
	sb, ctx := browse(t)

	// The sidebar never scrolls sideways and the health word is whole.
	fits := func(app, health string) {
		t.Helper()
		row := `#apps tr[data-app="` + app + `"]`
		if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`(() => { const r = document.querySelector(`+jsString(row)+`); return !!r && r.innerText.includes(`+jsString(health)+`); })()`,
			chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
			t.Fatalf("%s never showed %s: %v", app, health, err)
		}
		m, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`(() => {
			const side = document.querySelector("#sidebar"), table = document.querySelector("#apps");
			const cell = document.querySelector(`+jsString(row+" td.health")+`), tag = document.querySelector(`+jsString(row+" td.tag")+`);
			return {sideScroll: side.scrollWidth, sideClient: side.clientWidth, tableRight: table.getBoundingClientRect().right,
				sideRight: side.getBoundingClientRect().right, cellScroll: cell.scrollWidth, cellClient: cell.clientWidth,
				tagScroll: tag.scrollWidth, tagClient: tag.clientWidth};
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		if m["sideScroll"] > m["sideClient"] || m["tableRight"] > m["sideRight"] {
			t.Errorf("%s %s: the sidebar overflows: %v", app, health, m)
		}
		if m["cellScroll"] > m["cellClient"] || m["tagScroll"] > m["tagClient"] {
			t.Errorf("%s %s: the health or tag is cut: %v", app, health, m)
		}
	}
	if code, out := postJSON(t, sb.URL()+"/api/break", map[string]string{"kind": BreakBadTag}); code != 200 {
		t.Fatalf("break: %d %v", code, out)
	}
	fits("nexo-be-staging", "Progressing")
	fits("nexo-be-staging", "Degraded")
	if err := chromedp.Do(ctx, chromedp.Sleep(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "console-sidebar.png")

	// The DORA chart lands in the card's thread: the card counts it as a
	// reply, and the thread shows the image.
	if err := chromedp.Do(ctx,
		asUser(Alice),
		command("/nexo dora nexo-be"),
		waitText("#timeline", "DORA Metrics", "Deployment frequency"),
		chromedp.Poll[chromedp.Void](`(() => { const m = [...document.querySelectorAll("#timeline .msg.message")].find((e) => e.innerText.includes("DORA Metrics")); return !!m && !!m.querySelector(".replies"); })()`,
			chromedp.WithPollingTimeout(60*time.Second)),
		chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#timeline .msg.message")].find((e) => e.innerText.includes("DORA Metrics")).querySelector(".replies").click()`),
		chromedp.Poll[chromedp.Void](`(() => { const i = document.querySelector("#thread-body .msg.file img"); return !!i && i.complete && i.naturalWidth > 100; })()`,
			chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.Sleep(200*time.Millisecond),
	); err != nil {
		failed(t, ctx, "DORA chart in the thread", err)
	}
	screenshot(t, ctx, "console-dora.png")

	// A channel mention navigates: the incident announcement links its channel.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#thread-close")),
		command("/nexo incident declare nexo-be production Checkout errors --sev P2"),
		chromedp.Poll[chromedp.Void](`!!document.querySelector("#timeline a.mention[data-goto-channel]")`, chromedp.WithPollingTimeout(60*time.Second)),
	); err != nil {
		failed(t, ctx, "incident announcement", err)
	}
	target, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const a = [...document.querySelectorAll("#timeline a.mention[data-goto-channel]")].pop(); a.click(); return a.innerText.replace(/^#/, ""); })()`))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, waitText("#chan-name", target)); err != nil {
		t.Fatalf("the mention of #%s did not open it: %v", target, err)
	}
	if !strings.HasPrefix(target, "inc-") {
		t.Errorf("the mention names %q, want the incident channel", target)
	}
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// The language switch: the console and nexo speak Portuguese; Slack's
// date tokens show in the reader's time zone and language, the fallback as
// the tooltip.
func TestConsoleLanguageSwitch(t *testing.T) {
	_, ctx := browse(t)
	if err := chromedp.Do(ctx,
		asUser(Carol),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#lang-select"); s.value = "pt-BR"; s.dispatchEvent(new Event("change")); })()`),
		waitText("#timeline", "Nada aqui ainda"),
		chromedp.Poll[chromedp.Void](`document.querySelector("[data-ui=channels]").textContent === "Canais"`, chromedp.WithPollingTimeout(10*time.Second)),
	); err != nil {
		failed(t, ctx, "switching to Portuguese", err)
	}
	if err := chromedp.Do(ctx,
		command("/nexo promot nexo-be staging"),
		waitText("#timeline", "não é um comando do nexo", "Você quis dizer promote?"),
	); err != nil {
		failed(t, ctx, "switching to Portuguese", err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const d = document.createElement("div");
		d.innerHTML = mrkdwn("<!date^1771410900^{date_short_pretty} {time}|18 Feb 2026 10:35 UTC>"); const e = d.querySelector("time.slack-date");
		return e ? e.getAttribute("datetime") + " | " + e.title + " | " + e.textContent : d.innerHTML; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "2026-02-18T10:35:00.000Z | 18 Feb 2026 10:35 UTC | ") || !strings.Contains(got, "fev") {
		t.Fatalf("date token rendered as %q", got)
	}
	screenshot(t, ctx, "console-pt-BR.png")
}
