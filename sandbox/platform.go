package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/nexo-org/nexo-bot/bot/slackfake"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/argocdfake"
	"github.com/nexo-org/nexo-bot/integrations/githubfake"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopsseed"
	"github.com/nexo-org/nexo-bot/integrations/loki/memserver"
	"github.com/nexo-org/nexo-bot/integrations/pagerdutyfake"
	"github.com/nexo-org/nexo-bot/integrations/promfake"
	"github.com/nexo-org/nexo-bot/integrations/registryfake"
	"github.com/nexo-org/nexo-bot/integrations/secretstorefake"
	"github.com/nexo-org/nexo-bot/store"
)

// BaselineErrorRate is every service's error rate while nothing is broken.
const BaselineErrorRate = 0.002

// startFakes starts every simulated system and seeds it consistently with
// the GitOps history (steps).
func (s *Sandbox) startFakes(steps []gitopsseed.Step) error {
	s.Slack = slackfake.New(slackfake.Options{PingInterval: 5 * time.Second, TriggerTTL: -1})
	s.closers = append(s.closers, s.Slack.Close)
	for _, u := range Users {
		s.Slack.AddUser(u)
	}
	s.Slack.AddUserGroup(OnCall, Alice, Bob)
	s.Slack.AddChannel(Deploys, "deploys", Alice, Bob, Carol, Paula)
	s.Slack.AddChannel(Incidents, "incidents", Alice, Bob, Carol, Paula)

	s.Registry = registryfake.New(registryfake.Options{})
	s.closers = append(s.closers, s.Registry.Close)
	last := s.Releases[len(s.Releases)-1]
	for _, svc := range gitopsseed.Services {
		s.Registry.AddTags("nexo-org/"+svc, append(append([]string(nil), s.Releases...), last+"-hotfix")...)
	}

	s.GitHub = githubfake.New(githubfake.Options{Owner: "nexo-org", Repo: "nexo-gitops", RemotePath: s.Remote, DeleteBranchOnMerge: true})
	s.closers = append(s.closers, s.GitHub.Close)
	s.addSourceCommits()

	var err error
	s.argoTime = &shiftClock{}
	valuesPath := map[string]string{}
	for _, svc := range gitopsseed.Services {
		for _, env := range gitopsseed.Envs {
			valuesPath[svc+"-"+env] = gitopsseed.ValuesPath(svc, env)
		}
	}
	s.Argo = argocdfake.New(argocdfake.Options{
		Now: s.argoTime.Now, ProgressAfter: 4 * time.Second, ProgressAfterGets: -1,
		ResolveRevision: argocdfake.GitResolver(s.Remote, func(app string) string { return valuesPath[app] }),
	})
	s.closers = append(s.closers, s.Argo.Close)
	if s.argo, err = argocd.NewClient(argocd.Options{Server: s.Argo.URL(), Token: s.Argo.Token(), Timeout: 10 * time.Second}); err != nil {
		return err
	}
	head, err := gitHead(s.Remote)
	if err != nil {
		return err
	}
	lastDeploy := lastSteps(steps)
	for _, svc := range gitopsseed.Services {
		for _, env := range gitopsseed.Envs {
			at := lastDeploy[svc+"/"+env]
			if at.IsZero() {
				at = time.Now().AddDate(0, 0, -30)
			}
			s.argoTime.set(at)
			s.Argo.AddApp(svc+"-"+env, argocdfake.AppSpec{
				Namespace: "nexo-" + env, RepoURL: "https://github.com/nexo-org/nexo-gitops.git", Path: "helm/" + svc,
				AutoSync: env == "develop" || env == "qa", Revision: head, Workload: svc, Replicas: replicas(env),
				Images: []string{image(svc, s.Tag(svc, env))},
			})
		}
	}
	s.argoTime.set(time.Time{})

	s.Prom = promfake.New()
	s.Prom.Set(BaselineErrorRate)
	s.closers = append(s.closers, s.Prom.Close)

	s.Loki = memserver.New(memserver.Options{})
	s.lokiSrv = httptest.NewServer(s.Loki)
	s.LokiURL = s.lokiSrv.URL
	s.closers = append(s.closers, s.lokiSrv.Close)

	s.Pager = pagerdutyfake.New()
	s.closers = append(s.closers, s.Pager.Close)

	s.Secrets = secretstorefake.New()
	s.closers = append(s.closers, s.Secrets.Close)
	for _, env := range gitopsseed.Envs {
		s.Secrets.Seed("nexo/"+env+"/database", fmt.Sprintf(`{"username":"nexo","password":"%s"}`, randomHex(12)))
	}

	s.Kube, s.Cluster = newCluster(s.Tag)
	return nil
}

