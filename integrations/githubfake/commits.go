package githubfake

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// FixtureCommit is one commit of a source repository registered with
// AddCommits.
type FixtureCommit struct {
	SHA     string // default: derived from the repository and the commit
	Message string
	Author  string // git author name
	Email   string
	Login   string // GitHub login of the author; empty: not linked (author is null)
	Date    time.Time
	// Refs name this commit in compare (tags such as "2026.02.10", branches).
	Refs []string
}

// commitRec is a commit of a fixture or a real git repository.
type commitRec struct {
	sha, tree                  string
	parents                    []string
	message                    string
	authorName, authorEmail    string
	authorDate                 time.Time
	committerName, committerEm string
	committerDate              time.Time
	login                      string
}

// AddCommits registers (or extends) the source repository "owner/name" with
// commits, oldest first, on its default branch ("main", which names the
// newest commit). It returns the commits with their SHAs.
func (s *Server) AddCommits(repo string, commits ...FixtureCommit) []FixtureCommit {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(repo)
	list := s.fixtures[key]
	for _, c := range commits {
		if c.SHA == "" {
			sum := sha1.Sum([]byte(fmt.Sprintf("%s\x00%d\x00%s\x00%s", key, len(list), c.Message, c.Date.Format(time.RFC3339Nano))))
			c.SHA = hex.EncodeToString(sum[:])
		}
		list = append(list, c)
	}
	s.fixtures[key] = list
	return append([]FixtureCommit(nil), list[len(list)-len(commits):]...)
}

// AddGitRepo serves the real git repository at path (bare or not) as the
// source repository "owner/name" for compare and commits. The GitOps
// repository is registered this way by New.
func (s *Server) AddGitRepo(repo, path string) {
	s.mu.Lock()
	s.gitRepos[strings.ToLower(repo)] = path
	s.mu.Unlock()
}

func (s *Server) fixtureRecs(list []FixtureCommit) []commitRec {
	recs := make([]commitRec, len(list))
	for i, c := range list {
		r := commitRec{
			sha: c.SHA, message: c.Message, authorName: c.Author, authorEmail: c.Email, authorDate: c.Date,
			committerName: c.Author, committerEm: c.Email, committerDate: c.Date, login: c.Login,
		}
		sum := sha1.Sum([]byte("tree" + c.SHA))
		r.tree = hex.EncodeToString(sum[:])
		if i > 0 {
			r.parents = []string{list[i-1].SHA}
		}
		recs[i] = r
	}
	return recs
}

// fixtureIndex resolves ref in a fixture list: full SHA, a prefix of 7 or
// more, a registered ref, or main/master/HEAD for the newest.
func fixtureIndex(list []FixtureCommit, ref string) int {
	if ref == "HEAD" || ref == "main" || ref == "master" {
		return len(list) - 1
	}
	for i := len(list) - 1; i >= 0; i-- {
		c := list[i]
		if c.SHA == ref || (len(ref) >= 7 && strings.HasPrefix(c.SHA, ref)) {
			return i
		}
		for _, r := range c.Refs {
			if r == ref {
				return i
			}
		}
	}
	return -1
}

const logFormat = "--format=%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI%x1f%T%x1f%B%x1e"

func parseGitLog(out string) []commitRec {
	var recs []commitRec
	for _, rec := range strings.Split(out, "\x1e") {
		rec = strings.TrimLeft(rec, "\n")
		f := strings.Split(rec, "\x1f")
		if len(f) != 10 {
			continue
		}
		ad, _ := time.Parse(time.RFC3339, f[4])
		cd, _ := time.Parse(time.RFC3339, f[7])
		recs = append(recs, commitRec{
			sha: f[0], parents: strings.Fields(f[1]), authorName: f[2], authorEmail: f[3], authorDate: ad,
			committerName: f[5], committerEm: f[6], committerDate: cd, tree: f[8], message: strings.TrimRight(f[9], "\n"),
		})
	}
	return recs
}

