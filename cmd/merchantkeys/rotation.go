package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/fintech/payments-platform/environment"
)

// RotationEvent is what Secrets Manager sends to a rotation function.
type RotationEvent struct {
	SecretID           string `json:"SecretId"`
	ClientRequestToken string `json:"ClientRequestToken"`
	Step               string `json:"Step"`
}

// merchantSecret is a merchant secret's value. A new secret holds only the
// merchant; every rotation adds the API key of that version: its name (tied
// to the version) and value.
type merchantSecret struct {
	MerchantID string `json:"merchantId"`
	Name       string `json:"name,omitempty"`
	Value      string `json:"value,omitempty"`
}

const (
	stageCurrent  = "AWSCURRENT"
	stagePending  = "AWSPENDING"
	stagePrevious = "AWSPREVIOUS"
)

// rotate runs one step of a rotation of a merchant's secret.
func (m manager) rotate(ctx context.Context, e RotationEvent) error {
	d, err := m.checkVersion(ctx, e)
	if err != nil {
		return err
	}
	merchant, ok := m.cfg.MerchantFromSecretName(aws.ToString(d.Name))
	if !ok {
		return fmt.Errorf("merchantkeys: %s is not a merchant secret of environment %s", aws.ToString(d.Name), m.cfg.EnvironmentSuffix)
	}
	m.log.InfoContext(ctx, "rotation step", "step", e.Step, "merchant", merchant, "version", e.ClientRequestToken)
	switch e.Step {
	case "createSecret":
		return m.createSecret(ctx, e, merchant)
	case "setSecret":
		return m.setSecret(ctx, e, merchant)
	case "testSecret":
		return m.testSecret(ctx, e, merchant)
	case "finishSecret":
		return m.finishSecret(ctx, e, merchant, d)
	}
	return fmt.Errorf("merchantkeys: unknown step %q", e.Step)
}

// checkVersion refuses events for secrets without rotation or for versions
// that are not part of this rotation, as the protocol requires.
func (m manager) checkVersion(ctx context.Context, e RotationEvent) (*secretsmanager.DescribeSecretOutput, error) {
	d, err := m.secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &e.SecretID})
	if err != nil {
		return nil, fmt.Errorf("merchantkeys: describe %s: %w", e.SecretID, err)
	}
	if !aws.ToBool(d.RotationEnabled) {
		return nil, fmt.Errorf("merchantkeys: rotation is not enabled on %s", e.SecretID)
	}
	stages, ok := d.VersionIdsToStages[e.ClientRequestToken]
	if !ok {
		return nil, fmt.Errorf("merchantkeys: version %s of %s is not staged for rotation", e.ClientRequestToken, e.SecretID)
	}
	if !slices.Contains(stages, stageCurrent) && !slices.Contains(stages, stagePending) {
		return nil, fmt.Errorf("merchantkeys: version %s of %s is neither AWSCURRENT nor AWSPENDING", e.ClientRequestToken, e.SecretID)
	}
	return d, nil
}

// createSecret stores a new random value as AWSPENDING, once.
func (m manager) createSecret(ctx context.Context, e RotationEvent, merchant string) error {
	if _, err := m.secret(ctx, e.SecretID, e.ClientRequestToken, stagePending); err == nil {
		return nil // created by an earlier attempt
	} else if !notFound(err) {
		return err
	}
	value, err := m.newValue()
	if err != nil {
		return err
	}
	body, _ := json.Marshal(merchantSecret{MerchantID: merchant, Name: m.cfg.APIKeyName(merchant, e.ClientRequestToken), Value: value})
	_, err = m.secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: &e.SecretID, ClientRequestToken: &e.ClientRequestToken,
		SecretString: aws.String(string(body)), VersionStages: []string{stagePending},
	})
	if err != nil {
		return fmt.Errorf("merchantkeys: store the pending value: %w", err)
	}
	return nil
}

