package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"

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
	// What CloudFormation sends: the stack's properties as JSON strings.
	event := func(requestType cfn.RequestType) cfn.Event {
		return cfn.Event{RequestType: requestType, ResourceProperties: map[string]any{
			"ServiceToken": "arn:aws:lambda:ap-southeast-1:123456789012:function:payments-dbinit-pr123",
			"SecretArn":    "arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:master", "AppRole": "payments_app",
			"RegistrarRole": "payments_registrar", "AuditorRole": "payments_auditor", "MigrationsDigest": "0123456789abcdef",
		}}
	}

	t.Run("CreateThenUpdate", func(t *testing.T) {
		h := newHandler(server.NewDatabase(t))
		for _, rt := range []cfn.RequestType{cfn.RequestCreate, cfn.RequestUpdate} {
			id, data, err := h.handle(ctx, event(rt))
			if err != nil {
				t.Fatalf("%s: %v", rt, err)
			}
			if id != physicalID || data["SchemaVersion"] != latestMigration(t) {
				t.Errorf("%s: %s %v", rt, id, data)
			}
		}
	})

	// The handler answers CloudFormation itself (cfn.LambdaWrap): success
	// with the schema version, or failure with dbinit's reason, PUT to the
	// request's pre-signed URL.
	t.Run("AnswersCloudFormation", func(t *testing.T) {
		for name, h := range map[string]handler{
			"SUCCESS": newHandler(server.NewDatabase(t)),
			"FAILED":  newHandler("postgres://nobody@127.0.0.1:1/none?connect_timeout=2"),
		} {
			answers := make(chan cfn.Response, 1)
			cloudFormation := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var answer cfn.Response
				if r.Method != http.MethodPut || json.NewDecoder(r.Body).Decode(&answer) != nil {
					t.Errorf("%s: got %s %s", name, r.Method, r.URL)
				}
				answers <- answer
			}))
			e := event(cfn.RequestCreate)
			e.ResponseURL, e.RequestID, e.StackID, e.LogicalResourceID = cloudFormation.URL+"/response", "request-1", "stack", "Schema"
			if _, err := cfn.LambdaWrap(h.handle)(ctx, e); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			cloudFormation.Close()
			answer := <-answers
			if string(answer.Status) != name || answer.PhysicalResourceID != physicalID || answer.RequestID != "request-1" {
				t.Errorf("%s: answered %+v", name, answer)
			}
			if name == "SUCCESS" && answer.Data["SchemaVersion"] != latestMigration(t) || name == "FAILED" && !strings.Contains(answer.Reason, "dbinit: ") {
				t.Errorf("%s: answered %+v", name, answer)
			}
		}
	})

	t.Run("ErrPropertyMissing", func(t *testing.T) {
		e := event(cfn.RequestCreate)
		delete(e.ResourceProperties, "AuditorRole")
		if _, _, err := newHandler("").handle(ctx, e); err == nil || !strings.Contains(err.Error(), "AuditorRole") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("DeleteLeavesTheDatabaseAlone", func(t *testing.T) {
		h := newHandler("postgres://nobody@127.0.0.1:1/none")
		if _, _, err := h.handle(ctx, event(cfn.RequestDelete)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrDatabaseUnreachableFailsTheDeploy", func(t *testing.T) {
		h := newHandler("postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
		if _, _, err := h.handle(ctx, event(cfn.RequestCreate)); err == nil || !strings.Contains(err.Error(), "dbinit") {
			t.Fatalf("got %v, want a dbinit error", err)
		}
	})

	t.Run("ErrNotAnRDSSecret", func(t *testing.T) {
		h := newHandler(server.NewDatabase(t))
		h.secret = func(context.Context, string) (string, error) { return `{"apiKey":"x"}`, nil }
		if _, _, err := h.handle(ctx, event(cfn.RequestCreate)); err == nil || !strings.Contains(err.Error(), "not an RDS credential") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("ErrUnknownRequestType", func(t *testing.T) {
		if _, _, err := newHandler("").handle(ctx, event("Rollback")); err == nil {
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