func (s *Server) gitResolve(dir, ref string) string {
	if ref == "" || strings.HasPrefix(ref, "-") {
		return ""
	}
	out, err := s.git(dir, nil, "rev-parse", "-q", "--verify", ref+"^{commit}")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

func (s *Server) source(owner, repo string) ([]FixtureCommit, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(owner + "/" + repo)
	if dir, ok := s.gitRepos[key]; ok {
		return nil, dir, true
	}
	list, ok := s.fixtures[key]
	return append([]FixtureCommit(nil), list...), "", ok
}

func (s *Server) compare(w http.ResponseWriter, r *http.Request, owner, repo, spec string) {
	base, head, ok := strings.Cut(spec, "...")
	if !ok || base == "" || head == "" {
		notFound(w)
		return
	}
	list, dir, ok := s.source(owner, repo)
	if !ok {
		notFound(w)
		return
	}
	var commits []commitRec
	var baseRec, mergeBase commitRec
	ahead, behind := 0, 0
	if dir == "" {
		bi, hi := fixtureIndex(list, base), fixtureIndex(list, head)
		if bi < 0 || hi < 0 {
			notFound(w)
			return
		}
		recs := s.fixtureRecs(list)
		baseRec = recs[bi]
		if hi > bi {
			ahead, commits, mergeBase = hi-bi, recs[bi+1:hi+1], recs[bi]
		} else {
			behind, mergeBase = bi-hi, recs[hi]
		}
	} else {
		b, h := s.gitResolve(dir, base), s.gitResolve(dir, head)
		if b == "" || h == "" {
			notFound(w)
			return
		}
		out, err := s.git(dir, nil, "log", "--reverse", logFormat, b+".."+h)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errorJSON{Message: "Server Error"})
			return
		}
		commits = parseGitLog(out)
		ahead = len(commits)
		if out, err := s.git(dir, nil, "rev-list", "--count", h+".."+b); err == nil {
			fmt.Sscan(strings.TrimSpace(out), &behind)
		}
		if out, err := s.git(dir, nil, "log", "-1", logFormat, b); err == nil {
			if rs := parseGitLog(out); len(rs) == 1 {
				baseRec = rs[0]
			}
		}
		mergeBase = baseRec
		if mb, err := s.git(dir, nil, "merge-base", b, h); err == nil {
			if out, err := s.git(dir, nil, "log", "-1", logFormat, strings.TrimSpace(mb)); err == nil {
				if rs := parseGitLog(out); len(rs) == 1 {
					mergeBase = rs[0]
				}
			}
		}
	}
	status := "identical"
	switch {
	case ahead > 0 && behind > 0:
		status = "diverged"
	case ahead > 0:
		status = "ahead"
	case behind > 0:
		status = "behind"
	}
	page := commits
	if r.URL.Query().Get("per_page") != "" || r.URL.Query().Get("page") != "" {
		start, end := paginate(w, r, len(commits), 250)
		page = commits[start:end]
	} else if len(page) > 250 {
		page = page[:250]
	}
	api := apiBase(r) + "/repos/" + owner + "/" + repo
	web := webBase(r) + "/" + owner + "/" + repo
	out := compareJSON{
		URL: api + "/compare/" + spec, HTMLURL: web + "/compare/" + spec, PermalinkURL: web + "/compare/" + spec,
		DiffURL: web + "/compare/" + spec + ".diff", PatchURL: web + "/compare/" + spec + ".patch",
		BaseCommit: s.renderCommit(r, owner, repo, baseRec), MergeBaseCommit: s.renderCommit(r, owner, repo, mergeBase),
		Status: status, AheadBy: ahead, BehindBy: behind, TotalCommits: ahead,
		Commits: []commitJSON{}, Files: []any{},
	}
	for _, c := range page {
		out.Commits = append(out.Commits, s.renderCommit(r, owner, repo, c))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listCommits(w http.ResponseWriter, r *http.Request, owner, repo string) {
	q := r.URL.Query()
	var since, until time.Time
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"since", &since}, {"until", &until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				validationFailed(w, errorDetail{Resource: "Commit", Field: p.name, Code: "invalid"})
				return
			}
			*p.t = t
		}
	}
	list, dir, ok := s.source(owner, repo)
	if !ok {
		notFound(w)
		return
	}
	ref := q.Get("sha")
	var recs []commitRec
	if dir == "" {
		if ref == "" {
			ref = "HEAD"
		}
		hi := fixtureIndex(list, ref)
		if hi < 0 {
			notFound(w)
			return
		}
		all := s.fixtureRecs(list)
		for i := hi; i >= 0; i-- {
			d := all[i].authorDate
			if (since.IsZero() || !d.Before(since)) && (until.IsZero() || !d.After(until)) {
				recs = append(recs, all[i])
			}
		}
	} else {
		if ref == "" {
			ref = "HEAD"
		}
		sha := s.gitResolve(dir, ref)
		if sha == "" {
			notFound(w)
			return
		}
		args := []string{"log", logFormat}
		if !since.IsZero() {
			args = append(args, "--since="+since.Format(time.RFC3339))
		}
		if !until.IsZero() {
			args = append(args, "--until="+until.Format(time.RFC3339))
		}
		args = append(args, sha)
		if p := q.Get("path"); p != "" && !strings.HasPrefix(p, "-") {
			args = append(args, "--", p)
		}
		out, err := s.git(dir, nil, args...)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errorJSON{Message: "Server Error"})
			return
		}
		recs = parseGitLog(out)
	}
	start, end := paginate(w, r, len(recs), 30)
	out := []commitJSON{}
	for _, c := range recs[start:end] {
		out = append(out, s.renderCommit(r, owner, repo, c))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) renderCommit(r *http.Request, owner, repo string, c commitRec) commitJSON {
	api := apiBase(r) + "/repos/" + owner + "/" + repo
	web := webBase(r) + "/" + owner + "/" + repo
	out := commitJSON{
		SHA: c.sha, NodeID: "C_" + c.sha,
		Commit: gitCommitJSON{
			Author:    gitUserJSON{Name: c.authorName, Email: c.authorEmail, Date: stamp(c.authorDate)},
			Committer: gitUserJSON{Name: c.committerName, Email: c.committerEm, Date: stamp(c.committerDate)},
			Message:   c.message,
			Tree:      shaURLJSON{SHA: c.tree, URL: api + "/git/trees/" + c.tree},
			URL:       api + "/git/commits/" + c.sha,
		},
		URL: api + "/commits/" + c.sha, HTMLURL: web + "/commit/" + c.sha, CommentsURL: api + "/commits/" + c.sha + "/comments",
		Parents: []shaURLJSON{},
	}
	if c.login != "" {
		u := s.user(r, c.login)
		out.Author, out.Committer = &u, &u
	}
	for _, p := range c.parents {
		out.Parents = append(out.Parents, shaURLJSON{SHA: p, URL: api + "/commits/" + p, HTMLURL: web + "/commit/" + p})
	}
	return out
}
