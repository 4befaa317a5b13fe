package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
	"github.com/nexo-org/nexo-bot/internal/wire"
	"github.com/nexo-org/nexo-bot/store"
)

// Replica is one nexo process of a multi-replica test: its own wire.Build
// runtime, Socket Mode connection, git workdir and engine owner, sharing
// the Env's store and fakes. Everything it sends out goes through a switch
// that Crash turns off at once, like kill -9: the Web API, GitHub, Argo CD
// and the registry through loopback proxies, the store and the git remote
// through wrappers.
type Replica struct {
	Name    string
	Runtime *wire.Runtime
	// Handled counts, per Slack trigger_id, how often this replica's router
	// was called (each envelope carries a fresh trigger_id).
	Handled *HandledCounter

	env     *Env
	dead    atomic.Bool
	proxies []*killProxy
	cancel  context.CancelFunc
	done    chan error
}

// HandledCounter counts handler calls by trigger id, and the ephemeral
// answers they returned (which the transport must deliver exactly once).
type HandledCounter struct {
	mu         sync.Mutex
	n          map[string]int
	ephemerals int
}

// Ephemerals is how many ephemeral answers the router returned.
func (h *HandledCounter) Ephemerals() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ephemerals
}

func (h *HandledCounter) answered(ephemeral bool) {
	if ephemeral {
		h.mu.Lock()
		h.ephemerals++
		h.mu.Unlock()
	}
}

// Add records one call.
func (h *HandledCounter) Add(trigger string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n[trigger]++
}

// Snapshot copies the counts.
func (h *HandledCounter) Snapshot() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.n))
	for k, v := range h.n {
		out[k] = v
	}
	return out
}

// StartReplica builds and runs one more replica. Stop the Env's default
// bot first (e.StopBot) when every replica should be one of these.
func (e *Env) StartReplica(name string) *Replica {
	e.T.Helper()
	return e.StartReplicaWithLease(name, LeaseTTL)
}

// StartReplicaWithLease is StartReplica with another workflow lease TTL
// (crash tests use a short one: a crashed replica blocks that long).
func (e *Env) StartReplicaWithLease(name string, leaseTTL time.Duration) *Replica {
	e.T.Helper()
	r := &Replica{Name: name, env: e, Handled: &HandledCounter{n: map[string]int{}}}
	cfg := *e.Config
	cfg.Slack.APIURL = r.proxy(e.Slack.URL()) + "/api/"
	cfg.GitHub.BaseURL = r.proxy(e.GitHub.URL()) + "/"
	cfg.ArgoCD.Server = r.proxy(e.Argo.URL())
	cfg.Registry.URL = r.proxy(e.Registry.URL())
	cfg.GitOps.Workdir = filepath.Join(e.T.TempDir(), "gitops-"+name)

	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewJSONHandler(io.MultiWriter(e.Logs), &slog.HandlerOptions{Level: slog.LevelInfo})).With("replica", name)
	st := &switchStore{Store: e.Store, dead: &r.dead}
	rt, err := wire.Build(ctx, &cfg, e.Secrets, wire.Options{
		Logger: log, Clock: e.Clock, Store: st, Owner: fmt.Sprintf("%s-%d", name, time.Now().UnixNano()), PollEvery: 10 * time.Second,
		Override: func(d *commands.Deps) {
			if d.GitOps != nil {
				d.GitOps = &switchRepo{Repo: d.GitOps, dead: &r.dead}
			}
		},
		WrapHandler: func(h chat.Handler) chat.Handler { return &countingHandler{Handler: h, count: r.Handled} },
	})
	if err != nil {
		cancel()
		e.T.Fatal(err)
	}
	rt.Engine.PollInterval = 5 * time.Millisecond
	rt.Engine.LeaseTTL = leaseTTL
	r.Runtime, r.cancel, r.done = rt, cancel, make(chan error, 1)
	before := e.Slack.TotalConnections()
	go func() { r.done <- rt.Run(ctx) }()
	if !e.Slack.WaitFor(func() bool { return e.Slack.TotalConnections() > before }, 5*time.Second) {
		e.T.Fatalf("replica %s never opened a socket-mode connection", name)
	}
	e.T.Cleanup(r.Stop)
	return r
}

// Stop shuts the replica down gracefully (drain, leases released).
func (r *Replica) Stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if r.dead.Load() {
		return
	}
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.env.T.Errorf("replica %s did not stop within 30s", r.Name)
	}
}

// Crash kills the replica abruptly: from this instant nothing it does
// reaches Slack, GitHub, Argo CD, the registry, git or the store (requests
// in flight are cut, their effects at the far end may or may not have
// happened), its socket closes, and its leases are left to expire. Work in
// flight is not drained.
func (r *Replica) Crash() {
	r.dead.Store(true)
	for _, p := range r.proxies {
		p.kill()
	}
	if r.cancel != nil {
		r.cancel()
		r.cancel = nil
	}
}

// Dead reports whether Crash was called.
func (r *Replica) Dead() bool { return r.dead.Load() }

// proxy starts a kill-able reverse proxy to target and returns its URL.
func (r *Replica) proxy(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		r.env.T.Fatal(err)
	}
	p := &killProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = nil
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { panic(http.ErrAbortHandler) }
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if p.killed.Load() {
			panic(http.ErrAbortHandler) // the connection is cut, no answer
		}
		rp.ServeHTTP(w, req)
	}))
	r.proxies = append(r.proxies, p)
	r.env.T.Cleanup(p.srv.Close)
	return p.srv.URL
}

