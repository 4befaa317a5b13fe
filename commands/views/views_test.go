package views_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/commandstest"
	"github.com/nexo-org/nexo-bot/commands/views"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/argocdfake"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
	"github.com/nexo-org/nexo-bot/store"
)

func TestPodsCommand(t *testing.T) {
	r := commandstest.NewRig(t, commandstest.Options{Pods: commandstest.Pods(t, "imagepull"), NoArgo: true})
	rep := r.Command(commandstest.Carol, "pods nexo-be stg")
	if rep == nil || rep.Ephemeral {
		t.Fatalf("reply %+v", rep)
	}
	text := rep.Message.PlainText()
	for _, s := range []string{"Pods of nexo-be in staging* — 2/3 ready", "nexo-be-5d8f9c7b6d-abc12", "ImagePullBackOff", "namespace `nexo-staging` · selector `app=nexo-be`"} {
		if !strings.Contains(text, s) {
			t.Errorf("lacks %q:\n%s", s, text)
		}
	}
	// Nothing but the configured namespace and label: another namespace's pods never show.
	other := commandstest.Pods(t, "crashloop")
	other[0].Namespace = "kube-system"
	r2 := commandstest.NewRig(t, commandstest.Options{Pods: other, NoArgo: true})
	if text := r2.Command(commandstest.Carol, "pods nexo-be staging").Message.PlainText(); !strings.Contains(text, "No pods match `app=nexo-be` in `nexo-staging`") {
		t.Errorf("other namespace leaked:\n%s", text)
	}
	for cmd, want := range map[string]string{
		"pods nexo-be":                        "Usage",
		"pods nexo-be staging -n kube-system": "Usage", // "-n" is a word, not a flag: three words
		"pods nexo-be staging --namespace x":  "not an option",
	} {
		if rep := r.Command(commandstest.Carol, cmd); rep == nil || !rep.Ephemeral || !strings.Contains(rep.Message.Text, want) {
			t.Errorf("%q: %+v", cmd, rep)
		}
	}
}

