package secretstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/nexo-org/nexo-bot/integrations/secretstore/redact"
)

// DefaultTimeout bounds one Secrets Manager call, retries included.
const DefaultTimeout = 10 * time.Second

// AWSOptions configure the AWS Secrets Manager client.
type AWSOptions struct {
	// Region, e.g. "us-east-1" (required unless the environment sets one).
	Region string
	// Endpoint overrides the service endpoint (a VPC endpoint, or a fake in
	// tests), as the SDK's BaseEndpoint.
	Endpoint string
	// AccessKeyID and SecretAccessKey (and an optional SessionToken) are
	// static credentials; when empty the SDK's default chain is used
	// (environment, shared config, web identity, instance role).
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Timeout bounds each call (default DefaultTimeout).
	Timeout time.Duration
	// MaxAttempts is the SDK's retry budget per call (default: the SDK's, 3).
	MaxAttempts int
}

// AWS is a Store and Staged backed by AWS Secrets Manager.
type AWS struct {
	client  *secretsmanager.Client
	timeout time.Duration
}

var (
	_ Store  = (*AWS)(nil)
	_ Staged = (*AWS)(nil)
)

// NewAWS builds a Secrets Manager client. It resolves credentials but makes
// no call.
func NewAWS(ctx context.Context, opts AWSOptions) (*AWS, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if (opts.AccessKeyID == "") != (opts.SecretAccessKey == "") {
		return nil, errors.New("secretstore: static credentials need both an access key id and a secret access key")
	}
	load := []func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(timeout)),
	}
	if opts.Region != "" {
		load = append(load, config.WithRegion(opts.Region))
	}
	if opts.AccessKeyID != "" {
		load = append(load, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, opts.SessionToken)))
	}
	if opts.MaxAttempts > 0 {
		load = append(load, config.WithRetryMaxAttempts(opts.MaxAttempts))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("secretstore: load AWS config: %w", redact.Error(err, opts.SecretAccessKey, opts.SessionToken))
	}
	if cfg.Region == "" {
		return nil, errors.New("secretstore: no AWS region (set aws.region or AWS_REGION)")
	}
	client := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
	})
	return &AWS{client: client, timeout: timeout}, nil
}

func (a *AWS) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.timeout)
}

// Get returns the AWSCURRENT SecretString and its version id.
func (a *AWS) Get(ctx context.Context, id string) (value, versionID string, err error) {
	if id == "" {
		return "", "", errors.New("secretstore: empty secret id")
	}
	ctx, cancel := a.ctx(ctx)
	defer cancel()
	out, err := a.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", "", fmt.Errorf("secretstore: get %q: %w", id, redact.Error(err))
	}
	if out.SecretString == nil {
		return "", "", fmt.Errorf("secretstore: get %q: the secret has no SecretString (binary secrets are not supported)", id)
	}
	return *out.SecretString, aws.ToString(out.VersionId), nil
}

// GetVersion returns the SecretString of one version.
func (a *AWS) GetVersion(ctx context.Context, id, versionID string) (string, error) {
	if id == "" || versionID == "" {
		return "", errors.New("secretstore: empty secret id or version id")
	}
	ctx, cancel := a.ctx(ctx)
	defer cancel()
	out, err := a.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(id), VersionId: aws.String(versionID),
	})
	if err != nil {
		return "", fmt.Errorf("secretstore: get %q version %s: %w", id, versionID, redact.Error(err))
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("secretstore: get %q version %s: no SecretString", id, versionID)
	}
	return *out.SecretString, nil
}

// Put writes value as the new AWSCURRENT version. token is the
// ClientRequestToken (32 to 64 characters, a UUID is typical): a retry with
// the same token and value creates nothing new.
func (a *AWS) Put(ctx context.Context, id, value, token string) (string, error) {
	return a.PutStaged(ctx, id, value, token, StageCurrent)
}

// PutStaged writes value as a new version with the given labels (default
// AWSCURRENT). The error text never contains the value.
func (a *AWS) PutStaged(ctx context.Context, id, value, token string, stages ...string) (string, error) {
	if id == "" {
		return "", errors.New("secretstore: empty secret id")
	}
	if len(token) < 32 || len(token) > 64 {
		return "", errors.New("secretstore: the client request token must be 32 to 64 characters")
	}
	if value == "" {
		return "", errors.New("secretstore: empty secret value")
	}
	if len(stages) == 0 {
		stages = []string{StageCurrent}
	}
	ctx, cancel := a.ctx(ctx)
	defer cancel()
	out, err := a.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(id),
		SecretString:       aws.String(value),
		ClientRequestToken: aws.String(token),
		VersionStages:      stages,
	})
	if err != nil {
		return "", fmt.Errorf("secretstore: put %q: %w", id, redact.Error(err, value))
	}
	return aws.ToString(out.VersionId), nil
}

// Stages returns the secret's version ids and their labels (DescribeSecret).
func (a *AWS) Stages(ctx context.Context, id string) (map[string][]string, error) {
	if id == "" {
		return nil, errors.New("secretstore: empty secret id")
	}
	ctx, cancel := a.ctx(ctx)
	defer cancel()
	out, err := a.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		return nil, fmt.Errorf("secretstore: describe %q: %w", id, redact.Error(err))
	}
	return out.VersionIdsToStages, nil
}

// Promote moves AWSCURRENT to versionID (UpdateSecretVersionStage with the
// current holder as RemoveFromVersionId). It is a no-op when versionID is
// already current.
func (a *AWS) Promote(ctx context.Context, id, versionID string) error {
	if versionID == "" {
		return errors.New("secretstore: empty version id")
	}
	stages, err := a.Stages(ctx, id)
	if err != nil {
		return err
	}
	if _, ok := stages[versionID]; !ok {
		return fmt.Errorf("secretstore: %q has no version %s", id, versionID)
	}
	current := ""
	for v, labels := range stages {
		if slices.Contains(labels, StageCurrent) {
			current = v
		}
	}
	if current == versionID {
		return nil
	}
	in := &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:        aws.String(id),
		VersionStage:    aws.String(StageCurrent),
		MoveToVersionId: aws.String(versionID),
	}
	if current != "" {
		in.RemoveFromVersionId = aws.String(current)
	}
	ctx, cancel := a.ctx(ctx)
	defer cancel()
	if _, err := a.client.UpdateSecretVersionStage(ctx, in); err != nil {
		return fmt.Errorf("secretstore: promote %q version %s: %w", id, versionID, redact.Error(err))
	}
	return nil
}
