package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fintech/payments-platform/emf"
	"github.com/fintech/payments-platform/metrics"
	"github.com/fintech/payments-platform/payments"
	"github.com/fintech/payments-platform/postgres"
	"github.com/fintech/payments-platform/postgres/pgtest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfig(t *testing.T) {
	t.Run("IAM", func(t *testing.T) {
		c, err := loadConfig(env(map[string]string{"DATABASE_WRITER_HOST": "w", "AWS_REGION": "ap-southeast-1", "API_TLS": "true"}))
		if err != nil || c.ReaderHost != "w" || c.DatabaseUser != "payments_app" || !c.TLS || c.DatabasePort != 5432 {
			t.Errorf("%+v %v", c, err)
		}
	})
	t.Run("ErrNoDatabase", func(t *testing.T) {
		if _, err := loadConfig(env(nil)); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("ErrBadValues", func(t *testing.T) {
		_, err := loadConfig(env(map[string]string{"DATABASE_URL": "x", "DATABASE_PORT": "http", "DATABASE_MAX_CONNS": "0"}))
		if err == nil || !strings.Contains(err.Error(), "DATABASE_PORT") || !strings.Contains(err.Error(), "DATABASE_MAX_CONNS") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("SecretsMasked", func(t *testing.T) {
		c, _ := loadConfig(env(map[string]string{"DATABASE_URL": "postgres://u:hunter2@h/db"}))
		if strings.Contains(c.String(), "hunter2") {
			t.Error("the DSN's password is printed")
		}
	})
}

// The server serves, and on SIGTERM finishes in-flight requests and exits.
func TestServeAndGracefulShutdown(t *testing.T) {
	server, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Stop()
	dsn := server.NewDatabase(t)
	if _, err := postgres.Bootstrap(context.Background(), pgtest.Open(t, dsn), postgres.Migrations(), postgres.DefaultRoles); err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()

	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)),
			env(map[string]string{"DATABASE_URL": dsn, "API_ADDR": addr, "SHUTDOWN_TIMEOUT": "5s"}))
	}()
	url := fmt.Sprintf("http://%s/healthz", addr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not healthy: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after SIGTERM", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown after SIGTERM")
	}
}

// refusingPublisher is SQS refusing everything: the relay is wedged.
type refusingPublisher struct{}

func (refusingPublisher) Publish(context.Context, []payments.OutboxEvent) ([]int64, error) {
	return nil, errors.New("SQS refuses")
}

type acceptingPublisher struct{}

func (acceptingPublisher) Publish(_ context.Context, events []payments.OutboxEvent) ([]int64, error) {
	var sent []int64
	for _, e := range events {
		sent = append(sent, e.ID)
	}
	return sent, nil
}

// firstRecord runs reportOutbox until it has written one record, and
// returns that record's metric values.
func firstRecord(t *testing.T, relay *postgres.OutboxRelay) map[string]any {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &cancelOnWrite{cancel: cancel}
	reportOutbox(ctx, relay, emf.New(out, metrics.Namespace, map[string]string{metrics.DimensionEnvironment: "pr1"}),
		slog.New(slog.NewTextHandler(io.Discard, nil)), time.Hour)
	var record map[string]any
	if err := json.Unmarshal(out.Bytes(), &record); err != nil {
		t.Fatalf("record %q: %v", out.String(), err)
	}
	return record
}

type cancelOnWrite struct {
	bytes.Buffer
	cancel func()
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	defer w.cancel()
	return w.Buffer.Write(p)
}

// A relay that cannot publish leaves a backlog whose oldest row keeps
// ageing, and the report says so in the values the stall alarm breaches on;
// an idle relay reports zeros (the heartbeat), not silence.
func TestOutboxReport(t *testing.T) {
	server, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Stop()
	dsn := server.NewDatabase(t)
	ctx := context.Background()
	if _, err := postgres.Bootstrap(ctx, pgtest.Open(t, dsn), postgres.Migrations(), postgres.DefaultRoles); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.NewPool(ctx, postgres.PoolConfig{DSN: dsn, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// Three payments created before the stall threshold, as if the relay
	// had been wedged since (the history takes no backdated write from the
	// API, so their created events are written here directly).
	for i := range 3 {
		if _, err := pool.Exec(ctx, `INSERT INTO payments.payment_events (payment_id, seq, event_type, merchant_id, actor, request_id, occurred_at, details, hash)
			VALUES (gen_random_uuid(), 1, 'created', 'm', 'api-key:k', $1, now() - $2::interval, '{"amount":100,"currency":"SGD","reference":"r"}', decode(repeat('00', 32), 'hex'))`,
			fmt.Sprint("req-", i), (metrics.StallAfter + time.Minute).String()); err != nil {
			t.Fatal(err)
		}
	}
	relay := postgres.NewOutboxRelay(pool)

	t.Run("WedgedRelayBreaches", func(t *testing.T) {
		if _, err := relay.RelayBatch(ctx, refusingPublisher{}, 50); err == nil {
			t.Fatal("the refusing publisher published")
		}
		record := firstRecord(t, relay)
		if record[metrics.OutboxBacklog] != 3.0 {
			t.Errorf("backlog %v, want 3", record[metrics.OutboxBacklog])
		}
		if age, _ := record[metrics.OutboxOldestAge].(float64); age < metrics.StallAfter.Seconds() {
			t.Errorf("oldest age %v s, below the %v stall threshold: the alarm would not fire", age, metrics.StallAfter)
		}
		if record[metrics.DimensionEnvironment] != "pr1" {
			t.Errorf("record %v lacks the environment dimension", record)
		}
	})

	t.Run("IdleRelayReportsZeros", func(t *testing.T) {
		for {
			n, err := relay.RelayBatch(ctx, acceptingPublisher{}, 50)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		record := firstRecord(t, relay)
		if record[metrics.OutboxBacklog] != 0.0 || record[metrics.OutboxOldestAge] != 0.0 {
			t.Errorf("idle report %v, want zeros", record)
		}
	})
}