func TestHistoryCommand(t *testing.T) {
	r := commandstest.NewRig(t, commandstest.Options{})
	// Argo CD deployed the qa-era revision, then the current head.
	head := r.Remote.Head(t, "main")
	r.AddStagingApp("2026.02.10", "Healthy")
	rep := r.Command(commandstest.Carol, "history nexo-be staging")
	text := rep.Message.PlainText()
	for _, s := range []string{"History of nexo-be in staging", "ID", "DEPLOYED", head[:7], "← current"} {
		if !strings.Contains(text, s) {
			t.Errorf("lacks %q:\n%s", s, text)
		}
	}

	// Without Argo CD, the git log of the values file is the history.
	r2 := commandstest.NewRig(t, commandstest.Options{NoArgo: true})
	text = r2.Command(commandstest.Carol, "history nexo-be staging").Message.PlainText()
	lines := strings.Split(text, "\n")
	var rows []string
	for _, l := range lines {
		if strings.Contains(l, "promote(nexo-be): staging") || strings.Contains(l, "bootstrap") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 4 {
		t.Fatalf("rows:\n%s", text)
	}
	if !strings.Contains(rows[0], "2026.02.10") || !strings.Contains(rows[0], "← current") ||
		!strings.Contains(rows[1], "2026.02.03") || !strings.Contains(rows[1], "← last stable") ||
		!strings.Contains(rows[3], "2026.01.20") {
		t.Errorf("rows:\n%s", strings.Join(rows, "\n"))
	}
	if strings.Contains(text, "nexo-fe") {
		t.Errorf("another service's commits:\n%s", text)
	}
}

func TestDiffCommand(t *testing.T) {
	t.Run("in sync", func(t *testing.T) {
		r := commandstest.NewRig(t, commandstest.Options{})
		r.AddStagingApp(gitopstest.PlaybookTag("nexo-be", "staging"), "Healthy")
		text := r.Command(commandstest.Carol, "diff nexo-be staging").Message.PlainText()
		if !strings.Contains(text, "In sync: git wants `2026.02.10` and Argo CD runs `2026.02.10`") {
			t.Errorf("diff:\n%s", text)
		}
	})
	t.Run("git ahead of the cluster, OutOfSync resources", func(t *testing.T) {
		r := commandstest.NewRig(t, commandstest.Options{StageTag: "2026.02.17"})
		r.Argo.AddApp("nexo-be-staging", dgOutOfSyncApp(r, "2026.02.10")) // no deployed revision: OutOfSync
		rep := r.Command(commandstest.Carol, "diff nexo-be staging")
		text := rep.Message.PlainText()
		for _, s := range []string{"Git wants `2026.02.17`, Argo CD runs `2026.02.10`", "OutOfSync resources", "OutOfSync  apps/Deployment/nexo-be", "`helm/nexo-be/values-staging.yaml`", "images: `ghcr.io/nexo-org/nexo-be:2026.02.10`"} {
			if !strings.Contains(text, s) {
				t.Errorf("lacks %q:\n%s", s, text)
			}
		}
		if strings.Contains(text, "Service/nexo-be") {
			t.Errorf("a Synced resource is listed:\n%s", text)
		}
	})
	t.Run("report is computed from Argo CD's resources", func(t *testing.T) {
		app := &argocd.Application{}
		app.Status.Sync.Status = "OutOfSync"
		app.Status.Summary.Images = []string{"ghcr.io/nexo-org/nexo-be:2026.02.17", "docker.io/library/redis:7"}
		rep := &views.DiffReport{Service: "nexo-be", Env: "qa", GitTag: "2026.02.17", App: app, RunningTag: argocd.RunningTag(app, "nexo-org/nexo-be"),
			OutOfSync: []argocd.ResourceStatus{{Kind: "ConfigMap", Name: "nexo-be-config", Status: "OutOfSync"}}}
		if rep.RunningTag != "2026.02.17" || rep.InSync() {
			t.Fatalf("running %q, in sync %v", rep.RunningTag, rep.InSync())
		}
		text := views.DiffCard(commands.English(), rep).PlainText()
		if !strings.Contains(text, "Same tag `2026.02.17`, but Argo CD says OutOfSync with 1 OutOfSync resource.") || !strings.Contains(text, "ConfigMap/nexo-be-config") {
			t.Errorf("diff:\n%s", text)
		}
	})
}

func dgLogLines(n int, format string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, format+"\n", i)
	}
	return b.String()
}

