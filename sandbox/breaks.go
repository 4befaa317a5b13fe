package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/argocdfake"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopsseed"
	"github.com/nexo-org/nexo-bot/integrations/loki"
)

// Failures the "Break something" menu injects (the playbook's scenarios 4
// and 5).
const (
	// BreakBadTag deploys a tag that is not in the registry to nexo-be in
	// staging: a commit in the GitOps repo, an Argo CD sync ending Degraded,
	// pods in ImagePullBackOff with "not found" pull events.
	BreakBadTag = "bad-tag"
	// BreakErrorSpike raises nexo-be's error rate in production to 5% and
	// pushes "Database connection timeout" error logs to Loki.
	BreakErrorSpike = "error-spike"
	// BreakCrashLoop puts nexo-be's pods in qa in CrashLoopBackOff, with a
	// previous-container log ending in a panic.
	BreakCrashLoop = "crashloop"
)

// Breakage describes one failure of the menu.
type Breakage struct {
	Kind    string `json:"kind"`
	Title   string `json:"title"`
	Service string `json:"service"`
	Env     string `json:"env"`
	Try     string `json:"try"` // what to type next
	Active  bool   `json:"active"`
}

type breakage struct {
	Breakage
	goodTag string
}

// Breakages lists the menu, with the active ones marked.
func (s *Sandbox) Breakages() []Breakage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Breakage{
		{Kind: BreakBadTag, Title: "Deploy a tag that does not exist (nexo-be, staging)", Service: "nexo-be", Env: "staging", Try: "/nexo diagnose nexo-be staging"},
		{Kind: BreakErrorSpike, Title: "Error spike: Database connection timeout (nexo-be, production)", Service: "nexo-be", Env: "production", Try: "/nexo diagnose nexo-be production"},
		{Kind: BreakCrashLoop, Title: "Pod in CrashLoopBackOff (nexo-be, qa)", Service: "nexo-be", Env: "qa", Try: "/nexo diagnose nexo-be qa"},
	}
	for i := range out {
		_, out[i].Active = s.breaks[out[i].Kind]
	}
	return out
}

// Break injects a failure (see the Break… constants). Breaking what is
// already broken changes nothing.
func (s *Sandbox) Break(ctx context.Context, kind string) error {
	var b *Breakage
	for _, x := range s.Breakages() {
		if x.Kind == kind {
			b = &x
		}
	}
	if b == nil {
		return fmt.Errorf("unknown failure %q: one of %s, %s, %s", kind, BreakBadTag, BreakErrorSpike, BreakCrashLoop)
	}
	if b.Active {
		return nil
	}
	br := &breakage{Breakage: *b}
	br.Active = true
	var err error
	switch kind {
	case BreakBadTag:
		err = s.breakBadTag(ctx, br)
	case BreakErrorSpike:
		err = s.breakErrorSpike(ctx, br)
	case BreakCrashLoop:
		err = s.breakCrashLoop(ctx, br)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.breaks == nil {
		s.breaks = map[string]*breakage{}
	}
	s.breaks[kind] = br
	s.mu.Unlock()
	s.console.notify()
	return nil
}

// Heal undoes every active failure: the good tag back in git and synced,
// pods Running, error rates at the baseline. Logs already in Loki stay, as
// they would.
func (s *Sandbox) Heal(ctx context.Context) error {
	s.mu.Lock()
	active := make([]*breakage, 0, len(s.breaks))
	for _, b := range s.breaks {
		active = append(active, b)
	}
	s.mu.Unlock()
	sort.Slice(active, func(i, j int) bool { return active[i].Kind < active[j].Kind })
	s.Prom.Reset(BaselineErrorRate)
	for _, b := range active {
		var err error
		switch b.Kind {
		case BreakBadTag:
			err = s.healBadTag(ctx, b)
		case BreakErrorSpike:
		case BreakCrashLoop:
			err = s.healPods(ctx, b.Service, b.Env)
			s.Argo.SetHealth(b.Service+"-"+b.Env, "Healthy", "")
		}
		if err != nil {
			return fmt.Errorf("healing %s: %w", b.Kind, err)
		}
		s.mu.Lock()
		delete(s.breaks, b.Kind)
		s.mu.Unlock()
	}
	s.Cluster.resetLogs()
	s.console.notify()
	return nil
}

var tagLineRE = regexp.MustCompile(`(?m)^  tag: "([^"]*)"`)

// currentTag reads image.tag of service in env at the remote's main.
func (s *Sandbox) currentTag(ctx context.Context, service, env string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "--git-dir", s.Remote, "show", gitopsseed.Branch+":"+gitopsseed.ValuesPath(service, env)).Output()
	if err != nil {
		return "", "", fmt.Errorf("reading %s: %w", gitopsseed.ValuesPath(service, env), err)
	}
	m := tagLineRE.FindSubmatch(out)
	if m == nil {
		return "", "", fmt.Errorf("no image.tag in %s", gitopsseed.ValuesPath(service, env))
	}
	return string(m[1]), string(out), nil
}

