package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// testOnly tells a package that belongs in tests or the sandbox, never in
// the serving binary, and why.
func testOnly(path string, standard bool) (string, bool) {
	if standard {
		if path == "testing" || strings.HasPrefix(path, "testing/") || path == "net/http/httptest" {
			return "a test package of the standard library", true
		}
		return "", false
	}
	for _, p := range []struct{ prefix, why string }{
		{"k8s.io/client-go/kubernetes", "client-go's clientset (every API group; kube uses a REST client over three)"},
		{"k8s.io/client-go/discovery", "client-go's discovery client (brings OpenAPI)"},
		{"k8s.io/client-go/gentype", "client-go's generated-client helpers (import client-go/testing)"},
		{"github.com/alicebob/miniredis", "an in-process Redis for tests"},
		{"github.com/stretchr/testify", "a test library"},
		{"github.com/chromedp", "the browser tests' driver"},
	} {
		if path == p.prefix || strings.HasPrefix(path, p.prefix+"/") {
			return p.why, true
		}
	}
	for _, seg := range strings.Split(path, "/") {
		switch {
		case seg == "fake" || strings.HasSuffix(seg, "fake"):
			return "a fake", true
		case seg == "sandbox":
			return "the sandbox", true
		case seg == "memserver" || seg == "gitopsseed" || seg == "testing" || seg == "testutil" || seg == "e2e":
			return "a test helper", true
		case strings.HasSuffix(seg, "test") && seg != "latest":
			return "a test helper", true
		}
	}
	return "", false
}

// goList returns `go list -deps` of a package as path → standard, and who
// imports whom.
func goList(t *testing.T, pkg string) (map[string]bool, map[string][]string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{join .Imports \" \"}}", pkg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr.String())
	}
	std := map[string]bool{}
	importers := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		std[f[0]] = f[1] == "true"
		for _, imp := range f[2:] {
			importers[imp] = append(importers[imp], f[0])
		}
	}
	return std, importers
}

// chain is one import path from the main package down to path.
func chain(importers map[string][]string, path string) string {
	links := []string{path}
	seen := map[string]bool{path: true}
	for cur := path; len(importers[cur]) > 0; {
		next := ""
		for _, imp := range importers[cur] {
			if !seen[imp] {
				next = imp
				break
			}
		}
		if next == "" {
			break
		}
		seen[next] = true
		links = append(links, next)
		cur = next
	}
	for i, j := 0, len(links)-1; i < j; i, j = i+1, j-1 {
		links[i], links[j] = links[j], links[i]
	}
	return strings.Join(links, " → ")
}

func testOnlyDeps(t *testing.T, pkg string) []string {
	std, importers := goList(t, pkg)
	var bad []string
	for path, standard := range std {
		if why, ok := testOnly(path, standard); ok {
			bad = append(bad, path+" ("+why+"): "+chain(importers, path))
		}
	}
	sort.Strings(bad)
	return bad
}

// The serving binary links no fake, sandbox, test helper or client-go
// clientset (docs/install.md, "Image size").
func TestServingBinaryLinksNoTestCode(t *testing.T) {
	if bad := testOnlyDeps(t, "github.com/nexo-org/nexo-bot/cmd/nexo-bot"); len(bad) > 0 {
		t.Fatalf("cmd/nexo-bot links %d test-only packages:\n  %s", len(bad), strings.Join(bad, "\n  "))
	}
}

// The check sees what it is meant to: the sandbox binary links the fakes.
func TestDependencyCheckFindsTheSandboxFakes(t *testing.T) {
	bad := strings.Join(testOnlyDeps(t, "github.com/nexo-org/nexo-bot/cmd/nexo-sandbox"), "\n")
	for _, want := range []string{"bot/slackfake", "integrations/argocdfake", "integrations/loki/memserver", "gitops/gitopsseed", "k8s.io/client-go/kubernetes/fake", "k8s.io/client-go/testing", "/sandbox "} {
		if !strings.Contains(bad, want) {
			t.Errorf("the check missed %s in cmd/nexo-sandbox; it found:\n%s", want, bad)
		}
	}
}

func TestTestOnly(t *testing.T) {
	for path, want := range map[string]bool{
		"k8s.io/client-go/tools/clientcmd/api/latest":        false,
		"k8s.io/client-go/rest":                              false,
		"k8s.io/client-go/kubernetes":                        true,
		"k8s.io/client-go/kubernetes/typed/core/v1":          true,
		"github.com/nexo-org/nexo-bot/store/storetest":       true,
		"github.com/nexo-org/nexo-bot/integrations/kube":     false,
		"github.com/nexo-org/nexo-bot/integrations/promfake": true,
	} {
		if _, got := testOnly(path, false); got != want {
			t.Errorf("%s: test-only %v, want %v", path, got, want)
		}
	}
	if _, got := testOnly("internal/testlog", true); got {
		t.Error("the standard library's internal/testlog (imported by os) flagged")
	}
	if _, got := testOnly("net/http/httptest", true); !got {
		t.Error("net/http/httptest not flagged")
	}
}
