package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/fintech/payments-platform/environment"
	"github.com/fintech/payments-platform/gateway"
	"github.com/fintech/payments-platform/merchantadmin"
	"github.com/fintech/payments-platform/payments"
)

// readerPattern is an IAM role or user ARN: a merchant's principal.
var readerPattern = regexp.MustCompile(`^arn:aws:iam::[0-9]{12}:(role|user)/[\w+=,.@/-]{1,512}$`)

func (m manager) request(ctx context.Context, req merchantadmin.Request) (merchantadmin.Response, error) {
	switch req.Action {
	case merchantadmin.Onboard:
		merchant, err := m.onboard(ctx, req)
		return merchantadmin.Response{Merchants: []merchantadmin.Merchant{merchant}}, err
	case merchantadmin.Offboard:
		merchant, err := m.offboard(ctx, req.MerchantID)
		return merchantadmin.Response{Merchants: []merchantadmin.Merchant{merchant}}, err
	case merchantadmin.List:
		merchants, err := m.list(ctx)
		return merchantadmin.Response{Merchants: merchants}, err
	}
	return merchantadmin.Response{}, fmt.Errorf("merchantkeys: unknown action %q: use onboard, offboard or list", req.Action)
}

// onboard registers the merchant with its certificate, creates its secret,
// lets its reader read it, and starts the rotation that creates its first
// key. Onboarding a merchant again with the same certificate changes
// nothing and starts no second rotation.
func (m manager) onboard(ctx context.Context, req merchantadmin.Request) (merchantadmin.Merchant, error) {
	if err := payments.ValidateMerchantID(req.MerchantID); err != nil {
		return merchantadmin.Merchant{}, err
	}
	cert, err := gateway.ParseCertificatePEM([]byte(req.CertificatePEM))
	if err != nil {
		return merchantadmin.Merchant{}, fmt.Errorf("merchantkeys: the merchant's client certificate: %w", err)
	}
	if req.Reader != "" && !readerPattern.MatchString(req.Reader) {
		return merchantadmin.Merchant{}, fmt.Errorf("merchantkeys: reader %q is not an IAM role or user ARN", req.Reader)
	}
	if err := m.registry.Register(ctx, req.MerchantID, cert); err != nil {
		return merchantadmin.Merchant{}, fmt.Errorf("merchantkeys: register %s: %w", req.MerchantID, err)
	}
	name := m.cfg.MerchantSecretName(req.MerchantID)
	initial, _ := json.Marshal(merchantSecret{MerchantID: req.MerchantID})
	_, err = m.secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: &name, KmsKeyId: &m.secretsKeyArn, SecretString: aws.String(string(initial)),
		Description: aws.String(fmt.Sprintf("Merchant %s's API key for the payments API (%s): {merchantId, name, value}; rotated every %d days by %s",
			req.MerchantID, m.cfg.EnvironmentSuffix, merchantadmin.RotationDays, m.cfg.MerchantKeysFunctionName())),
		Tags: []smtypes.Tag{
			{Key: aws.String(environment.TagEnvironment), Value: aws.String(m.cfg.EnvironmentSuffix)},
			{Key: aws.String(environment.TagMerchant), Value: aws.String(req.MerchantID)},
		},
	})
	var exists *smtypes.ResourceExistsException
	if err != nil && !errors.As(err, &exists) {
		return merchantadmin.Merchant{}, fmt.Errorf("merchantkeys: create secret %s: %w", name, err)
	}
	d, err := m.secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &name})
	if err != nil {
		return merchantadmin.Merchant{}, fmt.Errorf("merchantkeys: describe %s: %w", name, err)
	}
	arn := aws.ToString(d.ARN)
	if req.Reader != "" {
		if err := m.allowReader(ctx, req.MerchantID, arn, req.Reader); err != nil {
			return merchantadmin.Merchant{}, err
		}
	}
	merchant := merchantadmin.Merchant{MerchantID: req.MerchantID, SecretArn: arn, Rotation: merchantadmin.RotationEnabled, LastRotated: d.LastRotatedDate}
	if aws.ToBool(d.RotationEnabled) && d.LastRotatedDate != nil {
		return merchant, nil
	}
	if _, err := m.secrets.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId: &name, RotationLambdaARN: aws.String(m.functionArn(ctx)),
		RotationRules:     &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(merchantadmin.RotationDays)},
		RotateImmediately: aws.Bool(true),
	}); err != nil {
		return merchantadmin.Merchant{}, fmt.Errorf("merchantkeys: start rotating %s: %w", name, err)
	}
	merchant.Rotation = merchantadmin.RotationStarted
	m.log.InfoContext(ctx, "merchant onboarded", "merchant", req.MerchantID, "secret", arn, "reader", req.Reader)
	return merchant, nil
}

