package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/argocdfake"
	"github.com/nexo-org/nexo-bot/integrations/github"
	"github.com/nexo-org/nexo-bot/integrations/githubfake"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/prom"
	"github.com/nexo-org/nexo-bot/integrations/registry"
	"github.com/nexo-org/nexo-bot/integrations/registryfake"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/boltstore"
	"github.com/nexo-org/nexo-bot/workflow"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// Users of the test config.
const (
	dgCarol = "U0CAROL01" // developer, not an approver
	dgPlatf = "U0PLATF01" // platform-team: approves staging
	dgAlice = "U0ALICE01" // sre-team
)

// now is the fixtures' "now": two minutes after the bad pod was created.
var dgNow = time.Date(2026, 2, 18, 10, 30, 0, 0, time.UTC)

var dgTags = []string{"2026.01.20", "2026.01.27", "2026.02.03", "2026.02.10", "2026.02.17"}

// ---- fixtures ----

func dgLoad[T any](t testing.TB, name string) T {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "diagnose", name))
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func dgPods(t testing.TB, cause string) []corev1.Pod {
	return dgLoad[[]corev1.Pod](t, "pods-"+cause+".json")
}

func dgEvents(t testing.TB, cause string) []corev1.Event {
	return dgLoad[[]corev1.Event](t, "events-"+cause+".json")
}

func dgCrashLog(t testing.TB) string {
	raw, err := os.ReadFile(filepath.Join("testdata", "diagnose", "previous-log-crashloop.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// deployment builds the nexo-be Deployment with a rollout state.
func dgDeployment(ns string, replicas, updated, available int32, deadlineExceeded bool) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "nexo-be", Namespace: ns, Generation: 7, Labels: map[string]string{"app": "nexo-be"}},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 7, Replicas: max(replicas, updated), UpdatedReplicas: updated,
			AvailableReplicas: available, ReadyReplicas: available},
	}
	if deadlineExceeded {
		d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
			Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "nexo-be-5d8f9c7b6d" has timed out progressing.`}}
	}
	return d
}

// ---- fakes that the client-go fake cannot be ----

// logCluster is a kube.Client over client-go's fake clientset whose Logs
// serves canned text (the fake clientset answers "fake logs" to every
// GetLogs) and records what was asked.
type dgCluster struct {
	*kube.Client
	mu   sync.Mutex
	logs map[string]string // pod → log
	asks []dgLogAsk
}

type dgLogAsk struct {
	Namespace, Pod, Container string
	Previous                  bool
	Tail                      int64
	Since                     time.Duration
}

func (c *dgCluster) Logs(ctx context.Context, ns, pod, container string, previous bool, tail int64, since time.Duration) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asks = append(c.asks, dgLogAsk{ns, pod, container, previous, tail, since})
	text, ok := c.logs[pod]
	if !ok {
		return "", fmt.Errorf("pods %q not found", pod)
	}
	lines := strings.SplitAfter(strings.TrimRight(text, "\n"), "\n")
	if tail > 0 && int64(len(lines)) > tail {
		lines = lines[int64(len(lines))-tail:]
	}
	return strings.Join(lines, "") + "\n", nil
}

func (c *dgCluster) asked() []dgLogAsk {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]dgLogAsk(nil), c.asks...)
}

// newCluster loads pods, events and objects into client-go's fake clientset.
func newDgCluster(t testing.TB, ps []corev1.Pod, evs []corev1.Event, objs ...runtime.Object) *dgCluster {
	t.Helper()
	for i := range ps {
		objs = append(objs, &ps[i])
	}
	for i := range evs {
		objs = append(objs, &evs[i])
	}
	cs := fake.NewClientset(objs...)
	return &dgCluster{Client: kube.NewFromClients(cs, nil, kube.Options{Timeout: 5 * time.Second}), logs: map[string]string{}}
}

// promServer answers /api/v1/query with one vector sample, as Prometheus does.
func dgPromServer(t testing.TB, value string) (*httptest.Server, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		_ = r.ParseForm()
		mu.Lock()
		queries = append(queries, r.Form.Get("query"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%d,"%s"]}]}}`, dgNow.Unix(), value)
	}))
	t.Cleanup(srv.Close)
	return srv, &queries
}

// recChat records what nexo posts.
type dgChat struct {
	mu      sync.Mutex
	n       int
	posts   []dgPost
	updates map[string]chat.Message
	uploads []dgUpload
}

type dgPost struct {
	Channel, Thread, TS string
	Msg                 chat.Message
}

type dgUpload struct {
	Channel, Name, Title string
	Content              []byte
}

func newDgChat() *dgChat { return &dgChat{updates: map[string]chat.Message{}} }

