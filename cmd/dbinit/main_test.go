package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"github.com/fintech/payments-platform/postgres"
	"github.com/fintech/payments-platform/postgres/pgtest"
)

func TestHandler(t *testing.T) {
	server, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Stop)
	ctx := context.Background()
	secretJSON, _ := json.Marshal(masterSecret{Username: "postgres", Host: "127.0.0.1", Port: server.Port(), DBName: "x"})

	newHandler := func(dsn string) handler {
		return handler{
			secret: func(_ context.Context, arn string) (string, error) {
				if arn != "arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:master" {
					return "", errors.New("unexpected secret " + arn)
				}
				return string(secretJSON), nil
			},
			connect: func(ctx context.Context, _ masterSecret) (*sql.DB, error) { return sql.Open("pgx", dsn) },
			log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
	}
	event := func(requestType string) Event {
		return Event{RequestType: requestType, ResourceProperties: Properties{
			SecretArn: "arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:master", AppRole: "payments_app", RegistrarRole: "payments_registrar", AuditorRole: "payments_auditor",
		}}
	}

	t.Run("CreateThenUpdate", func(t *testing.T) {
		h := newHandler(server.NewDatabase(t))
		for _, rt := range []string{"Create", "Update"} {
			resp, err := h.handle(ctx, event(rt))
			if err != nil {
				t.Fatalf("%s: %v", rt, err)
			}
			if resp.PhysicalResourceID != physicalID || resp.Data["SchemaVersion"] != latestMigration(t) {
				t.Errorf("%s: %+v", rt, resp)
			}
		}
	})

	t.Run("DeleteLeavesTheDatabaseAlone", func(t *testing.T) {
		h := newHandler("postgres://nobody@127.0.0.1:1/none")
		if _, err := h.handle(ctx, event("Delete")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrDatabaseUnreachableFailsTheDeploy", func(t *testing.T) {
		h := newHandler("postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
		if _, err := h.handle(ctx, event("Create")); err == nil || !strings.Contains(err.Error(), "dbinit") {
			t.Fatalf("got %v, want a dbinit error", err)
		}
	})

	t.Run("ErrNotAnRDSSecret", func(t *testing.T) {
		h := newHandler(server.NewDatabase(t))
		h.secret = func(context.Context, string) (string, error) { return `{"apiKey":"x"}`, nil }
		if _, err := h.handle(ctx, event("Create")); err == nil || !strings.Contains(err.Error(), "not an RDS credential") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("ErrUnknownRequestType", func(t *testing.T) {
		if _, err := newHandler("").handle(ctx, event("Rollback")); err == nil {
			t.Fatal("accepted an unknown request type")
		}
	})
}

// latestMigration is the version of the newest embedded migration.
func latestMigration(t *testing.T) string {
	t.Helper()
	entries, err := fs.ReadDir(postgres.Migrations(), ".")
	if err != nil || len(entries) == 0 {
		t.Fatalf("migrations: %v", err)
	}
	version, _, _ := strings.Cut(entries[len(entries)-1].Name(), "_") // ReadDir sorts by name
	return strings.TrimLeft(version, "0")
}