// setTag commits a new image.tag for service in env, as a person editing
// the values file by hand would, and syncs the Argo CD app with outcome.
func (s *Sandbox) setTag(ctx context.Context, service, env, tag, message string, outcome argocdfake.Outcome) error {
	_, values, err := s.currentTag(ctx, service, env)
	if err != nil {
		return err
	}
	values = tagLineRE.ReplaceAllString(values, `  tag: "`+tag+`"`)
	sha, err := gitopsseed.Commit(s.Remote, map[string]string{gitopsseed.ValuesPath(service, env): values}, message, "Dev Nexo <dev@nexo.example>", time.Now())
	if err != nil {
		return err
	}
	app := service + "-" + env
	s.Argo.SetNextOutcome(app, outcome)
	if _, err := s.argo.Sync(ctx, app, argocd.SyncRequest{Revision: sha}); err != nil {
		return fmt.Errorf("syncing %s: %w", app, err)
	}
	return nil
}

func (s *Sandbox) breakBadTag(ctx context.Context, b *breakage) error {
	good, _, err := s.currentTag(ctx, b.Service, b.Env)
	if err != nil {
		return err
	}
	b.goodTag = good
	bad := badTag(good)
	msg := fmt.Sprintf("Deployment %q exceeded its progress deadline", b.Service)
	if err := s.setTag(ctx, b.Service, b.Env, bad, fmt.Sprintf("chore(%s): bump %s to %s", b.Service, b.Env, bad),
		argocdfake.Outcome{Health: "Degraded", Message: msg}); err != nil {
		return err
	}
	ns := "nexo-" + b.Env
	n := replicas(b.Env)
	var pods []*corev1.Pod
	var events []*corev1.Event
	now := time.Now()
	for i := 0; i < n; i++ {
		p := imagePullPod(b.Service, b.Env, bad, i)
		pods = append(pods, p)
		img := image(b.Service, bad)
		events = append(events,
			event(ns, p.Name, "Scheduled", "Normal", "Successfully assigned "+ns+"/"+p.Name+" to ip-10-0-12-34.ec2.internal", "default-scheduler", 1, now.Add(-2*time.Minute)),
			event(ns, p.Name, "Pulling", "Normal", fmt.Sprintf("Pulling image %q", img), "kubelet", 4, now.Add(-30*time.Second)),
			event(ns, p.Name, "Failed", "Warning", fmt.Sprintf("Failed to pull image %q: rpc error: code = NotFound desc = failed to pull and unpack image %q: failed to resolve reference %q: %s: not found", img, img, img, img), "kubelet", 4, now.Add(-25*time.Second)),
			event(ns, p.Name, "BackOff", "Warning", fmt.Sprintf("Back-off pulling image %q", img), "kubelet", 6, now.Add(-10*time.Second)),
		)
	}
	keep := replicas(b.Env) // the old ReplicaSet keeps serving
	return s.Cluster.replace(ctx, b.Service, b.Env, append(pods, oldPods(b.Service, b.Env, good, keep)...), stalledDeployment(b.Service, b.Env, int32(n), int32(keep), 0), events)
}

func oldPods(svc, env, tag string, n int) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, runningPod(svc, env, tag, i))
	}
	return out
}

// badTag is a CalVer-looking tag that no registry has: the playbook's
// "2026.02.99" shape.
func badTag(good string) string {
	if len(good) >= 8 {
		return good[:8] + "99"
	}
	return "2026.02.99"
}

