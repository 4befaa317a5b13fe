package registry

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/registryfake"
)

const repo = "nexo-org/nexo-be"

func newPair(t *testing.T, fo registryfake.Options, token string) (*registryfake.Server, *HTTPClient) {
	t.Helper()
	fake := registryfake.New(fo)
	t.Cleanup(fake.Close)
	c, err := NewClient(Options{BaseURL: fake.URL(), Token: token, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return fake, c
}

func TestTagExistsWithChallengeAndCache(t *testing.T) {
	fake, c := newPair(t, registryfake.Options{}, "")
	fake.AddTags(repo, "2024.05.01", "2024.05.02")
	ctx := context.Background()

	ok, err := c.TagExists(ctx, repo, "2024.05.01")
	if err != nil || !ok {
		t.Fatalf("existing tag: %v %v", ok, err)
	}
	ok, err = c.TagExists(ctx, repo, "2024.05.03")
	if err != nil || ok {
		t.Fatalf("missing tag: %v %v", ok, err)
	}
	if _, err := c.Tags(ctx, repo); err != nil {
		t.Fatal(err)
	}
	if n := fake.TokenRequests(); n != 1 {
		t.Fatalf("token not cached: %d token requests", n)
	}
	calls := fake.Calls()
	// 1: HEAD without token → 401, 2: token, 3: HEAD with bearer.
	if calls[0].Auth != "" || calls[1].Path != "/token" || calls[1].Auth != "" || calls[2].Auth != "bearer" {
		t.Fatalf("flow: %+v", calls[:3])
	}
	if !strings.Contains(calls[1].RawQuery, "scope=repository%3A"+strings.ReplaceAll(repo, "/", "%2F")+"%3Apull") || !strings.Contains(calls[1].RawQuery, "service=registryfake") {
		t.Fatalf("token query: %s", calls[1].RawQuery)
	}
	if n := fake.CallCount("HEAD", "/v2/"+repo+"/manifests/2024.05.01"); n != 2 {
		t.Fatalf("want 2 HEADs (challenge + retry), got %d", n)
	}

	// Another repository has another scope, hence another token.
	fake.AddTags("nexo-org/nexo-fe", "2024.01.01")
	if ok, err := c.TagExists(ctx, "nexo-org/nexo-fe", "2024.01.01"); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if n := fake.TokenRequests(); n != 2 {
		t.Fatalf("want a token per scope, got %d", n)
	}
}

func TestTokenExpiryAndAccessTokenField(t *testing.T) {
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	fake, c := newPair(t, registryfake.Options{TokenTTL: 60 * time.Second, AccessTokenField: true, Now: clock}, "")
	c.now = clock
	fake.AddTags(repo, "a")
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if ok, err := c.TagExists(ctx, repo, "a"); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	if n := fake.TokenRequests(); n != 1 {
		t.Fatalf("token requests %d", n)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if ok, err := c.TagExists(ctx, repo, "a"); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if n := fake.TokenRequests(); n != 2 {
		t.Fatalf("expired token reused: %d token requests", n)
	}
}

func TestTokenWithCredentials(t *testing.T) {
	fake, c := newPair(t, registryfake.Options{Password: "ghp_secret"}, "ghp_secret")
	fake.AddTags(repo, "2024.05.01")
	if ok, err := c.TagExists(context.Background(), repo, "2024.05.01"); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if calls := fake.Calls(); calls[1].Auth != "basic" {
		t.Fatalf("token request without basic auth: %+v", calls[1])
	}

	bad, err := NewClient(Options{BaseURL: fake.URL(), Token: "wrong-token-value"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.TagExists(context.Background(), repo, "2024.05.01")
	var e *Error
	if err == nil || !asError(err, &e) || e.Status != 401 || e.Code != "UNAUTHORIZED" {
		t.Fatalf("bad credentials: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-token-value") {
		t.Fatal("token leaked into error")
	}
}

func asError(err error, e **Error) bool {
	var x *Error
	ok := false
	if x, ok = err.(*Error); ok {
		*e = x
	}
	return ok
}

func TestTagsPagination(t *testing.T) {
	fake, c := newPair(t, registryfake.Options{}, "")
	var want []string
	for i := 0; i < 2500; i++ {
		tag := fmt.Sprintf("2024.%02d.%02d-%04d", i%12+1, i%28+1, i)
		want = append(want, tag)
	}
	fake.AddTags(repo, want...)
	got, err := c.Tags(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2500 {
		t.Fatalf("got %d tags", len(got))
	}
	seen := map[string]bool{}
	for _, g := range got {
		if seen[g] {
			t.Fatalf("duplicate %s", g)
		}
		seen[g] = true
	}
	if n := fake.CallCount("GET", "/v2/"+repo+"/tags/list"); n != 4 { // 401 + 3 pages
		t.Fatalf("want 4 tag list GETs, got %d", n)
	}
	calls := fake.Calls()
	last := calls[len(calls)-1]
	if !strings.Contains(last.RawQuery, "last=") || !strings.Contains(last.RawQuery, "n=1000") {
		t.Fatalf("last page query: %s", last.RawQuery)
	}
}

func TestNotFoundAndErrors(t *testing.T) {
	fake, c := newPair(t, registryfake.Options{}, "")
	ctx := context.Background()
	_, err := c.Tags(ctx, "nexo-org/ghost")
	var e *Error
	if !asError(err, &e) || e.Status != 404 || e.Code != "NAME_UNKNOWN" || !IsNotFound(err) {
		t.Fatalf("unknown repo: %v", err)
	}
	fake.AddTags(repo, "x")
	fake.FailOnce("/v2/"+repo+"/manifests/x", 500)
	if _, err := c.TagExists(ctx, repo, "x"); err == nil {
		t.Fatal("500 not reported")
	}
	before := len(fake.Calls())
	for _, bad := range []struct{ repo, tag string }{
		{"../etc", "x"}, {"nexo-org/../../v2", "x"}, {"Nexo/BE", "x"}, {repo, "../x"}, {repo, ".x"}, {repo, strings.Repeat("a", 129)}, {repo, "a/b"},
	} {
		if _, err := c.TagExists(ctx, bad.repo, bad.tag); err == nil {
			t.Errorf("accepted %q:%q", bad.repo, bad.tag)
		}
	}
	if after := len(fake.Calls()); after != before {
		t.Fatalf("invalid input reached the registry (%d calls)", after-before)
	}
}

func TestManifestAcceptHeader(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Accept")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	c, err := NewClient(Options{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := c.TagExists(context.Background(), repo, "x"); err != nil || !ok {
		t.Fatal(ok, err)
	}
	for _, mt := range []string{"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
		"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json"} {
		if !strings.Contains(got, mt) {
			t.Errorf("Accept lacks %s: %q", mt, got)
		}
	}
}

func TestLinkToOtherHostRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `<https://evil.example.com/v2/x/tags/list?last=a&n=1000>; rel="next"`)
		_, _ = w.Write([]byte(`{"name":"x","tags":["a"]}`))
	}))
	defer srv.Close()
	c, _ := NewClient(Options{BaseURL: srv.URL})
	if _, err := c.Tags(context.Background(), "x"); err == nil || !strings.Contains(err.Error(), "another host") {
		t.Fatalf("cross-host Link followed: %v", err)
	}
}

func TestParseChallenge(t *testing.T) {
	scheme, p := parseChallenge(`Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:nexo-org/nexo-be:pull"`)
	want := map[string]string{"realm": "https://ghcr.io/token", "service": "ghcr.io", "scope": "repository:nexo-org/nexo-be:pull"}
	if scheme != "Bearer" || !reflect.DeepEqual(p, want) {
		t.Fatalf("%s %v", scheme, p)
	}
	_, p = parseChallenge(`Bearer realm="https://auth.docker.io/token", service="registry.docker.io", scope="repository:library/nginx:pull,push"`)
	if p["scope"] != "repository:library/nginx:pull,push" || p["service"] != "registry.docker.io" {
		t.Fatalf("%v", p)
	}
}

func TestSplitImage(t *testing.T) {
	cases := []struct{ in, host, repo, tag string }{
		{"ghcr.io/nexo-org/nexo-be:2024.05.01", "ghcr.io", "nexo-org/nexo-be", "2024.05.01"},
		{"nexo-org/nexo-be", "", "nexo-org/nexo-be", ""},
		{"localhost:5000/app:v1", "localhost:5000", "app", "v1"},
	}
	for _, c := range cases {
		h, r, tg, err := SplitImage(c.in)
		if err != nil || h != c.host || r != c.repo || tg != c.tag {
			t.Errorf("%s → %q %q %q %v", c.in, h, r, tg, err)
		}
	}
	for _, bad := range []string{"ghcr.io/a/b@sha256:abc", "ghcr.io/../x:1", "ghcr.io/A/b:1", "ghcr.io/a/b:"} {
		if _, _, _, err := SplitImage(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestNewClientValidation(t *testing.T) {
	c, err := NewClient(Options{})
	if err != nil || c.base.String() != "https://ghcr.io" {
		t.Fatalf("default base: %v %v", c, err)
	}
	for _, o := range []Options{{BaseURL: "ftp://x"}, {BaseURL: "https://u:p@x"}, {BaseURL: "https://x", Token: "a\nb"}} {
		if _, err := NewClient(o); err == nil {
			t.Errorf("accepted %+v", o)
		}
	}
}
