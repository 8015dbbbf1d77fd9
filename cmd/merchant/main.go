// Command merchant onboards, offboards and lists an environment's merchants
// (make merchant-onboard, merchant-offboard, merchants), and registers a
// merchant in a local database for development:
//
//	merchant onboard  -env pr123 -id acme -cert certs/merchants/acme.pem [-reader <IAM role ARN>] [-wait]
//	merchant offboard -env pr123 -id acme
//	merchant list     -env pr123
//	merchant local    -dsn postgres://... -id acme -cert certs/merchants/acme.pem -api-key-id local-acme
//
// In AWS it invokes the environment's merchant-keys function
// (payments-merchant-keys-<sfx>), which alone writes the merchant registry
// and the merchants' secrets and API keys; the caller needs
// lambda:InvokeFunction on it, and with -wait secretsmanager:DescribeSecret
// on the merchant's secret. Locally it writes the registry directly: the
// API then takes requests with the headers API Gateway would set
// (X-Api-Key-Id: <api-key-id>, X-Client-Cert-Subject and
// X-Client-Cert-Issuer: the certificate's names, which it prints).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fintech/payments-platform/environment"
	"github.com/fintech/payments-platform/gateway"
	"github.com/fintech/payments-platform/merchantadmin"
	"github.com/fintech/payments-platform/postgres"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, newClients); err != nil {
		fmt.Fprintln(os.Stderr, "merchant:", err)
		os.Exit(1)
	}
}

// invoker and describer are the AWS calls the command makes.
type invoker interface {
	Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

type describer interface {
	DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

type clients struct {
	lambda  invoker
	secrets describer
}

func newClients(ctx context.Context, region string) (clients, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return clients{}, err
	}
	return clients{lambda: lambda.NewFromConfig(cfg), secrets: secretsmanager.NewFromConfig(cfg)}, nil
}

// pollEvery and waitFor bound -wait: the first rotation takes seconds.
var (
	pollEvery = 3 * time.Second
	waitFor   = 3 * time.Minute
)

const usage = "usage: merchant onboard|offboard|list|local [flags] (merchant <command> -h for its flags)"

func run(ctx context.Context, args []string, out io.Writer, connect func(context.Context, string) (clients, error)) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	command, args := args[0], args[1:]
	flags := flag.NewFlagSet("merchant "+command, flag.ContinueOnError)
	flags.SetOutput(out)
	env := flags.String("env", "", "the environment suffix, e.g. pr123")
	id := flags.String("id", "", "the merchant's id: 1-64 letters, digits, '-' or '_'")
	certFile := flags.String("cert", "", "the merchant's client certificate (PEM)")
	reader := flags.String("reader", "", "onboard: the ARN of the merchant's IAM role or user that may read its API key")
	wait := flags.Bool("wait", false, "onboard: wait until the first API key exists")
	dsn := flags.String("dsn", "", "local: the database, as a connection string")
	apiKeyID := flags.String("api-key-id", "", "local: the API key id requests will carry in X-Api-Key-Id")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if command == "local" {
		return registerLocally(ctx, out, *dsn, *id, *certFile, *apiKeyID)
	}
	if !slices.Contains([]string{merchantadmin.Onboard, merchantadmin.Offboard, merchantadmin.List}, command) {
		return fmt.Errorf("unknown command %q; %s", command, usage)
	}
	if *env == "" {
		return errors.New("-env is required: the suffix of the environment, e.g. pr123")
	}
	cfg, err := environment.Named(*env)
	if err != nil {
		return err
	}
	req := merchantadmin.Request{Action: command, MerchantID: *id, Reader: *reader}
	if command == merchantadmin.Onboard {
		if *id == "" || *certFile == "" {
			return errors.New("onboard needs -id and -cert (make dev-certs issues a test certificate: go run ./cmd/devcerts -merchant <id>)")
		}
		pemText, err := os.ReadFile(*certFile)
		if err != nil {
			return err
		}
		cert, err := gateway.ParseCertificatePEM(pemText)
		if err != nil {
			return fmt.Errorf("%s: %w", *certFile, err)
		}
		fmt.Fprintf(out, "certificate: subject %q, issuer %q\n", cert.Subject, cert.Issuer)
		req.CertificatePEM = string(pemText)
	}
	if command == merchantadmin.Offboard && *id == "" {
		return errors.New("offboard needs -id")
	}
	c, err := connect(ctx, cfg.Region)
	if err != nil {
		return err
	}
	resp, err := invoke(ctx, c.lambda, cfg.MerchantKeysFunctionName(), req)
	if err != nil {
		return err
	}
	for _, m := range resp.Merchants {
		fmt.Fprintf(out, "%s: %s (rotation %s)\n", m.MerchantID, m.SecretArn, m.Rotation)
	}
	if command == merchantadmin.Onboard && *wait && len(resp.Merchants) == 1 {
		if err := waitForKey(ctx, c.secrets, resp.Merchants[0].SecretArn); err != nil {
			return err
		}
		fmt.Fprintf(out, "the first API key is ready: the merchant reads it with\n  aws secretsmanager get-secret-value --secret-id %s --query SecretString\n",
			resp.Merchants[0].SecretArn)
	}
	return nil
}

