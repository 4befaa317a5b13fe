// Package registryfake is an in-process OCI distribution registry for tests:
// GET /v2/, HEAD/GET /v2/<name>/manifests/<reference>, GET
// /v2/<name>/tags/list (n and last pagination with a Link header), and the
// Bearer token flow (401 with WWW-Authenticate, GET /token), answering errors
// in the OCI format {"errors":[{"code","message","detail"}]}.
package registryfake

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/internal/calllog"
)

// Options configures New.
type Options struct {
	// Service is the token service name (default "registryfake").
	Service string
	// Password, when set, is required (as the basic-auth password, any
	// user) by the token endpoint; otherwise tokens are anonymous.
	Password string
	// TokenTTL is the tokens' expires_in (default 300s).
	TokenTTL time.Duration
	// AccessTokenField answers {"access_token":…} instead of {"token":…}.
	AccessTokenField bool
	// Now is the clock for token expiry (default time.Now).
	Now func() time.Time
}

// Call is one recorded request.
type Call struct {
	Method   string
	Path     string
	RawQuery string
	Auth     string // "", "basic" or "bearer": the scheme only, never the secret
}

// Server is the fake registry.
type Server struct {
	opts Options
	hs   *httptest.Server

	mu     sync.Mutex
	repos  map[string]map[string]bool
	tokens map[string]issued
	calls  calllog.Log[Call]
	fail   map[string]int // path → status to answer once
}

type issued struct {
	scope   string
	expires time.Time
}

