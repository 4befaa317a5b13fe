package secretstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/nexo-org/nexo-bot/integrations/secretstore/redact"
)

// ErrNotFound is returned (wrapped) when a secret does not exist.
var ErrNotFound = errors.New("secretstore: secret not found")

// Dated is a Store that can tell when a secret's current value was written
// (used by rotation reminders for secrets never rotated by nexo).
type Dated interface {
	// CurrentCreated returns the creation time of the AWSCURRENT version.
	CurrentCreated(ctx context.Context, id string) (time.Time, error)
}

var _ Dated = (*AWS)(nil)

// CurrentCreated returns the CreatedDate of the AWSCURRENT version
// (GetSecretValue; the value itself is dropped). A missing secret is
// ErrNotFound.
func (a *AWS) CurrentCreated(ctx context.Context, id string) (time.Time, error) {
	if id == "" {
		return time.Time{}, errors.New("secretstore: empty secret id")
	}
	ctx, cancel := a.ctx(ctx)
	defer cancel()
	out, err := a.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return time.Time{}, fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		return time.Time{}, fmt.Errorf("secretstore: get %q: %w", id, redact.Error(err))
	}
	if out.CreatedDate == nil {
		return time.Time{}, fmt.Errorf("secretstore: %q: no CreatedDate in the answer", id)
	}
	return *out.CreatedDate, nil
}
