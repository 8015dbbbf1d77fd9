// Command dbinit is the CloudFormation custom resource (Custom::PaymentsSchema,
// answered through cfn.LambdaWrap) that prepares the Aurora database at deploy time: it
// applies the embedded schema migrations and creates the application role,
// which authenticates with IAM only. It connects as the master user, whose
// credential it reads from Secrets Manager, over TLS verified against the RDS
// CAs. A failure fails the deployment with the database's error.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/fintech/payments-platform/postgres"
)

// physicalID is constant: the schema is one resource for the life of the
// cluster, and a changed ID would make CloudFormation "delete" the old one.
const physicalID = "payments-schema"

// Properties are set by the stack (infra/database.go).
type Properties struct {
	// SecretArn is the master credential (the RDS-generated JSON secret).
	SecretArn string `json:"SecretArn"`
	// AppRole, RegistrarRole and AuditorRole are the IAM-authenticated
	// roles to create: the services', the merchant-key manager's and the
	// audit function's.
	AppRole       string `json:"AppRole"`
	RegistrarRole string `json:"RegistrarRole"`
	AuditorRole   string `json:"AuditorRole"`
	// MigrationsDigest changes whenever a migration does, so that a stack
	// update re-runs the bootstrap; the handler does not read it.
	MigrationsDigest string `json:"MigrationsDigest"`
}

// masterSecret is the JSON RDS writes into a generated cluster secret.
type masterSecret struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	DBName   string `json:"dbname"`
}

// handler bootstraps on Create and Update. Delete does nothing: the schema
// goes with the cluster (or stays with it, in production).
type handler struct {
	secret  func(ctx context.Context, arn string) (string, error)
	connect func(ctx context.Context, s masterSecret) (*sql.DB, error)
	log     *slog.Logger
}

// handle answers one request: the physical id, the resource's attributes
// (SchemaVersion) and an error that fails the deployment with its text.
func (h handler) handle(ctx context.Context, e cfn.Event) (string, map[string]any, error) {
	switch e.RequestType {
	case cfn.RequestDelete:
		return physicalID, nil, nil
	case cfn.RequestCreate, cfn.RequestUpdate:
	default:
		return physicalID, nil, fmt.Errorf("dbinit: unknown request type %q", e.RequestType)
	}
	var p Properties
	raw, _ := json.Marshal(e.ResourceProperties) // a map decoded from JSON: it encodes
	if err := json.Unmarshal(raw, &p); err != nil || p.SecretArn == "" || p.AppRole == "" || p.RegistrarRole == "" || p.AuditorRole == "" {
		return physicalID, nil, errors.New("dbinit: SecretArn, AppRole, RegistrarRole and AuditorRole are required string properties")
	}
	secret, err := h.secret(ctx, p.SecretArn)
	if err != nil {
		return physicalID, nil, fmt.Errorf("dbinit: read master secret: %w", err)
	}
	var s masterSecret
	if err := json.Unmarshal([]byte(secret), &s); err != nil || s.Host == "" || s.Username == "" {
		return physicalID, nil, errors.New("dbinit: the master secret is not an RDS credential (username, password, host, port, dbname)")
	}
	db, err := h.connect(ctx, s)
	if err != nil {
		return physicalID, nil, fmt.Errorf("dbinit: connect to %s: %w", s.Host, err)
	}
	defer db.Close()
	res, err := postgres.Bootstrap(ctx, db, postgres.Migrations(), postgres.Roles{App: p.AppRole, Registrar: p.RegistrarRole, Auditor: p.AuditorRole})
	if err != nil {
		return physicalID, nil, fmt.Errorf("dbinit: %w", err)
	}
	h.log.InfoContext(ctx, "database bootstrapped", "request", e.RequestType, "applied", res.Applied,
		"schemaVersion", res.Version, "roleCreated", res.RoleCreated)
	return physicalID, map[string]any{"SchemaVersion": strconv.FormatInt(res.Version, 10)}, nil
}

// connectTLS opens a connection verified against the RDS CAs.
func connectTLS(ctx context.Context, s masterSecret) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = s.Host, uint16(s.Port), s.Username, s.Password, s.DBName
	if cfg.Database == "" {
		cfg.Database = "postgres"
	}
	if cfg.TLSConfig, err = postgres.TLSConfig(s.Host); err != nil {
		return nil, err
	}
	cfg.ConnectTimeout = 10 * time.Second
	cfg.Fallbacks = nil // never retry without TLS
	db := stdlib.OpenDB(*cfg)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := run(logger); err != nil {
		logger.Error("dbinit cannot start", "error", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		return err
	}
	sm := secretsmanager.NewFromConfig(awsCfg)
	h := handler{
		secret: func(ctx context.Context, arn string) (string, error) {
			out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
			if err != nil {
				return "", err
			}
			return aws.ToString(out.SecretString), nil
		},
		connect: connectTLS,
		log:     logger,
	}
	lambda.Start(cfn.LambdaWrap(h.handle))
	return nil
}
