package diagnose_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/chat/chattest"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/commandstest"
	"github.com/nexo-org/nexo-bot/commands/diagnose"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/kube/clientset"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// ---- Judge: table tests over fixtures ----

func dgApp(health, sync string, conds ...argocd.Condition) *argocd.Application {
	a := &argocd.Application{}
	a.Metadata.Name = "nexo-be-staging"
	a.Status.Health.Status, a.Status.Sync.Status = health, sync
	a.Status.Conditions = conds
	a.Status.Summary.Images = []string{"ghcr.io/nexo-org/nexo-be:2026.02.17"}
	a.Status.History = []argocd.RevisionHistory{{ID: 11, Revision: "0a1b2c3d4e5f", DeployedAt: commandstest.Now.Add(-26 * time.Hour)}, {ID: 12, Revision: "9f8e7d6c5b4a", DeployedAt: commandstest.Now.Add(-3 * time.Hour)}}
	return a
}

func dgFacts(t testing.TB, fixture string) *diagnose.Facts {
	f := &diagnose.Facts{
		Service: "nexo-be", Env: "staging", Namespace: "nexo-staging", Selector: "app=nexo-be", Deployment: "nexo-be",
		AppName: "nexo-be-staging", ImageRepo: "nexo-org/nexo-be", Now: commandstest.Now, GitTag: "2026.02.17", PrevEnv: "qa", PrevEnvTag: "2026.02.17",
	}
	if fixture != "" {
		f.Pods = commandstest.Pods(t, fixture)
		f.Events = diagnose.WorkloadEvents(commandstest.Events(t, fixture), "nexo-be", f.Pods)
	}
	return f
}

