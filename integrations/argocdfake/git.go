package argocdfake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ErrUnknownRevision is what a ResolveRevision returns (wrapped) for a
// revision that names no commit: the fake then refuses the sync at once, as
// argocd-server does (400, code 9, "error resolving repo revision: …").
var ErrUnknownRevision = errors.New("revision not found")

// GitResolver returns an Options.ResolveRevision reading a real git
// repository (a bare remote works), the way the repo-server would: the
// revision is resolved to a commit, and the image deployed is read from the
// Helm values file valuesPath(app) at that commit (.image.repository and
// .image.tag). A missing values file or image yields no images.
func GitResolver(gitDir string, valuesPath func(app string) string) func(app, revision string) (string, []string, error) {
	return func(app, revision string) (string, []string, error) {
		if revision == "" || strings.HasPrefix(revision, "-") || strings.ContainsAny(revision, " \t\r\n") {
			return "", nil, fmt.Errorf("unable to resolve '%s' to a commit SHA: %w", revision, ErrUnknownRevision)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := git(ctx, gitDir, "rev-parse", "--verify", "--quiet", "--end-of-options", revision+"^{commit}")
		if err != nil {
			return "", nil, fmt.Errorf("unable to resolve '%s' to a commit SHA: %w", revision, ErrUnknownRevision)
		}
		sha := strings.TrimSpace(out)
		path := strings.TrimPrefix(valuesPath(app), "/")
		content, err := git(ctx, gitDir, "show", sha+":"+path)
		if err != nil {
			return sha, nil, nil
		}
		var values struct {
			Image struct {
				Repository string `yaml:"repository"`
				Tag        string `yaml:"tag"`
			} `yaml:"image"`
		}
		if err := yaml.Unmarshal([]byte(content), &values); err != nil {
			return "", nil, fmt.Errorf("failed to parse %s at %s: %v", path, sha, err)
		}
		if values.Image.Repository == "" || values.Image.Tag == "" {
			return sha, nil, nil
		}
		return sha, []string{values.Image.Repository + ":" + values.Image.Tag}, nil
	}
}

func git(ctx context.Context, gitDir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"--git-dir", gitDir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