// config is docs/examples/nexo.yaml pointed at the fakes, and the tokens
// the fakes accept.
func (s *Sandbox) config() (*config.Config, config.Secrets, error) {
	cfg, err := config.Parse(configYAML)
	if err != nil {
		return nil, config.Secrets{}, fmt.Errorf("sandbox config: %w", err)
	}
	cfg.Slack.APIURL = s.Slack.APIURL()
	cfg.Slack.Channel = Deploys
	cfg.Slack.Mode = "socket"
	cfg.Incidents.Channel = Incidents
	cfg.Store.Backend = "bolt"
	cfg.Store.Path = s.DataDir + "/nexo.db"
	cfg.GitOps.RepoURL = "file://" + s.Remote
	cfg.GitOps.Workdir = s.DataDir + "/gitops-clone"
	cfg.GitHub.BaseURL = s.GitHub.URL() + "/"
	cfg.ArgoCD.Server = s.Argo.URL()
	cfg.Registry.URL = s.Registry.URL()
	cfg.Prometheus.URL = s.Prom.URL()
	cfg.Loki.URL = s.LokiURL
	cfg.PagerDuty.URL = s.Pager.URL()
	cfg.AWS.Endpoint = s.Secrets.URL
	cfg.Kubernetes.Kubeconfig = s.DataDir + "/no-kubeconfig"
	// Watch windows are shortened so a walk-through ends in minutes.
	for i := range cfg.Environments {
		if cfg.Environments[i].Name == "production" {
			cfg.Environments[i].WatchWindow = config.Duration(2 * time.Minute)
		} else {
			cfg.Environments[i].WatchWindow = config.Duration(15 * time.Second)
		}
	}
	sec := config.Secrets{
		SlackBotToken: "xoxb-sandbox", SlackAppToken: "xapp-sandbox",
		GitHubToken: s.GitHub.Token(), ArgoCDToken: s.Argo.Token(),
		PagerDutyRoutingKey: "R0SANDBOX" + randomHex(12),
	}
	return cfg, sec, nil
}

func image(service, tag string) string { return "ghcr.io/nexo-org/" + service + ":" + tag }

func replicas(env string) int {
	switch env {
	case "staging":
		return 2
	case "production":
		return 3
	}
	return 1
}