// allowReader lets the merchant's principal read its secret: the secret's
// resource policy names it, and a grant on the secrets key lets it decrypt
// that secret only (the grant is constrained to the secret's encryption
// context). The principal's own account must allow it the same two
// actions.
func (m manager) allowReader(ctx context.Context, merchant, secretArn, reader string) error {
	policy, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Sid": "MerchantReadsItsKey", "Effect": "Allow", "Principal": map[string]any{"AWS": reader},
			"Action": []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}, "Resource": "*",
		}},
	})
	if _, err := m.secrets.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{
		SecretId: &secretArn, ResourcePolicy: aws.String(string(policy)), BlockPublicPolicy: aws.Bool(true),
	}); err != nil {
		return fmt.Errorf("merchantkeys: let %s read %s: %w", reader, secretArn, err)
	}
	// One reader at a time: a grant to an earlier reader goes. A grant with
	// the same name and parameters is not created twice.
	if err := m.revokeGrants(ctx, func(g kmstypes.GrantListEntry) bool {
		return aws.ToString(g.Name) == m.grantName(merchant) && aws.ToString(g.GranteePrincipal) != reader
	}); err != nil {
		return err
	}
	if _, err := m.kms.CreateGrant(ctx, &kms.CreateGrantInput{
		KeyId: &m.secretsKeyArn, GranteePrincipal: &reader, Name: aws.String(m.grantName(merchant)),
		Operations:  []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt},
		Constraints: &kmstypes.GrantConstraints{EncryptionContextSubset: map[string]string{"SecretARN": secretArn}},
	}); err != nil {
		return fmt.Errorf("merchantkeys: grant %s decryption of %s: %w", reader, secretArn, err)
	}
	return nil
}

// grantName names a merchant's reader grant on the secrets key; every
// merchant's starts with grantPrefix.
func (m manager) grantName(merchant string) string { return m.grantPrefix() + merchant + "-reader" }

func (m manager) grantPrefix() string {
	return fmt.Sprintf("payments-%s-merchant-", m.cfg.EnvironmentSuffix)
}

// offboard revokes everything of the merchant, the registry first (its
// requests are refused from then on), then its API keys, its reader's grant
// and its secret. Payments stay. Offboarding again finds nothing to do.
func (m manager) offboard(ctx context.Context, merchant string) (merchantadmin.Merchant, error) {
	if err := payments.ValidateMerchantID(merchant); err != nil {
		return merchantadmin.Merchant{}, err
	}
	if _, err := m.registry.Remove(ctx, merchant); err != nil {
		return merchantadmin.Merchant{}, fmt.Errorf("merchantkeys: forget %s: %w", merchant, err)
	}
	keys, err := m.merchantKeys(ctx, merchant)
	if err != nil {
		return merchantadmin.Merchant{}, err
	}
	for _, k := range keys {
		if err := m.deleteKey(ctx, k); err != nil {
			return merchantadmin.Merchant{}, err
		}
	}
	if err := m.revokeGrants(ctx, func(g kmstypes.GrantListEntry) bool { return aws.ToString(g.Name) == m.grantName(merchant) }); err != nil {
		return merchantadmin.Merchant{}, err
	}
	name, arn := m.cfg.MerchantSecretName(merchant), ""
	if d, err := m.secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &name}); err == nil {
		arn = aws.ToString(d.ARN)
	} else if !notFound(err) {
		return merchantadmin.Merchant{}, fmt.Errorf("merchantkeys: describe %s: %w", name, err)
	}
	if err := m.deleteSecret(ctx, name); err != nil {
		return merchantadmin.Merchant{}, err
	}
	m.log.InfoContext(ctx, "merchant offboarded", "merchant", merchant, "keysDeleted", len(keys))
	return merchantadmin.Merchant{MerchantID: merchant, SecretArn: arn, Rotation: merchantadmin.Deleted}, nil
}

// deleteSecret deletes a merchant's secret, after the posture's recovery
// window (at once outside production).
func (m manager) deleteSecret(ctx context.Context, name string) error {
	window := m.cfg.Posture().SecretRecoveryWindowDays
	in := &secretsmanager.DeleteSecretInput{SecretId: &name, ForceDeleteWithoutRecovery: aws.Bool(window == 0)}
	if window > 0 {
		in.RecoveryWindowInDays = aws.Int64(int64(window))
	}
	_, err := m.secrets.DeleteSecret(ctx, in)
	if err != nil && !notFound(err) {
		return fmt.Errorf("merchantkeys: delete secret %s: %w", name, err)
	}
	return nil
}

