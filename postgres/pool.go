package postgres

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fintech/payments-platform/database"
)

// PoolConfig says how to reach one endpoint (writer or reader).
type PoolConfig struct {
	// DSN, for local development and tests: a connection string with its
	// own credentials. When set, the fields below are ignored.
	DSN string
	// Host, Port, Database and User of an Aurora endpoint reached with IAM
	// authentication over TLS verified against the RDS CAs.
	Host     string
	Port     int
	Database string
	User     string
	Region   string
	// Credentials sign the IAM authentication tokens.
	Credentials aws.CredentialsProvider
	// MaxConns bounds the pool.
	MaxConns int32
}

// NewPool creates a pgx pool. With IAM authentication every new connection
// gets a freshly signed token (valid 15 minutes, checked only at connect)
// from the connect hook, so connections never hold a stored password.
func NewPool(ctx context.Context, c PoolConfig) (*pgxpool.Pool, error) {
	var cfg *pgxpool.Config
	var err error
	if c.DSN != "" {
		cfg, err = pgxpool.ParseConfig(c.DSN)
		if err != nil {
			return nil, fmt.Errorf("postgres: DSN: %w", err)
		}
	} else {
		if c.Host == "" || c.User == "" || c.Region == "" || c.Credentials == nil {
			return nil, fmt.Errorf("postgres: IAM authentication needs host, user, region and credentials")
		}
		cfg, err = pgxpool.ParseConfig("")
		if err != nil {
			return nil, err
		}
		cc := cfg.ConnConfig
		cc.Host, cc.Port, cc.Database, cc.User = c.Host, uint16(c.Port), c.Database, c.User
		if cc.TLSConfig, err = TLSConfig(c.Host); err != nil {
			return nil, err
		}
		cc.Fallbacks = nil // never without TLS
		endpoint := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
		cfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
			token, err := auth.BuildAuthToken(ctx, endpoint, c.Region, c.User, c.Credentials)
			if err != nil {
				return fmt.Errorf("postgres: IAM auth token: %w", err)
			}
			cc.Password = token
			return nil
		}
	}
	if c.MaxConns > 0 {
		cfg.MaxConns = c.MaxConns
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	cfg.MaxConnLifetime = 30 * time.Minute
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 15 * time.Second
	return pgxpool.NewWithConfig(ctx, cfg)
}

// IAMPoolConfig is the pool of a function the stack configures: the
// connection from getenv (package database's variables, which infra
// sets), IAM authentication signed with creds.
func IAMPoolConfig(getenv func(string) string, region string, creds aws.CredentialsProvider, maxConns int32) (PoolConfig, error) {
	port, err := strconv.Atoi(getenv(database.EnvPort))
	c := PoolConfig{Host: getenv(database.EnvWriterHost), Port: port, Database: getenv(database.EnvName), User: getenv(database.EnvUser),
		Region: region, Credentials: creds, MaxConns: maxConns}
	if err != nil || c.Host == "" || c.Database == "" || c.User == "" {
		return c, fmt.Errorf("%s, %s, %s and %s are required", database.EnvWriterHost, database.EnvPort, database.EnvName, database.EnvUser)
	}
	return c, nil
}
