// Package secretstore reads and writes secrets in AWS Secrets Manager
// (aws-sdk-go-v2). The fake speaks AWS JSON 1.1 so the real SDK is tested.
package secretstore

import "context"

// Store is a secret manager.
type Store interface {
	// Get returns the current SecretString and its version id.
	Get(ctx context.Context, id string) (value, versionID string, err error)
	// Put writes a new SecretString (AWSCURRENT) idempotently: the token is a
	// ClientRequestToken, so a retried step does not create a second version.
	Put(ctx context.Context, id, value, token string) (versionID string, err error)
}
