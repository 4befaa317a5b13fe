package dora

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
)

// HistoryTarget is one values file whose history is read: the deployments
// of Service in Env (Path as config.ValuesPath gives it).
type HistoryTarget struct {
	Service string
	Env     string
	Path    string
}

// ImportOptions tune ImportHistory.
type ImportOptions struct {
	// TagKey is the yq-style path of the image tag (default ".image.tag").
	TagKey string
	// Known are the deployments nexo recorded; commits matching one of them
	// are not returned again.
	Known []records.Deployment
	// MatchWindow is how far apart a recorded deployment (merge time, else
	// deploy time) and a commit with the same service, env and tag may be
	// to be the same deployment when the record has no GitOps SHA
	// (default 6 hours).
	MatchWindow time.Duration
}

// subjectRE reads "promote(nexo-be): production → 2026.02.17 (#42)".
var subjectRE = regexp.MustCompile(`^(promote|rollback|hotfix|fix)\(([^)]*)\)!?:\s*(.*)$`)

// prRE finds the "(#42)" GitHub adds to squash-merge subjects.
var prRE = regexp.MustCompile(`\(#(\d+)\)\s*$`)

// KindOf classifies a GitOps commit subject: promote, rollback, hotfix, fix
// (nexo's and the playbook's Conventional Commit types); `git revert`
// subjects ("Revert \"promote(…)…\"") are rollbacks; anything else is
// records.KindImported.
func KindOf(subject string) string {
	if strings.HasPrefix(subject, `Revert "`) {
		return records.KindRollback
	}
	if m := subjectRE.FindStringSubmatch(subject); m != nil {
		return m[1]
	}
	return records.KindImported
}

// ImportHistory turns the GitOps history into deployments: every commit of
// a target's values file that changed the tag is one successful deployment
// at the commit time, classified by its subject (KindOf), with ID
// "git:<sha>". Commits that only changed other values are skipped, and so
// are those nexo already recorded (opt.Known: same GitOps SHA, or same
// service, env and tag within opt.MatchWindow). The repository is read as
// it is: call repo.Sync first for the remote's latest state. The result is
// oldest first per target, targets in the given order.
func ImportHistory(ctx context.Context, repo gitops.Repo, targets []HistoryTarget, opt ImportOptions) ([]records.Deployment, error) {
	if repo == nil {
		return nil, errors.New("dora: no GitOps repository")
	}
	opt, err := opt.normalize()
	if err != nil {
		return nil, err
	}
	for _, t := range targets {
		if t.Service == "" || t.Env == "" || t.Path == "" {
			return nil, fmt.Errorf("dora: history target %+v needs a service, an env and a path", t)
		}
	}
	m := newMatcher(opt.Known, opt.MatchWindow)
	var out []records.Deployment
	for _, t := range targets {
		all, err := ReadHistory(ctx, repo, t, opt.TagKey)
		if err != nil {
			return nil, err
		}
		out = append(out, m.unknown(all)...)
	}
	return out, nil
}

func (opt ImportOptions) normalize() (ImportOptions, error) {
	if opt.TagKey == "" {
		opt.TagKey = ".image.tag"
	}
	if _, err := gitops.GetTag([]byte("{}"), opt.TagKey); !errors.Is(err, gitops.ErrKeyNotFound) {
		return opt, fmt.Errorf("dora: tag key %q: %w", opt.TagKey, err)
	}
	if opt.MatchWindow <= 0 {
		opt.MatchWindow = DefaultMatchWindow
	}
	return opt, nil
}

// DefaultMatchWindow is ImportOptions.MatchWindow's default.
const DefaultMatchWindow = 6 * time.Hour

