// Package argocdfake is an in-process argocd-server speaking the REST API
// nexo uses (GET/PATCH /api/v1/applications/{name}, POST …/sync,
// POST …/rollback, GET …/resource-tree) with argocd-server's JSON shapes,
// status codes and error texts (runtimeError {"error","code","message"}).
//
// Each application has a spec (kept as raw JSON so merge patches apply for
// real), a status (sync, health, history, operationState, conditions,
// resources, summary.images) and at most one running operation. A running
// operation finishes after Options.ProgressAfterGets GETs of the app, after
// Options.ProgressAfter on the clock, or on Advance.
package argocdfake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/internal/calllog"
)

// Options configures New.
type Options struct {
	// Token is the only bearer token accepted (default DefaultToken).
	Token string
	// Username is recorded as initiatedBy.username (default "nexo").
	Username string
	// ProgressAfterGets finishes a running operation on the Nth GET of the
	// app after it started (default 2; negative: never by GETs).
	ProgressAfterGets int
	// ProgressAfter finishes a running operation once this much clock time
	// has passed since it started (0: never by time).
	ProgressAfter time.Duration
	// Now is the clock (default time.Now); see ManualClock.
	Now func() time.Time
	// ResolveRevision turns a sync's revision into the commit SHA deployed
	// and the images it runs. Default: the revision itself and the app's
	// current images. An error makes the operation fail as a ComparisonError.
	// It is called with the server's lock held: it must not call the server.
	ResolveRevision func(app, revision string) (sha string, images []string, err error)
	// HistoryLimit is how many history entries are kept (default 10, as
	// spec.revisionHistoryLimit's default).
	HistoryLimit int
	// HistoryIDAsString encodes status.history[].id as a JSON string, as
	// grpc-gateway's protobuf JSON does for int64.
	HistoryIDAsString bool
}

// DefaultToken is the bearer token accepted when Options.Token is empty.
const DefaultToken = "argocdfake-token"

// AppSpec seeds an application in AddApp.
type AppSpec struct {
	Project        string // default "default"
	Namespace      string // destination namespace
	Server         string // destination server (default https://kubernetes.default.svc)
	RepoURL        string
	Path           string
	TargetRevision string // default "HEAD"
	AutoSync       bool
	Prune          bool
	SelfHeal       bool
	// Revision is the deployed commit; when set, history starts with entry id 0.
	Revision string
	Images   []string
	Health   string // default Healthy
	Workload string // Deployment name (default the app name)
	Replicas int    // pods in the resource tree (default 2)
}

// Outcome is how the next operation of an app ends (SetNextOutcome).
type Outcome struct {
	// Health after a successful sync: Healthy (default), Degraded, Progressing…
	Health  string
	Message string
	// SyncFailed ends the operation in phase Failed with Message; no
	// history entry is added and the app stays OutOfSync.
	SyncFailed bool
}

// Call is one recorded request.
type Call struct {
	Method   string
	Path     string
	RawQuery string
	Body     string
}

// Fault makes matching requests fail or stall (AddFault).
type Fault struct {
	Method string // "" matches any
	Path   string // exact URL path; "" matches any
	// Status and Code are the HTTP status and gRPC code of the error
	// returned; Status 0 lets the request through after Delay.
	Status  int
	Code    int
	Message string
	Delay   time.Duration
	// AnswerDelay lets the request take effect at once and holds its
	// answer this long; a client that gives up (or dies) meanwhile never
	// learns that it took effect.
	AnswerDelay time.Duration
	Times       int // how many requests it applies to (default 1)
}

// Server is the fake argocd-server.
type Server struct {
	opts Options
	hs   *httptest.Server

	mu   sync.Mutex
	apps map[string]*app
	// projects are the AppProjects; "default" exists, as argocd-server
	// creates it.
	projects map[string]*argocd.AppProject
	calls    calllog.Log[Call]
	faults   []*Fault
	rv       int
}

type app struct {
	name       string
	spec       map[string]any
	status     argocd.ApplicationStatus
	operation  *argocd.Operation
	opGets     int
	opStarted  time.Time
	opSHA      string
	opImages   []string
	opSource   *argocd.ApplicationSource
	opErr      error
	prevHealth argocd.HealthStatus
	next       *Outcome
	workload   string
	namespace  string
	replicas   int
	nextID     int64
	started    int // operations started (syncs and rollbacks)
	events     []argocd.Event
}