func TestLogsCommand(t *testing.T) {
	ps := commandstest.Pods(t, "healthy") // two pods
	newLogRig := func(t *testing.T) *commandstest.Rig {
		r := commandstest.NewRig(t, commandstest.Options{Pods: ps, NoArgo: true})
		r.Cluster.SetLog(ps[0].Name, dgLogLines(30, `time=2026-02-18T10:29:%02d level=info msg="GET /api/v1/orders 200"`)+
			`time=2026-02-18T10:29:59 level=error msg="upstream timeout" path=/api/v1/pay`+"\n")
		r.Cluster.SetLog(ps[1].Name, dgLogLines(20, `time=2026-02-18T10:28:%02d level=info msg="GET /health 200 (a.*b)"`))
		return r
	}
	t.Run("short output inline with pod prefixes", func(t *testing.T) {
		r := newLogRig(t)
		rep := r.Command(commandstest.Carol, "logs nexo-be staging")
		var code string
		for _, b := range rep.Message.Blocks {
			code += b.Code
		}
		if n := len(strings.Split(code, "\n")); n != 51 {
			t.Fatalf("%d lines inline, want 51:\n%s", n, code)
		}
		if !strings.Contains(code, "[x7k2p] time=2026-02-18T10:29:59 level=error") || !strings.Contains(code, "[q9m4t] ") {
			t.Errorf("pod prefixes missing:\n%s", code)
		}
		if len(r.Chat.Uploads()) != 0 {
			t.Error("short output was uploaded")
		}
		asks := r.Cluster.Asked()
		if len(asks) != 2 || asks[0].Since != 10*time.Minute || asks[0].Previous || asks[0].Tail != views.LogLinesPerPod || asks[0].Container != "nexo-be" || asks[0].Namespace != "nexo-staging" {
			t.Errorf("asks %+v", asks)
		}
	})
	t.Run("grep is a plain substring", func(t *testing.T) {
		r := newLogRig(t)
		text := r.Command(commandstest.Carol, `logs nexo-be staging --grep "upstream TIMEOUT"`).Message.PlainText()
		if !strings.Contains(text, "1 line from 2 pods") || !strings.Contains(text, "upstream timeout") || strings.Contains(text, "/health") {
			t.Errorf("grep:\n%s", text)
		}
		// a regex is matched literally
		text = r.Command(commandstest.Carol, `logs nexo-be staging --grep a.*b`).Message.PlainText()
		if !strings.Contains(text, "20 lines from 2 pods") {
			t.Errorf("regex grep:\n%s", text)
		}
	})
	t.Run("long output is uploaded, a preview inline", func(t *testing.T) {
		r := newLogRig(t)
		r.Cluster.SetLog(ps[0].Name, dgLogLines(400, `line %d of a chatty pod`)) // x7k2p: read last (pods go by name)
		rep := r.Command(commandstest.Carol, "logs nexo-be staging --since 2h --previous")
		if len(r.Chat.Uploads()) != 1 {
			t.Fatalf("uploads %d", len(r.Chat.Uploads()))
		}
		up := r.Chat.Uploads()[0]
		if up.Channel != "C0DEPLOYS" || up.Name != "nexo-be-staging-logs.txt" || strings.Count(string(up.Content), "\n") != 420 {
			t.Errorf("upload %s %s with %d lines", up.Channel, up.Name, strings.Count(string(up.Content), "\n"))
		}
		var code string
		for _, b := range rep.Message.Blocks {
			code += b.Code
		}
		if n := len(strings.Split(code, "\n")); n != views.LogPreviewLines || !strings.HasSuffix(code, "line 400 of a chatty pod") {
			t.Errorf("preview of %d lines:\n%s", n, code)
		}
		if !strings.Contains(rep.Message.PlainText(), "uploaded as `nexo-be-staging-logs.txt`") {
			t.Errorf("message:\n%s", rep.Message.PlainText())
		}
		asks := r.Cluster.Asked()
		if asks[0].Since != 2*time.Hour || !asks[0].Previous {
			t.Errorf("asks %+v", asks)
		}
	})
	t.Run("since is capped and checked", func(t *testing.T) {
		r := newLogRig(t)
		text := r.Command(commandstest.Carol, "logs nexo-be staging --since 7d").Message.PlainText()
		if !strings.Contains(text, "capped at 24 h") || r.Cluster.Asked()[0].Since != 24*time.Hour {
			t.Errorf("cap: %s / %+v", text, r.Cluster.Asked())
		}
		for cmd, want := range map[string]string{
			"logs nexo-be staging --since yesterday":                  "not a duration",
			"logs nexo-be staging --since -5m":                        "must be positive",
			"logs nexo-be staging --grep":                             "needs a value",
			"logs nexo-be staging --tail 5000":                        "not an option",
			"logs nexo-be staging --grep " + strings.Repeat("x", 201): "limited to 200",
		} {
			if rep := r.Command(commandstest.Carol, cmd); rep == nil || !rep.Ephemeral || !strings.Contains(rep.Message.Text, want) {
				t.Errorf("%q: %+v, want %q", dgClip(cmd, 60), rep, want)
			}
		}
	})
	t.Run("a pod that fails is named, the others still show", func(t *testing.T) {
		r := newLogRig(t)
		r.Cluster.SetLog(ps[1].Name, "")
		text := r.Command(commandstest.Carol, "logs nexo-be staging").Message.PlainText()
		if !strings.Contains(text, "could not read "+ps[1].Name) || !strings.Contains(text, "31 lines from 2 pods") {
			t.Errorf("partial failure:\n%s", text)
		}
	})
}

func dgClip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// argocdfakeSpec is nexo-be-staging never synced (OutOfSync) running tag.
func dgOutOfSyncApp(r *commandstest.Rig, tag string) argocdfake.AppSpec {
	return argocdfake.AppSpec{Namespace: "nexo-staging", RepoURL: r.Remote.URL, Path: "helm/nexo-be", Workload: "nexo-be",
		Images: []string{"ghcr.io/nexo-org/nexo-be:" + tag}}
}

