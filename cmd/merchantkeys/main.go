// Command merchantkeys manages the merchants' API keys of one environment,
// the only code that writes the merchant registry. One function, because
// all three jobs need the same reach (Secrets Manager, API Gateway's API
// keys, the registry in Aurora) and the same guards:
//
//   - Operators onboard, offboard and list merchants through it (cmd/merchant
//     invokes it with a merchantadmin.Request). Onboarding registers the
//     merchant with its client certificate, creates its secret
//     "payments/<sfx>/merchants/<id>/api-key" and turns on its rotation,
//     which creates the first key at once.
//   - Secrets Manager invokes it to rotate each merchant's secret every 30
//     days (the four steps, each idempotent because Secrets Manager retries
//     them): every rotation creates a new API key in the usage plan and
//     registers it; the previous key keeps working for one full period, the
//     one before is deleted and forgotten.
//   - CloudFormation invokes it when the stack is deleted (Custom::
//     MerchantKeys): outside production, every merchant's secret and API key
//     goes with the environment.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fintech/payments-platform/environment"
	"github.com/fintech/payments-platform/gateway"
	"github.com/fintech/payments-platform/merchantadmin"
	"github.com/fintech/payments-platform/postgres"
)

// secretsAPI, gatewayAPI and kmsAPI are the calls the function makes.
type secretsAPI interface {
	CreateSecret(context.Context, *secretsmanager.CreateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(context.Context, *secretsmanager.UpdateSecretVersionStageInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
	RotateSecret(context.Context, *secretsmanager.RotateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.RotateSecretOutput, error)
	PutResourcePolicy(context.Context, *secretsmanager.PutResourcePolicyInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutResourcePolicyOutput, error)
	DeleteSecret(context.Context, *secretsmanager.DeleteSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
	ListSecrets(context.Context, *secretsmanager.ListSecretsInput, ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error)
}

type gatewayAPI interface {
	GetApiKeys(context.Context, *apigateway.GetApiKeysInput, ...func(*apigateway.Options)) (*apigateway.GetApiKeysOutput, error)
	CreateApiKey(context.Context, *apigateway.CreateApiKeyInput, ...func(*apigateway.Options)) (*apigateway.CreateApiKeyOutput, error)
	DeleteApiKey(context.Context, *apigateway.DeleteApiKeyInput, ...func(*apigateway.Options)) (*apigateway.DeleteApiKeyOutput, error)
	CreateUsagePlanKey(context.Context, *apigateway.CreateUsagePlanKeyInput, ...func(*apigateway.Options)) (*apigateway.CreateUsagePlanKeyOutput, error)
	GetUsagePlanKey(context.Context, *apigateway.GetUsagePlanKeyInput, ...func(*apigateway.Options)) (*apigateway.GetUsagePlanKeyOutput, error)
}

type kmsAPI interface {
	CreateGrant(context.Context, *kms.CreateGrantInput, ...func(*kms.Options)) (*kms.CreateGrantOutput, error)
	ListGrants(context.Context, *kms.ListGrantsInput, ...func(*kms.Options)) (*kms.ListGrantsOutput, error)
	RevokeGrant(context.Context, *kms.RevokeGrantInput, ...func(*kms.Options)) (*kms.RevokeGrantOutput, error)
}

// registry is the merchant registry (postgres.MerchantRegistry, as the
// registrar role).
type registry interface {
	Register(ctx context.Context, merchantID string, cert gateway.Certificate) error
	AddAPIKey(ctx context.Context, merchantID, apiKeyID string) error
	HasAPIKey(ctx context.Context, merchantID, apiKeyID string) (bool, error)
	RetainAPIKeys(ctx context.Context, merchantID string, keep []string) (int64, error)
	Remove(ctx context.Context, merchantID string) (bool, error)
}

// manager holds the clients and the environment's names.
type manager struct {
	cfg         environment.Config // suffix, production and every name
	secrets     secretsAPI
	gateway     gatewayAPI
	kms         kmsAPI
	registry    registry
	usagePlanID string
	// secretsKeyArn encrypts the merchants' secrets; readers get a grant
	// on it.
	secretsKeyArn string
	// functionArn is this function's, the secrets' rotation function.
	functionArn func(context.Context) string
	log         *slog.Logger
	newValue    func() (string, error)
}

// handle tells the three kinds of event apart by their fields.
func (m manager) handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var kind struct {
		Step        string `json:"Step"`
		RequestType string `json:"RequestType"`
		Action      string `json:"action"`
	}
	if err := json.Unmarshal(raw, &kind); err != nil {
		return nil, fmt.Errorf("merchantkeys: event is not a JSON object: %w", err)
	}
	switch {
	case kind.Step != "":
		var e RotationEvent
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, err
		}
		return nil, m.rotate(ctx, e)
	case kind.RequestType != "":
		var e cfn.Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, err
		}
		_, err := cfn.LambdaWrap(m.customResource)(ctx, e)
		return nil, err
	case kind.Action != "":
		var req merchantadmin.Request
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, err
		}
		return m.request(ctx, req)
	}
	return nil, errors.New("merchantkeys: not a rotation step, a CloudFormation request or an operator request")
}

// unqualified drops a version or alias from a function ARN
// ("arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]"):
// rotation always calls the function itself.
func unqualified(arn string) string {
	parts := strings.SplitN(arn, ":", 8)
	return strings.Join(parts[:min(len(parts), 7)], ":")
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
	if err := run(logger); err != nil {
		logger.Error("merchantkeys cannot start", "error", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	get := os.Getenv
	cfg, err := environment.Load(func(key string) any {
		switch key {
		case environment.KeyEnvironmentSuffix:
			return get("ENVIRONMENT_SUFFIX")
		case environment.KeyProduction:
			return get("PRODUCTION") == "true"
		}
		return nil
	}, func(string) string { return "" })
	if err != nil {
		return err
	}
	if get("USAGE_PLAN_ID") == "" || get("SECRETS_KEY_ARN") == "" {
		return errors.New("USAGE_PLAN_ID and SECRETS_KEY_ARN are required")
	}
	ctx := context.Background()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	// The pool connects on first use, as the registrar role with IAM
	// authentication.
	poolCfg, err := postgres.IAMPoolConfig(get, awsCfg.Region, awsCfg.Credentials, 2)
	if err != nil {
		return err
	}
	pool, err := postgres.NewPool(ctx, poolCfg)
	if err != nil {
		return err
	}
	m := manager{
		cfg: cfg, secrets: secretsmanager.NewFromConfig(awsCfg), gateway: apigateway.NewFromConfig(awsCfg), kms: kms.NewFromConfig(awsCfg),
		registry: postgres.NewMerchantRegistry(pool, 0), usagePlanID: get("USAGE_PLAN_ID"), secretsKeyArn: get("SECRETS_KEY_ARN"),
		functionArn: func(ctx context.Context) string {
			lc, _ := lambdacontext.FromContext(ctx)
			return unqualified(lc.InvokedFunctionArn)
		},
		log: logger, newValue: randomValue,
	}
	lambda.Start(m.handle)
	return nil
}