// New starts a fake server on a random loopback port. Close it when done.
func New(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.Username == "" {
		opts.Username = "nexo"
	}
	if opts.ProgressAfterGets == 0 {
		opts.ProgressAfterGets = 2
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HistoryLimit <= 0 {
		opts.HistoryLimit = 10
	}
	s := &Server{opts: opts, apps: map[string]*app{}, projects: map[string]*argocd.AppProject{
		"default": {Metadata: argocd.ObjectMeta{Name: "default", Namespace: "argocd"}},
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/applications/{name}", s.handleGet)
	mux.HandleFunc("PATCH /api/v1/applications/{name}", s.handlePatch)
	mux.HandleFunc("POST /api/v1/applications/{name}/sync", s.handleSync)
	mux.HandleFunc("POST /api/v1/applications/{name}/rollback", s.handleRollback)
	mux.HandleFunc("GET /api/v1/applications/{applicationName}/resource-tree", s.handleTree)
	mux.HandleFunc("GET /api/v1/applications/{name}/events", s.handleEvents)
	mux.HandleFunc("GET /api/v1/projects/{name}", s.handleProject)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// argocd-server's mux answers unknown paths in plain text.
		http.Error(w, "Not Found", http.StatusNotFound)
	})
	s.hs = httptest.NewServer(s.middleware(mux))
	return s
}

// URL is the server's base URL (for argocd.Options.Server).
func (s *Server) URL() string { return s.hs.URL }

// Token is the accepted bearer token.
func (s *Server) Token() string { return s.opts.Token }

// Close stops the server.
func (s *Server) Close() { s.hs.Close() }

// AddApp creates or replaces an application.
func (s *Server) AddApp(name string, spec AppSpec) {
	if spec.Project == "" {
		spec.Project = "default"
	}
	if spec.Server == "" {
		spec.Server = "https://kubernetes.default.svc"
	}
	if spec.TargetRevision == "" {
		spec.TargetRevision = "HEAD"
	}
	if spec.Health == "" {
		spec.Health = "Healthy"
	}
	if spec.Workload == "" {
		spec.Workload = name
	}
	if spec.Replicas <= 0 {
		spec.Replicas = 2
	}
	typed := argocd.ApplicationSpec{
		Project:     spec.Project,
		Destination: argocd.ApplicationDestination{Server: spec.Server, Namespace: spec.Namespace},
		Source:      &argocd.ApplicationSource{RepoURL: spec.RepoURL, Path: spec.Path, TargetRevision: spec.TargetRevision},
	}
	if spec.AutoSync {
		typed.SyncPolicy = &argocd.SyncPolicy{Automated: &argocd.SyncPolicyAutomated{Prune: spec.Prune, SelfHeal: spec.SelfHeal}}
	}
	a := &app{name: name, spec: toMap(typed), workload: spec.Workload, namespace: spec.Namespace, replicas: spec.Replicas}
	a.status.Health = argocd.HealthStatus{Status: spec.Health}
	a.status.Sync = argocd.SyncStatus{Status: "Synced", Revision: spec.Revision}
	a.status.Summary.Images = append([]string(nil), spec.Images...)
	now := s.opts.Now().UTC()
	a.status.ReconciledAt = &now
	if spec.Revision != "" {
		a.status.History = []argocd.RevisionHistory{{
			ID: 0, Revision: spec.Revision, DeployedAt: now, DeployStartedAt: &now,
			Source: typed.Source, InitiatedBy: &argocd.OperationInitiator{Automated: true},
		}}
		a.nextID = 1
	} else {
		a.status.Sync.Status = "OutOfSync"
	}
	a.status.Resources = a.resources()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[name] = a
}

// SetSyncWindows replaces the sync windows of project (created when
// missing), as `argocd proj windows add` does.
func (s *Server) SetSyncWindows(project string, windows ...argocd.SyncWindow) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[project]
	if p == nil {
		p = &argocd.AppProject{Metadata: argocd.ObjectMeta{Name: project, Namespace: "argocd"}}
		s.projects[project] = p
	}
	p.Spec.SyncWindows = nil
	for i := range windows {
		w := windows[i]
		p.Spec.SyncWindows = append(p.Spec.SyncWindows, &w)
	}
}

