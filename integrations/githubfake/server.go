// Package githubfake is an HTTP server speaking GitHub's REST v3 JSON for the
// endpoints nexo uses: pull requests on the GitOps repository (list, create,
// get, close, merge, labels, reviewers, comments) and commits of service
// repositories (compare, list). Paths are GitHub's, with or without the
// Enterprise "/api/v3" prefix. Pull requests live in memory; merging does a
// real merge into the real bare GitOps repository. Tests inject branch
// protection, delays and 5xx, and count calls.
package githubfake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/internal/calllog"
)

// Options configures New.
type Options struct {
	// Owner and Repo name the GitOps repository; RemotePath is its bare
	// repository on disk, where merges land.
	Owner, Repo string
	RemotePath  string
	// Token is the only accepted token (default: a random one, see Token()).
	Token string
	// Login is the token's user, the author of created PRs (default "nexo-bot").
	Login string
	// DeleteBranchOnMerge deletes the head branch after a merge, like the
	// repository setting.
	DeleteBranchOnMerge bool
	// GitTimeout bounds each git command of a merge (default 30s).
	GitTimeout time.Duration
}

// Call is one request the server received.
type Call struct {
	Method string
	Path   string // without the /api/v3 prefix, e.g. /repos/o/r/pulls/1/merge
	Query  string
}

// Fault makes matching requests fail or wait.
type Fault struct {
	Method string // "" matches any
	// Path matches the path without /api/v3: exactly, or as a prefix when it
	// ends with "*".
	Path string
	// Delay is waited first (or until the client gives up, and then the
	// request has no effect).
	Delay time.Duration
	// AnswerDelay makes the request take effect at once and holds its
	// answer this long; a client that gives up (or dies) meanwhile never
	// learns that it took effect.
	AnswerDelay time.Duration
	// Status, when not 0, is answered with {"message": Message}.
	Status  int
	Message string
	// Times is how many requests it affects (0: one).
	Times int
}

// Server is the fake GitHub. It is an http.Handler; New also serves it on a
// loopback port.
type Server struct {
	opts  Options
	token string
	srv   *httptest.Server

	mu        sync.Mutex
	calls     calllog.Log[Call]
	faults    []*Fault
	approvals int // required approving reviews; 0: no protection
	blockMsg  string
	blockCode int
	pulls     []*pull
	nextID    int64
	labels    map[string]*labelJSON
	fixtures  map[string][]FixtureCommit // "owner/name" (lower) → oldest first
	gitRepos  map[string]string          // "owner/name" (lower) → git dir
	mergeMu   sync.Mutex
}

// New starts a fake GitHub on 127.0.0.1 with a random port. Close it.
func New(opts Options) *Server {
	s := NewHandler(opts)
	s.srv = httptest.NewServer(s)
	return s
}

// NewHandler is New without starting a listener (mount it yourself).
func NewHandler(opts Options) *Server {
	if opts.Login == "" {
		opts.Login = "nexo-bot"
	}
	if opts.GitTimeout <= 0 {
		opts.GitTimeout = 30 * time.Second
	}
	s := &Server{
		opts:     opts,
		token:    opts.Token,
		nextID:   1000,
		labels:   map[string]*labelJSON{},
		fixtures: map[string][]FixtureCommit{},
		gitRepos: map[string]string{},
	}
	if s.token == "" {
		b := make([]byte, 18)
		_, _ = rand.Read(b)
		s.token = "ghp_" + hex.EncodeToString(b)
	}
	if opts.Owner != "" && opts.RemotePath != "" {
		s.gitRepos[strings.ToLower(opts.Owner+"/"+opts.Repo)] = opts.RemotePath
	}
	return s
}

// URL is the server's root, e.g. http://127.0.0.1:PORT (no trailing slash).
func (s *Server) URL() string {
	if s.srv == nil {
		return ""
	}
	return s.srv.URL
}

// Token is the token the server accepts.
func (s *Server) Token() string { return s.token }

// Close stops the listener started by New.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.Close()
	}
}

