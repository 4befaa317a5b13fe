package commands

import (
	"context"
	"fmt"

	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
)

// What the GitOps repo and the registry say about a service's tag: read by
// every scenario that changes or shows one (what Argo CD runs is in
// integrations/argocd, facts.go).

// ReadTag reads the tag of service in env at origin/<branch>.
func ReadTag(ctx context.Context, d *Deps, service, env string) (string, error) {
	doc, err := d.GitOps.ReadFile(ctx, d.Config.ValuesPath(service, env))
	if err != nil {
		return "", err
	}
	return gitops.GetTag(doc, d.Config.GitOps.TagKey)
}

// RequireImage refuses a tag that does not exist in the service's image
// repository (HEAD /v2/<repo>/manifests/<tag>). Without a registry
// configured it lets the tag through.
func RequireImage(ctx context.Context, d *Deps, service, tag string) error {
	if d.Registry == nil {
		return nil
	}
	repo := d.Config.ImageRepository(service)
	ok, err := d.Registry.TagExists(ctx, repo, tag)
	if err != nil {
		return fmt.Errorf("asking the registry about %s:%s: %w", repo, tag, err)
	}
	if !ok {
		return Refuse("core.no_such_image", "Repo", repo, "Tag", tag)
	}
	return nil
}

// BranchEnv is the env's short name in branch names (the playbook writes
// promote/nexo-be-prod-<tag> for production).
func BranchEnv(cfg *config.Config, env string) string {
	if e, ok := cfg.Env(env); ok && e.ValuesFile != "" {
		return e.ValuesFile
	}
	return env
}
