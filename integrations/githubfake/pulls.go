package githubfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// pull is a pull request's state.
type pull struct {
	number                int
	id                    int64
	title, body           string
	head, base            string
	state                 string // open, closed
	user                  string
	merged                bool
	mergeSHA              string
	headSHA               string // frozen once closed
	createdAt, updatedAt  time.Time
	closedAt, mergedAt    time.Time
	labels                []string
	reviewers, teams      []string
	comments              []commentJSON
	mergeable             *bool
	mergedBy, mergeMethod string
}

// PR is a pull request as the fake holds it (for test assertions).
type PR struct {
	Number      int
	Title, Body string
	Head, Base  string
	State       string
	Merged      bool
	MergeSHA    string
	MergeMethod string
	Labels      []string
	Reviewers   []string
	Teams       []string
	Comments    []string
}

// PullRequests returns every PR, in creation order.
func (s *Server) PullRequests() []PR {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PR
	for _, p := range s.pulls {
		pr := PR{
			Number: p.number, Title: p.title, Body: p.body, Head: p.head, Base: p.base, State: p.state,
			Merged: p.merged, MergeSHA: p.mergeSHA, MergeMethod: p.mergeMethod,
			Labels:    append([]string(nil), p.labels...),
			Reviewers: append([]string(nil), p.reviewers...), Teams: append([]string(nil), p.teams...),
		}
		for _, c := range p.comments {
			pr.Comments = append(pr.Comments, c.Body)
		}
		out = append(out, pr)
	}
	return out
}

func (s *Server) snapshot(p *pull) pull {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := *p
	cp.labels = append([]string(nil), p.labels...)
	cp.reviewers = append([]string(nil), p.reviewers...)
	cp.teams = append([]string(nil), p.teams...)
	cp.comments = append([]commentJSON(nil), p.comments...)
	return cp
}

func (s *Server) withPull(w http.ResponseWriter, num string, fn func(http.ResponseWriter, *pull)) {
	n, err := strconv.Atoi(num)
	if err != nil {
		notFound(w)
		return
	}
	s.mu.Lock()
	var found *pull
	for _, p := range s.pulls {
		if p.number == n {
			found = p
		}
	}
	s.mu.Unlock()
	if found == nil {
		notFound(w)
		return
	}
	fn(w, found)
}