// readHistory is every deployment a target's history holds, oldest first,
// before recorded ones are taken out.
func ReadHistory(ctx context.Context, repo gitops.Repo, t HistoryTarget, tagKey string) ([]records.Deployment, error) {
	versions, err := repo.FileHistory(ctx, t.Path)
	if err != nil {
		return nil, fmt.Errorf("dora: history of %s: %w", t.Path, err)
	}
	var out []records.Deployment
	prev := ""
	for i := len(versions) - 1; i >= 0; i-- { // oldest first
		v := versions[i]
		if v.Deleted {
			prev = "" // the file was deleted by this commit
			continue
		}
		tag, err := gitops.GetTag(v.Content, tagKey)
		switch {
		case errors.Is(err, gitops.ErrKeyNotFound) || (err == nil && tag == ""):
			prev = "" // no tag at this commit
			continue
		case err != nil, tag == prev:
			continue // YAML that did not parse then, or the tag did not change
		}
		out = append(out, deploymentFromCommit(t, v.Commit, tag, prev))
		prev = tag
	}
	return out, nil
}

func deploymentFromCommit(t HistoryTarget, c gitops.Commit, tag, prev string) records.Deployment {
	at := c.Time
	d := records.Deployment{
		ID: "git:" + c.SHA, Service: t.Service, Env: t.Env, Tag: tag, Previous: prev,
		Kind: KindOf(c.Subject), Result: records.ResultSuccess, GitOpsSHA: c.SHA,
		Requester: c.Author, RequestedAt: at, MergedAt: &at, FinishedAt: &at,
	}
	if m := prRE.FindStringSubmatch(c.Subject); m != nil {
		d.PR, _ = strconv.Atoi(m[1])
	}
	return d
}

// Matcher finds recorded deployments a commit corresponds to.
type Matcher struct {
	// bySHA counts the records standing for each GitOps commit.
	bySHA  map[string]int
	byKey  map[string][]time.Time
	window time.Duration
}

func newMatcher(known []records.Deployment, window time.Duration) *Matcher {
	bySHA := map[string]int{}
	for i := range known {
		for _, sha := range RecordedSHAs(&known[i]) {
			bySHA[sha]++
		}
	}
	return MatcherOf(bySHA, known, window)
}

// MatcherOf is a Matcher of commits against records, as ImportHistory
// matches them: bySHA counts the records standing for each GitOps commit
// (RecordedSHAs), and a commit with the service, env and tag of one of
// keyed within window is that record (each record used up once). bySHA is
// read, not copied.
func MatcherOf(bySHA map[string]int, keyed []records.Deployment, window time.Duration) *Matcher {
	m := &Matcher{bySHA: bySHA, byKey: map[string][]time.Time{}, window: window}
	for i := range keyed {
		m.addKey(&keyed[i])
	}
	return m
}

// recordedSHAs are the GitOps commits a record stands for: its merge SHA,
// and the SHA in an imported id ("git:<sha>").
func RecordedSHAs(k *records.Deployment) []string {
	var out []string
	if k.GitOpsSHA != "" {
		out = append(out, k.GitOpsSHA)
	}
	if sha, ok := strings.CutPrefix(k.ID, "git:"); ok {
		out = append(out, sha)
	}
	return out
}

func (m *Matcher) addKey(k *records.Deployment) {
	at := k.DeployedAt()
	if k.MergedAt != nil {
		at = *k.MergedAt
	}
	key := k.Service + "\x00" + k.Env + "\x00" + k.Tag
	m.byKey[key] = append(m.byKey[key], at)
}

// unknown is the deployments of all that no record stands for.
func (m *Matcher) unknown(all []records.Deployment) []records.Deployment {
	var out []records.Deployment
	for _, d := range all {
		if !m.Known(d) {
			out = append(out, d)
		}
	}
	return out
}

// Known reports whether d was recorded; a record matched by time is used up
// so two commits cannot both match it.
func (m *Matcher) Known(d records.Deployment) bool {
	if m.bySHA[d.GitOpsSHA] > 0 {
		return true
	}
	key := d.Service + "\x00" + d.Env + "\x00" + d.Tag
	times := m.byKey[key]
	for i, t := range times {
		diff := t.Sub(*d.MergedAt)
		if diff < 0 {
			diff = -diff
		}
		if diff <= m.window {
			m.byKey[key] = append(times[:i:i], times[i+1:]...)
			return true
		}
	}
	return false
}