// Calls returns the requests received so far, in order.
func (s *Server) Calls() []Call { return s.calls.All() }

// Count is how many requests had method and path (without /api/v3; a
// trailing "*" matches a prefix).
func (s *Server) Count(method, path string) int {
	return s.calls.Count(func(c Call) bool { return c.Method == method && pathMatch(path, c.Path) })
}

// ResetCalls forgets recorded calls.
func (s *Server) ResetCalls() {
	s.calls.Reset()
}

// Inject adds a fault for the next matching requests.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	if f.Times <= 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
}

// SetRequiredApprovals turns branch protection on (n > 0) or off: merges
// are refused with 405 and GitHub's message, e.g. "At least 2 approving
// reviews are required by reviewers with write access."
func (s *Server) SetRequiredApprovals(n int) {
	s.mu.Lock()
	s.approvals = n
	s.mu.Unlock()
}

// BlockMerges refuses every merge with status and message (e.g. 405
// "Required status check \"ci\" is expected."); status 0 lifts it.
func (s *Server) BlockMerges(status int, message string) {
	s.mu.Lock()
	s.blockCode, s.blockMsg = status, message
	s.mu.Unlock()
}

func pathMatch(pattern, p string) bool {
	if strings.HasSuffix(pattern, "*") {
		return strings.HasPrefix(p, strings.TrimSuffix(pattern, "*"))
	}
	return pattern == p
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.EscapedPath()
	raw = strings.TrimPrefix(raw, "/api/v3")
	p, _ := url.PathUnescape(raw)
	s.calls.Add(Call{Method: r.Method, Path: p, Query: r.URL.RawQuery})
	s.mu.Lock()
	var fault *Fault
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && pathMatch(f.Path, p) {
			fault = f
			f.Times--
			if f.Times <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			break
		}
	}
	s.mu.Unlock()

	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	w.Header().Set("X-GitHub-Request-Id", fmt.Sprintf("FAKE:%d", time.Now().UnixNano()))
	w.Header().Set("X-RateLimit-Limit", "5000")
	w.Header().Set("X-RateLimit-Remaining", "4999")
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	w.Header().Set("X-RateLimit-Resource", "core")

	if fault != nil {
		// Read the body first: the server notices a client that hangs up
		// only once the body is consumed.
		body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		if fault.Delay > 0 {
			t := time.NewTimer(fault.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if fault.Status != 0 {
			msg := fault.Message
			if msg == "" {
				msg = http.StatusText(fault.Status)
			}
			writeJSON(w, fault.Status, errorJSON{Message: msg})
			return
		}
	}
	if fault != nil && fault.AnswerDelay > 0 {
		rec := httptest.NewRecorder()
		s.route(rec, r, raw)
		t := time.NewTimer(fault.AnswerDelay)
		defer t.Stop()
		select {
		case <-t.C:
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
	s.route(w, r, raw)
}

// route authenticates and serves one request.
func (s *Server) route(w http.ResponseWriter, r *http.Request, raw string) {
	if owner, repo, num, diff, ok := webPull(raw); ok && !strings.HasPrefix(r.URL.Path, "/api/") {
		s.servePullPage(w, r, owner, repo, num, diff)
		return
	}
	if !s.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, errorJSON{Message: "Bad credentials", DocumentationURL: "https://docs.github.com/rest", Status: "401"})
		return
	}
	seg := strings.Split(strings.Trim(raw, "/"), "/")
	for i := range seg {
		seg[i], _ = url.PathUnescape(seg[i])
	}
	if len(seg) < 4 || seg[0] != "repos" {
		notFound(w)
		return
	}
	owner, repo, rest := seg[1], seg[2], seg[3:]
	switch {
	case rest[0] == "compare" && len(rest) >= 2 && r.Method == http.MethodGet:
		s.compare(w, r, owner, repo, strings.Join(rest[1:], "/"))
	case rest[0] == "commits" && len(rest) == 1 && r.Method == http.MethodGet:
		s.listCommits(w, r, owner, repo)
	case !s.isGitOps(owner, repo):
		notFound(w)
	case rest[0] == "pulls" && len(rest) == 1 && r.Method == http.MethodGet:
		s.listPulls(w, r)
	case rest[0] == "pulls" && len(rest) == 1 && r.Method == http.MethodPost:
		s.createPull(w, r)
	case rest[0] == "pulls" && len(rest) == 2 && r.Method == http.MethodGet:
		s.withPull(w, rest[1], func(w http.ResponseWriter, pr *pull) { writeJSON(w, http.StatusOK, s.render(r, s.snapshot(pr))) })
	case rest[0] == "pulls" && len(rest) == 2 && r.Method == http.MethodPatch:
		s.withPull(w, rest[1], func(w http.ResponseWriter, pr *pull) { s.editPull(w, r, pr) })
	case rest[0] == "pulls" && len(rest) == 3 && rest[2] == "merge" && r.Method == http.MethodPut:
		s.withPull(w, rest[1], func(w http.ResponseWriter, pr *pull) { s.mergePull(w, r, pr) })
	case rest[0] == "pulls" && len(rest) == 3 && rest[2] == "merge" && r.Method == http.MethodGet:
		s.withPull(w, rest[1], func(w http.ResponseWriter, pr *pull) {
			if s.snapshot(pr).merged {
				w.WriteHeader(http.StatusNoContent)
			} else {
				notFound(w)
			}
		})
	case rest[0] == "pulls" && len(rest) == 3 && rest[2] == "requested_reviewers" && r.Method == http.MethodPost:
		s.withPull(w, rest[1], func(w http.ResponseWriter, pr *pull) { s.requestReviewers(w, r, pr) })
	case rest[0] == "issues" && len(rest) == 3 && rest[2] == "labels" && r.Method == http.MethodPost:
		s.withPull(w, rest[1], func(w http.ResponseWriter, pr *pull) { s.addLabels(w, r, pr) })
	case rest[0] == "issues" && len(rest) == 3 && rest[2] == "comments" && r.Method == http.MethodPost:
		s.withPull(w, rest[1], func(w http.ResponseWriter, pr *pull) { s.addComment(w, r, pr) })
	case rest[0] == "issues" && len(rest) == 3 && rest[2] == "comments" && r.Method == http.MethodGet:
		s.withPull(w, rest[1], func(w http.ResponseWriter, pr *pull) { s.listComments(w, r, pr) })
	default:
		notFound(w)
	}
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	for _, scheme := range []string{"Bearer ", "token ", "bearer "} {
		if strings.HasPrefix(h, scheme) {
			return strings.TrimPrefix(h, scheme) == s.token
		}
	}
	return false
}

func (s *Server) isGitOps(owner, repo string) bool {
	return strings.EqualFold(owner, s.opts.Owner) && strings.EqualFold(repo, s.opts.Repo)
}

// apiBase is the API root as the client addressed it (with /api/v3 if used).
func apiBase(r *http.Request) string {
	b := "http://" + r.Host
	if strings.HasPrefix(r.URL.Path, "/api/v3/") {
		b += "/api/v3"
	}
	return b
}

func webBase(r *http.Request) string { return "http://" + r.Host }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, errorJSON{Message: "Not Found", DocumentationURL: "https://docs.github.com/rest", Status: "404"})
}

func validationFailed(w http.ResponseWriter, details ...errorDetail) {
	writeJSON(w, http.StatusUnprocessableEntity, errorJSON{Message: "Validation Failed", Errors: details, DocumentationURL: "https://docs.github.com/rest/pulls/pulls#create-a-pull-request", Status: "422"})
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

func (s *Server) user(r *http.Request, login string) userJSON {
	return userJSON{
		Login: login, ID: int64(len(login)) * 7919, NodeID: "U_" + login, Type: "User",
		URL: apiBase(r) + "/users/" + login, HTMLURL: webBase(r) + "/" + login,
		AvatarURL: webBase(r) + "/avatars/" + login,
	}
}

// gitCtx bounds one git command.
func (s *Server) gitCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.GitTimeout)
}