// handleProject is GET /api/v1/projects/{name}. Unlike a missing app, a
// missing project the role may read is Kubernetes' NotFound turned into
// gRPC's (util/grpc kubeErrToGRPC): 404, code 5.
func (s *Server) handleProject(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.PathValue("name")
	p := s.projects[name]
	if p == nil {
		writeError(w, http.StatusNotFound, argocd.CodeNotFound, fmt.Sprintf("appprojects.argoproj.io %q not found", name))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p)
}

// blockedByWindow reports whether a's project's sync windows refuse a
// manual sync now, as argocd-server's Sync does.
func (s *Server) blockedByWindow(a *app) (bool, error) {
	spec := a.typedSpec()
	p := s.projects[spec.Project]
	if p == nil {
		return false, nil
	}
	windows := p.WindowsFor(&argocd.Application{Metadata: argocd.ObjectMeta{Name: a.name}, Spec: spec})
	ok, err := argocd.CanSync(windows, true, s.opts.Now())
	return !ok, err
}

// SetHealth sets the app's health (and its pods' health in the tree).
func (s *Server) SetHealth(name, status, message string) {
	s.withApp(name, func(a *app) { a.status.Health = argocd.HealthStatus{Status: status, Message: message} })
}

// SetAutoSync turns automated sync on or off, as a merge patch would.
func (s *Server) SetAutoSync(name string, enabled bool) {
	s.withApp(name, func(a *app) {
		var v any
		if enabled {
			v = map[string]any{"enabled": true}
		}
		a.spec = mergePatch(a.spec, map[string]any{"syncPolicy": map[string]any{"automated": v}}).(map[string]any)
	})
}

// SetNextOutcome decides how the app's next operation ends.
func (s *Server) SetNextOutcome(name string, o Outcome) {
	s.withApp(name, func(a *app) { a.next = &o })
}

// SetConditions replaces status.conditions (e.g. a ComparisonError).
func (s *Server) SetConditions(name string, conds ...argocd.Condition) {
	s.withApp(name, func(a *app) { a.status.Conditions = append([]argocd.Condition(nil), conds...) })
}

// SetImages replaces status.summary.images (and the pods' images).
func (s *Server) SetImages(name string, images ...string) {
	s.withApp(name, func(a *app) { a.status.Summary.Images = append([]string(nil), images...) })
}

// Advance finishes the app's running operation now; false if none ran.
func (s *Server) Advance(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[name]
	if a == nil || a.operation == nil {
		return false
	}
	s.complete(a)
	return true
}

// AdvanceAll finishes every running operation.
func (s *Server) AdvanceAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.apps {
		if a.operation != nil {
			s.complete(a)
		}
	}
}

// App returns a snapshot of the application as the API would return it.
func (s *Server) App(name string) (argocd.Application, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[name]
	if a == nil {
		return argocd.Application{}, false
	}
	var out argocd.Application
	if err := json.Unmarshal(s.render(a), &out); err != nil {
		panic("argocdfake: " + err.Error())
	}
	return out, true
}

// Calls returns the recorded requests, oldest first.
func (s *Server) Calls() []Call { return s.calls.All() }

// CallCount counts recorded requests with this method and path.
func (s *Server) CallCount(method, path string) int {
	return s.calls.Count(func(c Call) bool { return c.Method == method && c.Path == path })
}