// setSecret creates the API key for the pending value, attaches it to the
// usage plan and registers it as the merchant's; what an earlier attempt
// did is kept.
func (m manager) setSecret(ctx context.Context, e RotationEvent, merchant string) error {
	pending, err := m.pendingKey(ctx, e, merchant)
	if err != nil {
		return err
	}
	key, err := m.findKey(ctx, merchant, pending.Name)
	if err != nil {
		return err
	}
	if key == nil {
		out, err := m.gateway.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{
			Name: &pending.Name, Value: &pending.Value, Enabled: true,
			Description: aws.String("merchant " + merchant + "'s API key, rotated by Secrets Manager: " + e.SecretID),
			Tags:        m.keyTags(merchant),
		})
		if err != nil {
			return fmt.Errorf("merchantkeys: create API key %s: %w", pending.Name, err)
		}
		key = &agtypes.ApiKey{Id: out.Id, Name: out.Name}
	}
	_, err = m.gateway.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{
		UsagePlanId: &m.usagePlanID, KeyId: key.Id, KeyType: aws.String("API_KEY"),
	})
	var conflict *agtypes.ConflictException
	if err != nil && !errors.As(err, &conflict) {
		return fmt.Errorf("merchantkeys: attach API key %s to usage plan %s: %w", pending.Name, m.usagePlanID, err)
	}
	if err := m.registry.AddAPIKey(ctx, merchant, aws.ToString(key.Id)); err != nil {
		return fmt.Errorf("merchantkeys: register API key %s: %w", pending.Name, err)
	}
	return nil
}

// testSecret checks that the pending key exists with the pending value, is
// enabled, belongs to the usage plan and is registered as the merchant's.
func (m manager) testSecret(ctx context.Context, e RotationEvent, merchant string) error {
	pending, err := m.pendingKey(ctx, e, merchant)
	if err != nil {
		return err
	}
	key, err := m.findKey(ctx, merchant, pending.Name)
	switch {
	case err != nil:
		return err
	case key == nil:
		return fmt.Errorf("merchantkeys: API key %s does not exist", pending.Name)
	case !key.Enabled:
		return fmt.Errorf("merchantkeys: API key %s is disabled", pending.Name)
	case aws.ToString(key.Value) != pending.Value:
		return fmt.Errorf("merchantkeys: API key %s does not hold the pending value", pending.Name)
	}
	if _, err := m.gateway.GetUsagePlanKey(ctx, &apigateway.GetUsagePlanKeyInput{UsagePlanId: &m.usagePlanID, KeyId: key.Id}); err != nil {
		return fmt.Errorf("merchantkeys: API key %s is not in usage plan %s: %w", pending.Name, m.usagePlanID, err)
	}
	if ok, err := m.registry.HasAPIKey(ctx, merchant, aws.ToString(key.Id)); err != nil || !ok {
		return fmt.Errorf("merchantkeys: API key %s is not registered as merchant %s's (%v)", pending.Name, merchant, err)
	}
	return nil
}

// finishSecret makes the pending version current (the old one becomes
// AWSPREVIOUS), then deletes and forgets every key of the merchant that is
// neither: the key from two rotations ago, and any an abandoned rotation
// left.
func (m manager) finishSecret(ctx context.Context, e RotationEvent, merchant string, d *secretsmanager.DescribeSecretOutput) error {
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
		if _, err := m.secrets.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: &e.SecretID, VersionStage: aws.String(stageCurrent),
			MoveToVersionId: &e.ClientRequestToken, RemoveFromVersionId: aws.String(current),
		}); err != nil {
			return fmt.Errorf("merchantkeys: promote %s: %w", e.ClientRequestToken, err)
		}
		previous = current
	}
	keep := []string{m.cfg.APIKeyName(merchant, e.ClientRequestToken), m.cfg.APIKeyName(merchant, previous)}
	keys, err := m.merchantKeys(ctx, merchant)
	if err != nil {
		return err
	}
	var kept []string
	for _, k := range keys {
		if slices.Contains(keep, aws.ToString(k.Name)) {
			kept = append(kept, aws.ToString(k.Id))
			continue
		}
		if err := m.deleteKey(ctx, k); err != nil {
			return err
		}
	}
	if _, err := m.registry.RetainAPIKeys(ctx, merchant, kept); err != nil {
		return fmt.Errorf("merchantkeys: forget merchant %s's retired keys: %w", merchant, err)
	}
	return nil
}