func TestJudgeNamesEveryCause(t *testing.T) {
	cases := []struct {
		name    string
		facts   func() *diagnose.Facts
		cause   string
		line    []string // substrings of the verdict line
		details []string // substrings of the details
		notIn   []string
		fixable bool
		suggest []string
	}{
		{
			name: "playbook: tag does not exist, the nearest tags offered newest first (the card lists what the buttons offer)",
			facts: func() *diagnose.Facts {
				f := dgFacts(t, "imagepull")
				f.App = dgApp("Degraded", "Synced", argocd.Condition{Type: "ComparisonError", Message: "Failed to load target state"})
				f.GitTag = "2026.02.99"
				f.TagChecked, f.TagExists, f.RegistryTags = true, false, commandstest.Tags
				return f
			},
			cause:   diagnose.CauseImagePull,
			line:    []string{"ImagePullBackOff", "`2026.02.99` does not exist", "nexo-org/nexo-be", "nexo-be-5d8f9c7b6d-abc12"},
			details: []string{"Nearest existing tags: `2026.02.17`", "Back-off pulling image"},
			fixable: true,
			suggest: []string{"2026.02.17", "2026.02.10", "2026.02.03"},
		},
		{
			name: "tag missing but git already wants another: no fix PR",
			facts: func() *diagnose.Facts {
				f := dgFacts(t, "imagepull")
				f.GitTag = "2026.02.17"
				f.TagChecked, f.RegistryTags = true, commandstest.Tags
				return f
			},
			cause:   diagnose.CauseImagePull,
			line:    []string{"does not exist"},
			details: []string{"Git already wants `2026.02.17`"},
		},
		{
			name: "tag exists: the pull itself fails",
			facts: func() *diagnose.Facts {
				f := dgFacts(t, "imagepull")
				f.TagChecked, f.TagExists = true, true
				return f
			},
			cause:   diagnose.CauseImagePull,
			line:    []string{"exists in the registry", "pull secret"},
			details: []string{"Kubelet: Failed to pull image", "not found"},
			notIn:   []string{"Fix tag"},
		},
		{
			name: "registry unreachable",
			facts: func() *diagnose.Facts {
				f := dgFacts(t, "imagepull")
				f.TagErr = errors.New("registry: HTTP 503 Service Unavailable")
				return f
			},
			cause: diagnose.CauseImagePull,
			line:  []string{"registry could not be asked", "503"},
		},
		{
			name: "CrashLoopBackOff shows the previous log with error lines marked",
			facts: func() *diagnose.Facts {
				f := dgFacts(t, "crashloop")
				f.PreviousLog = commandstest.CrashLog(t)
				return f
			},
			cause:   diagnose.CauseCrashLoop,
			line:    []string{"CrashLoopBackOff", "container `nexo-be` of pod `nexo-be-6f7a8b9c0d-k3j5h`", "exit code 1", "6 restarts", "last error", "panic: database"},
			details: []string{"Last 50 lines"},
		},
		{
			name: "OOMKilled with Prometheus' peak",
			facts: func() *diagnose.Facts {
				f := dgFacts(t, "oomkilled")
				f.MemoryPeak, f.MemoryPeakOK = 531628032, true // 507Mi
				return f
			},
			cause:   diagnose.CauseOOMKilled,
			line:    []string{"OOMKilled", "limit of 512Mi", "exit code 137", "5 restarts"},
			details: []string{"Limit 512Mi · request 256Mi", "peak working set over the last hour 507Mi (99% of the limit)"},
		},
		{
			name:    "OOMKilled without Prometheus",
			facts:   func() *diagnose.Facts { return dgFacts(t, "oomkilled") },
			cause:   diagnose.CauseOOMKilled,
			details: []string{"reached the limit when it was killed"},
		},
		{
			name:    "Pending: the scheduling events",
			facts:   func() *diagnose.Facts { return dgFacts(t, "pending") },
			cause:   diagnose.CausePending,
			line:    []string{"cannot be scheduled", "2 Insufficient memory"},
			details: []string{"FailedScheduling (5 min ago): 0/3 nodes are available"},
		},
		{
			name:    "CreateContainerConfigError names the Secret",
			facts:   func() *diagnose.Facts { return dgFacts(t, "configerror") },
			cause:   diagnose.CauseConfigError,
			line:    []string{"Secret nexo-be-db is missing in `nexo-staging`"},
			details: []string{`secret "nexo-be-db" not found`},
		},
		{
			name: "ComparisonError when the pods are fine",
			facts: func() *diagnose.Facts {
				f := dgFacts(t, "healthy")
				f.App = dgApp("Degraded", "Unknown", argocd.Condition{Type: "ComparisonError", Message: "Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown desc = `helm template` failed: values-staging.yaml: yaml: line 12: did not find expected key"})
				return f
			},
			cause: diagnose.CauseComparisonError,
			line:  []string{"ComparisonError", "Failed to load target state", "did not find expected key"},
		},
		{
			name: "failed sync operation",
			facts: func() *diagnose.Facts {
				f := dgFacts(t, "healthy")
				f.App = dgApp("Healthy", "OutOfSync")
				f.App.Status.OperationState = &argocd.OperationState{Phase: "Failed", Message: "one or more objects failed to apply",
					SyncResult: &argocd.SyncResult{Resources: []argocd.ResourceResult{{Kind: "Deployment", Name: "nexo-be", Status: "SyncFailed", Message: `Deployment.apps "nexo-be" is invalid: spec.template.spec.containers[0].image: Required value`}}}}
				return f
			},
			cause:   diagnose.CauseSyncFailed,
			line:    []string{"ended in Failed", "failed to apply"},
			details: []string{"Deployment `nexo-be`: SyncFailed", "Required value"},
		},
		{
			name: "rollout past its deadline without a pod cause",
			facts: func() *diagnose.Facts {
				f := dgFacts(t, "healthy")
				f.App = dgApp("Progressing", "Synced")
				f.Rollout = &kube.RolloutStatus{Failed: true, Message: `deployment "nexo-be" exceeded its progress deadline`}
				return f
			},
			cause: diagnose.CauseRolloutStuck,
			line:  []string{"exceeded its progress deadline"},
		},
		{
			name: "healthy app shows the last deploy",
			facts: func() *diagnose.Facts {
				f := dgFacts(t, "healthy")
				f.App = dgApp("Healthy", "Synced")
				f.Rollout = &kube.RolloutStatus{Done: true, Message: `deployment "nexo-be" successfully rolled out`}
				return f
			},
			cause: diagnose.CauseHealthy,
			line:  []string{"Synced and Healthy on `2026.02.17`", "last deploy 3 h ago", "9f8e7d6"},
		},
		{
			name: "progressing",
			facts: func() *diagnose.Facts {
				f := dgFacts(t, "healthy")
				f.App = dgApp("Progressing", "Synced")
				f.Rollout = &kube.RolloutStatus{Message: `Waiting for deployment "nexo-be" rollout to finish: 1 of 2 updated replicas are available...`}
				return f
			},
			cause: diagnose.CauseProgressing,
			line:  []string{"still rolling out", "1 of 2 updated replicas"},
		},
		{
			name: "no pods",
			facts: func() *diagnose.Facts {
				f := dgFacts(t, "")
				f.App = dgApp("Missing", "OutOfSync")
				return f
			},
			cause: diagnose.CauseNoPods,
			line:  []string{"No pods match `app=nexo-be` in `nexo-staging`"},
		},
		{
			name: "degraded without a known cause",
			facts: func() *diagnose.Facts {
				f := dgFacts(t, "healthy")
				f.App = dgApp("Degraded", "Synced")
				f.App.Status.Health.Message = "Readiness probe failed"
				return f
			},
			cause: diagnose.CauseUnknown,
			line:  []string{"No known cause", "Degraded", "Readiness probe failed"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.facts()
			v := diagnose.Judge(f)
			line, details := dgText(v)
			if v.Cause != tc.cause {
				t.Fatalf("cause %q, want %q; line: %s", v.Cause, tc.cause, line)
			}
			for _, s := range tc.line {
				if !strings.Contains(line, s) {
					t.Errorf("verdict line lacks %q:\n%s", s, line)
				}
			}
			for _, s := range tc.details {
				if !strings.Contains(details, s) {
					t.Errorf("details lack %q:\n%s", s, details)
				}
			}
			card := diagnose.Card(commands.English(), f, v)
			text := card.PlainText()
			for _, s := range tc.notIn {
				if strings.Contains(text, s) {
					t.Errorf("card should not contain %q:\n%s", s, text)
				}
			}
			if v.Fixable != tc.fixable {
				t.Errorf("fixable %v, want %v", v.Fixable, tc.fixable)
			}
			btns := chattest.Buttons(card)
			if tc.fixable != (len(btns) > 0) {
				t.Errorf("buttons %+v with fixable %v", btns, tc.fixable)
			}
			if len(tc.suggest) > 0 {
				if strings.Join(v.Suggestions[:len(tc.suggest)], ",") != strings.Join(tc.suggest, ",") {
					t.Errorf("suggestions %v, want prefix %v", v.Suggestions, tc.suggest)
				}
				if btns[0].Text != "Fix tag → "+tc.suggest[0] || btns[0].Action != "change.fix" || btns[0].Value != "nexo-be|staging|"+tc.suggest[0] {
					t.Errorf("first button %+v", btns[0])
				}
				for i, b := range btns[1:] {
					if b.Action != fmt.Sprintf("change.fix.%d", i+2) || b.Value != "nexo-be|staging|"+v.Suggestions[i+1] {
						t.Errorf("button %d: %+v", i+2, b)
					}
				}
			}
			// The verdict comes first.
			if !strings.Contains(commandstest.FirstLine(card), line) {
				t.Errorf("first block is not the verdict: %q", commandstest.FirstLine(card))
			}
		})
	}
}