// AddFault makes the next f.Times matching requests fail or stall.
func (s *Server) AddFault(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

func (s *Server) withApp(name string, fn func(*app)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[name]
	if a == nil {
		panic(fmt.Sprintf("argocdfake: no application %q", name))
	}
	fn(a)
	a.status.Resources = a.resources()
}

// ---- HTTP ----

func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		s.calls.Add(Call{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Body: string(body)})
		s.mu.Lock()
		var fault *Fault
		for i, f := range s.faults {
			if (f.Method == "" || f.Method == r.Method) && (f.Path == "" || f.Path == r.URL.Path) {
				fault = f
				if f.Times--; f.Times <= 0 {
					s.faults = append(s.faults[:i], s.faults[i+1:]...)
				}
				break
			}
		}
		s.mu.Unlock()
		if fault != nil {
			if fault.Delay > 0 {
				select {
				case <-time.After(fault.Delay):
				case <-r.Context().Done():
					return
				}
			}
			if fault.Status != 0 {
				writeError(w, fault.Status, fault.Code, fault.Message)
				return
			}
			if fault.AnswerDelay > 0 {
				rec := httptest.NewRecorder()
				s.authorized(next).ServeHTTP(rec, r)
				select {
				case <-time.After(fault.AnswerDelay):
				case <-r.Context().Done():
					return // the change is made; the answer is lost
				}
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
				return
			}
		}
		s.authorized(next).ServeHTTP(w, r)
	})
}

// authorized checks the bearer token before next.
func (s *Server) authorized(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// argocd-server (server.go enforceContentTypes) answers every request
		// but a GET whose Content-Type is not exactly application/json
		// (lower-cased; no parameters) with a plain-text 415, before auth.
		if r.Method != http.MethodGet && strings.ToLower(r.Header.Get("Content-Type")) != "application/json" {
			http.Error(w, "Invalid content type", http.StatusUnsupportedMediaType)
			return
		}
		auth := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(auth, "Bearer ")
		switch {
		case auth == "" || !ok:
			writeError(w, http.StatusUnauthorized, argocd.CodeUnauthenticated, "no session information")
			return
		case token != s.opts.Token:
			// A token argocd-server cannot parse as one of its JWTs.
			writeError(w, http.StatusUnauthorized, argocd.CodeUnauthenticated, "no session information")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// OperationsStarted is how many sync and rollback operations app started
// (requests refused, dry runs and requests cut before they arrived are not
// operations).
func (s *Server) OperationsStarted(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.apps[name]; a != nil {
		return a.started
	}
	return 0
}

// writeError writes grpc-gateway's runtimeError body.
func writeError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": msg, "code": code, "message": msg})
}

func (s *Server) writeApp(w http.ResponseWriter, a *app) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.render(a))
}

// lookup returns the app or writes argocd-server's answer for a missing one:
// without a project it cannot tell "absent" from "forbidden" and says 403.
func (s *Server) lookup(w http.ResponseWriter, name string) *app {
	a := s.apps[name]
	if a == nil {
		writeError(w, http.StatusForbidden, argocd.CodePermissionDenied, "permission denied")
	}
	return a
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.lookup(w, r.PathValue("name"))
	if a == nil {
		return
	}
	if a.operation != nil {
		a.opGets++
	}
	s.tick(a)
	if r.URL.Query().Get("refresh") != "" {
		now := s.opts.Now().UTC()
		a.status.ReconciledAt = &now
		s.refresh(a)
	}
	s.writeApp(w, a)
}

func (s *Server) handleTree(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.lookup(w, r.PathValue("applicationName"))
	if a == nil {
		return
	}
	s.tick(a)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(argocd.ResourceTree{Nodes: a.tree()})
}

// handleEvents lists the Application's Kubernetes events, as argocd-server
// does (an EventList whose items are null when there are none).
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.lookup(w, r.PathValue("name"))
	if a == nil {
		return
	}
	s.tick(a)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(argocd.EventList{Items: a.events})
}

// event records an event on the Application object, as the controller and
// the API server do.
func (s *Server) event(a *app, typ, reason, msg string) {
	now := s.opts.Now().UTC()
	a.events = append(a.events, argocd.Event{
		Metadata:       argocd.ObjectMeta{Name: fmt.Sprintf("%s.%x", a.name, now.UnixNano()), Namespace: "argocd"},
		InvolvedObject: argocd.EventObjectReference{Kind: "Application", Namespace: "argocd", Name: a.name, UID: uid(a.name, "app")},
		Reason:         reason, Message: msg, Type: typ, Count: 1, FirstTimestamp: &now, LastTimestamp: &now,
	})
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, argocd.CodeInvalidArgument, "invalid request body: "+err.Error())
		return false
	}
	return true
}

