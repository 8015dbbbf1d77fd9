package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

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
	if _, err := postgres.Bootstrap(context.Background(), pgtest.Open(t, dsn), postgres.Migrations(), "payments_app"); err != nil {
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
