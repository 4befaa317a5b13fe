package config

import (
	"os"
	"strings"
	"testing"
	"time"
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

// The commented freezes: block of the example config is valid once
// uncommented, so the example cannot rot.
func TestExampleFreezesAreValid(t *testing.T) {
	raw, err := os.ReadFile("../docs/examples/nexo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, l := range strings.Split(string(raw), "\n") {
		switch {
		case l == "# freezes:":
			in = true
			out = append(out, "freezes:")
		case in && strings.HasPrefix(l, "#   "):
			out = append(out, strings.TrimPrefix(l, "#"))
		default:
			in = false
			out = append(out, l)
		}
	}
	c, err := Parse([]byte(strings.Join(out, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Freezes) != 2 || c.Freezes[1].Duration.D().Hours() != 63 || c.Freezes[0].Until != "2027-01-04" {
		t.Fatalf("freezes: %+v", c.Freezes)
	}
}

func TestFreezesAreValidated(t *testing.T) {
	base := "services: [{name: nexo-be}]\nfreezes:\n"
	cases := []struct{ entry, want string }{
		{"  - {env: prodution, reason: x, from: 2026-12-20, until: 2027-01-02}", `freezes[0].env: "prodution" is not an environment`},
		{"  - {env: production, from: 2026-12-20, until: 2027-01-02}", `freezes[0].reason: required`},
		{"  - {env: production, reason: x, from: 2026-12-20}", `freezes[0]: a dated range needs both from and until`},
		{"  - {env: production, reason: x, from: 2026-12-20, until: 2026-12-19}", `freezes[0].until: must be after from`},
		{"  - {env: production, reason: x, from: 20/12/2026, until: 2027-01-02}", `freezes[0].from: "20/12/2026" is not a date`},
		{"  - {env: production, reason: x, schedule: '0 18 * *', duration: 2h}", `freezes[0].schedule: "0 18 * *" is not a cron schedule`},
		{"  - {env: production, reason: x, schedule: '0 18 * * fri'}", `freezes[0].duration: must be between 1m and 31d`},
		{"  - {env: production, reason: x, schedule: '0 18 * * fri', duration: 40d}", `freezes[0].duration: must be between 1m and 31d, got 960h0m0s`},
		{"  - {env: production, reason: x, schedule: '0 18 * * fri', duration: 2h, from: 2026-12-20, until: 2027-01-02}", `freezes[0]: use either from/until`},
		{"  - {env: production, reason: x}", `freezes[0]: needs from/until`},
		{"  - {env: production, reason: x, schedule: '0 18 * * fri', duration: 2h, timezone: Mars/Olympus}", `freezes[0].timezone: not a time zone`},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(base + tc.entry + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n want %q\n got %v", tc.entry, tc.want, err)
		}
	}
	c, err := Parse([]byte(base + "  - {env: prod, reason: x, from: '2026-12-20 18:00', until: 2027-01-02T00:00:00Z}\n"))
	if err != nil {
		t.Fatal(err)
	}
	from, until, err := c.Freezes[0].Range(c.Zone())
	if err != nil || from.Hour() != 18 || !until.Equal(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("range %s %s %v", from, until, err)
	}
}