// lastSteps maps "service/env" to its last deploy in the history.
func lastSteps(steps []gitopsseed.Step) map[string]time.Time {
	out := map[string]time.Time{}
	for _, st := range steps {
		out[st.Service+"/"+st.Env] = st.At
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// seedHistory writes nexo's records of the seeded history: a deployment
// record per promotion (requested 25 minutes before the commit, approved,
// Healthy 3 minutes after, source commits from two days before the
// release), one production deployment of nexo-be rolled back after an
// incident, and a second incident on nexo-fe, so `/nexo dora` has every
// figure. Records are keyed like the workflows nexo makes ("seed-…").
func seedHistory(ctx context.Context, st store.Store, steps []gitopsseed.Step, now time.Time) error {
	var prodBE []int
	deps := make([]records.Deployment, 0, len(steps))
	for i, step := range steps {
		merged := step.At
		requested := merged.Add(-25 * time.Minute)
		approved := merged.Add(-2 * time.Minute)
		healthy := merged.Add(3 * time.Minute)
		release, _ := time.Parse("2006.01.02", step.Tag)
		first := release.Add(-34 * time.Hour)
		d := records.Deployment{
			ID: fmt.Sprintf("seed-%03d", i), Service: step.Service, Env: step.Env, Tag: step.Tag, Kind: records.KindPromote,
			Result: records.ResultSuccess, Requester: Carol, RequestedAt: requested, MergedAt: &merged, HealthyAt: &healthy,
			FinishedAt: &healthy, FirstCommitAt: &first, CommitSHAs: []string{randomHex(20)},
		}
		switch step.Env {
		case "staging":
			d.Approvers, d.ApprovedAt = []string{Paula}, &approved
		case "production":
			d.Approvers, d.ApprovedAt = []string{Alice, Bob}, &approved
		}
		if step.Service == "nexo-be" && step.Env == "production" {
			prodBE = append(prodBE, len(deps))
		}
		deps = append(deps, d)
	}
	var incs []records.Incident
	if len(prodBE) >= 2 {
		// The playbook's scenario 5: a production deploy of nexo-be raised
		// the error rate; rolled back, then fixed by the next release.
		bad := &deps[prodBE[len(prodBE)-2]]
		healthy := *bad.HealthyAt
		rbAt := healthy.Add(38 * time.Minute)
		rb := records.Deployment{
			ID: "seed-rollback-1", Service: bad.Service, Env: bad.Env, Tag: previousTag(deps, prodBE, len(prodBE)-2), Previous: bad.Tag,
			Kind: records.KindRollback, Result: records.ResultSuccess, Requester: Alice, Approvers: []string{Bob},
			RequestedAt: healthy.Add(29 * time.Minute), MergedAt: &rbAt, HealthyAt: &rbAt, FinishedAt: &rbAt, Incident: "inc-seed-high-error-rate",
		}
		bad.RolledBackBy = rb.ID
		deps = append(deps, rb)
		resolved := healthy.Add(47 * time.Minute)
		incs = append(incs, records.Incident{
			ID: "inc-seed-high-error-rate", Title: "High error rate - nexo-be production", Service: "nexo-be", Env: "production",
			Severity: "P1", Status: records.StatusClosed, Commander: Alice, Channel: Incidents, DeclaredBy: Alice,
			DeclaredAt: healthy.Add(6 * time.Minute), ResolvedAt: &resolved, Deployment: bad.ID,
		})
	}
	for i := len(deps) - 1; i >= 0; i-- {
		d := deps[i]
		if d.Service == "nexo-fe" && d.Env == "production" && d.Kind == records.KindPromote {
			resolved := d.HealthyAt.Add(2*time.Hour + 10*time.Minute)
			incs = append(incs, records.Incident{
				ID: "inc-seed-fe-assets", Title: "nexo-fe serves stale assets", Service: "nexo-fe", Env: "production",
				Severity: "P3", Status: records.StatusClosed, Commander: Bob, Channel: Incidents, DeclaredBy: Bob,
				DeclaredAt: d.HealthyAt.Add(40 * time.Minute), ResolvedAt: &resolved, Deployment: d.ID,
			})
			break
		}
	}
	for _, d := range deps {
		if d.DeployedAt().After(now) {
			continue
		}
		if err := st.PutDoc(ctx, records.DeploymentsCollection, d.ID, d); err != nil {
			return err
		}
	}
	for _, inc := range incs {
		if err := st.PutDoc(ctx, records.IncidentsCollection, inc.ID, inc); err != nil {
			return err
		}
	}
	return nil
}

// previousTag is the tag of the production deployment before index k of
// prodBE (the tag a rollback returns to).
func previousTag(deps []records.Deployment, prodBE []int, k int) string {
	if k > 0 {
		return deps[prodBE[k-1]].Tag
	}
	return deps[prodBE[k]].Tag
}

// Tag is the image tag service runs in env.
func (s *Sandbox) Tag(service, env string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tags[service+"/"+env]
}

// sourceMessages are the source commits of each release, playbook style.
var sourceMessages = map[string][]string{
	"nexo-be": {"feat(api): add rate limiting to public endpoints", "fix(db): close rows on early return", "perf(orders): batch inserts", "feat(auth): refresh tokens", "fix(api): 500 on empty cart", "chore(deps): bump pgx"},
	"nexo-fe": {"feat(checkout): new payment step", "fix(ui): focus trap in dialogs", "feat(i18n): pt-BR strings", "fix(cart): rounding of totals", "perf: lazy-load images", "chore(deps): bump vite"},
}

// addSourceCommits gives nexo-org/nexo-be and nexo-org/nexo-fe two commits
// per release, the second tagged with the release, so changelogs and lead
// times come from the compare API.
func (s *Sandbox) addSourceCommits() {
	people := []struct{ name, login string }{{"Carol Dev", "carol-dev"}, {"Dani Souza", "dani-souza"}, {"Enzo Lima", "enzo-lima"}}
	for _, svc := range gitopsseed.Services {
		msgs := sourceMessages[svc]
		var commits []githubfake.FixtureCommit
		for i, rel := range s.Releases {
			d, _ := time.Parse("2006.01.02", rel)
			for k := 0; k < 2; k++ {
				p := people[(i+k)%len(people)]
				c := githubfake.FixtureCommit{Message: msgs[(2*i+k)%len(msgs)], Author: p.name, Email: p.login + "@nexo.example", Login: p.login,
					Date: d.Add(-34*time.Hour + time.Duration(k)*5*time.Hour)}
				if k == 1 {
					c.Refs = []string{rel}
				}
				commits = append(commits, c)
			}
		}
		s.GitHub.AddCommits("nexo-org/"+svc, commits...)
	}
}

// App reads an Argo CD application through the real client, as nexo does
// (reading is what moves a running sync along in the fake).
func (s *Sandbox) App(ctx context.Context, name string) (*argocd.Application, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return s.argo.GetApp(ctx, name, "")
}
