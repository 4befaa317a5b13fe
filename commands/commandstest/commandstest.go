// Package commandstest wires the command layer to the fakes for the
// scenario packages' tests: one Rig, the diagnose fixtures, a log-serving
// Kubernetes fake and a one-sample Prometheus.
package commandstest

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/chat/chattest"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/scenarios"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/argocdfake"
	"github.com/nexo-org/nexo-bot/integrations/github"
	"github.com/nexo-org/nexo-bot/integrations/githubfake"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/kube/clientset"
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

//go:embed testdata
var fixtures embed.FS

// Users of the test config.
const (
	Carol = "U0CAROL01" // developer, not an approver
	Platf = "U0PLATF01" // platform-team: approves staging
	Alice = "U0ALICE01" // sre-team
)

// Now is the fixtures' "now": two minutes after the bad pod was created.
var Now = time.Date(2026, 2, 18, 10, 30, 0, 0, time.UTC)

// Tags are the tags the registry fake has for nexo-org/nexo-be.
var Tags = []string{"2026.01.20", "2026.01.27", "2026.02.03", "2026.02.10", "2026.02.17"}

// ---- fixtures ----

// Load decodes a JSON fixture of testdata/diagnose.
func Load[T any](t testing.TB, name string) T {
	t.Helper()
	raw, err := fixtures.ReadFile("testdata/diagnose/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// Pods are the pods of a fixture ("imagepull", "crashloop", …).
func Pods(t testing.TB, cause string) []corev1.Pod {
	return Load[[]corev1.Pod](t, "pods-"+cause+".json")
}

// Events are the events of a fixture.
func Events(t testing.TB, cause string) []corev1.Event {
	return Load[[]corev1.Event](t, "events-"+cause+".json")
}

// CrashLog is the previous container's log of the crashloop fixture.
func CrashLog(t testing.TB) string {
	raw, err := fixtures.ReadFile("testdata/diagnose/previous-log-crashloop.txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// Deployment builds the nexo-be Deployment with a rollout state.
func Deployment(ns string, replicas, updated, available int32, deadlineExceeded bool) *appsv1.Deployment {
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

// Cluster is a kube.Client over client-go's fake clientset whose Logs
// serves canned text (the fake clientset answers "fake logs" to every
// GetLogs) and records what was asked.
type Cluster struct {
	*kube.Client
	mu   sync.Mutex
	logs map[string]string // pod → log
	asks []LogAsk
}

// LogAsk is one Logs call.
type LogAsk struct {
	Namespace, Pod, Container string
	Previous                  bool
	Tail                      int64
	Since                     time.Duration
}

// Logs serves the canned log of pod (see SetLog).
func (c *Cluster) Logs(ctx context.Context, ns, pod, container string, previous bool, tail int64, since time.Duration) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asks = append(c.asks, LogAsk{ns, pod, container, previous, tail, since})
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

// SetLog sets the log a pod serves; "" removes it.
func (c *Cluster) SetLog(pod, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if text == "" {
		delete(c.logs, pod)
		return
	}
	c.logs[pod] = text
}

// Asked lists the Logs calls, in order.
func (c *Cluster) Asked() []LogAsk {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]LogAsk(nil), c.asks...)
}

// NewCluster loads pods, events and objects into client-go's fake clientset.
func NewCluster(t testing.TB, ps []corev1.Pod, evs []corev1.Event, objs ...runtime.Object) *Cluster {
	t.Helper()
	for i := range ps {
		objs = append(objs, &ps[i])
	}
	for i := range evs {
		objs = append(objs, &evs[i])
	}
	cs := fake.NewClientset(objs...)
	return &Cluster{Client: kube.NewFromClients(clientset.Adapt(cs), nil, kube.Options{Timeout: 5 * time.Second}), logs: map[string]string{}}
}

// PromServer answers /api/v1/query with one vector sample, as Prometheus does.
func PromServer(t testing.TB, value string) (*httptest.Server, *[]string) {
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
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%d,"%s"]}]}}`, Now.Unix(), value)
	}))
	t.Cleanup(srv.Close)
	return srv, &queries
}

// ---- a wired command layer ----

// Rig is the command layer wired to the fakes: a seeded GitOps bare
// repo, the GitHub, registry and Argo CD fakes, a Kubernetes fake with the
// pods and events given, the bolt store, and the recording chat. Every
// scenario is registered (commands/scenarios).
type Rig struct {
	T        *testing.T
	Ctx      context.Context
	Cfg      *config.Config
	Deps     *commands.Deps
	Router   *commands.Router
	Chat     *chattest.Recorder
	Remote   *gitopstest.Remote
	Argo     *argocdfake.Server
	Registry *registryfake.Server
	GitHub   *githubfake.Server
	Cluster  *Cluster
	Store    store.Store
}

// Options shape a Rig.
type Options struct {
	Pods     []corev1.Pod
	Events   []corev1.Event
	Objects  []runtime.Object
	NoArgo   bool
	PromURL  string
	StageTag string // staging's tag in git (default: the seeded one)
}

// Config is the rig's config: nexo-be and nexo-fe, the default
// environments, platform-team, sre-team and developers.
func Config() *config.Config {
	cfg := &config.Config{
		Services: []config.Service{{Name: "nexo-be"}, {Name: "nexo-fe"}},
		Groups:   config.Groups{"platform-team": {Platf}, "sre-team": {Alice}, "developers": {Carol}},
	}
	cfg.Slack.Channel = "C0DEPLOYS"
	cfg.ApplyDefaults()
	return cfg
}

// NewRig wires a Rig; everything is torn down with the test.
func NewRig(t *testing.T, o Options) *Rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &Rig{T: t, Ctx: ctx, Chat: chattest.New(1771400000)}
	r.Remote = gitopstest.SeedPlaybook(t)
	if o.StageTag != "" {
		path := gitopstest.PlaybookValuesPath("nexo-be", "staging")
		r.Remote.Commit(t, map[string]string{path: gitopstest.PlaybookValues("nexo-be", "staging", o.StageTag)},
			"promote(nexo-be): staging → "+o.StageTag, Now.Add(-3*time.Minute))
	}
	cfg := Config()
	cfg.GitOps.RepoURL = r.Remote.URL
	cfg.GitOps.Workdir = filepath.Join(t.TempDir(), "gitops")
	r.Cfg = cfg

	st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.Store = st
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := workflow.New(st, workflow.SystemClock{}, log, "test")
	eng.PollInterval = 5 * time.Millisecond
	repo, err := gitops.NewCLI(gitops.CLIOptions{RepoURL: r.Remote.URL, Workdir: cfg.GitOps.Workdir, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	r.Registry = registryfake.New(registryfake.Options{})
	t.Cleanup(r.Registry.Close)
	r.Registry.AddTags("nexo-org/nexo-be", Tags...)
	reg, err := registry.NewClient(registry.Options{BaseURL: r.Registry.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	r.GitHub = githubfake.New(githubfake.Options{Owner: "nexo-org", Repo: "nexo-gitops", RemotePath: r.Remote.Path})
	t.Cleanup(r.GitHub.Close)
	gh, err := github.NewClient(github.Options{BaseURL: r.GitHub.URL() + "/", Token: r.GitHub.Token(), Owner: "nexo-org", Repo: "nexo-gitops", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	r.Cluster = NewCluster(t, o.Pods, o.Events, o.Objects...)
	d := &commands.Deps{Config: cfg, Store: st, Chat: r.Chat, Engine: eng, Log: log, GitOps: repo, GitHub: gh, Registry: reg, Kube: r.Cluster}
	if !o.NoArgo {
		r.Argo = argocdfake.New(argocdfake.Options{ResolveRevision: argocdfake.GitResolver(r.Remote.Path, func(app string) string {
			svc, _ := strings.CutSuffix(app, "-staging")
			return gitopstest.PlaybookValuesPath(svc, "staging")
		})})
		t.Cleanup(r.Argo.Close)
		ac, err := argocd.NewClient(argocd.Options{Server: r.Argo.URL(), Token: r.Argo.Token(), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		d.ArgoCD = ac
	}
	if o.PromURL != "" {
		pc, err := prom.NewClient(o.PromURL, prom.Options{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		d.Prom = pc
	}
	r.Deps = d
	d.PollEvery = 20 * time.Millisecond
	router, err := scenarios.Setup(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	r.Router = router
	go eng.RunTimers(ctx)
	t.Cleanup(eng.Wait)
	return r
}

// AddStagingApp seeds nexo-be-staging in the Argo CD fake.
func (r *Rig) AddStagingApp(tag, health string) {
	head := r.Remote.Head(r.T, "main")
	r.Argo.AddApp("nexo-be-staging", argocdfake.AppSpec{
		Namespace: "nexo-staging", RepoURL: r.Remote.URL, Path: "helm/nexo-be", Revision: head, Health: health,
		Images: []string{"ghcr.io/nexo-org/nexo-be:" + tag}, Workload: "nexo-be",
	})
}

// Command runs a slash command as user in C0DEPLOYS.
func (r *Rig) Command(user, text string) *chat.Reply {
	r.T.Helper()
	reply, err := r.Router.HandleCommand(r.Ctx, chat.Command{UserID: user, ChannelID: "C0DEPLOYS", Text: text})
	if err != nil {
		r.T.Fatalf("%s: %v", text, err)
	}
	return reply
}

// Click presses a button as user in C0DEPLOYS.
func (r *Rig) Click(user, action, value string) *chat.Reply {
	r.T.Helper()
	reply, err := r.Router.HandleClick(r.Ctx, chat.Click{UserID: user, ChannelID: "C0DEPLOYS", Action: action, Value: value})
	if err != nil {
		r.T.Fatalf("click %s %s: %v", action, value, err)
	}
	return reply
}

// WaitFor polls cond (bounded, not a timing assertion).
func (r *Rig) WaitFor(what string, cond func() bool) {
	r.T.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.T.Fatalf("gave up waiting for %s; chat:\n%s", what, r.Chat.All())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Workflows lists the change workflows.
func (r *Rig) Workflows(t *testing.T) []*store.Workflow {
	t.Helper()
	wfs, err := r.Store.ListWorkflows(r.Ctx, store.WorkflowFilter{Kind: change.Kind})
	if err != nil {
		t.Fatal(err)
	}
	return wfs
}

// FirstLine is the first section of m (a card's title line), else its text.
func FirstLine(m chat.Message) string {
	if len(m.Blocks) > 0 && m.Blocks[0].Section != nil {
		return m.Blocks[0].Section.Text
	}
	return m.Text
}