func (s *Server) handleSync(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.lookup(w, r.PathValue("name"))
	if a == nil {
		return
	}
	var req argocd.SyncRequest
	if !decodeBody(w, r, &req) {
		return
	}
	s.tick(a)
	// argocd-server checks the project's sync windows before anything else
	// (server/application Sync: PermissionDenied).
	if blocked, err := s.blockedByWindow(a); err != nil {
		writeError(w, http.StatusForbidden, argocd.CodePermissionDenied, "cannot sync: invalid sync window: "+err.Error())
		return
	} else if blocked {
		writeError(w, http.StatusForbidden, argocd.CodePermissionDenied, "cannot sync: blocked by sync window")
		return
	}
	spec := a.typedSpec()
	target := ""
	if spec.Source != nil {
		target = spec.Source.TargetRevision
	}
	if req.Revision != "" && req.Revision != target && a.autoSync() {
		writeError(w, http.StatusBadRequest, argocd.CodeFailedPrecondition,
			fmt.Sprintf("Cannot sync to %s: auto-sync currently set to %s", req.Revision, target))
		return
	}
	if a.operation != nil {
		writeError(w, http.StatusBadRequest, argocd.CodeFailedPrecondition, "another operation is already in progress")
		return
	}
	if req.DryRun {
		s.writeApp(w, a)
		return
	}
	rev := req.Revision
	if rev == "" {
		rev = target
	}
	if s.opts.ResolveRevision != nil {
		// argocd-server resolves the revision before it starts anything.
		if _, _, err := s.opts.ResolveRevision(a.name, rev); errors.Is(err, ErrUnknownRevision) {
			writeError(w, http.StatusBadRequest, argocd.CodeFailedPrecondition, "error resolving repo revision: rpc error: code = Unknown desc = "+err.Error())
			return
		}
	}
	s.start(a, rev, spec.Source, req.Prune, "initiated sync to "+rev)
	s.writeApp(w, a)
}

func (s *Server) handleRollback(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.lookup(w, r.PathValue("name"))
	if a == nil {
		return
	}
	var raw struct {
		ID     json.RawMessage `json:"id"`
		Prune  bool            `json:"prune"`
		DryRun bool            `json:"dryRun"`
	}
	if !decodeBody(w, r, &raw) {
		return
	}
	var id int64
	if len(raw.ID) > 0 {
		// argocd-server v3 decodes the body with encoding/json: a number only.
		if err := json.Unmarshal(raw.ID, &id); err != nil {
			writeError(w, http.StatusBadRequest, argocd.CodeInvalidArgument, "json: cannot unmarshal string into Go struct field ApplicationRollbackRequest.id of type int64")
			return
		}
	}
	s.tick(a)
	if a.autoSync() {
		writeError(w, http.StatusBadRequest, argocd.CodeFailedPrecondition, "rollback cannot be initiated when auto-sync is enabled")
		return
	}
	var entry *argocd.RevisionHistory
	for i := range a.status.History {
		if a.status.History[i].ID == id {
			entry = &a.status.History[i]
		}
	}
	if entry == nil {
		writeError(w, http.StatusBadRequest, argocd.CodeInvalidArgument,
			fmt.Sprintf("application argocd/%s does not have deployment with id %v", a.name, id))
		return
	}
	if a.operation != nil {
		writeError(w, http.StatusBadRequest, argocd.CodeFailedPrecondition, "another operation is already in progress")
		return
	}
	if raw.DryRun {
		s.writeApp(w, a)
		return
	}
	s.start(a, entry.Revision, entry.Source, raw.Prune, fmt.Sprintf("initiated rollback to %d", id))
	s.writeApp(w, a)
}