// dgText is a verdict's line and details in English.
func dgText(v diagnose.Verdict) (line, details string) {
	en := commands.English()
	var ds []string
	for _, d := range v.Details {
		ds = append(ds, en.Msg(d))
	}
	return en.Msg(v.Line), strings.Join(ds, "\n")
}

func TestCrashLogMarksErrorLines(t *testing.T) {
	marked, last := diagnose.MarkErrorLines(commandstest.CrashLog(t), 50)
	lines := strings.Split(marked, "\n")
	if len(lines) != 50 {
		t.Fatalf("%d lines, want the last 50", len(lines))
	}
	var markedLines []string
	for _, l := range lines {
		if strings.HasPrefix(l, "▶ ") {
			markedLines = append(markedLines, l)
		} else if !strings.HasPrefix(l, "  ") {
			t.Errorf("unprefixed line %q", l)
		}
	}
	if len(markedLines) != 2 || !strings.Contains(markedLines[0], "level=error") || !strings.Contains(markedLines[1], "panic:") {
		t.Errorf("marked lines %q", markedLines)
	}
	if !strings.HasPrefix(last, "panic: database") {
		t.Errorf("last error %q", last)
	}
	if strings.Contains(marked, "level=warn msg=\"database not ready") && strings.Contains(marked, "▶ time=2026-02-18T10:27:43.517Z level=warn") {
		t.Error("a warning was marked as an error")
	}
}

func TestMissingReference(t *testing.T) {
	for msg, want := range map[string]string{
		`secret "nexo-be-db" not found`:                                   "Secret nexo-be-db",
		`configmap "nexo-be-config" not found`:                            "ConfigMap nexo-be-config",
		`couldn't find key DB_PASSWORD in Secret nexo-staging/nexo-be-db`: "key DB_PASSWORD in Secret nexo-be-db",
		`container has runAsNonRoot and image will run as root`:           "",
	} {
		if got := commands.English().Msg(diagnose.MissingReference(msg)); got != want {
			t.Errorf("%q → %q, want %q", msg, got, want)
		}
	}
}

