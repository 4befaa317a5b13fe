package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v74/github"
)

// Options configures NewClient.
type Options struct {
	// BaseURL is the REST API root, used as it is: "https://api.github.com/"
	// (default), "https://ghe.example.com/api/v3/" for GitHub Enterprise
	// Server, or any server answering GitHub's paths ("http://127.0.0.1:PORT/").
	BaseURL string
	// Token is sent as "Authorization: Bearer <token>". Never logged.
	Token string
	// Owner and Repo name the GitOps repository (pull requests live there).
	Owner, Repo string
	// Timeout bounds each HTTP request (default 30s).
	Timeout time.Duration
	// HTTPClient replaces the default client (its Timeout is kept if set).
	HTTPClient *http.Client
}

// REST is the real Client: GitHub's REST API through go-github.
type REST struct {
	gh          *gh.Client
	owner, repo string
}

var _ Client = (*REST)(nil)

// NewClient builds a Client; it makes no request.
func NewClient(opts Options) (*REST, error) {
	if opts.Owner == "" || opts.Repo == "" || strings.Contains(opts.Owner+opts.Repo, "/") {
		return nil, errors.New("github: Owner and Repo of the GitOps repository are required (no slashes)")
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	} else {
		cp := *hc
		hc = &cp
	}
	if hc.Timeout == 0 {
		hc.Timeout = opts.Timeout
		if hc.Timeout <= 0 {
			hc.Timeout = 30 * time.Second
		}
	}
	c := gh.NewClient(hc)
	if opts.Token != "" {
		c = c.WithAuthToken(opts.Token)
	}
	if opts.BaseURL != "" {
		u, err := url.Parse(opts.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("github: BaseURL %q is not an http(s) URL", opts.BaseURL)
		}
		// Taken as it is, as the REST API root: https://api.github.com/,
		// https://ghe.example.com/api/v3/ for GitHub Enterprise Server, or
		// any server that answers GitHub's paths at that root.
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		c.BaseURL = u
	}
	return &REST{gh: c, owner: opts.Owner, repo: opts.Repo}, nil
}

// EnsurePR returns the open PR whose head is spec.Head, creating it when
// there is none, then adds the labels and requests the reviewers that are
// not there yet. Calling it again changes nothing.
func (c *REST) EnsurePR(ctx context.Context, spec PRSpec) (PR, error) {
	if spec.Head == "" || spec.Base == "" || spec.Title == "" {
		return PR{}, errors.New("github: EnsurePR needs Head, Base and Title")
	}
	pr, err := c.findOpen(ctx, spec.Head, spec.Base)
	if err != nil {
		return PR{}, err
	}
	if pr == nil {
		created, _, err := c.gh.PullRequests.Create(ctx, c.owner, c.repo, &gh.NewPullRequest{
			Title: gh.Ptr(spec.Title), Head: gh.Ptr(spec.Head), Base: gh.Ptr(spec.Base), Body: gh.Ptr(spec.Body),
		})
		if err != nil {
			// Lost a race with another replica: GitHub says it exists.
			if again, ferr := c.findOpen(ctx, spec.Head, spec.Base); ferr == nil && again != nil {
				created = again
			} else {
				return PR{}, wrap("create pull request", err)
			}
		}
		pr = created
	}
	have := map[string]bool{}
	for _, l := range pr.Labels {
		have[l.GetName()] = true
	}
	var missing []string
	for _, l := range spec.Labels {
		if !have[l] {
			missing = append(missing, l)
			have[l] = true
		}
	}
	if len(missing) > 0 {
		labels, _, err := c.gh.Issues.AddLabelsToIssue(ctx, c.owner, c.repo, pr.GetNumber(), missing)
		if err != nil {
			return PR{}, wrap("add labels", err)
		}
		pr.Labels = labels
	}
	req := gh.ReviewersRequest{}
	asked := map[string]bool{}
	for _, u := range pr.RequestedReviewers {
		asked[strings.ToLower(u.GetLogin())] = true
	}
	for _, tm := range pr.RequestedTeams {
		asked["team:"+strings.ToLower(tm.GetSlug())] = true
	}
	for _, u := range spec.Reviewers {
		if !asked[strings.ToLower(u)] && !strings.EqualFold(u, pr.GetUser().GetLogin()) {
			req.Reviewers = append(req.Reviewers, u)
		}
	}
	for _, s := range spec.TeamReviewers {
		if !asked["team:"+strings.ToLower(s)] {
			req.TeamReviewers = append(req.TeamReviewers, s)
		}
	}
	if len(req.Reviewers)+len(req.TeamReviewers) > 0 {
		updated, _, err := c.gh.PullRequests.RequestReviewers(ctx, c.owner, c.repo, pr.GetNumber(), req)
		if err != nil {
			return PR{}, wrap("request reviewers", err)
		}
		updated.Labels = pr.Labels
		pr = updated
	}
	return convertPR(pr), nil
}