func (c *dgChat) Post(ctx context.Context, channel, thread string, m chat.Message) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	ts := fmt.Sprintf("1771400000.%06d", c.n)
	c.posts = append(c.posts, dgPost{channel, thread, ts, m})
	return ts, nil
}

func (c *dgChat) Update(ctx context.Context, channel, ts string, m chat.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.updates[ts] = m
	return nil
}

func (c *dgChat) PostEphemeral(ctx context.Context, channel, user string, m chat.Message) error {
	_, err := c.Post(ctx, channel, "ephemeral:"+user, m)
	return err
}

func (c *dgChat) Upload(ctx context.Context, channel, thread, filename, title string, content []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uploads = append(c.uploads, dgUpload{channel, filename, title, content})
	return nil
}

func (c *dgChat) CreateChannel(ctx context.Context, name string) (string, error) {
	return "C" + name, nil
}
func (c *dgChat) Invite(ctx context.Context, channel string, users []string) error {
	return nil
}
func (c *dgChat) OpenModal(ctx context.Context, trigger string, m chat.Modal) error { return nil }
func (c *dgChat) Permalink(ctx context.Context, channel, ts string) (string, error) {
	return "https://chat.example/" + channel + "/" + ts, nil
}
func (c *dgChat) GroupMembers(ctx context.Context, id string) ([]string, error) { return nil, nil }

// all is every post and card update as text.
func (c *dgChat) all() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, p := range c.posts {
		b.WriteString(p.Msg.PlainText() + "\n")
	}
	for _, m := range c.updates {
		b.WriteString(m.PlainText() + "\n")
	}
	return b.String()
}

// ---- a wired command layer ----

type dgRig struct {
	t        *testing.T
	ctx      context.Context
	cfg      *config.Config
	deps     *commands.Deps
	app      *commands.App
	chat     *dgChat
	remote   *gitopstest.Remote
	argo     *argocdfake.Server
	registry *registryfake.Server
	github   *githubfake.Server
	cluster  *dgCluster
	store    store.Store
}

type dgRigOptions struct {
	pods     []corev1.Pod
	events   []corev1.Event
	objs     []runtime.Object
	noArgo   bool
	promURL  string
	stageTag string // staging's tag in git (default: the seeded one)
}

func dgConfig() *config.Config {
	cfg := &config.Config{
		Services: []config.Service{{Name: "nexo-be"}, {Name: "nexo-fe"}},
		Groups:   config.Groups{"platform-team": {dgPlatf}, "sre-team": {dgAlice}, "developers": {dgCarol}},
	}
	cfg.Slack.Channel = "C0DEPLOYS"
	cfg.ApplyDefaults()
	return cfg
}

