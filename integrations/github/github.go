// Package github is nexo's GitHub client: pull requests on the GitOps repo,
// and commits of the service repos (changelogs, lead time). The real client
// wraps go-github; githubfake is an HTTP server speaking GitHub's JSON.
package github

import (
	"context"
	"errors"
	"time"
)

// PRSpec describes a pull request to ensure.
type PRSpec struct {
	Head   string // branch
	Base   string // e.g. "main"
	Title  string
	Body   string
	Labels []string
	// Reviewers are GitHub logins; TeamReviewers are team slugs.
	Reviewers     []string
	TeamReviewers []string
}

// PR is the state of a pull request.
type PR struct {
	Number   int       `json:"number"`
	URL      string    `json:"url"`   // html_url
	State    string    `json:"state"` // "open" or "closed"
	Merged   bool      `json:"merged"`
	MergeSHA string    `json:"merge_sha,omitempty"`
	HeadRef  string    `json:"head_ref"`
	HeadSHA  string    `json:"head_sha"`
	Title    string    `json:"title"`
	Labels   []string  `json:"labels,omitempty"`
	MergedAt time.Time `json:"merged_at,omitempty"`
}

// Commit is a source-repository commit.
type Commit struct {
	SHA     string    `json:"sha"`
	Message string    `json:"message"`
	Author  string    `json:"author"`
	Time    time.Time `json:"time"` // author date
	URL     string    `json:"url,omitempty"`
}

// MergeBlockedError is GitHub refusing a merge (branch protection, checks,
// conflicts), with GitHub's own words.
type MergeBlockedError struct {
	Status  int
	Message string
}

func (e *MergeBlockedError) Error() string { return "github refused the merge: " + e.Message }

// ErrNotFound is a 404 from GitHub.
var ErrNotFound = errors.New("github: not found")

// Client is what nexo needs from GitHub.
type Client interface {
	// EnsurePR returns the open PR for spec.Head, creating it (with labels
	// and reviewers) when there is none. Idempotent.
	EnsurePR(ctx context.Context, spec PRSpec) (PR, error)
	// GetPR reads a PR.
	GetPR(ctx context.Context, number int) (PR, error)
	// MergePR merges (method squash|merge|rebase) with the commit title and
	// message (empty: GitHub's default);
	// expectSHA guards against a moved head. Already merged → returns the
	// merge SHA without error. Refusals are *MergeBlockedError.
	MergePR(ctx context.Context, number int, method, title, message, expectSHA string) (mergeSHA string, err error)
	// ClosePR closes a PR without merging (no error if closed already).
	ClosePR(ctx context.Context, number int, comment string) error
	// Comment adds a comment to a PR or issue.
	Comment(ctx context.Context, number int, body string) error
	// Compare lists the commits of repo ("owner/name") between base and head.
	Compare(ctx context.Context, repo, base, head string) ([]Commit, error)
	// Commits lists commits of repo on its default branch between since and until.
	Commits(ctx context.Context, repo string, since, until time.Time) ([]Commit, error)
}