func (c *REST) findOpen(ctx context.Context, head, base string) (*gh.PullRequest, error) {
	prs, _, err := c.gh.PullRequests.List(ctx, c.owner, c.repo, &gh.PullRequestListOptions{
		State: "open", Head: c.owner + ":" + head, Base: base, ListOptions: gh.ListOptions{PerPage: 100},
	})
	if err != nil {
		return nil, wrap("list pull requests", err)
	}
	for _, p := range prs {
		if p.GetHead().GetRef() == head {
			return p, nil
		}
	}
	return nil, nil
}

// GetPR reads pull request number.
func (c *REST) GetPR(ctx context.Context, number int) (PR, error) {
	pr, _, err := c.gh.PullRequests.Get(ctx, c.owner, c.repo, number)
	if err != nil {
		return PR{}, wrap(fmt.Sprintf("get pull request #%d", number), err)
	}
	return convertPR(pr), nil
}

// MergePR merges pull request number with method (squash, merge or rebase),
// the commit title, and expectSHA as the head it must still have. An
// already merged PR returns its merge SHA. GitHub's refusals (405, 409, 422:
// branch protection, failing checks, conflicts, a moved head) are
// *MergeBlockedError with GitHub's message.
func (c *REST) MergePR(ctx context.Context, number int, method, title, message, expectSHA string) (string, error) {
	switch method {
	case "squash", "merge", "rebase":
	default:
		return "", fmt.Errorf("github: merge method %q: want squash, merge or rebase", method)
	}
	pr, _, err := c.gh.PullRequests.Get(ctx, c.owner, c.repo, number)
	if err != nil {
		return "", wrap(fmt.Sprintf("get pull request #%d", number), err)
	}
	if pr.GetMerged() {
		return pr.GetMergeCommitSHA(), nil
	}
	if pr.GetState() == "closed" {
		return "", &MergeBlockedError{Status: http.StatusMethodNotAllowed, Message: fmt.Sprintf("pull request #%d is closed without being merged", number)}
	}
	res, _, err := c.gh.PullRequests.Merge(ctx, c.owner, c.repo, number, message, &gh.PullRequestOptions{
		CommitTitle: title, MergeMethod: method, SHA: expectSHA,
	})
	if err != nil {
		var er *gh.ErrorResponse
		if errors.As(err, &er) && er.Response != nil {
			switch er.Response.StatusCode {
			case http.StatusMethodNotAllowed, http.StatusConflict, http.StatusUnprocessableEntity:
				// Merged meanwhile (another replica, a human)? Then it is done.
				if again, _, gerr := c.gh.PullRequests.Get(ctx, c.owner, c.repo, number); gerr == nil && again.GetMerged() {
					return again.GetMergeCommitSHA(), nil
				}
				return "", &MergeBlockedError{Status: er.Response.StatusCode, Message: er.Message}
			}
		}
		return "", wrap(fmt.Sprintf("merge pull request #%d", number), err)
	}
	return res.GetSHA(), nil
}

