// Command rotator is the Secrets Manager rotation Lambda for the API key.
//
// The secret holds {"name": ..., "value": ...}: the API Gateway API key of
// that name has that value and belongs to the usage plan. Each rotation
// creates a new key, so clients move to the new value at their own pace: the
// previous key keeps working for one full rotation period, and the key from
// two rotations ago is deleted when a rotation finishes.
//
// The four steps (createSecret, setSecret, testSecret, finishSecret) follow
// the Secrets Manager rotation protocol; Secrets Manager retries them, so each
// is idempotent. API keys are named "<prefix><ClientRequestToken>", which ties
// a key to exactly one secret version without storing anything else.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Event is what Secrets Manager sends to a rotation function.
type Event struct {
	SecretID           string `json:"SecretId"`
	ClientRequestToken string `json:"ClientRequestToken"`
	Step               string `json:"Step"`
}

// apiKey is the secret's value.
type apiKey struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// secretsAPI and gatewayAPI are the calls the rotator makes.
type secretsAPI interface {
	DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(context.Context, *secretsmanager.UpdateSecretVersionStageInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

type gatewayAPI interface {
	GetApiKeys(context.Context, *apigateway.GetApiKeysInput, ...func(*apigateway.Options)) (*apigateway.GetApiKeysOutput, error)
	CreateApiKey(context.Context, *apigateway.CreateApiKeyInput, ...func(*apigateway.Options)) (*apigateway.CreateApiKeyOutput, error)
	DeleteApiKey(context.Context, *apigateway.DeleteApiKeyInput, ...func(*apigateway.Options)) (*apigateway.DeleteApiKeyOutput, error)
	CreateUsagePlanKey(context.Context, *apigateway.CreateUsagePlanKeyInput, ...func(*apigateway.Options)) (*apigateway.CreateUsagePlanKeyOutput, error)
	GetUsagePlanKey(context.Context, *apigateway.GetUsagePlanKeyInput, ...func(*apigateway.Options)) (*apigateway.GetUsagePlanKeyOutput, error)
}

// rotator holds the clients and the usage plan the keys belong to.
type rotator struct {
	secrets     secretsAPI
	gateway     gatewayAPI
	usagePlanID string
	keyPrefix   string // e.g. "payments-pr123-"
	// tags mark every key the rotator creates as its environment's: the
	// rotator's IAM policy lets it create only keys so tagged and delete
	// only keys that carry them.
	tags     map[string]string
	log      *slog.Logger
	newValue func() (string, error)
}

const (
	stageCurrent  = "AWSCURRENT"
	stagePending  = "AWSPENDING"
	stagePrevious = "AWSPREVIOUS"
)

func (r rotator) handle(ctx context.Context, e Event) error {
	if err := r.checkVersion(ctx, e); err != nil {
		return err
	}
	r.log.InfoContext(ctx, "rotation step", "step", e.Step, "secret", e.SecretID, "version", e.ClientRequestToken)
	switch e.Step {
	case "createSecret":
		return r.createSecret(ctx, e)
	case "setSecret":
		return r.setSecret(ctx, e)
	case "testSecret":
		return r.testSecret(ctx, e)
	case "finishSecret":
		return r.finishSecret(ctx, e)
	}
	return fmt.Errorf("rotator: unknown step %q", e.Step)
}

// checkVersion refuses events for secrets without rotation or for versions
// that are not part of this rotation, as the protocol requires.
func (r rotator) checkVersion(ctx context.Context, e Event) error {
	d, err := r.secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &e.SecretID})
	if err != nil {
		return fmt.Errorf("rotator: describe %s: %w", e.SecretID, err)
	}
	if !aws.ToBool(d.RotationEnabled) {
		return fmt.Errorf("rotator: rotation is not enabled on %s", e.SecretID)
	}
	stages, ok := d.VersionIdsToStages[e.ClientRequestToken]
	if !ok {
		return fmt.Errorf("rotator: version %s of %s is not staged for rotation", e.ClientRequestToken, e.SecretID)
	}
	if slices.Contains(stages, stageCurrent) || slices.Contains(stages, stagePending) {
		return nil
	}
	return fmt.Errorf("rotator: version %s of %s is neither AWSCURRENT nor AWSPENDING", e.ClientRequestToken, e.SecretID)
}