func TestWorkloadEventsKeepsOnlyThisService(t *testing.T) {
	all := commandstest.Events(t, "imagepull")
	kept := diagnose.WorkloadEvents(all, "nexo-be", commandstest.Pods(t, "imagepull"))
	if len(kept) != len(all)-1 {
		t.Fatalf("kept %d of %d", len(kept), len(all))
	}
	for i, e := range kept {
		if strings.HasPrefix(e.InvolvedObject.Name, "nexo-fe") {
			t.Errorf("kept %s", e.InvolvedObject.Name)
		}
		if i > 0 {
			prev := kept[i-1]
			if prev.Type != corev1.EventTypeWarning && e.Type == corev1.EventTypeWarning {
				t.Errorf("warning %s after %s event %s", e.Reason, prev.Type, prev.Reason)
			}
			if prev.Type == e.Type && kube.EventTime(prev).Before(kube.EventTime(e)) {
				t.Errorf("%s (%s) before newer %s (%s)", prev.Reason, kube.EventTime(prev), e.Reason, kube.EventTime(e))
			}
		}
	}
	if kept[0].Reason != "Failed" || kept[0].Message != "Error: ImagePullBackOff" {
		t.Errorf("first event %s %q", kept[0].Reason, kept[0].Message)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{512: "512", 536870912: "512Mi", 1 << 30: "1Gi", 3 << 29: "1.5Gi", 8 << 30: "8Gi"} {
		if got := diagnose.HumanBytes(n); got != want {
			t.Errorf("%d → %s, want %s", n, got, want)
		}
	}
}

// ---- GatherDiagnosis through client-go's fake, the registry and Argo CD fakes ----

func TestGatherDiagnosisAsksTheRightFollowUps(t *testing.T) {
	t.Run("image pull asks the registry and lists tags", func(t *testing.T) {
		r := commandstest.NewRig(t, commandstest.Options{Pods: commandstest.Pods(t, "imagepull"), Events: commandstest.Events(t, "imagepull"),
			Objects: []runtime.Object{commandstest.Deployment("nexo-staging", 2, 1, 2, false)}, StageTag: "2026.02.99"})
		r.AddStagingApp("2026.02.99", "Degraded")
		f := diagnose.Gather(r.Ctx, r.Deps, "nexo-be", "staging")
		if f.PodsErr != nil || f.EventsErr != nil || f.AppErr != nil || f.RolloutErr != nil || f.GitErr != nil {
			t.Fatalf("gather errors: pods %v events %v app %v rollout %v git %v", f.PodsErr, f.EventsErr, f.AppErr, f.RolloutErr, f.GitErr)
		}
		if len(f.Pods) != 3 || f.GitTag != "2026.02.99" || f.PrevEnvTag != "2026.02.17" {
			t.Fatalf("pods %d, git %q, qa %q", len(f.Pods), f.GitTag, f.PrevEnvTag)
		}
		if !f.TagChecked || f.TagExists || len(f.RegistryTags) != len(commandstest.Tags) {
			t.Fatalf("registry: checked %v exists %v tags %v", f.TagChecked, f.TagExists, f.RegistryTags)
		}
		if r.Registry.CallCount(http.MethodHead, "/v2/nexo-org/nexo-be/manifests/2026.02.99") == 0 {
			t.Errorf("the registry was not asked about the tag: %+v", r.Registry.Calls())
		}
		if f.Rollout == nil || !strings.Contains(f.Rollout.Message, "1 out of 2 new replicas") {
			t.Errorf("rollout %+v", f.Rollout)
		}
		for _, e := range f.Events {
			if strings.HasPrefix(e.InvolvedObject.Name, "nexo-fe") {
				t.Errorf("another service's event kept: %s", e.Name)
			}
		}
		if f.Events[0].Type != corev1.EventTypeWarning {
			t.Errorf("first event is %s, want a Warning", f.Events[0].Type)
		}
		if len(r.Cluster.Asked()) != 0 {
			t.Errorf("logs were read for an image pull: %+v", r.Cluster.Asked())
		}
	})
	t.Run("crash loop reads the previous container's last 50 lines", func(t *testing.T) {
		r := commandstest.NewRig(t, commandstest.Options{Pods: commandstest.Pods(t, "crashloop"), Events: commandstest.Events(t, "crashloop"), NoArgo: true})
		r.Cluster.SetLog("nexo-be-6f7a8b9c0d-k3j5h", commandstest.CrashLog(t))
		f := diagnose.Gather(r.Ctx, r.Deps, "nexo-be", "staging")
		asks := r.Cluster.Asked()
		if len(asks) != 1 || asks[0] != (commandstest.LogAsk{Namespace: "nexo-staging", Pod: "nexo-be-6f7a8b9c0d-k3j5h", Container: "nexo-be", Previous: true, Tail: 50}) {
			t.Fatalf("log asks %+v", asks)
		}
		v := diagnose.Judge(f)
		if v.Cause != diagnose.CauseCrashLoop || !strings.Contains(v.Log, "▶ panic: database") {
			t.Fatalf("verdict %+v", v)
		}
		if len(r.Registry.Calls()) != 0 {
			t.Errorf("the registry was asked for a crash loop")
		}
	})
	t.Run("OOM asks Prometheus for the peak working set", func(t *testing.T) {
		srv, queries := commandstest.PromServer(t, "531628032")
		r := commandstest.NewRig(t, commandstest.Options{Pods: commandstest.Pods(t, "oomkilled"), Events: commandstest.Events(t, "oomkilled"), PromURL: srv.URL, NoArgo: true})
		f := diagnose.Gather(r.Ctx, r.Deps, "nexo-be", "staging")
		if len(*queries) != 1 || (*queries)[0] != `max(max_over_time(container_memory_working_set_bytes{namespace="nexo-staging",pod="nexo-be-8a9b0c1d2e-p4r6s",container="nexo-be"}[1h]))` {
			t.Fatalf("queries %q", *queries)
		}
		v := diagnose.Judge(f)
		if _, details := dgText(v); v.Cause != diagnose.CauseOOMKilled || !strings.Contains(details, "507Mi (99% of the limit)") {
			t.Fatalf("verdict %+v", v)
		}
	})
	t.Run("Argo CD down still diagnoses from the cluster", func(t *testing.T) {
		r := commandstest.NewRig(t, commandstest.Options{Pods: commandstest.Pods(t, "configerror"), Events: commandstest.Events(t, "configerror")})
		// no app seeded: argocd-server answers 403 for an unknown app
		f := diagnose.Gather(r.Ctx, r.Deps, "nexo-be", "staging")
		if f.AppErr == nil {
			t.Fatal("expected an Argo CD error")
		}
		v := diagnose.Judge(f)
		if line, _ := dgText(v); v.Cause != diagnose.CauseConfigError || !strings.Contains(line, "Secret nexo-be-db") {
			t.Fatalf("verdict %+v", v)
		}
		card := diagnose.Card(commands.English(), f, v).PlainText()
		if !strings.Contains(card, "*Argo CD*\n_Argo CD: no such application or no permission_") {
			t.Errorf("card does not say Argo CD failed:\n%s", card)
		}
	})
}

// ---- the playbook's case, command to merged PR ----

func TestPlaybookScenario4FixTagThroughApprovalToHealthy(t *testing.T) {
	r := commandstest.NewRig(t, commandstest.Options{Pods: commandstest.Pods(t, "imagepull"), Events: commandstest.Events(t, "imagepull"),
		Objects: []runtime.Object{commandstest.Deployment("nexo-staging", 2, 1, 2, false)}, StageTag: "2026.02.99"})
	r.AddStagingApp("2026.02.99", "Degraded")

	// 1. /nexo diagnose names the missing tag and offers the fix.
	reply := r.Command(commandstest.Carol, "diagnose nexo-be staging")
	if reply == nil || reply.Ephemeral {
		t.Fatalf("reply %+v", reply)
	}
	verdict := commandstest.FirstLine(reply.Message)
	for _, s := range []string{"ImagePullBackOff", "`2026.02.99` does not exist", "nexo-be-5d8f9c7b6d-abc12"} {
		if !strings.Contains(verdict, s) {
			t.Errorf("verdict lacks %q: %s", s, verdict)
		}
	}
	text := reply.Message.PlainText()
	for _, s := range []string{"ImagePullBackOff   0", "Failed to pull image", "Degraded"} {
		if !strings.Contains(text, s) {
			t.Errorf("evidence lacks %q:\n%s", s, text)
		}
	}
	btns := chattest.Buttons(reply.Message)
	if len(btns) == 0 || btns[0].Text != "Fix tag → 2026.02.17" {
		t.Fatalf("buttons %+v", btns)
	}

	// 2. A tampered button is re-checked: a tag that does not exist is refused.
	if rep := r.Click(commandstest.Carol, "change.fix", "nexo-be|staging|2026.02.18"); rep == nil || !strings.Contains(rep.Message.Text, "does not exist in the registry either") {
		t.Fatalf("tampered click: %+v", rep)
	}
	if len(r.Workflows(t)) != 0 {
		t.Fatal("a refused click started a workflow")
	}

	// 3. The click starts the fix change; Carol is the requester.
	if rep := r.Click(commandstest.Carol, "change.fix", btns[0].Value); rep == nil || !rep.Consumed || rep.Message.Text != "" {
		t.Fatalf("click: %+v (the button is taken off its card, nothing else is said)", rep)
	}
	var wf *store.Workflow
	r.WaitFor("the fix PR to wait for approval", func() bool {
		wfs := r.Workflows(t)
		if len(wfs) == 1 && wfs[0].State == change.Approval {
			wf = wfs[0]
			return true
		}
		return false
	})
	c, err := workflow.Decode[change.Change](wf)
	if err != nil {
		t.Fatal(err)
	}
	if c.Flavor != records.KindFix || c.Requester != commandstest.Carol || c.Branch != "fix/nexo-be-staging-image-tag" ||
		c.Subject != "fix(nexo-be): corrige image tag em staging" || c.Previous != "2026.02.99" || c.Tag != "2026.02.17" ||
		c.Need.Approvals != 1 || c.Need.Group != "platform-team" {
		t.Fatalf("change %+v", c)
	}
	for _, s := range []string{"Erro: Tag 2026.02.99 não existe", "Correção: Usa tag correta 2026.02.17"} {
		if !strings.Contains(c.Body, s) {
			t.Errorf("body lacks %q:\n%s", s, c.Body)
		}
	}
	// A second click while it is open is refused with a link.
	if rep := r.Click(commandstest.Carol, "change.fix", btns[0].Value); rep == nil || !strings.Contains(rep.Message.Text, "already open") {
		t.Fatalf("second click: %+v", rep)
	}

	// 4. The requester cannot approve their own fix; platform-team can.
	if rep := r.Click(commandstest.Carol, "change.approve", wf.ID); rep == nil || !rep.Ephemeral {
		t.Fatalf("self-approval was not refused: %+v", rep)
	}
	if rep := r.Click(commandstest.Platf, "change.approve", wf.ID); rep != nil {
		t.Fatalf("approval: %s", rep.Message.Text)
	}

	// 5. Merge, sync, rollout: the workflow ends and the app is Healthy on 2026.02.17.
	r.WaitFor("the fix to finish", func() bool {
		w, err := r.Store.GetWorkflow(r.Ctx, wf.ID)
		return err == nil && w.Done
	})
	w, _ := r.Store.GetWorkflow(r.Ctx, wf.ID)
	if w.State != change.Done {
		t.Fatalf("fix ended in %s:\n%s", w.State, r.Chat.All())
	}
	values := r.Remote.File(t, "main", gitopstest.PlaybookValuesPath("nexo-be", "staging"))
	if !strings.Contains(values, `tag: "2026.02.17"`) {
		t.Fatalf("values after merge:\n%s", values)
	}
	subjects := r.Remote.Subjects(t, "main", gitopstest.PlaybookValuesPath("nexo-be", "staging"))
	if !strings.HasPrefix(subjects[0], "fix(nexo-be): corrige image tag em staging") {
		t.Errorf("last commit %q", subjects[0])
	}
	app, _ := r.Argo.App("nexo-be-staging")
	if app.Status.Health.Status != "Healthy" || app.Status.Sync.Status != "Synced" || app.Status.Summary.Images[0] != "ghcr.io/nexo-org/nexo-be:2026.02.17" {
		t.Fatalf("app after the fix: %+v", app.Status)
	}
	if !strings.Contains(r.Chat.All(), "nexo-be `2026.02.17` is live in staging") {
		t.Errorf("no live message:\n%s", r.Chat.All())
	}

	// 6. Kubernetes rolls the new pods; diagnose now says Healthy with the last deploy.
	healthy := commandstest.Pods(t, "healthy")
	for i := range healthy {
		healthy[i].Spec.Containers[0].Image = "ghcr.io/nexo-org/nexo-be:2026.02.17"
	}
	cs := fake.NewClientset(commandstest.Deployment("nexo-staging", 2, 2, 2, false), &healthy[0], &healthy[1])
	r.Deps.Kube = kube.NewFromClients(clientset.Adapt(cs), nil, kube.Options{})
	reply = r.Command(commandstest.Carol, "diagnose nexo-be staging")
	if v := commandstest.FirstLine(reply.Message); !strings.Contains(v, "Synced and Healthy on `2026.02.17`") || !strings.Contains(v, "last deploy") {
		t.Fatalf("after the fix: %s", v)
	}
	if len(chattest.Buttons(reply.Message)) != 0 {
		t.Error("a healthy app offers a fix")
	}
}

func TestFixRefusals(t *testing.T) {
	r := commandstest.NewRig(t, commandstest.Options{StageTag: "2026.02.18"}) // valid CalVer, never pushed
	r.AddStagingApp("2026.02.18", "Degraded")
	cases := []struct{ value, want string }{
		{"nexo-be|staging", "malformed"},
		{"nexo-bee|staging|2026.02.17", "Unknown service `nexo-bee`"},
		{"nexo-be|stagin|2026.02.17", "Unknown environment"},
		{"nexo-be|staging|latest", "not a valid image tag"},
		{"nexo-be|staging|2026.02.99", "not a valid image tag"},
		{"nexo-be|staging|2026.02.18", "already wants `2026.02.18`"},
	}
	for i, tc := range cases {
		action := "change.fix"
		if i%2 == 1 {
			action = "change.fix.2" // the alternative buttons reach the same handler
		}
		rep := r.Click(commandstest.Carol, action, tc.value)
		if rep == nil || !rep.Ephemeral || !strings.Contains(rep.Message.Text, tc.want) {
			t.Errorf("%s: %+v, want %q", tc.value, rep, tc.want)
		}
	}
	// Only members may press it, and only where the env accepts changes.
	if rep := r.Click("U0OUTSIDER", "change.fix.2", "nexo-be|staging|2026.02.17"); rep == nil || !strings.Contains(rep.Message.Text, "Only members of") {
		t.Errorf("outsider: %+v", rep)
	}
	stg, _ := r.Cfg.Env("staging")
	stg.Policy.Channels = []string{"C0STAGING"}
	if rep := r.Click(commandstest.Carol, "change.fix", "nexo-be|staging|2026.02.17"); rep == nil || !strings.Contains(rep.Message.Text, "only accepted in <#C0STAGING>") {
		t.Errorf("wrong channel: %+v", rep)
	}
	stg.Policy.Channels = nil
	// The tag in git exists after all (pushed meanwhile): nothing to fix.
	r.Registry.AddTags("nexo-org/nexo-be", "2026.02.18")
	rep := r.Click(commandstest.Carol, "change.fix", "nexo-be|staging|2026.02.17")
	if rep == nil || !strings.Contains(rep.Message.Text, "exists in the registry now") {
		t.Errorf("existing tag: %+v", rep)
	}
	if n := len(r.Workflows(t)); n != 0 {
		t.Errorf("%d workflows started by refused clicks", n)
	}
	if len(r.GitHub.Calls()) != 0 {
		t.Error("a PR was created")
	}
}

func TestDiagnoseCommandRefusals(t *testing.T) {
	r := commandstest.NewRig(t, commandstest.Options{})
	for text, want := range map[string]string{
		"diagnose nexo-be":                   "Usage",
		"diagnose nexo-be staging extra":     "Usage",
		"diagnose nexo-be prd":               "Did you mean",
		"diagnose ../etc staging":            "not a valid service name",
		"diagnose nexo-be staging --ns kube": "not an option",
	} {
		rep := r.Command(commandstest.Carol, text)
		if rep == nil || !rep.Ephemeral || !strings.Contains(rep.Message.Text, want) {
			t.Errorf("%q: %+v, want %q", text, rep, want)
		}
	}
}

// BenchmarkJudge measures the pure verdict over the playbook's facts.
func BenchmarkJudge(b *testing.B) {
	f := dgFacts(b, "imagepull")
	f.GitTag = "2026.02.99"
	f.TagChecked, f.RegistryTags = true, commandstest.Tags
	for b.Loop() {
		diagnose.Judge(f)
	}
}

// The card agrees with itself: the tags it lists are the Fix buttons,
// newest first; pods are named only in the pods table; a rollout the
// Deployment calls done is not shown as such beside a Degraded app.
func TestDiagnoseCardAgreesWithItself(t *testing.T) {
	f := dgFacts(t, "imagepull")
	f.App = dgApp("Degraded", "Synced")
	f.App.Status.Health.Message = `Deployment "nexo-be" exceeded its progress deadline`
	f.GitTag = "2026.02.99"
	f.TagChecked, f.TagExists, f.RegistryTags = true, false, commandstest.Tags
	f.Tree = &argocd.ResourceTree{Nodes: []argocd.ResourceNode{
		{Kind: "Deployment", Name: "nexo-be", Health: &argocd.HealthStatus{Status: "Degraded"}},
		{Kind: "Pod", Name: "nexo-be-argo-only-name", Health: &argocd.HealthStatus{Status: "Degraded"}},
	}}
	f.Rollout = &kube.RolloutStatus{Done: true, Message: `deployment "nexo-be" successfully rolled out`}
	v := diagnose.Judge(f)
	m := diagnose.Card(commands.English(), f, v)
	text := m.PlainText()
	var listed []string
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "Nearest existing tags: "); ok {
			for _, t := range strings.Split(rest, ", ") {
				listed = append(listed, strings.Trim(t, "`"))
			}
		}
	}
	var offered []string
	for _, b := range chattest.Buttons(m) {
		if strings.HasPrefix(b.Action, commands.ActionFixTag) {
			offered = append(offered, strings.TrimPrefix(b.Text, "Fix tag → "))
		}
	}
	if strings.Join(listed, " ") != strings.Join(offered, " ") || len(offered) != diagnose.MaxSuggestedTags {
		t.Fatalf("listed %v, buttons %v", listed, offered)
	}
	if !slices.IsSortedFunc(offered, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Fatalf("not newest first: %v", offered)
	}
	if strings.Contains(text, "nexo-be-argo-only-name") || !strings.Contains(text, "1 of 1 pods not Healthy") {
		t.Fatalf("the tree names pods the table does not have:\n%s", text)
	}
	if strings.Contains(text, "successfully rolled out") && strings.Contains(text, "exceeded its progress deadline") {
		t.Fatalf("the card contradicts itself:\n%s", text)
	}
	if !strings.Contains(text, "seen 7 times") || !strings.Contains(text, "RESTARTS counts each container restart") {
		t.Fatalf("the counts are not explained:\n%s", text)
	}
}