// pendingKey reads the pending version, which must be this merchant's.
func (m manager) pendingKey(ctx context.Context, e RotationEvent, merchant string) (merchantSecret, error) {
	pending, err := m.secret(ctx, e.SecretID, e.ClientRequestToken, stagePending)
	if err != nil {
		return pending, err
	}
	if pending.MerchantID != merchant || pending.Name == "" || pending.Value == "" {
		return pending, fmt.Errorf("merchantkeys: version %s of %s is not an API key of merchant %s", e.ClientRequestToken, e.SecretID, merchant)
	}
	return pending, nil
}

func (m manager) secret(ctx context.Context, id, version, stage string) (merchantSecret, error) {
	out, err := m.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id, VersionId: &version, VersionStage: &stage})
	if err != nil {
		return merchantSecret{}, err
	}
	var s merchantSecret
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &s); err != nil || s.MerchantID == "" {
		return merchantSecret{}, fmt.Errorf("merchantkeys: version %s of %s is not a merchant secret", version, id)
	}
	return s, nil
}

// keyTags mark a key as this environment's and the merchant's: the
// function's IAM policy lets it create only keys so tagged and delete only
// keys that carry the environment's tag.
func (m manager) keyTags(merchant string) map[string]string {
	return map[string]string{environment.TagEnvironment: m.cfg.EnvironmentSuffix, environment.TagMerchant: merchant}
}

// merchantKeys returns every API key of the merchant in this environment
// (empty merchant: of every merchant), values included. Names only narrow
// the listing; the tags decide ("acme-" starts "acme-2-"'s names too).
func (m manager) merchantKeys(ctx context.Context, merchant string) ([]agtypes.ApiKey, error) {
	query := m.cfg.APIKeyNamePrefix(merchant)
	if merchant == "" {
		query = fmt.Sprintf("payments-%s-", m.cfg.EnvironmentSuffix)
	}
	var keys []agtypes.ApiKey
	in := &apigateway.GetApiKeysInput{NameQuery: &query, IncludeValues: aws.Bool(true), Limit: aws.Int32(500)}
	for {
		out, err := m.gateway.GetApiKeys(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("merchantkeys: list API keys: %w", err)
		}
		for _, k := range out.Items {
			if k.Tags[environment.TagEnvironment] == m.cfg.EnvironmentSuffix && k.Tags[environment.TagMerchant] != "" &&
				(merchant == "" || k.Tags[environment.TagMerchant] == merchant) {
				keys = append(keys, k)
			}
		}
		if out.Position == nil {
			return keys, nil
		}
		in.Position = out.Position
	}
}

func (m manager) findKey(ctx context.Context, merchant, name string) (*agtypes.ApiKey, error) {
	keys, err := m.merchantKeys(ctx, merchant)
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

func (m manager) deleteKey(ctx context.Context, k agtypes.ApiKey) error {
	if _, err := m.gateway.DeleteApiKey(ctx, &apigateway.DeleteApiKeyInput{ApiKey: k.Id}); err != nil {
		var gone *agtypes.NotFoundException
		if !errors.As(err, &gone) {
			return fmt.Errorf("merchantkeys: delete API key %s: %w", aws.ToString(k.Name), err)
		}
	}
	m.log.Info("deleted API key", "name", aws.ToString(k.Name), "merchant", k.Tags[environment.TagMerchant])
	return nil
}

func notFound(err error) bool {
	var nf *smtypes.ResourceNotFoundException
	return errors.As(err, &nf)
}