// createSecret stores a new random value as AWSPENDING, once.
func (r rotator) createSecret(ctx context.Context, e Event) error {
	if _, err := r.secret(ctx, e.SecretID, e.ClientRequestToken, stagePending); err == nil {
		return nil // created by an earlier attempt
	} else if !notFound(err) {
		return err
	}
	value, err := r.newValue()
	if err != nil {
		return err
	}
	body, _ := json.Marshal(apiKey{Name: r.keyPrefix + e.ClientRequestToken, Value: value})
	_, err = r.secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: &e.SecretID, ClientRequestToken: &e.ClientRequestToken,
		SecretString: aws.String(string(body)), VersionStages: []string{stagePending},
	})
	if err != nil {
		return fmt.Errorf("rotator: store the pending value: %w", err)
	}
	return nil
}

// setSecret creates the API key for the pending value and attaches it to the
// usage plan; an existing key or attachment from an earlier attempt is kept.
func (r rotator) setSecret(ctx context.Context, e Event) error {
	pending, err := r.secret(ctx, e.SecretID, e.ClientRequestToken, stagePending)
	if err != nil {
		return err
	}
	key, err := r.findKey(ctx, pending.Name)
	if err != nil {
		return err
	}
	if key == nil {
		out, err := r.gateway.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{
			Name: &pending.Name, Value: &pending.Value, Enabled: true,
			Description: aws.String("rotated by Secrets Manager: " + e.SecretID),
			Tags:        r.tags,
		})
		if err != nil {
			return fmt.Errorf("rotator: create API key %s: %w", pending.Name, err)
		}
		key = &agtypes.ApiKey{Id: out.Id, Name: out.Name}
	}
	_, err = r.gateway.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{
		UsagePlanId: &r.usagePlanID, KeyId: key.Id, KeyType: aws.String("API_KEY"),
	})
	var conflict *agtypes.ConflictException
	if err != nil && !errors.As(err, &conflict) {
		return fmt.Errorf("rotator: attach API key %s to usage plan %s: %w", pending.Name, r.usagePlanID, err)
	}
	return nil
}

// testSecret checks that the pending key exists with the pending value, is
// enabled and belongs to the usage plan.
func (r rotator) testSecret(ctx context.Context, e Event) error {
	pending, err := r.secret(ctx, e.SecretID, e.ClientRequestToken, stagePending)
	if err != nil {
		return err
	}
	key, err := r.findKey(ctx, pending.Name)
	switch {
	case err != nil:
		return err
	case key == nil:
		return fmt.Errorf("rotator: API key %s does not exist", pending.Name)
	case !key.Enabled:
		return fmt.Errorf("rotator: API key %s is disabled", pending.Name)
	case aws.ToString(key.Value) != pending.Value:
		return fmt.Errorf("rotator: API key %s does not hold the pending value", pending.Name)
	}
	if _, err := r.gateway.GetUsagePlanKey(ctx, &apigateway.GetUsagePlanKeyInput{UsagePlanId: &r.usagePlanID, KeyId: key.Id}); err != nil {
		return fmt.Errorf("rotator: API key %s is not in usage plan %s: %w", pending.Name, r.usagePlanID, err)
	}
	return nil
}