// ClosePR comments (when comment is not empty) and closes a PR; closing a
// closed PR is not an error.
func (c *REST) ClosePR(ctx context.Context, number int, comment string) error {
	pr, _, err := c.gh.PullRequests.Get(ctx, c.owner, c.repo, number)
	if err != nil {
		return wrap(fmt.Sprintf("get pull request #%d", number), err)
	}
	if pr.GetState() == "closed" {
		return nil
	}
	if comment != "" {
		if err := c.Comment(ctx, number, comment); err != nil {
			return err
		}
	}
	if _, _, err := c.gh.PullRequests.Edit(ctx, c.owner, c.repo, number, &gh.PullRequest{State: gh.Ptr("closed")}); err != nil {
		return wrap(fmt.Sprintf("close pull request #%d", number), err)
	}
	return nil
}

// Comment adds a comment to PR or issue number.
func (c *REST) Comment(ctx context.Context, number int, body string) error {
	if strings.TrimSpace(body) == "" {
		return errors.New("github: empty comment")
	}
	if _, _, err := c.gh.Issues.CreateComment(ctx, c.owner, c.repo, number, &gh.IssueComment{Body: gh.Ptr(body)}); err != nil {
		return wrap(fmt.Sprintf("comment on #%d", number), err)
	}
	return nil
}

// Compare lists the commits of repo ("owner/name") that head has and base
// has not, oldest first (GitHub's order), following pagination.
func (c *REST) Compare(ctx context.Context, repo, base, head string) ([]Commit, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	if base == "" || head == "" {
		return nil, errors.New("github: Compare needs base and head")
	}
	var out []Commit
	opts := &gh.ListOptions{PerPage: 100}
	for page := 0; page < 100; page++ {
		cmp, resp, err := c.gh.Repositories.CompareCommits(ctx, owner, name, base, head, opts)
		if err != nil {
			return nil, wrap(fmt.Sprintf("compare %s %s...%s", repo, base, head), err)
		}
		for _, rc := range cmp.Commits {
			out = append(out, convertCommit(rc))
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// Commits lists the commits of repo's default branch between since and
// until (zero: unbounded), newest first, following pagination.
func (c *REST) Commits(ctx context.Context, repo string, since, until time.Time) ([]Commit, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	opts := &gh.CommitsListOptions{Since: since, Until: until, ListOptions: gh.ListOptions{PerPage: 100}}
	var out []Commit
	for page := 0; page < 1000; page++ {
		list, resp, err := c.gh.Repositories.ListCommits(ctx, owner, name, opts)
		if err != nil {
			return nil, wrap("list commits of "+repo, err)
		}
		for _, rc := range list {
			out = append(out, convertCommit(rc))
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

func splitRepo(repo string) (string, string, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("github: repository %q: want owner/name", repo)
	}
	return owner, name, nil
}

// wrap turns go-github errors into short ones; 404 wraps ErrNotFound. The
// token is never part of go-github's errors (it is a header).
func wrap(what string, err error) error {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		if er.Response.StatusCode == http.StatusNotFound {
			return fmt.Errorf("github: %s: %w", what, ErrNotFound)
		}
		msg := er.Message
		for _, e := range er.Errors {
			if e.Message != "" {
				msg += ": " + e.Message
			}
		}
		return fmt.Errorf("github: %s: HTTP %d: %s", what, er.Response.StatusCode, msg)
	}
	return fmt.Errorf("github: %s: %w", what, err)
}

func convertPR(p *gh.PullRequest) PR {
	out := PR{
		Number: p.GetNumber(), URL: p.GetHTMLURL(), State: p.GetState(), Merged: p.GetMerged(),
		HeadRef: p.GetHead().GetRef(), HeadSHA: p.GetHead().GetSHA(), Title: p.GetTitle(),
		MergedAt: p.GetMergedAt().Time,
	}
	if out.Merged {
		out.MergeSHA = p.GetMergeCommitSHA()
	}
	for _, l := range p.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}

func convertCommit(rc *gh.RepositoryCommit) Commit {
	c := Commit{SHA: rc.GetSHA(), Message: rc.GetCommit().GetMessage(), URL: rc.GetHTMLURL()}
	c.Author = rc.GetAuthor().GetLogin()
	if c.Author == "" {
		c.Author = rc.GetCommit().GetAuthor().GetName()
	}
	c.Time = rc.GetCommit().GetAuthor().GetDate().Time
	return c
}