func (s *Sandbox) healBadTag(ctx context.Context, b *breakage) error {
	cur, _, err := s.currentTag(ctx, b.Service, b.Env)
	if err != nil {
		return err
	}
	if cur == badTag(b.goodTag) {
		if err := s.setTag(ctx, b.Service, b.Env, b.goodTag, fmt.Sprintf("fix(%s): %s back to %s", b.Service, b.Env, b.goodTag), argocdfake.Outcome{Health: "Healthy"}); err != nil {
			return err
		}
	}
	tag, _, err := s.currentTag(ctx, b.Service, b.Env)
	if err != nil {
		return err
	}
	return s.healPodsAt(ctx, b.Service, b.Env, tag)
}

func (s *Sandbox) healPods(ctx context.Context, service, env string) error {
	tag, _, err := s.currentTag(ctx, service, env)
	if err != nil {
		return err
	}
	return s.healPodsAt(ctx, service, env, tag)
}

func (s *Sandbox) healPodsAt(ctx context.Context, service, env, tag string) error {
	n := replicas(env)
	return s.Cluster.replace(ctx, service, env, oldPods(service, env, tag, n), deploymentObj(service, env, int32(n), int32(n)), nil)
}

func (s *Sandbox) breakErrorSpike(ctx context.Context, b *breakage) error {
	s.Prom.SetErrorRate(b.Service, 0.05)
	now := time.Now()
	var entries []loki.PushEntry
	for i := 40; i > 0; i-- {
		at := now.Add(-time.Duration(i) * 7 * time.Second)
		line, _ := json.Marshal(map[string]string{
			"timestamp": at.UTC().Format(time.RFC3339), "level": "error", "error": "Database connection timeout",
			"trace_id": "trace-" + shortHash(at.String())[:6], "msg": "query failed after 30s", "pool_max": "10",
		})
		entries = append(entries, loki.PushEntry{Time: at, Line: string(line)})
	}
	labels := map[string]string{"namespace": "nexo-" + b.Env, "service": b.Service, "app": b.Service, "level": "error"}
	return loki.Push(ctx, s.LokiURL, "", []loki.PushStream{{Labels: labels, Entries: entries}})
}

func (s *Sandbox) breakCrashLoop(ctx context.Context, b *breakage) error {
	tag, _, err := s.currentTag(ctx, b.Service, b.Env)
	if err != nil {
		return err
	}
	ns := "nexo-" + b.Env
	n := replicas(b.Env)
	now := time.Now()
	var pods []*corev1.Pod
	var events []*corev1.Event
	for i := 0; i < n; i++ {
		p := crashPod(b.Service, b.Env, tag, i)
		pods = append(pods, p)
		s.Cluster.SetLog(ns, p.Name, b.Service, true, crashLog(tag, now.Add(-45*time.Second)))
		events = append(events,
			event(ns, p.Name, "Started", "Normal", "Started container "+b.Service, "kubelet", 7, now.Add(-45*time.Second)),
			event(ns, p.Name, "BackOff", "Warning", fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s", b.Service, p.Name, ns), "kubelet", 26, now.Add(-5*time.Second)))
	}
	if err := s.Cluster.replace(ctx, b.Service, b.Env, pods, stalledDeployment(b.Service, b.Env, int32(n), 0, 0), events); err != nil {
		return err
	}
	s.Argo.SetHealth(b.Service+"-"+b.Env, "Degraded", fmt.Sprintf("Deployment %q exceeded its progress deadline", b.Service))
	return nil
}

// crashLog is the previous container's log of a backend that cannot reach
// its database at start.
func crashLog(tag string, at time.Time) string {
	var b strings.Builder
	t := at
	line := func(level, msg string, kv ...string) {
		fmt.Fprintf(&b, "time=%s level=%s msg=%q %s\n", t.UTC().Format("2006-01-02T15:04:05.000Z"), level, msg, strings.Join(kv, " "))
		t = t.Add(37 * time.Millisecond)
	}
	line("info", "starting nexo-be", "version="+tag, "go=go1.26.0")
	line("info", "loading config", "path=/etc/nexo-be/config.yaml")
	for i := 1; i <= 6; i++ {
		line("debug", "registered route", fmt.Sprintf("path=/api/v1/resource%d", i))
	}
	line("info", "connecting to database", "host=nexo-db.nexo-qa.svc.cluster.local", "pool_max=10")
	t = t.Add(3 * time.Second)
	line("error", "Database connection timeout", "host=nexo-db.nexo-qa.svc.cluster.local", "after=3s")
	b.WriteString("panic: database: dial tcp 10.0.31.7:5432: i/o timeout\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/cmd/nexo-be/main.go:58 +0x2a5\n")
	return b.String()
}