// finishSecret makes the pending version current (the old one becomes
// AWSPREVIOUS) and deletes every key of ours that is neither: the key from
// two rotations ago, and any left by an abandoned rotation.
func (r rotator) finishSecret(ctx context.Context, e Event) error {
	d, err := r.secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &e.SecretID})
	if err != nil {
		return err
	}
	var current, previous string
	for version, stages := range d.VersionIdsToStages {
		if slices.Contains(stages, stageCurrent) {
			current = version
		}
		if slices.Contains(stages, stagePrevious) {
			previous = version
		}
	}
	if current != e.ClientRequestToken {
		if _, err := r.secrets.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: &e.SecretID, VersionStage: aws.String(stageCurrent),
			MoveToVersionId: &e.ClientRequestToken, RemoveFromVersionId: aws.String(current),
		}); err != nil {
			return fmt.Errorf("rotator: promote %s: %w", e.ClientRequestToken, err)
		}
		previous = current
	}
	keep := []string{r.keyPrefix + e.ClientRequestToken, r.keyPrefix + previous}
	keys, err := r.listKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if slices.Contains(keep, aws.ToString(k.Name)) {
			continue
		}
		if _, err := r.gateway.DeleteApiKey(ctx, &apigateway.DeleteApiKeyInput{ApiKey: k.Id}); err != nil {
			var gone *agtypes.NotFoundException
			if !errors.As(err, &gone) {
				return fmt.Errorf("rotator: retire API key %s: %w", aws.ToString(k.Name), err)
			}
		}
		r.log.InfoContext(ctx, "retired API key", "name", aws.ToString(k.Name))
	}
	return nil
}

func (r rotator) secret(ctx context.Context, id, version, stage string) (apiKey, error) {
	out, err := r.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id, VersionId: &version, VersionStage: &stage})
	if err != nil {
		return apiKey{}, err
	}
	var k apiKey
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &k); err != nil || k.Name == "" || k.Value == "" {
		return apiKey{}, fmt.Errorf("rotator: version %s of %s is not an API key secret", version, id)
	}
	return k, nil
}

// listKeys returns every API key of this environment: its name starts with
// the prefix and it carries the environment's tags (a longer suffix can
// share the prefix: "pr1-" is a prefix of "pr1-x-"), values included.
func (r rotator) listKeys(ctx context.Context) ([]agtypes.ApiKey, error) {
	var keys []agtypes.ApiKey
	in := &apigateway.GetApiKeysInput{NameQuery: &r.keyPrefix, IncludeValues: aws.Bool(true), Limit: aws.Int32(500)}
	for {
		out, err := r.gateway.GetApiKeys(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("rotator: list API keys: %w", err)
		}
		for _, k := range out.Items {
			if strings.HasPrefix(aws.ToString(k.Name), r.keyPrefix) && r.ours(k) {
				keys = append(keys, k)
			}
		}
		if out.Position == nil {
			return keys, nil
		}
		in.Position = out.Position
	}
}

// ours reports whether a key carries every tag the rotator gives its keys.
func (r rotator) ours(k agtypes.ApiKey) bool {
	for key, value := range r.tags {
		if k.Tags[key] != value {
			return false
		}
	}
	return true
}

func (r rotator) findKey(ctx context.Context, name string) (*agtypes.ApiKey, error) {
	keys, err := r.listKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if aws.ToString(k.Name) == name {
			return &k, nil
		}
	}
	return nil, nil
}

func notFound(err error) bool {
	var nf *smtypes.ResourceNotFoundException
	return errors.As(err, &nf)
}

// randomValue is a 40-character API key value (API Gateway requires 20+),
// uniform over 62 characters: bytes at or above 248 (4 x 62) are rejected
// so that no character is likelier than another.
func randomValue() (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, 40)
	buf := make([]byte, 64)
	for len(out) < cap(out) {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if b < 248 && len(out) < cap(out) {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	planID, prefix := os.Getenv("USAGE_PLAN_ID"), os.Getenv("API_KEY_NAME_PREFIX")
	tagKey, tagValue := os.Getenv("API_KEY_TAG_KEY"), os.Getenv("API_KEY_TAG_VALUE")
	if planID == "" || prefix == "" || tagKey == "" || tagValue == "" {
		logger.Error("USAGE_PLAN_ID, API_KEY_NAME_PREFIX, API_KEY_TAG_KEY and API_KEY_TAG_VALUE are required")
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("rotator cannot start", "error", err)
		os.Exit(1)
	}
	r := rotator{
		secrets: secretsmanager.NewFromConfig(awsCfg), gateway: apigateway.NewFromConfig(awsCfg),
		usagePlanID: planID, keyPrefix: prefix, tags: map[string]string{tagKey: tagValue}, log: logger, newValue: randomValue,
	}
	lambda.Start(r.handle)
}
