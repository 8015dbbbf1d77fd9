// Command api is the payment API server, the container's entrypoint.
//
// Configuration comes from the environment (see config). In AWS it reaches
// Aurora with IAM authentication tokens over verified TLS, and serves HTTPS to
// the load balancer with a certificate it generates at start (the ALB
// encrypts to targets but does not verify their certificates); locally it
// takes a DSN and serves plain HTTP.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/fintech/payments-platform/database"
	"github.com/fintech/payments-platform/emf"
	apihttp "github.com/fintech/payments-platform/http"
	"github.com/fintech/payments-platform/metrics"
	"github.com/fintech/payments-platform/payments"
	"github.com/fintech/payments-platform/postgres"
	"github.com/fintech/payments-platform/sqs"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := run(context.Background(), logger, os.Getenv); err != nil {
		logger.Error("api stopped", "error", err)
		os.Exit(1)
	}
}

// config is every setting, with its environment variable and default.
type config struct {
	Addr            string        // API_ADDR, default ":8080"
	TLS             bool          // API_TLS=true: HTTPS with a self-signed certificate
	DatabaseURL     string        // DATABASE_URL: a DSN (local); else IAM authentication:
	WriterHost      string        // DATABASE_WRITER_HOST
	ReaderHost      string        // DATABASE_READER_HOST (default: the writer)
	DatabasePort    int           // DATABASE_PORT, default 5432
	DatabaseName    string        // DATABASE_NAME, default payments
	DatabaseUser    string        // DATABASE_USER, default payments_app
	Region          string        // AWS_REGION
	MaxConns        int32         // DATABASE_MAX_CONNS, default 32 per pool
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT, default 25s (Fargate's stopTimeout is 30s)
	OutboxQueueURL  string        // OUTBOX_QUEUE_URL: relay the outbox to this SQS queue (none: no relay)
	Environment     string        // ENVIRONMENT: the metrics' Environment dimension (the environment suffix)
}

// String masks the DSN, which may hold a password.
func (c config) String() string {
	masked := c
	if masked.DatabaseURL != "" {
		masked.DatabaseURL = "(set)"
	}
	type fields config // no String method: no recursion
	return fmt.Sprintf("%+v", fields(masked))
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		Addr: ":8080", TLS: getenv("API_TLS") == "true", DatabaseURL: getenv(database.EnvURL),
		WriterHost: getenv(database.EnvWriterHost), ReaderHost: getenv(database.EnvReaderHost),
		DatabasePort: database.Port, DatabaseName: database.Name, DatabaseUser: database.AppRole,
		Region: getenv("AWS_REGION"), MaxConns: 32, ShutdownTimeout: 25 * time.Second,
		OutboxQueueURL: getenv("OUTBOX_QUEUE_URL"), Environment: getenv("ENVIRONMENT"),
	}
	if v := getenv("API_ADDR"); v != "" {
		c.Addr = v
	}
	for _, kv := range []struct {
		name string
		dst  *string
	}{{database.EnvName, &c.DatabaseName}, {database.EnvUser, &c.DatabaseUser}} {
		if v := getenv(kv.name); v != "" {
			*kv.dst = v
		}
	}
	var errs []error
	if v := getenv(database.EnvPort); v != "" {
		port, err := strconv.Atoi(v)
		if err != nil || port < 1 || port > 65535 {
			errs = append(errs, fmt.Errorf("%s %q is not a port", database.EnvPort, v))
		}
		c.DatabasePort = port
	}
	if v := getenv(database.EnvMaxConns); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			errs = append(errs, fmt.Errorf("%s %q is not 1-1000", database.EnvMaxConns, v))
		}
		c.MaxConns = int32(n)
	}
	if v := getenv("SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("SHUTDOWN_TIMEOUT %q is not a duration", v))
		}
		c.ShutdownTimeout = d
	}
	if c.DatabaseURL == "" && (c.WriterHost == "" || c.Region == "") {
		errs = append(errs, errors.New("set DATABASE_URL, or DATABASE_WRITER_HOST and AWS_REGION for IAM authentication"))
	}
	if c.ReaderHost == "" {
		c.ReaderHost = c.WriterHost
	}
	return c, errors.Join(errs...)
}

