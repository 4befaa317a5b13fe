// Package gitops reads and changes the GitOps repository of Helm values
// through the git CLI (see docs/gitops.md for why the CLI and not go-git).
// The remote is the truth: every read is of origin/<branch> after a fetch;
// every change is a new branch pushed to the remote.
package gitops

import (
	"context"
	"time"
)

// Commit is one commit of the repository.
type Commit struct {
	SHA     string    `json:"sha"`
	Parents []string  `json:"parents,omitempty"`
	Subject string    `json:"subject"`
	Body    string    `json:"body,omitempty"`
	Author  string    `json:"author"`
	Email   string    `json:"email,omitempty"`
	Time    time.Time `json:"time"` // committer time
}

// Version is a file at one commit of its history.
type Version struct {
	Commit
	// Content is the file at the commit (nil when Deleted).
	Content []byte `json:"-"`
	// Deleted is true when the commit removed the file.
	Deleted bool `json:"deleted,omitempty"`
}

// Repo is the GitOps repository.
type Repo interface {
	// Sync fetches the remote so that reads see origin/<branch>. Concurrent
	// callers share one fetch.
	Sync(ctx context.Context) error
	// Head is the SHA of origin/<branch>.
	Head(ctx context.Context) (string, error)
	// ReadFile reads a file at origin/<branch>.
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// ShowFile reads a file at any revision.
	ShowFile(ctx context.Context, rev, path string) ([]byte, error)
	// Log lists commits of origin/<branch> that touched path, newest first
	// (max <= 0: all).
	Log(ctx context.Context, path string, max int) ([]Commit, error)
	// FileHistory is Log(path, 0) with the file's content at each commit, in
	// two git commands whatever the length of the history. A commit that
	// deleted the file has Deleted set and no content.
	FileHistory(ctx context.Context, path string) ([]Version, error)
	// ChangedPaths lists the files that differ between two commits.
	ChangedPaths(ctx context.Context, from, to string) ([]string, error)
	// PushBranch creates branch from origin/<branch> with files written (path
	// → content) in one commit with message, and pushes it. Idempotent: if the
	// remote branch already exists with a commit whose tree has the same
	// content for these files, it returns that commit's SHA without pushing.
	PushBranch(ctx context.Context, branch string, files map[string][]byte, message string) (sha string, err error)
	// DeleteBranch deletes a remote branch; no error if absent.
	DeleteBranch(ctx context.Context, branch string) error
	// BranchExists tells whether the remote has branch.
	BranchExists(ctx context.Context, branch string) (bool, error)
}