func (s *Server) handlePatch(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.lookup(w, r.PathValue("name"))
	if a == nil {
		return
	}
	var req argocd.PatchRequest
	if !decodeBody(w, r, &req) {
		return
	}
	switch req.PatchType {
	case "merge":
	case "":
		// patchType is a required field of the gRPC request.
		writeError(w, http.StatusInternalServerError, 13, `grpc: error while marshaling: proto: required field "patchType" not set`)
		return
	case "json":
		// argocd-server applies RFC 6902 patches; this fake does not.
		writeError(w, http.StatusBadRequest, argocd.CodeInvalidArgument, "argocdfake: JSON patch (RFC 6902) is not implemented, use patchType merge")
		return
	default:
		writeError(w, http.StatusBadRequest, argocd.CodeInvalidArgument, fmt.Sprintf("Patch type '%s' is not supported", req.PatchType))
		return
	}
	var patch any
	if err := json.Unmarshal([]byte(req.Patch), &patch); err != nil {
		writeError(w, http.StatusInternalServerError, 2, "error calculating merge patch: Invalid JSON Patch")
		return
	}
	var doc map[string]any
	_ = json.Unmarshal(s.render(a), &doc)
	patched, ok := mergePatch(doc, patch).(map[string]any)
	if !ok {
		writeError(w, http.StatusBadRequest, argocd.CodeInvalidArgument, "patch result is not an object")
		return
	}
	newSpec, ok := patched["spec"].(map[string]any)
	if !ok {
		writeError(w, http.StatusBadRequest, argocd.CodeInvalidArgument, "patch removes spec")
		return
	}
	var check argocd.ApplicationSpec
	b, _ := json.Marshal(newSpec)
	if err := json.Unmarshal(b, &check); err != nil {
		writeError(w, http.StatusBadRequest, argocd.CodeInvalidArgument, "error unmarshaling patched app: "+err.Error())
		return
	}
	a.spec = newSpec
	s.rv++
	s.event(a, "Normal", "ResourceUpdated", s.opts.Username+" updated application spec")
	s.writeApp(w, a)
}

// ---- state machine ----

func (s *Server) start(a *app, revision string, source *argocd.ApplicationSource, prune bool, action string) {
	now := s.opts.Now().UTC()
	a.operation = &argocd.Operation{
		Sync:        &argocd.SyncOperation{Revision: revision, Prune: prune},
		InitiatedBy: &argocd.OperationInitiator{Username: s.opts.Username},
	}
	a.opGets, a.opStarted, a.opErr = 0, now, nil
	a.started++
	if source != nil {
		src := *source
		src.TargetRevision = revision
		a.opSource = &src
	} else {
		a.opSource = nil
	}
	a.opSHA, a.opImages = revision, append([]string(nil), a.status.Summary.Images...)
	if s.opts.ResolveRevision != nil {
		sha, images, err := s.opts.ResolveRevision(a.name, revision)
		if err != nil {
			a.opErr = err
		} else {
			a.opSHA = sha
			if images != nil {
				a.opImages = images
			}
		}
	}
	a.status.OperationState = &argocd.OperationState{Phase: "Running", Message: "one or more tasks are running", StartedAt: now, Operation: a.operation}
	s.event(a, "Normal", "OperationStarted", s.opts.Username+" "+action)
	a.prevHealth = a.status.Health
	a.status.Health = argocd.HealthStatus{Status: "Progressing", Message: "Waiting for rollout to finish: 0 of " + fmt.Sprint(a.replicas) + " updated replicas are available..."}
	if a.opErr != nil || a.opSHA != a.status.Sync.Revision {
		a.status.Sync.Status = "OutOfSync"
	}
	a.status.Resources = a.resources()
	s.rv++
}

// tick finishes a's operation if its time or GET count has come.
func (s *Server) tick(a *app) {
	if a.operation == nil {
		return
	}
	byGets := s.opts.ProgressAfterGets > 0 && a.opGets >= s.opts.ProgressAfterGets
	byTime := s.opts.ProgressAfter > 0 && !s.opts.Now().Before(a.opStarted.Add(s.opts.ProgressAfter))
	if byGets || byTime {
		s.complete(a)
	}
}