func run(ctx context.Context, logger *slog.Logger, getenv func(string) string) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	logger.Info("starting", "config", cfg.String())
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	writerCfg := postgres.PoolConfig{DSN: cfg.DatabaseURL, MaxConns: cfg.MaxConns}
	readerCfg := writerCfg
	if cfg.DatabaseURL == "" {
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.Region))
		if err != nil {
			return err
		}
		writerCfg = postgres.PoolConfig{Host: cfg.WriterHost, Port: cfg.DatabasePort, Database: cfg.DatabaseName, User: cfg.DatabaseUser,
			Region: cfg.Region, Credentials: awsCfg.Credentials, MaxConns: cfg.MaxConns}
		readerCfg = writerCfg
		readerCfg.Host = cfg.ReaderHost
	}
	writer, err := postgres.NewPool(ctx, writerCfg)
	if err != nil {
		return err
	}
	defer writer.Close()
	reader := writer
	if readerCfg.Host != writerCfg.Host {
		if reader, err = postgres.NewPool(ctx, readerCfg); err != nil {
			return err
		}
		defer reader.Close()
	}

	if cfg.OutboxQueueURL != "" {
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return err
		}
		publisher := sqs.Publisher{Client: awssqs.NewFromConfig(awsCfg), QueueURL: cfg.OutboxQueueURL}
		relay := postgres.NewOutboxRelay(writer)
		records := emf.New(os.Stdout, metrics.Namespace, map[string]string{metrics.DimensionEnvironment: cfg.Environment})
		var relaying sync.WaitGroup
		relayCtx, stopRelaying := context.WithCancel(ctx)
		relaying.Go(func() { relayOutbox(relayCtx, relay, publisher, logger) })
		relaying.Go(func() { reportOutbox(relayCtx, relay, records, logger, metrics.RelayReportInterval) })
		// Both stop with ctx, or when run returns early (the port taken),
		// and before the pools close.
		defer relaying.Wait()
		defer stopRelaying()
	}

	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           apihttp.NewHandler(postgres.NewPaymentService(writer, reader), postgres.NewMerchantRegistry(reader, postgres.MerchantAnswerTTL), logger),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second, // above the ALB's 60 s idle timeout
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if cfg.TLS {
		cert, err := selfSignedCertificate()
		if err != nil {
			return err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() {
		if cfg.TLS {
			serveErr <- srv.ServeTLS(ln, "", "")
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()
	logger.Info("listening", "addr", ln.Addr().String(), "tls", cfg.TLS)

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	// SIGTERM (what Fargate sends): stop accepting, finish what is in flight.
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	return nil
}

// relayBatch is how many payments one relay round publishes: twenty
// SendMessageBatch calls, ten at a time (sqs.MaxInFlight).
const relayBatch = 200

// relayOutbox publishes the outbox until ctx ends: batches back to back
// while there is work, a short pause when there is none or SQS or the
// database fails.
func relayOutbox(ctx context.Context, relay *postgres.OutboxRelay, publisher payments.Publisher, logger *slog.Logger) {
	for ctx.Err() == nil {
		n, err := relay.RelayBatch(ctx, publisher, relayBatch)
		if err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "outbox relay", "error", err)
		}
		if n == 0 || err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

// reportOutbox writes the outbox backlog as metrics every interval, from
// the first moment and also when it is empty: the heartbeat tells a relay
// that stopped (no data, which the stall alarm treats as breaching) from
// one with nothing to do (zeros). It reads the database, not the relay
// loop's state, so a wedged relay shows as a backlog that keeps ageing.
func reportOutbox(ctx context.Context, relay *postgres.OutboxRelay, records *emf.Logger, logger *slog.Logger, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if b, err := relay.Backlog(ctx); err != nil {
			if ctx.Err() == nil {
				logger.WarnContext(ctx, "outbox backlog not read", "error", err)
			}
		} else if err := records.Emit([]emf.Metric{
			{Name: metrics.OutboxBacklog, Unit: emf.Count, Value: float64(b.Unsent)},
			{Name: metrics.OutboxOldestAge, Unit: emf.Seconds, Value: b.OldestAge.Seconds()},
		}, nil); err != nil {
			logger.ErrorContext(ctx, "outbox metrics not written", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// selfSignedCertificate is the task's serving certificate towards the ALB,
// which encrypts to its targets without verifying them; it never leaves the
// process.
func selfSignedCertificate() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "payments-api"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