// revokeGrants revokes the secrets key's grants that match.
func (m manager) revokeGrants(ctx context.Context, match func(kmstypes.GrantListEntry) bool) error {
	in := &kms.ListGrantsInput{KeyId: &m.secretsKeyArn}
	for {
		out, err := m.kms.ListGrants(ctx, in)
		if err != nil {
			return fmt.Errorf("merchantkeys: list the secrets key's grants: %w", err)
		}
		for _, g := range out.Grants {
			if !match(g) {
				continue
			}
			if _, err := m.kms.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: &m.secretsKeyArn, GrantId: g.GrantId}); err != nil {
				return fmt.Errorf("merchantkeys: revoke %s: %w", aws.ToString(g.Name), err)
			}
		}
		if !out.Truncated {
			return nil
		}
		in.Marker = out.NextMarker
	}
}

// list reports every merchant secret of the environment.
func (m manager) list(ctx context.Context) ([]merchantadmin.Merchant, error) {
	secrets, err := m.merchantSecrets(ctx)
	if err != nil {
		return nil, err
	}
	merchants := []merchantadmin.Merchant{}
	for _, s := range secrets {
		id, _ := m.cfg.MerchantFromSecretName(aws.ToString(s.Name))
		rotation := merchantadmin.RotationStarted
		if s.LastRotatedDate != nil {
			rotation = merchantadmin.RotationEnabled
		}
		merchants = append(merchants, merchantadmin.Merchant{MerchantID: id, SecretArn: aws.ToString(s.ARN), Rotation: rotation, LastRotated: s.LastRotatedDate})
	}
	return merchants, nil
}

// merchantSecrets lists the environment's merchant secrets: by name prefix,
// then by tag (a longer suffix's prefix starts with this one's).
func (m manager) merchantSecrets(ctx context.Context) ([]smtypes.SecretListEntry, error) {
	in := &secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{
		{Key: smtypes.FilterNameStringTypeName, Values: []string{m.cfg.MerchantSecretPrefix()}},
		{Key: smtypes.FilterNameStringTypeTagKey, Values: []string{environment.TagEnvironment}},
		{Key: smtypes.FilterNameStringTypeTagValue, Values: []string{m.cfg.EnvironmentSuffix}},
	}}
	var out []smtypes.SecretListEntry
	for {
		page, err := m.secrets.ListSecrets(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("merchantkeys: list merchant secrets: %w", err)
		}
		for _, s := range page.SecretList {
			if _, ok := m.cfg.MerchantFromSecretName(aws.ToString(s.Name)); ok && hasTag(s.Tags, environment.TagEnvironment, m.cfg.EnvironmentSuffix) {
				out = append(out, s)
			}
		}
		if page.NextToken == nil {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

func hasTag(tags []smtypes.Tag, key, value string) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == key && aws.ToString(t.Value) == value {
			return true
		}
	}
	return false
}

// customResource is Custom::MerchantKeys: when a non-production stack is
// deleted, every merchant's API keys and secrets go with it (they are
// created at run time, so CloudFormation does not know them; the registry
// goes with the database). In production they stay, like every retained
// resource.
func (m manager) customResource(ctx context.Context, e cfn.Event) (string, map[string]any, error) {
	physicalID := m.cfg.Name("merchant-keys")
	if e.RequestType != cfn.RequestDelete || m.cfg.Posture().RetainData {
		return physicalID, nil, nil
	}
	keys, err := m.merchantKeys(ctx, "")
	if err != nil {
		return physicalID, nil, err
	}
	for _, k := range keys {
		if err := m.deleteKey(ctx, k); err != nil {
			return physicalID, nil, err
		}
	}
	if err := m.revokeGrants(ctx, func(g kmstypes.GrantListEntry) bool { return strings.HasPrefix(aws.ToString(g.Name), m.grantPrefix()) }); err != nil {
		return physicalID, nil, err
	}
	secrets, err := m.merchantSecrets(ctx)
	if err != nil {
		return physicalID, nil, err
	}
	var deleted []string
	for _, s := range secrets {
		if err := m.deleteSecret(ctx, aws.ToString(s.Name)); err != nil {
			return physicalID, nil, err
		}
		deleted = append(deleted, aws.ToString(s.Name))
	}
	m.log.InfoContext(ctx, "environment's merchant credentials deleted", "apiKeys", len(keys), "secrets", strings.Join(deleted, ","))
	return physicalID, nil, nil
}