func (s *Server) complete(a *app) {
	now := s.opts.Now().UTC()
	st := a.status.OperationState
	st.FinishedAt = &now
	a.operation = nil
	s.rv++
	outcome := Outcome{Health: "Healthy"}
	if a.next != nil {
		outcome = *a.next
		a.next = nil
		if outcome.Health == "" {
			outcome.Health = "Healthy"
		}
	}
	switch {
	case a.opErr != nil:
		st.Phase = "Error"
		st.Message = "ComparisonError: " + a.opErr.Error()
		a.status.Health = a.prevHealth
		a.status.Conditions = append(a.status.Conditions, argocd.Condition{Type: "ComparisonError", Message: a.opErr.Error(), LastTransitionTime: &now})
	case outcome.SyncFailed:
		st.Phase = "Failed"
		st.Message = outcome.Message
		if st.Message == "" {
			st.Message = "one or more objects failed to apply"
		}
		st.SyncResult = &argocd.SyncResult{Revision: a.opSHA, Resources: []argocd.ResourceResult{{Kind: "Deployment", Name: a.workload, Namespace: a.namespace, Status: "SyncFailed", Message: st.Message}}}
		a.status.Health = a.prevHealth
		a.status.Sync.Status = "OutOfSync"
	default:
		st.Phase = "Succeeded"
		st.Message = "successfully synced (all tasks run)"
		st.SyncResult = &argocd.SyncResult{Revision: a.opSHA, Resources: []argocd.ResourceResult{{Kind: "Deployment", Name: a.workload, Namespace: a.namespace, Status: "Synced", Message: "deployment.apps/" + a.workload + " configured"}}}
		a.status.Health = argocd.HealthStatus{Status: outcome.Health, Message: outcome.Message}
		a.status.Sync = s.compared(a, a.opSHA, a.opImages)
		a.status.Summary.Images = a.opImages
		started := a.opStarted
		a.status.History = append(a.status.History, argocd.RevisionHistory{
			ID: a.nextID, Revision: a.opSHA, DeployedAt: now, DeployStartedAt: &started,
			Source: a.opSource, InitiatedBy: st.Operation.InitiatedBy,
		})
		a.nextID++
		if n := len(a.status.History); n > s.opts.HistoryLimit {
			a.status.History = append([]argocd.RevisionHistory(nil), a.status.History[n-s.opts.HistoryLimit:]...)
		}
	}
	a.status.ReconciledAt = &now
	a.status.Resources = a.resources()
	if st.Phase == "Succeeded" {
		s.event(a, "Normal", "OperationCompleted", fmt.Sprintf("Sync operation to %s succeeded", a.opSHA))
	} else {
		s.event(a, "Warning", "OperationCompleted", fmt.Sprintf("Sync operation to %s failed: %s", a.opSHA, st.Message))
	}
}

// refresh compares the deployed revision with git's target again, as a
// refresh makes argocd-server do: a new commit on the target makes the app
// OutOfSync with status.sync.revision the new commit, deployed or not. (The
// fake does not auto-sync by itself: nexo asks for every sync.)
func (s *Server) refresh(a *app) {
	if a.operation != nil || len(a.status.History) == 0 {
		return
	}
	a.status.Sync = s.compared(a, a.status.History[len(a.status.History)-1].Revision, a.status.Summary.Images)
	a.status.Resources = a.resources()
}

// compared is status.sync after deploying sha (running images): argocd-server
// compares the live state with git at the app's target revision and reports
// that revision. Git's target renders the same as what runs (here: the same
// images; a commit that only touched other apps) → Synced; otherwise, e.g.
// after a sync to a pinned older revision or a rollback, OutOfSync. Without
// a ResolveRevision the target is taken to be what was deployed.
func (s *Server) compared(a *app, sha string, images []string) argocd.SyncStatus {
	if s.opts.ResolveRevision == nil {
		return argocd.SyncStatus{Status: "Synced", Revision: sha}
	}
	target := "HEAD"
	if spec := a.typedSpec(); spec.Source != nil && spec.Source.TargetRevision != "" {
		target = spec.Source.TargetRevision
	}
	head, headImages, err := s.opts.ResolveRevision(a.name, target)
	switch {
	case err != nil || head == sha:
		return argocd.SyncStatus{Status: "Synced", Revision: sha}
	case headImages != nil && strings.Join(headImages, ",") == strings.Join(images, ","):
		return argocd.SyncStatus{Status: "Synced", Revision: head}
	}
	return argocd.SyncStatus{Status: "OutOfSync", Revision: head}
}

func (a *app) typedSpec() argocd.ApplicationSpec {
	var spec argocd.ApplicationSpec
	b, _ := json.Marshal(a.spec)
	_ = json.Unmarshal(b, &spec)
	return spec
}

// autoSync mirrors argocd-server's check (automated set and not disabled).
func (a *app) autoSync() bool {
	return (&argocd.Application{Spec: a.typedSpec()}).AutoSyncEnabled()
}

