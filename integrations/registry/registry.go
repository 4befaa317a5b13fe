// Package registry asks a container registry about tags through the OCI
// distribution API (HEAD /v2/<name>/manifests/<tag>, GET /v2/<name>/tags/list),
// with the Bearer token challenge flow GHCR and Docker Hub use.
package registry

import "context"

// Client is what nexo needs from a registry.
type Client interface {
	// TagExists is HEAD /v2/<repo>/manifests/<tag>: true on 200, false on 404.
	TagExists(ctx context.Context, repo, tag string) (bool, error)
	// Tags lists a repository's tags (following Link pagination).
	Tags(ctx context.Context, repo string) ([]string, error)
}