func newDgRig(t *testing.T, o dgRigOptions) *dgRig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &dgRig{t: t, ctx: ctx, chat: newDgChat()}
	r.remote = gitopstest.SeedPlaybook(t)
	if o.stageTag != "" {
		path := gitopstest.PlaybookValuesPath("nexo-be", "staging")
		r.remote.Commit(t, map[string]string{path: gitopstest.PlaybookValues("nexo-be", "staging", o.stageTag)},
			"promote(nexo-be): staging → "+o.stageTag, dgNow.Add(-3*time.Minute))
	}
	cfg := dgConfig()
	cfg.GitOps.RepoURL = r.remote.URL
	cfg.GitOps.Workdir = filepath.Join(t.TempDir(), "gitops")
	r.cfg = cfg

	st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.store = st
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := workflow.New(st, workflow.SystemClock{}, log, "test")
	eng.PollInterval = 5 * time.Millisecond
	repo, err := gitops.NewCLI(gitops.CLIOptions{RepoURL: r.remote.URL, Workdir: cfg.GitOps.Workdir, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	r.registry = registryfake.New(registryfake.Options{})
	t.Cleanup(r.registry.Close)
	r.registry.AddTags("nexo-org/nexo-be", dgTags...)
	reg, err := registry.NewClient(registry.Options{BaseURL: r.registry.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	r.github = githubfake.New(githubfake.Options{Owner: "nexo-org", Repo: "nexo-gitops", RemotePath: r.remote.Path})
	t.Cleanup(r.github.Close)
	gh, err := github.NewClient(github.Options{BaseURL: r.github.URL() + "/", Token: r.github.Token(), Owner: "nexo-org", Repo: "nexo-gitops", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	r.cluster = newDgCluster(t, o.pods, o.events, o.objs...)
	d := &commands.Deps{Config: cfg, Store: st, Chat: r.chat, Engine: eng, Log: log, GitOps: repo, GitHub: gh, Registry: reg, Kube: r.cluster}
	if !o.noArgo {
		r.argo = argocdfake.New(argocdfake.Options{ResolveRevision: argocdfake.GitResolver(r.remote.Path, func(app string) string {
			svc, _ := strings.CutSuffix(app, "-staging")
			return gitopstest.PlaybookValuesPath(svc, "staging")
		})})
		t.Cleanup(r.argo.Close)
		ac, err := argocd.NewClient(argocd.Options{Server: r.argo.URL(), Token: r.argo.Token(), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		d.ArgoCD = ac
	}
	if o.promURL != "" {
		pc, err := prom.NewClient(o.promURL, prom.Options{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		d.Prom = pc
	}
	r.deps = d
	app, err := commands.Setup(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	app.SetPollEvery(20 * time.Millisecond)
	r.app = app
	go eng.RunTimers(ctx)
	t.Cleanup(eng.Wait)
	return r
}

// addStagingApp seeds nexo-be-staging in the Argo CD fake.
func (r *dgRig) addStagingApp(tag, health string) {
	head := r.remote.Head(r.t, "main")
	r.argo.AddApp("nexo-be-staging", argocdfake.AppSpec{
		Namespace: "nexo-staging", RepoURL: r.remote.URL, Path: "helm/nexo-be", Revision: head, Health: health,
		Images: []string{"ghcr.io/nexo-org/nexo-be:" + tag}, Workload: "nexo-be",
	})
}

func (r *dgRig) command(user, text string) *chat.Reply {
	r.t.Helper()
	reply, err := r.app.Router.HandleCommand(r.ctx, chat.Command{UserID: user, ChannelID: "C0DEPLOYS", Text: text})
	if err != nil {
		r.t.Fatalf("%s: %v", text, err)
	}
	return reply
}

func (r *dgRig) click(user, action, value string) *chat.Reply {
	r.t.Helper()
	reply, err := r.app.Router.HandleClick(r.ctx, chat.Click{UserID: user, ChannelID: "C0DEPLOYS", Action: action, Value: value})
	if err != nil {
		r.t.Fatalf("click %s %s: %v", action, value, err)
	}
	return reply
}

// waitFor polls cond (bounded, not a timing assertion).
func (r *dgRig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("gave up waiting for %s; chat:\n%s", what, r.chat.all())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *dgRig) workflows(t *testing.T) []*store.Workflow {
	t.Helper()
	wfs, err := r.store.ListWorkflows(r.ctx, store.WorkflowFilter{Kind: commands.ChangeKind})
	if err != nil {
		t.Fatal(err)
	}
	return wfs
}

func dgButtons(m chat.Message) []chat.Button {
	var out []chat.Button
	for _, b := range m.Blocks {
		out = append(out, b.Actions...)
	}
	return out
}

func dgFirstLine(m chat.Message) string {
	if len(m.Blocks) > 0 && m.Blocks[0].Section != nil {
		return m.Blocks[0].Section.Text
	}
	return m.Text
}

// ---- Judge: table tests over fixtures ----

func dgApp(health, sync string, conds ...argocd.Condition) *argocd.Application {
	a := &argocd.Application{}
	a.Metadata.Name = "nexo-be-staging"
	a.Status.Health.Status, a.Status.Sync.Status = health, sync
	a.Status.Conditions = conds
	a.Status.Summary.Images = []string{"ghcr.io/nexo-org/nexo-be:2026.02.17"}
	a.Status.History = []argocd.RevisionHistory{{ID: 11, Revision: "0a1b2c3d4e5f", DeployedAt: dgNow.Add(-26 * time.Hour)}, {ID: 12, Revision: "9f8e7d6c5b4a", DeployedAt: dgNow.Add(-3 * time.Hour)}}
	return a
}

func dgFacts(t testing.TB, fixture string) *commands.DiagnoseFacts {
	f := &commands.DiagnoseFacts{
		Service: "nexo-be", Env: "staging", Namespace: "nexo-staging", Selector: "app=nexo-be", Deployment: "nexo-be",
		AppName: "nexo-be-staging", ImageRepo: "nexo-org/nexo-be", Now: dgNow, GitTag: "2026.02.17", PrevEnv: "qa", PrevEnvTag: "2026.02.17",
	}
	if fixture != "" {
		f.Pods = dgPods(t, fixture)
		f.Events = commands.WorkloadEvents(dgEvents(t, fixture), "nexo-be", f.Pods)
	}
	return f
}

func TestJudgeNamesEveryCause(t *testing.T) {
	cases := []struct {
		name    string
		facts   func() *commands.DiagnoseFacts
		cause   string
		line    []string // substrings of the verdict line
		details []string // substrings of the details
		notIn   []string
		fixable bool
		suggest []string
	}{
		{
			name: "playbook: tag does not exist, nearest tags offered, qa's tag first",
			facts: func() *commands.DiagnoseFacts {
				f := dgFacts(t, "imagepull")
				f.App = dgApp("Degraded", "Synced", argocd.Condition{Type: "ComparisonError", Message: "Failed to load target state"})
				f.GitTag = "2026.02.99"
				f.TagChecked, f.TagExists, f.RegistryTags = true, false, dgTags
				return f
			},
			cause:   commands.CauseImagePull,
			line:    []string{"ImagePullBackOff", "`2026.02.99` does not exist", "nexo-org/nexo-be", "nexo-be-5d8f9c7b6d-abc12"},
			details: []string{"Nearest existing tags: `2026.02.17`", "Back-off pulling image"},
			fixable: true,
			suggest: []string{"2026.02.17", "2026.02.03", "2026.02.10"},
		},
		{
			name: "tag missing but git already wants another: no fix PR",
			facts: func() *commands.DiagnoseFacts {
				f := dgFacts(t, "imagepull")
				f.GitTag = "2026.02.17"
				f.TagChecked, f.RegistryTags = true, dgTags
				return f
			},
			cause:   commands.CauseImagePull,
			line:    []string{"does not exist"},
			details: []string{"Git already wants `2026.02.17`"},
		},
		{
			name: "tag exists: the pull itself fails",
			facts: func() *commands.DiagnoseFacts {
				f := dgFacts(t, "imagepull")
				f.TagChecked, f.TagExists = true, true
				return f
			},
			cause:   commands.CauseImagePull,
			line:    []string{"exists in the registry", "pull secret"},
			details: []string{"Kubelet: Failed to pull image", "not found"},
			notIn:   []string{"Fix tag"},
		},
		{
			name: "registry unreachable",
			facts: func() *commands.DiagnoseFacts {
				f := dgFacts(t, "imagepull")
				f.TagErr = errors.New("registry: HTTP 503 Service Unavailable")
				return f
			},
			cause: commands.CauseImagePull,
			line:  []string{"registry could not be asked", "503"},
		},
		{
			name: "CrashLoopBackOff shows the previous log with error lines marked",
			facts: func() *commands.DiagnoseFacts {
				f := dgFacts(t, "crashloop")
				f.PreviousLog = dgCrashLog(t)
				return f
			},
			cause:   commands.CauseCrashLoop,
			line:    []string{"CrashLoopBackOff", "container `nexo-be` of pod `nexo-be-6f7a8b9c0d-k3j5h`", "exit code 1", "6 restarts", "last error", "panic: database"},
			details: []string{"Last 50 lines"},
		},
		{
			name: "OOMKilled with Prometheus' peak",
			facts: func() *commands.DiagnoseFacts {
				f := dgFacts(t, "oomkilled")
				f.MemoryPeak, f.MemoryPeakOK = 531628032, true // 507Mi
				return f
			},
			cause:   commands.CauseOOMKilled,
			line:    []string{"OOMKilled", "limit of 512Mi", "exit code 137", "5 restarts"},
			details: []string{"Limit 512Mi · request 256Mi", "peak working set over the last hour 507Mi (99% of the limit)"},
		},
		{
			name:    "OOMKilled without Prometheus",
			facts:   func() *commands.DiagnoseFacts { return dgFacts(t, "oomkilled") },
			cause:   commands.CauseOOMKilled,
			details: []string{"reached the limit when it was killed"},
		},
		{
			name:    "Pending: the scheduling events",
			facts:   func() *commands.DiagnoseFacts { return dgFacts(t, "pending") },
			cause:   commands.CausePending,
			line:    []string{"cannot be scheduled", "2 Insufficient memory"},
			details: []string{"FailedScheduling (5m ago): 0/3 nodes are available"},
		},
		{
			name:    "CreateContainerConfigError names the Secret",
			facts:   func() *commands.DiagnoseFacts { return dgFacts(t, "configerror") },
			cause:   commands.CauseConfigError,
			line:    []string{"Secret nexo-be-db is missing in `nexo-staging`"},
			details: []string{`secret "nexo-be-db" not found`},
		},
		{
			name: "ComparisonError when the pods are fine",
			facts: func() *commands.DiagnoseFacts {
				f := dgFacts(t, "healthy")
				f.App = dgApp("Degraded", "Unknown", argocd.Condition{Type: "ComparisonError", Message: "Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown desc = `helm template` failed: values-staging.yaml: yaml: line 12: did not find expected key"})
				return f
			},
			cause: commands.CauseComparisonError,
			line:  []string{"ComparisonError", "Failed to load target state", "did not find expected key"},
		},
		{
			name: "failed sync operation",
			facts: func() *commands.DiagnoseFacts {
				f := dgFacts(t, "healthy")
				f.App = dgApp("Healthy", "OutOfSync")
				f.App.Status.OperationState = &argocd.OperationState{Phase: "Failed", Message: "one or more objects failed to apply",
					SyncResult: &argocd.SyncResult{Resources: []argocd.ResourceResult{{Kind: "Deployment", Name: "nexo-be", Status: "SyncFailed", Message: `Deployment.apps "nexo-be" is invalid: spec.template.spec.containers[0].image: Required value`}}}}
				return f
			},
			cause:   commands.CauseSyncFailed,
			line:    []string{"ended in Failed", "failed to apply"},
			details: []string{"Deployment `nexo-be`: SyncFailed", "Required value"},
		},
		{
			name: "rollout past its deadline without a pod cause",
			facts: func() *commands.DiagnoseFacts {
				f := dgFacts(t, "healthy")
				f.App = dgApp("Progressing", "Synced")
				f.Rollout = &kube.RolloutStatus{Failed: true, Message: `deployment "nexo-be" exceeded its progress deadline`}
				return f
			},
			cause: commands.CauseRolloutStuck,
			line:  []string{"exceeded its progress deadline"},
		},
		{
			name: "healthy app shows the last deploy",
			facts: func() *commands.DiagnoseFacts {
				f := dgFacts(t, "healthy")
				f.App = dgApp("Healthy", "Synced")
				f.Rollout = &kube.RolloutStatus{Done: true, Message: `deployment "nexo-be" successfully rolled out`}
				return f
			},
			cause: commands.CauseHealthy,
			line:  []string{"Synced and Healthy on `2026.02.17`", "last deploy 3h ago", "9f8e7d6"},
		},
		{
			name: "progressing",
			facts: func() *commands.DiagnoseFacts {
				f := dgFacts(t, "healthy")
				f.App = dgApp("Progressing", "Synced")
				f.Rollout = &kube.RolloutStatus{Message: `Waiting for deployment "nexo-be" rollout to finish: 1 of 2 updated replicas are available...`}
				return f
			},
			cause: commands.CauseProgressing,
			line:  []string{"still rolling out", "1 of 2 updated replicas"},
		},
		{
			name: "no pods",
			facts: func() *commands.DiagnoseFacts {
				f := dgFacts(t, "")
				f.App = dgApp("Missing", "OutOfSync")
				return f
			},
			cause: commands.CauseNoPods,
			line:  []string{"No pods match `app=nexo-be` in `nexo-staging`"},
		},
		{
			name: "degraded without a known cause",
			facts: func() *commands.DiagnoseFacts {
				f := dgFacts(t, "healthy")
				f.App = dgApp("Degraded", "Synced")
				f.App.Status.Health.Message = "Readiness probe failed"
				return f
			},
			cause: commands.CauseUnknown,
			line:  []string{"No known cause", "Degraded", "Readiness probe failed"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.facts()
			v := commands.Judge(f)
			if v.Cause != tc.cause {
				t.Fatalf("cause %q, want %q; line: %s", v.Cause, tc.cause, v.Line)
			}
			for _, s := range tc.line {
				if !strings.Contains(v.Line, s) {
					t.Errorf("verdict line lacks %q:\n%s", s, v.Line)
				}
			}
			details := strings.Join(v.Details, "\n")
			for _, s := range tc.details {
				if !strings.Contains(details, s) {
					t.Errorf("details lack %q:\n%s", s, details)
				}
			}
			card := commands.DiagnoseCard(dgConfig(), f, v)
			text := card.PlainText()
			for _, s := range tc.notIn {
				if strings.Contains(text, s) {
					t.Errorf("card should not contain %q:\n%s", s, text)
				}
			}
			if v.Fixable != tc.fixable {
				t.Errorf("fixable %v, want %v", v.Fixable, tc.fixable)
			}
			btns := dgButtons(card)
			if tc.fixable != (len(btns) > 0) {
				t.Errorf("buttons %+v with fixable %v", btns, tc.fixable)
			}
			if len(tc.suggest) > 0 {
				if strings.Join(v.Suggestions[:len(tc.suggest)], ",") != strings.Join(tc.suggest, ",") {
					t.Errorf("suggestions %v, want prefix %v", v.Suggestions, tc.suggest)
				}
				if btns[0].Text != "Fix tag → "+tc.suggest[0] || btns[0].Action != "diagnose.fix" || btns[0].Value != "nexo-be|staging|"+tc.suggest[0] {
					t.Errorf("first button %+v", btns[0])
				}
				for i, b := range btns[1:] {
					if b.Action != fmt.Sprintf("diagnose.fix.%d", i+2) || b.Value != "nexo-be|staging|"+v.Suggestions[i+1] {
						t.Errorf("button %d: %+v", i+2, b)
					}
				}
			}
			// The verdict comes first.
			if !strings.Contains(dgFirstLine(card), v.Line) {
				t.Errorf("first block is not the verdict: %q", dgFirstLine(card))
			}
		})
	}
}

func TestCrashLogMarksErrorLines(t *testing.T) {
	marked, last := commands.MarkErrorLines(dgCrashLog(t), 50)
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
		if got := commands.MissingReference(msg); got != want {
			t.Errorf("%q → %q, want %q", msg, got, want)
		}
	}
}

func TestWorkloadEventsKeepsOnlyThisService(t *testing.T) {
	all := dgEvents(t, "imagepull")
	kept := commands.WorkloadEvents(all, "nexo-be", dgPods(t, "imagepull"))
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
		if got := commands.HumanBytes(n); got != want {
			t.Errorf("%d → %s, want %s", n, got, want)
		}
	}
}

// ---- GatherDiagnosis through client-go's fake, the registry and Argo CD fakes ----

func TestGatherDiagnosisAsksTheRightFollowUps(t *testing.T) {
	t.Run("image pull asks the registry and lists tags", func(t *testing.T) {
		r := newDgRig(t, dgRigOptions{pods: dgPods(t, "imagepull"), events: dgEvents(t, "imagepull"),
			objs: []runtime.Object{dgDeployment("nexo-staging", 2, 1, 2, false)}, stageTag: "2026.02.99"})
		r.addStagingApp("2026.02.99", "Degraded")
		f := commands.GatherDiagnosis(r.ctx, r.deps, "nexo-be", "staging")
		if f.PodsErr != nil || f.EventsErr != nil || f.AppErr != nil || f.RolloutErr != nil || f.GitErr != nil {
			t.Fatalf("gather errors: pods %v events %v app %v rollout %v git %v", f.PodsErr, f.EventsErr, f.AppErr, f.RolloutErr, f.GitErr)
		}
		if len(f.Pods) != 3 || f.GitTag != "2026.02.99" || f.PrevEnvTag != "2026.02.17" {
			t.Fatalf("pods %d, git %q, qa %q", len(f.Pods), f.GitTag, f.PrevEnvTag)
		}
		if !f.TagChecked || f.TagExists || len(f.RegistryTags) != len(dgTags) {
			t.Fatalf("registry: checked %v exists %v tags %v", f.TagChecked, f.TagExists, f.RegistryTags)
		}
		if r.registry.CallCount(http.MethodHead, "/v2/nexo-org/nexo-be/manifests/2026.02.99") == 0 {
			t.Errorf("the registry was not asked about the tag: %+v", r.registry.Calls())
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
		if len(r.cluster.asked()) != 0 {
			t.Errorf("logs were read for an image pull: %+v", r.cluster.asked())
		}
	})
	t.Run("crash loop reads the previous container's last 50 lines", func(t *testing.T) {
		r := newDgRig(t, dgRigOptions{pods: dgPods(t, "crashloop"), events: dgEvents(t, "crashloop"), noArgo: true})
		r.cluster.logs["nexo-be-6f7a8b9c0d-k3j5h"] = dgCrashLog(t)
		f := commands.GatherDiagnosis(r.ctx, r.deps, "nexo-be", "staging")
		asks := r.cluster.asked()
		if len(asks) != 1 || asks[0] != (dgLogAsk{"nexo-staging", "nexo-be-6f7a8b9c0d-k3j5h", "nexo-be", true, 50, 0}) {
			t.Fatalf("log asks %+v", asks)
		}
		v := commands.Judge(f)
		if v.Cause != commands.CauseCrashLoop || !strings.Contains(v.Log, "▶ panic: database") {
			t.Fatalf("verdict %+v", v)
		}
		if len(r.registry.Calls()) != 0 {
			t.Errorf("the registry was asked for a crash loop")
		}
	})
	t.Run("OOM asks Prometheus for the peak working set", func(t *testing.T) {
		srv, queries := dgPromServer(t, "531628032")
		r := newDgRig(t, dgRigOptions{pods: dgPods(t, "oomkilled"), events: dgEvents(t, "oomkilled"), promURL: srv.URL, noArgo: true})
		f := commands.GatherDiagnosis(r.ctx, r.deps, "nexo-be", "staging")
		if len(*queries) != 1 || (*queries)[0] != `max(max_over_time(container_memory_working_set_bytes{namespace="nexo-staging",pod="nexo-be-8a9b0c1d2e-p4r6s",container="nexo-be"}[1h]))` {
			t.Fatalf("queries %q", *queries)
		}
		v := commands.Judge(f)
		if v.Cause != commands.CauseOOMKilled || !strings.Contains(strings.Join(v.Details, " "), "507Mi (99% of the limit)") {
			t.Fatalf("verdict %+v", v)
		}
	})
	t.Run("Argo CD down still diagnoses from the cluster", func(t *testing.T) {
		r := newDgRig(t, dgRigOptions{pods: dgPods(t, "configerror"), events: dgEvents(t, "configerror")})
		// no app seeded: argocd-server answers 403 for an unknown app
		f := commands.GatherDiagnosis(r.ctx, r.deps, "nexo-be", "staging")
		if f.AppErr == nil {
			t.Fatal("expected an Argo CD error")
		}
		v := commands.Judge(f)
		if v.Cause != commands.CauseConfigError || !strings.Contains(v.Line, "Secret nexo-be-db") {
			t.Fatalf("verdict %+v", v)
		}
		card := commands.DiagnoseCard(r.cfg, f, v).PlainText()
		if !strings.Contains(card, "*Argo CD*\n_Argo CD: no such application or no permission_") {
			t.Errorf("card does not say Argo CD failed:\n%s", card)
		}
	})
}

// ---- the playbook's case, command to merged PR ----

func TestPlaybookScenario4FixTagThroughApprovalToHealthy(t *testing.T) {
	r := newDgRig(t, dgRigOptions{pods: dgPods(t, "imagepull"), events: dgEvents(t, "imagepull"),
		objs: []runtime.Object{dgDeployment("nexo-staging", 2, 1, 2, false)}, stageTag: "2026.02.99"})
	r.addStagingApp("2026.02.99", "Degraded")

	// 1. /nexo diagnose names the missing tag and offers the fix.
	reply := r.command(dgCarol, "diagnose nexo-be staging")
	if reply == nil || reply.Ephemeral {
		t.Fatalf("reply %+v", reply)
	}
	verdict := dgFirstLine(reply.Message)
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
	btns := dgButtons(reply.Message)
	if len(btns) == 0 || btns[0].Text != "Fix tag → 2026.02.17" {
		t.Fatalf("buttons %+v", btns)
	}

	// 2. A tampered button is re-checked: a tag that does not exist is refused.
	if rep := r.click(dgCarol, "diagnose.fix", "nexo-be|staging|2026.02.18"); rep == nil || !strings.Contains(rep.Message.Text, "does not exist in the registry either") {
		t.Fatalf("tampered click: %+v", rep)
	}
	if len(r.workflows(t)) != 0 {
		t.Fatal("a refused click started a workflow")
	}

	// 3. The click starts the fix change; Carol is the requester.
	if rep := r.click(dgCarol, "diagnose.fix", btns[0].Value); rep != nil {
		t.Fatalf("click: %+v", rep.Message.Text)
	}
	var wf *store.Workflow
	r.waitFor("the fix PR to wait for approval", func() bool {
		wfs := r.workflows(t)
		if len(wfs) == 1 && wfs[0].State == commands.StApproval {
			wf = wfs[0]
			return true
		}
		return false
	})
	c, err := workflow.Decode[commands.Change](wf)
	if err != nil {
		t.Fatal(err)
	}
	if c.Flavor != records.KindFix || c.Requester != dgCarol || c.Branch != "fix/nexo-be-staging-image-tag" ||
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
	if rep := r.click(dgCarol, "diagnose.fix", btns[0].Value); rep == nil || !strings.Contains(rep.Message.Text, "already open") {
		t.Fatalf("second click: %+v", rep)
	}

	// 4. The requester cannot approve their own fix; platform-team can.
	if rep := r.click(dgCarol, "change.approve", wf.ID); rep == nil || !rep.Ephemeral {
		t.Fatalf("self-approval was not refused: %+v", rep)
	}
	if rep := r.click(dgPlatf, "change.approve", wf.ID); rep != nil {
		t.Fatalf("approval: %s", rep.Message.Text)
	}

	// 5. Merge, sync, rollout: the workflow ends and the app is Healthy on 2026.02.17.
	r.waitFor("the fix to finish", func() bool {
		w, err := r.store.GetWorkflow(r.ctx, wf.ID)
		return err == nil && w.Done
	})
	w, _ := r.store.GetWorkflow(r.ctx, wf.ID)
	if w.State != commands.StDone {
		t.Fatalf("fix ended in %s:\n%s", w.State, r.chat.all())
	}
	values := r.remote.File(t, "main", gitopstest.PlaybookValuesPath("nexo-be", "staging"))
	if !strings.Contains(values, `tag: "2026.02.17"`) {
		t.Fatalf("values after merge:\n%s", values)
	}
	subjects := r.remote.Subjects(t, "main", gitopstest.PlaybookValuesPath("nexo-be", "staging"))
	if !strings.HasPrefix(subjects[0], "fix(nexo-be): corrige image tag em staging") {
		t.Errorf("last commit %q", subjects[0])
	}
	app, _ := r.argo.App("nexo-be-staging")
	if app.Status.Health.Status != "Healthy" || app.Status.Sync.Status != "Synced" || app.Status.Summary.Images[0] != "ghcr.io/nexo-org/nexo-be:2026.02.17" {
		t.Fatalf("app after the fix: %+v", app.Status)
	}
	if !strings.Contains(r.chat.all(), "nexo-be `2026.02.17` is live in staging") {
		t.Errorf("no live message:\n%s", r.chat.all())
	}

	// 6. Kubernetes rolls the new pods; diagnose now says Healthy with the last deploy.
	healthy := dgPods(t, "healthy")
	for i := range healthy {
		healthy[i].Spec.Containers[0].Image = "ghcr.io/nexo-org/nexo-be:2026.02.17"
	}
	cs := fake.NewClientset(dgDeployment("nexo-staging", 2, 2, 2, false), &healthy[0], &healthy[1])
	r.deps.Kube = kube.NewFromClients(cs, nil, kube.Options{})
	reply = r.command(dgCarol, "diagnose nexo-be staging")
	if v := dgFirstLine(reply.Message); !strings.Contains(v, "Synced and Healthy on `2026.02.17`") || !strings.Contains(v, "last deploy") {
		t.Fatalf("after the fix: %s", v)
	}
	if len(dgButtons(reply.Message)) != 0 {
		t.Error("a healthy app offers a fix")
	}
}

func TestFixRefusals(t *testing.T) {
	r := newDgRig(t, dgRigOptions{stageTag: "2026.02.18"}) // valid CalVer, never pushed
	r.addStagingApp("2026.02.18", "Degraded")
	cases := []struct{ value, want string }{
		{"nexo-be|staging", "malformed"},
		{"nexo-bee|staging|2026.02.17", "Unknown service `nexo-bee`"},
		{"nexo-be|stagin|2026.02.17", "Unknown environment"},
		{"nexo-be|staging|latest", "not a valid image tag"},
		{"nexo-be|staging|2026.02.99", "not a valid image tag"},
		{"nexo-be|staging|2026.02.18", "already wants `2026.02.18`"},
	}
	for i, tc := range cases {
		action := "diagnose.fix"
		if i%2 == 1 {
			action = "diagnose.fix.2" // the alternative buttons reach the same handler
		}
		rep := r.click(dgCarol, action, tc.value)
		if rep == nil || !rep.Ephemeral || !strings.Contains(rep.Message.Text, tc.want) {
			t.Errorf("%s: %+v, want %q", tc.value, rep, tc.want)
		}
	}
	// Only members may press it, and only where the env accepts changes.
	if rep := r.click("U0OUTSIDER", "diagnose.fix.2", "nexo-be|staging|2026.02.17"); rep == nil || !strings.Contains(rep.Message.Text, "Only members of") {
		t.Errorf("outsider: %+v", rep)
	}
	stg, _ := r.cfg.Env("staging")
	stg.Policy.Channels = []string{"C0STAGING"}
	if rep := r.click(dgCarol, "diagnose.fix", "nexo-be|staging|2026.02.17"); rep == nil || !strings.Contains(rep.Message.Text, "only accepted in <#C0STAGING>") {
		t.Errorf("wrong channel: %+v", rep)
	}
	stg.Policy.Channels = nil
	// The tag in git exists after all (pushed meanwhile): nothing to fix.
	r.registry.AddTags("nexo-org/nexo-be", "2026.02.18")
	rep := r.click(dgCarol, "diagnose.fix", "nexo-be|staging|2026.02.17")
	if rep == nil || !strings.Contains(rep.Message.Text, "exists in the registry now") {
		t.Errorf("existing tag: %+v", rep)
	}
	if n := len(r.workflows(t)); n != 0 {
		t.Errorf("%d workflows started by refused clicks", n)
	}
	if len(r.github.Calls()) != 0 {
		t.Error("a PR was created")
	}
}

func TestDiagnoseCommandRefusals(t *testing.T) {
	r := newDgRig(t, dgRigOptions{})
	for text, want := range map[string]string{
		"diagnose nexo-be":                   "Usage",
		"diagnose nexo-be staging extra":     "Usage",
		"diagnose nexo-be prd":               "Did you mean",
		"diagnose ../etc staging":            "not a valid service name",
		"diagnose nexo-be staging --ns kube": "not an option",
	} {
		rep := r.command(dgCarol, text)
		if rep == nil || !rep.Ephemeral || !strings.Contains(rep.Message.Text, want) {
			t.Errorf("%q: %+v, want %q", text, rep, want)
		}
	}
}

// BenchmarkJudge measures the pure verdict over the playbook's facts.
func BenchmarkJudge(b *testing.B) {
	f := dgFacts(b, "imagepull")
	f.GitTag = "2026.02.99"
	f.TagChecked, f.RegistryTags = true, dgTags
	for b.Loop() {
		commands.Judge(f)
	}
}