// render encodes the app as argocd-server's v1alpha1Application JSON.
func (s *Server) render(a *app) []byte {
	status := a.status
	// argocd-server v3 names the causing resources at the app level; the
	// Deployment's own message stays in status.resources.
	switch status.Health.Status {
	case "Healthy", "":
		status.Health.Message = ""
	default:
		if status.Health.Message != "" {
			status.Health.Message = "Caused by apps/Deployment:" + a.namespace + "/" + a.workload
		}
	}
	var statusJSON any = status
	if s.opts.HistoryIDAsString {
		m := toMap(status)
		if hist, ok := m["history"].([]any); ok {
			for _, h := range hist {
				if e, ok := h.(map[string]any); ok {
					e["id"] = fmt.Sprint(e["id"])
				}
			}
		}
		statusJSON = m
	}
	doc := map[string]any{
		"metadata": argocd.ObjectMeta{Name: a.name, Namespace: "argocd", ResourceVersion: fmt.Sprint(s.rv)},
		"spec":     a.spec,
		"status":   statusJSON,
	}
	if a.operation != nil {
		doc["operation"] = a.operation
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic("argocdfake: " + err.Error())
	}
	return b
}

func (a *app) resources() []argocd.ResourceStatus {
	sync := a.status.Sync.Status
	health := a.status.Health
	return []argocd.ResourceStatus{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: a.namespace, Name: a.workload, Status: sync, Health: &health},
		{Version: "v1", Kind: "Service", Namespace: a.namespace, Name: a.workload, Status: "Synced", Health: &argocd.HealthStatus{Status: "Healthy"}},
	}
}

func shortHash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "/")))
	return hex.EncodeToString(sum[:])
}

// tree is the resource tree: Deployment → ReplicaSet → Pods, plus a Service.
func (a *app) tree() []argocd.ResourceNode {
	rev := a.status.Sync.Revision
	dep := argocd.ResourceNode{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: a.namespace, Name: a.workload,
		UID: uid(a.name, "deploy"), Health: &argocd.HealthStatus{Status: a.status.Health.Status, Message: a.status.Health.Message}}
	rsName := a.workload + "-" + shortHash(rev, strings.Join(a.status.Summary.Images, ","))[:10]
	rs := argocd.ResourceNode{Group: "apps", Version: "v1", Kind: "ReplicaSet", Namespace: a.namespace, Name: rsName,
		UID: uid(a.name, rsName), Health: &argocd.HealthStatus{Status: "Healthy"},
		ParentRefs: []argocd.ResourceRef{{Group: "apps", Kind: "Deployment", Namespace: a.namespace, Name: a.workload, UID: dep.UID}}}
	nodes := []argocd.ResourceNode{dep, rs,
		{Version: "v1", Kind: "Service", Namespace: a.namespace, Name: a.workload, UID: uid(a.name, "svc"), Health: &argocd.HealthStatus{Status: "Healthy"}}}
	podHealth := argocd.HealthStatus{Status: "Healthy"}
	switch a.status.Health.Status {
	case "Degraded", "Progressing", "Missing", "Suspended":
		podHealth = argocd.HealthStatus{Status: a.status.Health.Status, Message: a.status.Health.Message}
	}
	for i := 0; i < a.replicas; i++ {
		name := rsName + "-" + shortHash(rsName, fmt.Sprint(i))[:5]
		h := podHealth
		nodes = append(nodes, argocd.ResourceNode{Version: "v1", Kind: "Pod", Namespace: a.namespace, Name: name,
			UID: uid(a.name, name), Health: &h, Images: append([]string(nil), a.status.Summary.Images...),
			ParentRefs: []argocd.ResourceRef{{Group: "apps", Kind: "ReplicaSet", Namespace: a.namespace, Name: rsName, UID: rs.UID}}})
	}
	return nodes
}

func uid(parts ...string) string {
	h := shortHash(parts...)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func toMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic("argocdfake: " + err.Error())
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// mergePatch applies an RFC 7396 JSON merge patch.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	} else {
		cp := make(map[string]any, len(t))
		for k, v := range t {
			cp[k] = v
		}
		t = cp
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}