type killProxy struct {
	srv    *httptest.Server
	killed atomic.Bool
}

func (p *killProxy) kill() {
	p.killed.Store(true)
	p.srv.CloseClientConnections()
}

// countingHandler counts router calls by trigger id.
type countingHandler struct {
	chat.Handler
	count *HandledCounter
}

func (h *countingHandler) HandleCommand(ctx context.Context, c chat.Command) (*chat.Reply, error) {
	h.count.Add(c.TriggerID)
	r, err := h.Handler.HandleCommand(ctx, c)
	h.count.answered(err != nil || (r != nil && r.Ephemeral))
	return r, err
}

func (h *countingHandler) HandleClick(ctx context.Context, c chat.Click) (*chat.Reply, error) {
	h.count.Add(c.TriggerID)
	r, err := h.Handler.HandleClick(ctx, c)
	h.count.answered(err != nil || r != nil)
	return r, err
}

// errDead is what a crashed replica's calls get.
var errDead = fmt.Errorf("replica crashed: %w", store.ErrUnavailable)

// switchRepo is a gitops.Repo that stops working when dead is set.
type switchRepo struct {
	gitops.Repo
	dead *atomic.Bool
}

func (s *switchRepo) Sync(ctx context.Context) error {
	if s.dead.Load() {
		return errDead
	}
	return s.Repo.Sync(ctx)
}

func (s *switchRepo) PushBranch(ctx context.Context, branch string, files map[string][]byte, message string) (string, error) {
	if s.dead.Load() {
		return "", errDead
	}
	return s.Repo.PushBranch(ctx, branch, files, message)
}

func (s *switchRepo) DeleteBranch(ctx context.Context, branch string) error {
	if s.dead.Load() {
		return errDead
	}
	return s.Repo.DeleteBranch(ctx, branch)
}

// switchStore is a store.Store that stops working when dead is set.
type switchStore struct {
	store.Store
	dead *atomic.Bool
}

func (s *switchStore) err() error {
	if s.dead.Load() {
		return errDead
	}
	return nil
}

func (s *switchStore) Dedupe(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := s.err(); err != nil {
		return false, err
	}
	return s.Store.Dedupe(ctx, key, ttl)
}

func (s *switchStore) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (store.Lease, bool, error) {
	if err := s.err(); err != nil {
		return store.Lease{}, false, err
	}
	return s.Store.AcquireLease(ctx, name, owner, ttl)
}

func (s *switchStore) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.RenewLease(ctx, l, ttl)
}

func (s *switchStore) ReleaseLease(ctx context.Context, l store.Lease) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.ReleaseLease(ctx, l)
}

func (s *switchStore) Heartbeat(ctx context.Context, owner string, ttl time.Duration) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Heartbeat(ctx, owner, ttl)
}

func (s *switchStore) Retire(ctx context.Context, owner string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Retire(ctx, owner)
}

func (s *switchStore) Replicas(ctx context.Context) ([]store.Replica, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.Replicas(ctx)
}

func (s *switchStore) CreateWorkflow(ctx context.Context, wf *store.Workflow) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.CreateWorkflow(ctx, wf)
}

func (s *switchStore) GetWorkflow(ctx context.Context, id string) (*store.Workflow, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.GetWorkflow(ctx, id)
}

func (s *switchStore) UpdateWorkflow(ctx context.Context, wf *store.Workflow) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.UpdateWorkflow(ctx, wf)
}

func (s *switchStore) ListWorkflows(ctx context.Context, f store.WorkflowFilter) ([]*store.Workflow, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.ListWorkflows(ctx, f)
}

func (s *switchStore) FindOpenWorkflow(ctx context.Context, key string) (*store.Workflow, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.FindOpenWorkflow(ctx, key)
}

func (s *switchStore) ScheduleTimer(ctx context.Context, t store.Timer) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.ScheduleTimer(ctx, t)
}

func (s *switchStore) CancelTimer(ctx context.Context, id string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.CancelTimer(ctx, id)
}

func (s *switchStore) ClaimDueTimers(ctx context.Context, now time.Time, owner string, ttl time.Duration, max int) ([]store.Timer, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.ClaimDueTimers(ctx, now, owner, ttl, max)
}

func (s *switchStore) CompleteTimer(ctx context.Context, t store.Timer) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.CompleteTimer(ctx, t)
}

func (s *switchStore) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.AppendAudit(ctx, e)
}

func (s *switchStore) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.ListAudit(ctx, f)
}

func (s *switchStore) AppendTimeline(ctx context.Context, id string, e store.TimelineEntry) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.AppendTimeline(ctx, id, e)
}

func (s *switchStore) ListTimeline(ctx context.Context, id string) ([]store.TimelineEntry, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.ListTimeline(ctx, id)
}

func (s *switchStore) PutDoc(ctx context.Context, c, id string, doc any) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.PutDoc(ctx, c, id, doc)
}

func (s *switchStore) GetDoc(ctx context.Context, c, id string, out any) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.GetDoc(ctx, c, id, out)
}

func (s *switchStore) ListDocs(ctx context.Context, c string) ([]store.Doc, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.ListDocs(ctx, c)
}

func (s *switchStore) DeleteDoc(ctx context.Context, c, id string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.DeleteDoc(ctx, c, id)
}

func (s *switchStore) Ping(ctx context.Context) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Ping(ctx)
}

// Close keeps the shared store open.
func (s *switchStore) Close() error { return nil }

// LeaseTTL is the workflow lease of replicas started by StartReplica; a
// crashed replica blocks its workflows this long.
const LeaseTTL = 10 * time.Second