// branchSHA is the SHA of a branch of the GitOps repo, "" if absent.
func (s *Server) branchSHA(branch string) string {
	out, err := s.git(s.opts.RemotePath, nil, "rev-parse", "-q", "--verify", "refs/heads/"+branch+"^{commit}")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

func (s *Server) render(r *http.Request, p pull) pullJSON {
	api := apiBase(r) + "/repos/" + s.opts.Owner + "/" + s.opts.Repo
	web := webBase(r) + "/" + s.opts.Owner + "/" + s.opts.Repo
	owner := s.user(r, s.opts.Owner)
	owner.Type = "Organization"
	repo := repoJSON{
		ID: 4242, NodeID: "R_gitops", Name: s.opts.Repo, FullName: s.opts.Owner + "/" + s.opts.Repo,
		Owner: owner, Private: true, HTMLURL: web, URL: api, DefaultBranch: "main",
	}
	headSHA := p.headSHA
	if p.state == "open" {
		headSHA = s.branchSHA(p.head)
	}
	out := pullJSON{
		URL: api + "/pulls/" + strconv.Itoa(p.number), ID: p.id, NodeID: fmt.Sprintf("PR_%d", p.id),
		HTMLURL: web + "/pull/" + strconv.Itoa(p.number), DiffURL: web + "/pull/" + strconv.Itoa(p.number) + ".diff",
		PatchURL: web + "/pull/" + strconv.Itoa(p.number) + ".patch", IssueURL: api + "/issues/" + strconv.Itoa(p.number),
		Number: p.number, State: p.state, Title: p.title, User: s.user(r, p.user), Body: &p.body,
		Labels: []labelJSON{}, CreatedAt: stamp(p.createdAt), UpdatedAt: stamp(p.updatedAt),
		RequestedReviewers: []userJSON{}, RequestedTeams: []teamJSON{},
		Head:              refJSON{Label: s.opts.Owner + ":" + p.head, Ref: p.head, SHA: headSHA, User: owner, Repo: repo},
		Base:              refJSON{Label: s.opts.Owner + ":" + p.base, Ref: p.base, SHA: s.branchSHA(p.base), User: owner, Repo: repo},
		AuthorAssociation: "MEMBER", Merged: p.merged, Mergeable: p.mergeable, MergeableState: "unknown",
		Comments: len(p.comments), Commits: 1, ChangedFiles: 1,
	}
	if p.mergeable != nil && !*p.mergeable {
		out.MergeableState = "dirty"
	}
	s.mu.Lock()
	for _, l := range p.labels {
		out.Labels = append(out.Labels, *s.labels[strings.ToLower(l)])
	}
	s.mu.Unlock()
	for _, u := range p.reviewers {
		out.RequestedReviewers = append(out.RequestedReviewers, s.user(r, u))
	}
	for _, t := range p.teams {
		out.RequestedTeams = append(out.RequestedTeams, teamJSON{
			ID: int64(len(t)) * 104729, NodeID: "T_" + t, Slug: t, Name: t, Privacy: "closed", Permission: "pull",
			URL: apiBase(r) + "/orgs/" + s.opts.Owner + "/teams/" + t, HTMLURL: webBase(r) + "/orgs/" + s.opts.Owner + "/teams/" + t,
		})
	}
	if !p.closedAt.IsZero() {
		c := stamp(p.closedAt)
		out.ClosedAt = &c
	}
	if p.merged {
		m, sha := stamp(p.mergedAt), p.mergeSHA
		out.MergedAt, out.MergeCommitSHA = &m, &sha
		by := s.user(r, p.mergedBy)
		out.MergedBy = &by
	}
	return out
}

func (s *Server) listPulls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	head, base := q.Get("head"), q.Get("base")
	if o, ref, ok := strings.Cut(head, ":"); ok {
		if !strings.EqualFold(o, s.opts.Owner) {
			writeJSON(w, http.StatusOK, []pullJSON{})
			return
		}
		head = ref
	}
	s.mu.Lock()
	var match []*pull
	for _, p := range s.pulls {
		if (state == "all" || p.state == state) && (head == "" || p.head == head) && (base == "" || p.base == base) {
			match = append(match, p)
		}
	}
	s.mu.Unlock()
	sort.Slice(match, func(i, j int) bool { return match[i].number > match[j].number })
	start, end := paginate(w, r, len(match), 30)
	out := []pullJSON{}
	for _, p := range match[start:end] {
		out = append(out, s.render(r, s.snapshot(p)))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createPull(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Title *string `json:"title"`
		Head  string  `json:"head"`
		Base  string  `json:"base"`
		Body  *string `json:"body"`
		Draft bool    `json:"draft"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorJSON{Message: "Problems parsing JSON"})
		return
	}
	head := req.Head
	if o, ref, ok := strings.Cut(head, ":"); ok && strings.EqualFold(o, s.opts.Owner) {
		head = ref
	}
	switch {
	case req.Title == nil || *req.Title == "":
		validationFailed(w, errorDetail{Resource: "PullRequest", Field: "title", Code: "missing_field"})
		return
	case head == "":
		validationFailed(w, errorDetail{Resource: "PullRequest", Field: "head", Code: "missing_field"})
		return
	case req.Base == "":
		validationFailed(w, errorDetail{Resource: "PullRequest", Field: "base", Code: "missing_field"})
		return
	}
	headSHA, baseSHA := s.branchSHA(head), s.branchSHA(req.Base)
	if headSHA == "" {
		validationFailed(w, errorDetail{Resource: "PullRequest", Field: "head", Code: "invalid"})
		return
	}
	if baseSHA == "" {
		validationFailed(w, errorDetail{Resource: "PullRequest", Field: "base", Code: "invalid"})
		return
	}
	if out, err := s.git(s.opts.RemotePath, nil, "rev-list", "--count", baseSHA+".."+headSHA); err != nil || strings.TrimSpace(out) == "0" {
		validationFailed(w, errorDetail{Resource: "PullRequest", Code: "custom", Message: "No commits between " + req.Base + " and " + head})
		return
	}
	s.mu.Lock()
	for _, p := range s.pulls {
		if p.state == "open" && p.head == head && p.base == req.Base {
			s.mu.Unlock()
			validationFailed(w, errorDetail{Resource: "PullRequest", Code: "custom", Message: "A pull request already exists for " + s.opts.Owner + ":" + head + "."})
			return
		}
	}
	now := time.Now().UTC()
	p := &pull{
		number: len(s.pulls) + 1, id: s.id(), title: *req.Title, head: head, base: req.Base,
		state: "open", user: s.opts.Login, createdAt: now, updatedAt: now,
	}
	if req.Body != nil {
		p.body = *req.Body
	}
	s.pulls = append(s.pulls, p)
	s.mu.Unlock()
	out := s.render(r, s.snapshot(p))
	w.Header().Set("Location", out.URL)
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) editPull(w http.ResponseWriter, r *http.Request, pr *pull) {
	var req struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
		Base  *string `json:"base"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorJSON{Message: "Problems parsing JSON"})
		return
	}
	s.mu.Lock()
	if req.State != nil {
		switch *req.State {
		case "closed":
			if pr.state == "open" {
				pr.state, pr.closedAt = "closed", time.Now().UTC()
				s.mu.Unlock()
				sha := s.branchSHA(pr.head)
				s.mu.Lock()
				pr.headSHA = sha
			}
		case "open":
			if pr.merged {
				s.mu.Unlock()
				validationFailed(w, errorDetail{Resource: "PullRequest", Field: "state", Code: "invalid", Message: "state cannot be changed. The pull request has been merged."})
				return
			}
			pr.state, pr.closedAt = "open", time.Time{}
		default:
			s.mu.Unlock()
			validationFailed(w, errorDetail{Resource: "PullRequest", Field: "state", Code: "invalid"})
			return
		}
	}
	if req.Title != nil {
		pr.title = *req.Title
	}
	if req.Body != nil {
		pr.body = *req.Body
	}
	if req.Base != nil {
		pr.base = *req.Base
	}
	pr.updatedAt = time.Now().UTC()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.render(r, s.snapshot(pr)))
}

