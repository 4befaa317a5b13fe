package config

import (
	"os"
	"strings"
	"testing"
)

func TestExampleConfigIsValid(t *testing.T) {
	c, err := Load("../docs/examples/nexo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Environments) != 4 || c.Environments[3].Name != "production" {
		t.Fatalf("environments: %+v", c.Environments)
	}
	e, ok := c.Env("prod")
	if !ok || e.Name != "production" || e.Policy.Approvals != 2 {
		t.Fatalf("prod alias: %+v", e)
	}
	if got := c.ValuesPath("nexo-be", "production"); got != "helm/nexo-be/values-prod.yaml" {
		t.Fatalf("values path %q", got)
	}
	if got := c.AppName("nexo-be", "staging"); got != "nexo-be-staging" {
		t.Fatalf("app %q", got)
	}
	if got := c.Namespace("nexo-be", "qa"); got != "nexo-qa" {
		t.Fatalf("ns %q", got)
	}
}

func TestRejectsUnknownKeysAndBadValuesWithPath(t *testing.T) {
	raw, err := os.ReadFile("../docs/examples/nexo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ from, to, want string }{
		{"approvals: 2\n      approver_group: sre-team\n      soak: 24h", "aprovals: 2\n      approver_group: sre-team\n      soak: 24h", `environments[3].policy.aprovals: unknown key (did you mean "approvals"?)`},
		{"backend: bolt", "backend: mongo", `store.backend: must be bolt or redis, got "mongo"`},
		{"soak: 30m", "soak: soon", `environments[2].policy.soak`},
		{"approvals: 1\n      approver_group: platform-team", "approvals: 1\n      approver_group: platfrom-team", `unknown group "platfrom-team" (did you mean "platform-team"?)`},
		{"insecure: false", "insecure: maybe", `argocd.insecure: expected true or false`},
		{"server: https://argocd.nexo.example.com", "server: argocd", `argocd.server: must be an http(s) URL`},
	}
	for _, tc := range cases {
		bad := strings.Replace(string(raw), tc.from, tc.to, 1)
		if bad == string(raw) {
			t.Fatalf("fixture %q not found", tc.from)
		}
		_, err := Parse([]byte(bad))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
}

func TestDefaultsAreThePlaybooks(t *testing.T) {
	c, err := Parse([]byte("services: [{name: nexo-be}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.GitOps.ValuesPath != "helm/{service}/values-{env}.yaml" || c.GitOps.TagKey != ".image.tag" || c.Store.Backend != "bolt" {
		t.Fatalf("defaults: %+v %+v", c.GitOps, c.Store)
	}
	if len(c.Environments) != 4 {
		t.Fatalf("default environments: %d", len(c.Environments))
	}
}

func TestDuration(t *testing.T) {
	d, err := ParseDuration("7d")
	if err != nil || d.Hours() != 168 {
		t.Fatal(d, err)
	}
	if _, err := ParseDuration("7x"); err == nil {
		t.Fatal("accepted 7x")
	}
}

func TestSlackAPIURLGetsItsAPIPath(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:9000":            "http://127.0.0.1:9000/api/",
		"http://127.0.0.1:9000/":           "http://127.0.0.1:9000/api/",
		"https://slack.com/api":            "https://slack.com/api/",
		"https://proxy.example/slack/api/": "https://proxy.example/slack/api/",
	} {
		c, err := Parse([]byte("slack:\n  api_url: " + in + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		if c.Slack.APIURL != want {
			t.Errorf("%s → %s, want %s", in, c.Slack.APIURL, want)
		}
	}
}

func TestServerListenEmptyMeansOff(t *testing.T) {
	for doc, want := range map[string]string{
		"services: [{name: nexo-be}]\n":                       ":8080",
		"server:\n  listen: \"127.0.0.1:9090\"\n":             "127.0.0.1:9090",
		"server:\n  listen: \"\"\n":                           "",
		"server:\n  listen: ''\n":                             "",
		"server: {}\n":                                        ":8080",
		"server:\n  listen: \"\"\nworkflow:\n  lease_ttl: 5s": "",
	} {
		c, err := Parse([]byte(doc))
		if err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		if c.Server.Listen != want {
			t.Errorf("%q: server.listen = %q, want %q", doc, c.Server.Listen, want)
		}
	}
	_, err := Parse([]byte("slack:\n  mode: http\nserver:\n  listen: \"\"\n"))
	if err == nil || !strings.Contains(err.Error(), "server.listen: required when slack.mode is http") {
		t.Fatalf("http mode without a listener: %v", err)
	}
}

func TestWorkflowLeaseTTL(t *testing.T) {
	c, err := Parse([]byte("services: [{name: nexo-be}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Workflow.LeaseTTL.D().Seconds() != 30 {
		t.Fatalf("default workflow.lease_ttl = %s, want 30s", c.Workflow.LeaseTTL)
	}
	if c, err = Parse([]byte("workflow:\n  lease_ttl: 4s\n")); err != nil || c.Workflow.LeaseTTL.D().Seconds() != 4 {
		t.Fatalf("lease_ttl 4s: %v %v", c, err)
	}
	for _, bad := range []string{"500ms", "11m"} {
		_, err := Parse([]byte("workflow:\n  lease_ttl: " + bad + "\n"))
		if err == nil || !strings.Contains(err.Error(), "workflow.lease_ttl: must be between 1s and 10m") {
			t.Errorf("lease_ttl %s: %v", bad, err)
		}
	}
}