// invoke calls the merchant-keys function and decodes its answer; a
// function error carries the function's message.
func invoke(ctx context.Context, fn invoker, name string, req merchantadmin.Request) (merchantadmin.Response, error) {
	payload, _ := json.Marshal(req)
	out, err := fn.Invoke(ctx, &lambda.InvokeInput{FunctionName: &name, Payload: payload})
	if err != nil {
		return merchantadmin.Response{}, fmt.Errorf("invoke %s: %w", name, err)
	}
	if out.FunctionError != nil {
		var failure struct {
			ErrorMessage string `json:"errorMessage"`
		}
		_ = json.Unmarshal(out.Payload, &failure)
		return merchantadmin.Response{}, fmt.Errorf("%s: %s", name, failure.ErrorMessage)
	}
	var resp merchantadmin.Response
	if err := json.Unmarshal(out.Payload, &resp); err != nil {
		return resp, fmt.Errorf("%s answered %s: %w", name, out.Payload, err)
	}
	return resp, nil
}

// waitForKey waits until the secret's first rotation finished: it has been
// rotated, and no version is still pending.
func waitForKey(ctx context.Context, secrets describer, arn string) error {
	deadline := time.Now().Add(waitFor)
	for {
		d, err := secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
		if err != nil {
			return fmt.Errorf("describe %s: %w", arn, err)
		}
		pending := false
		for _, stages := range d.VersionIdsToStages {
			pending = pending || slices.Contains(stages, "AWSPENDING") && !slices.Contains(stages, "AWSCURRENT")
		}
		if d.LastRotatedDate != nil && !pending {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not rotated within %s: see the log group of the merchant-keys function", arn, waitFor)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// registerLocally registers the merchant, its certificate and an API key id
// in a local database, as the merchant-keys function does in AWS.
func registerLocally(ctx context.Context, out io.Writer, dsn, id, certFile, apiKeyID string) error {
	if dsn == "" || id == "" || certFile == "" || apiKeyID == "" {
		return errors.New("local needs -dsn, -id, -cert and -api-key-id")
	}
	pemText, err := os.ReadFile(certFile)
	if err != nil {
		return err
	}
	cert, err := gateway.ParseCertificatePEM(pemText)
	if err != nil {
		return fmt.Errorf("%s: %w", certFile, err)
	}
	pool, err := postgres.NewPool(ctx, postgres.PoolConfig{DSN: dsn, MaxConns: 1})
	if err != nil {
		return err
	}
	defer pool.Close()
	registry := postgres.NewMerchantRegistry(pool, 0)
	if err := registry.Register(ctx, id, cert); err != nil {
		return err
	}
	if err := registry.AddAPIKey(ctx, id, apiKeyID); err != nil {
		return err
	}
	fmt.Fprintf(out, "registered merchant %s; requests carry the headers API Gateway sets:\n  %s: %s\n  %s: %s\n  %s: %s\n",
		id, gateway.HeaderAPIKeyID, apiKeyID, gateway.HeaderClientCertSubject, cert.Subject, gateway.HeaderClientCertIssuer, cert.Issuer)
	return nil
}