func (s *Server) requestReviewers(w http.ResponseWriter, r *http.Request, pr *pull) {
	var req struct {
		Reviewers     []string `json:"reviewers"`
		TeamReviewers []string `json:"team_reviewers"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorJSON{Message: "Problems parsing JSON"})
		return
	}
	s.mu.Lock()
	for _, u := range req.Reviewers {
		if strings.EqualFold(u, pr.user) {
			s.mu.Unlock()
			writeJSON(w, http.StatusUnprocessableEntity, errorJSON{Message: "Review cannot be requested from pull request author.", DocumentationURL: "https://docs.github.com/rest/pulls/review-requests#request-reviewers-for-a-pull-request", Status: "422"})
			return
		}
	}
	pr.reviewers = addUnique(pr.reviewers, req.Reviewers...)
	pr.teams = addUnique(pr.teams, req.TeamReviewers...)
	pr.updatedAt = time.Now().UTC()
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, s.render(r, s.snapshot(pr)))
}

func (s *Server) addLabels(w http.ResponseWriter, r *http.Request, pr *pull) {
	var raw json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		writeJSON(w, http.StatusBadRequest, errorJSON{Message: "Problems parsing JSON"})
		return
	}
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		var obj struct {
			Labels []string `json:"labels"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			validationFailed(w, errorDetail{Resource: "Label", Field: "labels", Code: "invalid"})
			return
		}
		names = obj.Labels
	}
	s.mu.Lock()
	for _, n := range names {
		if strings.TrimSpace(n) == "" {
			s.mu.Unlock()
			validationFailed(w, errorDetail{Resource: "Label", Field: "name", Code: "missing_field"})
			return
		}
		if _, ok := s.labels[strings.ToLower(n)]; !ok {
			id := s.id()
			s.labels[strings.ToLower(n)] = &labelJSON{
				ID: id, NodeID: fmt.Sprintf("LA_%d", id), Name: n, Color: "ededed",
				URL: apiBase(r) + "/repos/" + s.opts.Owner + "/" + s.opts.Repo + "/labels/" + n,
			}
		}
		have := false
		for _, l := range pr.labels {
			have = have || strings.EqualFold(l, n)
		}
		if !have {
			pr.labels = append(pr.labels, n)
		}
	}
	out := []labelJSON{}
	for _, l := range pr.labels {
		out = append(out, *s.labels[strings.ToLower(l)])
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) addComment(w http.ResponseWriter, r *http.Request, pr *pull) {
	var req struct {
		Body string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorJSON{Message: "Problems parsing JSON"})
		return
	}
	if strings.TrimSpace(req.Body) == "" {
		validationFailed(w, errorDetail{Resource: "IssueComment", Field: "body", Code: "missing_field"})
		return
	}
	s.mu.Lock()
	id := s.id()
	now := stamp(time.Now())
	issue := apiBase(r) + "/repos/" + s.opts.Owner + "/" + s.opts.Repo + "/issues/" + strconv.Itoa(pr.number)
	c := commentJSON{
		ID: id, NodeID: fmt.Sprintf("IC_%d", id), Body: req.Body, User: s.user(r, s.opts.Login),
		URL:      apiBase(r) + "/repos/" + s.opts.Owner + "/" + s.opts.Repo + "/issues/comments/" + strconv.FormatInt(id, 10),
		HTMLURL:  fmt.Sprintf("%s/%s/%s/pull/%d#issuecomment-%d", webBase(r), s.opts.Owner, s.opts.Repo, pr.number, id),
		IssueURL: issue, CreatedAt: now, UpdatedAt: now, AuthorAssociation: "MEMBER",
	}
	pr.comments = append(pr.comments, c)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request, pr *pull) {
	p := s.snapshot(pr)
	start, end := paginate(w, r, len(p.comments), 30)
	out := append([]commentJSON{}, p.comments[start:end]...)
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) mergePull(w http.ResponseWriter, r *http.Request, pr *pull) {
	var req struct {
		CommitTitle   *string `json:"commit_title"`
		CommitMessage *string `json:"commit_message"`
		SHA           string  `json:"sha"`
		MergeMethod   string  `json:"merge_method"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorJSON{Message: "Problems parsing JSON"})
		return
	}
	s.mergeMu.Lock()
	defer s.mergeMu.Unlock()
	p := s.snapshot(pr)
	s.mu.Lock()
	approvals, blockCode, blockMsg := s.approvals, s.blockCode, s.blockMsg
	s.mu.Unlock()
	notMergeable := func() {
		writeJSON(w, http.StatusMethodNotAllowed, errorJSON{Message: "Pull Request is not mergeable", DocumentationURL: "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request", Status: "405"})
	}
	method := req.MergeMethod
	if method == "" {
		method = "merge"
	}
	switch {
	case p.merged || p.state != "open":
		notMergeable()
		return
	case method != "merge" && method != "squash" && method != "rebase":
		validationFailed(w, errorDetail{Resource: "PullRequest", Field: "merge_method", Code: "invalid"})
		return
	case blockCode != 0:
		writeJSON(w, blockCode, errorJSON{Message: blockMsg})
		return
	case approvals > 0:
		msg := fmt.Sprintf("At least %d approving reviews are required by reviewers with write access.", approvals)
		if approvals == 1 {
			msg = "At least 1 approving review is required by reviewers with write access."
		}
		writeJSON(w, http.StatusMethodNotAllowed, errorJSON{Message: msg, DocumentationURL: "https://docs.github.com/articles/about-protected-branches", Status: "405"})
		return
	}
	head := s.branchSHA(p.head)
	if head == "" {
		notMergeable()
		return
	}
	if req.SHA != "" && req.SHA != head {
		writeJSON(w, http.StatusConflict, errorJSON{Message: "Head branch was modified. Review and try the merge again.", Status: "409"})
		return
	}
	title, message := "", ""
	switch method {
	case "squash":
		title = fmt.Sprintf("%s (#%d)", p.title, p.number)
		if subj, err := s.git(s.opts.RemotePath, nil, "log", "--reverse", "--format=* %s", s.branchSHA(p.base)+".."+head); err == nil {
			message = strings.TrimSpace(subj)
		}
	case "merge":
		title = fmt.Sprintf("Merge pull request #%d from %s/%s", p.number, s.opts.Owner, p.head)
		message = p.title
	}
	if req.CommitTitle != nil && *req.CommitTitle != "" {
		title = *req.CommitTitle
	}
	if req.CommitMessage != nil {
		message = *req.CommitMessage
	}
	sha, conflict, err := s.gitMerge(method, p.base, p.head, title, message, p.user)
	if conflict {
		f := false
		s.mu.Lock()
		pr.mergeable = &f
		s.mu.Unlock()
		notMergeable()
		return
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errorJSON{Message: "Server Error"})
		return
	}
	now := time.Now().UTC()
	s.mu.Lock()
	pr.merged, pr.state, pr.mergeSHA, pr.headSHA = true, "closed", sha, head
	pr.mergedAt, pr.closedAt, pr.updatedAt, pr.mergedBy, pr.mergeMethod = now, now, now, s.opts.Login, method
	s.mu.Unlock()
	if s.opts.DeleteBranchOnMerge {
		_, _ = s.git(s.opts.RemotePath, nil, "update-ref", "-d", "refs/heads/"+p.head)
	}
	writeJSON(w, http.StatusOK, mergeResultJSON{SHA: sha, Merged: true, Message: "Pull Request successfully merged"})
}

// gitMerge merges head into base of the GitOps repo in a temporary clone
// and pushes base. conflict reports a merge that cannot be done cleanly.
func (s *Server) gitMerge(method, base, head, title, message, author string) (sha string, conflict bool, err error) {
	tmp, err := os.MkdirTemp("", "githubfake-merge-")
	if err != nil {
		return "", false, err
	}
	defer os.RemoveAll(tmp)
	work := filepath.Join(tmp, "w")
	if _, err := s.git("", nil, "clone", "-q", "--no-tags", "--branch", base, s.opts.RemotePath, work); err != nil {
		return "", false, err
	}
	env := []string{
		"GIT_AUTHOR_NAME=" + author, "GIT_AUTHOR_EMAIL=" + author + "@users.noreply.github.com",
		"GIT_COMMITTER_NAME=GitHub", "GIT_COMMITTER_EMAIL=noreply@github.com",
	}
	msgArgs := []string{"-m", title}
	if strings.TrimSpace(message) != "" {
		msgArgs = append(msgArgs, "-m", message)
	}
	switch method {
	case "squash":
		if _, err := s.git(work, env, "merge", "-q", "--squash", "origin/"+head); err != nil {
			return "", true, nil
		}
		if _, err := s.git(work, env, "diff", "--cached", "--quiet"); err == nil {
			return "", true, nil // nothing to merge
		}
		if _, err := s.git(work, env, append([]string{"commit", "-q"}, msgArgs...)...); err != nil {
			return "", false, err
		}
	case "merge":
		if _, err := s.git(work, env, append([]string{"merge", "-q", "--no-ff"}, append(msgArgs, "origin/"+head)...)...); err != nil {
			return "", true, nil
		}
	case "rebase":
		if _, err := s.git(work, env, "checkout", "-q", "-B", "githubfake-rebase", "origin/"+head); err != nil {
			return "", false, err
		}
		if _, err := s.git(work, env, "rebase", "-q", base); err != nil {
			return "", true, nil
		}
	}
	if _, err := s.git(work, env, "push", "-q", "origin", "HEAD:refs/heads/"+base); err != nil {
		return "", false, err
	}
	out, err := s.git(work, nil, "rev-parse", "HEAD")
	return strings.TrimSpace(out), false, err
}

// git runs git in dir (a work tree or a bare repository) with a clean
// environment and the server's timeout.
func (s *Server) git(dir string, env []string, args ...string) (string, error) {
	ctx, cancel := s.gitCtx()
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=GitHub", "GIT_AUTHOR_EMAIL=noreply@github.com",
		"GIT_COMMITTER_NAME=GitHub", "GIT_COMMITTER_EMAIL=noreply@github.com", "LC_ALL=C")
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(errb.String()+" "+out.String()))
	}
	return out.String(), nil
}

func addUnique(list []string, add ...string) []string {
	for _, a := range add {
		dup := false
		for _, l := range list {
			dup = dup || strings.EqualFold(l, a)
		}
		if !dup {
			list = append(list, a)
		}
	}
	return list
}

// paginate applies page/per_page and writes GitHub's Link header.
func paginate(w http.ResponseWriter, r *http.Request, total, defPer int) (int, int) {
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = defPer
	}
	if per > 100 {
		per = 100
	}
	page, _ := strconv.Atoi(q.Get("page"))
	if page <= 0 {
		page = 1
	}
	last := (total + per - 1) / per
	if last == 0 {
		last = 1
	}
	link := func(p int, rel string) string {
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(per))
		return fmt.Sprintf("<%s%s?%s>; rel=%q", apiBase(r), strings.TrimPrefix(r.URL.Path, "/api/v3"), q.Encode(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	start := (page - 1) * per
	if start > total {
		start = total
	}
	end := start + per
	if end > total {
		end = total
	}
	return start, end
}
