package secretstore

import "context"

// Staging labels Secrets Manager uses to track a secret's versions through
// a rotation.
const (
	StageCurrent  = "AWSCURRENT"
	StagePending  = "AWSPENDING"
	StagePrevious = "AWSPREVIOUS"
)

// Staged is a Store that can also keep a version aside under a staging
// label, read a version by id, and move AWSCURRENT to a version, which is
// how a rotation keeps its new value in the secret manager (AWSPENDING)
// before the database is changed, and never in its own state.
type Staged interface {
	Store
	// PutStaged writes a new version with the given staging labels
	// (idempotent through the ClientRequestToken, which becomes the
	// version id).
	PutStaged(ctx context.Context, id, value, token string, stages ...string) (versionID string, err error)
	// GetVersion returns the SecretString of one version.
	GetVersion(ctx context.Context, id, versionID string) (value string, err error)
	// Stages returns every version id of the secret with its labels.
	Stages(ctx context.Context, id string) (map[string][]string, error)
	// Promote moves AWSCURRENT to versionID (Secrets Manager then moves
	// AWSPREVIOUS to the version that was current). Promoting the version
	// that is already current changes nothing.
	Promote(ctx context.Context, id, versionID string) error
}