// New starts the registry on a random loopback port.
func New(opts Options) *Server {
	if opts.Service == "" {
		opts.Service = "registryfake"
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 300 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, repos: map[string]map[string]bool{}, tokens: map[string]issued{}, fail: map[string]int{}}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the registry's base URL (registry.Options.BaseURL).
func (s *Server) URL() string { return s.hs.URL }

// Close stops the server.
func (s *Server) Close() { s.hs.Close() }

var (
	repoRe = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRe  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// AddTags adds tags to a repository, creating it. It panics on a name or
// tag outside the OCI grammar (a test bug).
func (s *Server) AddTags(repo string, tags ...string) {
	if !repoRe.MatchString(repo) {
		panic(fmt.Sprintf("registryfake: invalid repository %q", repo))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repos[repo] == nil {
		s.repos[repo] = map[string]bool{}
	}
	for _, t := range tags {
		if !tagRe.MatchString(t) {
			panic(fmt.Sprintf("registryfake: invalid tag %q", t))
		}
		s.repos[repo][t] = true
	}
}

// RemoveTag deletes a tag.
func (s *Server) RemoveTag(repo, tag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.repos[repo], tag)
}

// FailOnce makes the next request to path answer status (OCI error UNKNOWN).
func (s *Server) FailOnce(path string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[path] = status
}

// Calls returns the recorded requests, oldest first.
func (s *Server) Calls() []Call { return s.calls.All() }

// CallCount counts recorded requests by method and path.
func (s *Server) CallCount(method, path string) int {
	return s.calls.Count(func(c Call) bool { return c.Method == method && c.Path == path })
}

// TokenRequests counts GET /token requests.
func (s *Server) TokenRequests() int { return s.CallCount(http.MethodGet, "/token") }

type ociError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

func writeErr(w http.ResponseWriter, r *http.Request, status int, code, msg string, detail any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(map[string][]ociError{"errors": {{Code: code, Message: msg, Detail: detail}}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	auth := ""
	if h := r.Header.Get("Authorization"); h != "" {
		auth = strings.ToLower(strings.SplitN(h, " ", 2)[0])
	}
	s.calls.Add(Call{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Auth: auth})
	s.mu.Lock()
	status, failing := s.fail[r.URL.Path]
	delete(s.fail, r.URL.Path)
	s.mu.Unlock()
	if failing {
		writeErr(w, r, status, "UNKNOWN", "unknown error", nil)
		return
	}
	if r.URL.Path == "/token" {
		s.serveToken(w, r)
		return
	}
	if r.URL.Path == "/v2/" || r.URL.Path == "/v2" {
		if !s.authorized(r, "") {
			s.challenge(w, r, "")
			return
		}
		w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
		_, _ = w.Write([]byte("{}"))
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	if !ok {
		writeErr(w, r, http.StatusNotFound, "NOT_FOUND", "not found", nil)
		return
	}
	switch {
	case strings.HasSuffix(rest, "/tags/list"):
		s.serveTags(w, r, strings.TrimSuffix(rest, "/tags/list"))
	case strings.Contains(rest, "/manifests/"):
		i := strings.LastIndex(rest, "/manifests/")
		s.serveManifest(w, r, rest[:i], rest[i+len("/manifests/"):])
	default:
		writeErr(w, r, http.StatusNotFound, "NOT_FOUND", "not found", nil)
	}
}

func (s *Server) challenge(w http.ResponseWriter, r *http.Request, repo string) {
	h := fmt.Sprintf(`Bearer realm="%s/token",service="%s"`, s.hs.URL, s.opts.Service)
	var detail any
	if repo != "" {
		h += fmt.Sprintf(`,scope="repository:%s:pull"`, repo)
		detail = []map[string]string{{"Type": "repository", "Name": repo, "Action": "pull"}}
	}
	w.Header().Set("WWW-Authenticate", h)
	writeErr(w, r, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required", detail)
}

// authorized checks the bearer token covers repo (any valid token for "").
func (s *Server) authorized(r *http.Request, repo string) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tok]
	if !ok || s.opts.Now().After(t.expires) {
		return false
	}
	if repo == "" {
		return true
	}
	for _, sc := range strings.Fields(t.scope) {
		parts := strings.Split(sc, ":")
		if len(parts) == 3 && parts[0] == "repository" && parts[1] == repo && strings.Contains(","+parts[2]+",", ",pull,") {
			return true
		}
	}
	return false
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeErr(w, r, http.StatusMethodNotAllowed, "UNSUPPORTED", "method not allowed", nil)
		return
	}
	q := r.URL.Query()
	if q.Get("service") != s.opts.Service {
		writeErr(w, r, http.StatusBadRequest, "DENIED", "unknown service", nil)
		return
	}
	if s.opts.Password != "" {
		if _, pw, ok := r.BasicAuth(); !ok || pw != s.opts.Password {
			writeErr(w, r, http.StatusUnauthorized, "UNAUTHORIZED", "invalid credentials", nil)
			return
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	now := s.opts.Now()
	s.mu.Lock()
	s.tokens[tok] = issued{scope: strings.Join(q["scope"], " "), expires: now.Add(s.opts.TokenTTL)}
	s.mu.Unlock()
	body := map[string]any{"expires_in": int(s.opts.TokenTTL / time.Second), "issued_at": now.UTC().Format(time.RFC3339)}
	if s.opts.AccessTokenField {
		body["access_token"] = tok
	} else {
		body["token"] = tok
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) lookupRepo(w http.ResponseWriter, r *http.Request, repo string) (map[string]bool, bool) {
	if !repoRe.MatchString(repo) {
		writeErr(w, r, http.StatusBadRequest, "NAME_INVALID", "invalid repository name", repo)
		return nil, false
	}
	if !s.authorized(r, repo) {
		s.challenge(w, r, repo)
		return nil, false
	}
	s.mu.Lock()
	tags, ok := s.repos[repo]
	cp := make(map[string]bool, len(tags))
	for k := range tags {
		cp[k] = true
	}
	s.mu.Unlock()
	if !ok {
		writeErr(w, r, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry", map[string]string{"name": repo})
		return nil, false
	}
	return cp, true
}

func (s *Server) serveManifest(w http.ResponseWriter, r *http.Request, repo, ref string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeErr(w, r, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", nil)
		return
	}
	tags, ok := s.lookupRepo(w, r, repo)
	if !ok {
		return
	}
	if !tagRe.MatchString(ref) {
		writeErr(w, r, http.StatusBadRequest, "TAG_INVALID", "manifest tag did not match URI", ref)
		return
	}
	if !tags[ref] {
		writeErr(w, r, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown", map[string]string{"Tag": ref})
		return
	}
	manifest := manifestFor(repo, ref)
	sum := sha256.Sum256(manifest)
	w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	w.Header().Set("Docker-Content-Digest", "sha256:"+hex.EncodeToString(sum[:]))
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	w.Header().Set("Content-Length", strconv.Itoa(len(manifest)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(manifest)
}

// manifestFor builds a deterministic OCI image manifest for repo:tag.
func manifestFor(repo, tag string) []byte {
	d := func(s string) string { h := sha256.Sum256([]byte(s)); return "sha256:" + hex.EncodeToString(h[:]) }
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d(repo + ":" + tag + "/config"), "size": 1469},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d(repo + ":" + tag + "/layer"), "size": 3370706}},
	}
	b, _ := json.Marshal(m)
	return b
}

func (s *Server) serveTags(w http.ResponseWriter, r *http.Request, repo string) {
	if r.Method != http.MethodGet {
		writeErr(w, r, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", nil)
		return
	}
	set, ok := s.lookupRepo(w, r, repo)
	if !ok {
		return
	}
	tags := make([]string, 0, len(set))
	for t := range set {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	q := r.URL.Query()
	if last := q.Get("last"); last != "" {
		i := sort.SearchStrings(tags, last)
		for i < len(tags) && tags[i] <= last {
			i++
		}
		tags = tags[i:]
	}
	n := len(tags)
	if v := q.Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			writeErr(w, r, http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", "invalid number of results requested", map[string]string{"n": v})
			return
		}
	}
	if n < len(tags) {
		tags = tags[:n]
		if n > 0 {
			next := url.Values{"n": {strconv.Itoa(n)}, "last": {tags[n-1]}}
			w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?%s>; rel="next"`, repo, next.Encode()))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	_ = json.NewEncoder(w).Encode(map[string]any{"name": repo, "tags": tags})
}