// A pt-BR channel reads the diagnosis in Portuguese: the verdict, its
// evidence, the Fix button and its confirmation; times are Slack date
// tokens (each reader's zone) and durations read "há 3 h".
func TestDiagnoseSpeaksTheChannelsLocale(t *testing.T) {
	r := commandstest.NewRig(t, commandstest.Options{Pods: commandstest.Pods(t, "imagepull"), Events: commandstest.Events(t, "imagepull"),
		Objects: []runtime.Object{commandstest.Deployment("nexo-staging", 2, 1, 2, false)}, StageTag: "2026.02.99"})
	r.AddStagingApp("2026.02.99", "Degraded")
	r.Cfg.Slack.ChannelLocales = map[string]string{"C0DEPLOYS": "pt-BR"}
	reply := r.Command(commandstest.Carol, "diagnose nexo-be staging")
	text := reply.Message.PlainText()
	for _, s := range []string{
		"*nexo-be em staging* — ImagePullBackOff: a tag de imagem `2026.02.99` não existe em `nexo-org/nexo-be` (container `nexo-be` do pod `nexo-be-5d8f9c7b6d-abc12`).",
		"Tags existentes mais próximas: `2026.02.17`", "*O git quer*", "*Eventos* (Warnings primeiro)", "somente leitura", "RESTARTS conta cada restart",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("the pt-BR card lacks %q:\n%s", s, text)
		}
	}
	btns := chattest.Buttons(reply.Message)
	if len(btns) == 0 || btns[0].Text != "Corrigir tag → 2026.02.17" || btns[0].Confirm != "Abrir o PR de correção que muda nexo-be em staging de 2026.02.99 para 2026.02.17?" {
		t.Fatalf("buttons %+v", btns)
	}
	if strings.Contains(text, "⟦") || strings.Contains(text, "does not exist") {
		t.Fatalf("not all Portuguese:\n%s", text)
	}
	if rep := r.Command(commandstest.Carol, "help diagnose"); !strings.Contains(rep.Message.PlainText(), "as últimas 50 linhas de log do container anterior") {
		t.Errorf("help:\n%s", rep.Message.PlainText())
	}

	// Healthy: the last deploy is a date token with its fallback in the
	// config's timezone, and how long ago.
	f := dgFacts(t, "healthy")
	f.App = dgApp("Healthy", "Synced")
	zone, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		t.Fatal(err)
	}
	pt := i18n.Default().WithZone(zone).In(i18n.Portuguese)
	deployed := commandstest.Now.Add(-3 * time.Hour)
	line := commandstest.FirstLine(diagnose.Card(pt, f, diagnose.Judge(f)))
	want := fmt.Sprintf("`nexo-be-staging` está Synced e Healthy em `2026.02.17`; último deploy há 3 h (<!date^%d^{date_short_pretty} {time}|%s>, revisão `9f8e7d6`).", deployed.Unix(), pt.DateTime(deployed))
	if !strings.Contains(line, want) {
		t.Fatalf("healthy line\n%s\nwant\n%s", line, want)
	}
	if fallback := pt.DateTime(deployed); !strings.HasSuffix(fallback, " -03") || !strings.Contains(fallback, " fev 2026 ") {
		t.Fatalf("the token's fallback %q is not in the config's timezone and locale", fallback)
	}
}