// The views speak the channel's locale: a pt-BR channel reads every card,
// refusal and help text in Portuguese, with times where the reader is.
func TestViewsSpeakTheChannelsLocale(t *testing.T) {
	r := commandstest.NewRig(t, commandstest.Options{Pods: commandstest.Pods(t, "imagepull")})
	r.AddStagingApp("2026.02.10", "Healthy")
	r.Cfg.Slack.ChannelLocales = map[string]string{"C0DEPLOYS": "pt-BR"}
	if err := r.Store.AppendAudit(r.Ctx, store.AuditEntry{Time: commandstest.Now, Actor: commandstest.Carol, Action: "promote.request", Service: "nexo-be", Env: "staging", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	for cmd, want := range map[string][]string{
		"status nexo-be staging":                                  {"*nexo-be* em todos os ambientes", "*staging*  `2026.02.10`", " · deploy ", "apps do Argo CD `nexo-be-<env>`"},
		"pods nexo-be staging":                                    {"*Pods de nexo-be em staging* — 2/3 prontos", "seletor `app=nexo-be`", "ImagePullBackOff"},
		"history nexo-be staging":                                 {"Histórico de nexo-be em staging", "REVISÃO", "← atual", "horários em UTC", "rollback com `/nexo rollback nexo-be staging`"},
		"diff nexo-be staging":                                    {"*nexo-be em staging* — :large_green_circle: Em sync: o git quer `2026.02.10` e o Argo CD roda `2026.02.10`."},
		"audit nexo-be":                                           {"Log de auditoria de nexo-be", "<!date^" + fmt.Sprint(commandstest.Now.Unix()) + "^", "Mais novo primeiro · 1 entrada mostrada (limite 20)"},
		"logs nexo-be staging --since ontem":                      {"`--since ontem` não é uma duração"},
		"logs nexo-be staging --grep " + strings.Repeat("x", 201): {"`--grep` é limitado a 200 caracteres."},
		"audit nexo-be --limit 0":                                 {"`--limit` recebe um número positivo"},
		"help logs":                                               {"até 10 pods", "500 linhas de cada", "vai até 24 h", "Até 100 linhas"},
		"help audit":                                              {"é 20 por padrão e no máximo 40"},
	} {
		rep := r.Command(commandstest.Carol, cmd)
		if rep == nil {
			t.Fatalf("%q: no reply", dgClip(cmd, 40))
		}
		text := rep.Message.PlainText() + rep.Message.Text
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%q lacks %q:\n%s", dgClip(cmd, 40), w, text)
			}
		}
		if strings.Contains(text, "⟦") {
			t.Errorf("%q renders a message the catalog lacks:\n%s", dgClip(cmd, 40), text)
		}
	}
}

// The logs message counts lines and pods with the locale's plural rules.
func TestLogsMessagePlurals(t *testing.T) {
	res := &views.LogsResult{Namespace: "nexo-staging", Selector: "app=nexo-be", Pods: []string{"nexo-be-1"}, Lines: []string{"one line"}, Skipped: 1}
	q := views.LogsQuery{Since: 2 * time.Hour, Previous: true, Grep: "timeout"}
	for _, tc := range []struct {
		t    i18n.T
		want []string
	}{
		{commands.English(), []string{"*Logs of nexo-be in staging* (last 2 h, previous containers, lines containing “timeout”) — 1 line from 1 pod", "1 more pod not read (max 10)"}},
		{i18n.Default().In(i18n.Portuguese), []string{"*Logs de nexo-be em staging* (últimos 2 h, containers anteriores, linhas contendo “timeout”) — 1 linha de 1 pod", "mais 1 pod não lido (máx. 10)"}},
	} {
		m, file := views.LogsMessage(tc.t, "nexo-be", "staging", q, res)
		if file != nil {
			t.Fatal("one line was uploaded")
		}
		for _, w := range tc.want {
			if !strings.Contains(m.PlainText(), w) {
				t.Errorf("%s lacks %q:\n%s", tc.t.Locale, w, m.PlainText())
			}
		}
	}
}
