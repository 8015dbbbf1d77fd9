package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/fintech/payments-platform/audit"
	"github.com/fintech/payments-platform/payments"
	"github.com/fintech/payments-platform/postgres"
	"github.com/fintech/payments-platform/postgres/pgtest"
)

var server *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.RunTests(m, &server)) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func runCommand(t *testing.T, invoke invoker, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(context.Background(), args, &out, quiet, invoke)
	return out.String(), err
}

// On a local database the command anchors, verifies and prints a
// payment's history; after tampering, verify fails naming the event.
func TestLocal(t *testing.T) {
	ctx := context.Background()
	dsn := server.NewDatabase(t)
	admin := pgtest.Open(t, dsn)
	if _, err := postgres.Bootstrap(ctx, admin, postgres.Migrations(), postgres.DefaultRoles); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.NewPool(ctx, postgres.PoolConfig{DSN: dsn, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	p := payments.NewPayment{MerchantID: "acme", Amount: 1250, Currency: "SGD", PaymentMethodToken: "tok_12345678", Reference: "order 42"}
	res, err := postgres.NewPaymentService(pool, pool).CreatePayment(ctx, payments.Actor{Credential: "api-key:k", RequestID: "req-1"},
		payments.Idempotency{Key: "k", Fingerprint: p.Fingerprint()}, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.NewPaymentProcessor(pool, postgres.RulesAcquirer{}).Process(ctx, res.Payment.ID, payments.Actor{Credential: "processor", RequestID: "msg-1"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	local := []string{"-dsn", dsn, "-anchors", filepath.Join(dir, "anchors"), "-key", filepath.Join(dir, "key.pem"), "-settle", "0s"}

	if out, err := runCommand(t, nil, append([]string{"anchor"}, local...)...); err != nil || !strings.Contains(out, "anchored events (0, 3]: 3 events") {
		t.Fatalf("anchor: %v\n%s", err, out)
	}
	if out, err := runCommand(t, nil, append([]string{"verify"}, local...)...); err != nil || !strings.Contains(out, "verified 1 payments, 3 events, 1 anchors") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	if out, err := runCommand(t, nil, append([]string{"history", "-payment", res.Payment.ID}, local...)...); err != nil ||
		!strings.Contains(out, "created") || !strings.Contains(out, "settled") || !strings.Contains(out, "the chain verifies") {
		t.Fatalf("history: %v\n%s", err, out)
	}
	if _, err := admin.Exec(`ALTER TABLE payments.payment_events DISABLE TRIGGER payment_events_append_only;
		UPDATE payments.payment_events SET details = '{"amount":1}' WHERE seq = 1;
		ALTER TABLE payments.payment_events ENABLE TRIGGER payment_events_append_only`); err != nil {
		t.Fatal(err)
	}
	out, err := runCommand(t, nil, append([]string{"verify"}, local...)...)
	if !errors.Is(err, audit.ErrBroken) || !strings.Contains(out, "BROKEN: payment "+res.Payment.ID+", event 1") {
		t.Fatalf("verify after an edit: %v\n%s", err, out)
	}
}

// Against an environment the command invokes its audit function and prints
// its answer.
func TestThroughTheFunction(t *testing.T) {
	var asked Request
	var function, region string
	invoke := func(_ context.Context, r, f string, payload []byte) ([]byte, error) {
		region, function = r, f
		if err := json.Unmarshal(payload, &asked); err != nil {
			return nil, err
		}
		return json.Marshal(Response{Report: &audit.Report{Payments: 2, Events: 6, Anchors: 1}})
	}
	out, err := runCommand(t, invoke, "verify", "-env", "pr1")
	if err != nil || function != "payments-audit-pr1" || region != "ap-southeast-1" || asked.Action != "verify" ||
		!strings.Contains(out, "verified 2 payments, 6 events, 1 anchors") {
		t.Fatalf("%s in %s asked %+v: %v\n%s", function, region, asked, err, out)
	}
	for _, args := range [][]string{nil, {"verify"}, {"history", "-env", "pr1"}, {"promote", "-dsn", "x"}} {
		if _, err := runCommand(t, invoke, args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// fakeS3 keeps objects and refuses to overwrite one when asked not to, as
// S3 does with If-None-Match.
type fakeS3 struct{ objects map[string][]byte }

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if _, ok := f.objects[*in.Key]; ok && aws.ToString(in.IfNoneMatch) == "*" {
		return nil, errors.New("PreconditionFailed")
	}
	body, _ := io.ReadAll(in.Body)
	f.objects[*in.Key] = body
	return &s3.PutObjectOutput{}, nil
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(f.objects[*in.Key]))}, nil
}

func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	out := &s3.ListObjectsV2Output{}
	for k := range f.objects {
		if strings.HasPrefix(k, *in.Prefix) {
			out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k)})
		}
	}
	return out, nil
}

// Anchors go under anchors/, are listed in order, and are never replaced.
func TestS3Anchors(t *testing.T) {
	ctx := context.Background()
	store := s3Anchors{client: &fakeS3{objects: map[string][]byte{}}, bucket: "b"}
	for _, to := range []int64{10, 9, 100} {
		if err := store.Put(ctx, audit.Anchor{FromID: to - 1, ToID: to, Digest: fmt.Sprint(to)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Put(ctx, audit.Anchor{ToID: 10, Digest: "forged"}); err == nil {
		t.Error("an anchor was replaced")
	}
	list, err := store.List(ctx)
	if err != nil || len(list) != 3 || list[0].ToID != 9 || list[2].ToID != 100 || list[1].Digest != "10" {
		t.Errorf("list %+v, %v", list, err)
	}
}
