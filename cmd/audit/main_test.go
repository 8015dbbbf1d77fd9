package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/fintech/payments-platform/audit"
	"github.com/fintech/payments-platform/emf"
	"github.com/fintech/payments-platform/metrics"
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
	if _, err := postgres.NewPaymentProcessor(pool, payments.RulesAcquirer{}).Process(ctx, res.Payment.ID, payments.Actor{Credential: "processor", RequestID: "msg-1"}); err != nil {
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

	// In Lambda, the broken links are a metric (the history-broken alarm's).
	signer, err := audit.LoadOrCreateLocalSigner(filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var records bytes.Buffer
	a := auditor{environment: "pr1", events: postgres.NewEventLog(pool), anchors: audit.DirAnchors(filepath.Join(dir, "anchors")), signer: signer,
		log: quiet, now: time.Now, metrics: emf.New(&records, metrics.Namespace, map[string]string{metrics.DimensionEnvironment: "pr1"})}
	if _, err := a.handle(ctx, Request{Action: "verify"}); err != nil {
		t.Fatal(err)
	}
	var record map[string]any
	if err := json.Unmarshal(records.Bytes(), &record); err != nil || record[metrics.BrokenLinks] == nil || record[metrics.BrokenLinks].(float64) < 1 {
		t.Fatalf("verify emitted %s (%v), want %s >= 1", records.String(), err, metrics.BrokenLinks)
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
type fakeS3 struct {
	objects map[string][]byte
	gets    int
}

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if _, ok := f.objects[*in.Key]; ok && aws.ToString(in.IfNoneMatch) == "*" {
		return nil, errors.New("PreconditionFailed")
	}
	body, _ := io.ReadAll(in.Body)
	f.objects[*in.Key] = body
	return &s3.PutObjectOutput{}, nil
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.gets++
	body, ok := f.objects[*in.Key]
	if !ok {
		return nil, &s3types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(body))}, nil
}

// ListObjectsV2 lists in S3's order, two keys a page.
func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	var keys []string
	for k := range f.objects {
		if strings.HasPrefix(k, *in.Prefix) && k > aws.ToString(in.StartAfter) && k > aws.ToString(in.ContinuationToken) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(len(keys) > 2)}
	for _, k := range keys[:min(2, len(keys))] {
		out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k)})
	}
	if aws.ToBool(out.IsTruncated) {
		out.NextContinuationToken = aws.String(keys[1])
	}
	return out, nil
}

// Anchors go under anchors/, are listed in order, and are never replaced:
// the hint goes elsewhere.
func TestS3Anchors(t *testing.T) {
	ctx := context.Background()
	store := s3Anchors{client: &fakeS3{objects: map[string][]byte{}}, bucket: "b"}
	for _, to := range []int64{10, 9, 100} {
		if err := store.Put(ctx, audit.Anchor{FromID: to - 1, ToID: to, Digest: fmt.Sprint(to)}); err != nil {
			t.Fatal(err)
		}
	}
	// A second run from the same anchor (the scheduler's and an
	// operator's at once) must not fork the anchors' chain.
	if err := store.Put(ctx, audit.Anchor{FromID: 9, ToID: 12, Digest: "forked"}); err == nil {
		t.Error("an anchor was replaced")
	}
	list, err := store.List(ctx)
	if err != nil || len(list) != 3 || list[0].ToID != 9 || list[2].ToID != 100 || list[1].Digest != "10" {
		t.Errorf("list %+v, %v", list, err)
	}
	for key := range store.client.(*fakeS3).objects {
		if !strings.HasPrefix(key, audit.ObjectPrefix) && key != audit.HintKey {
			t.Errorf("the store wrote %s", key)
		}
	}
}

// The last anchor is found through the hint, with two reads whatever the
// number of anchors, and without it (lost, or stale) by listing.
func TestS3AnchorsLast(t *testing.T) {
	ctx := context.Background()
	fake := &fakeS3{objects: map[string][]byte{}}
	store := s3Anchors{client: fake, bucket: "b"}
	if last, err := store.Last(ctx); last != nil || err != nil {
		t.Fatalf("an empty bucket's last anchor: %v, %v", last, err)
	}
	for to := int64(1); to <= 7; to++ {
		if err := store.Put(ctx, audit.Anchor{FromID: to - 1, ToID: to}); err != nil {
			t.Fatal(err)
		}
	}
	fake.gets = 0
	if last, err := store.Last(ctx); err != nil || last.ToID != 7 || fake.gets != 2 {
		t.Errorf("last %+v after %d reads, %v; want anchor 7 after 2", last, fake.gets, err)
	}
	stale := fake.objects[audit.HintKey]
	if err := store.Put(ctx, audit.Anchor{FromID: 7, ToID: 8}); err != nil {
		t.Fatal(err)
	}
	fake.objects[audit.HintKey] = stale
	if last, err := store.Last(ctx); err != nil || last.ToID != 8 {
		t.Errorf("with a stale hint: %+v, %v", last, err)
	}
	delete(fake.objects, audit.HintKey)
	if last, err := store.Last(ctx); err != nil || last.ToID != 8 {
		t.Errorf("without the hint: %+v, %v", last, err)
	}
}

// syntheticEvents is a settled history of n events, one a payment.
type syntheticEvents struct{ n int64 }

func (s syntheticEvents) Range(_ context.Context, from, to int64) ([]audit.Event, error) {
	events := make([]audit.Event, 0, to-from)
	for id := from + 1; id <= min(to, s.n); id++ {
		events = append(events, audit.Event{ID: id, PaymentID: fmt.Sprint(id), Seq: 1, Hash: []byte{byte(id)}})
	}
	return events, nil
}
func (s syntheticEvents) Settled(context.Context) (int64, error)                  { return s.n, nil }
func (s syntheticEvents) Chains(context.Context, func([]audit.Event) error) error { return nil }
func (s syntheticEvents) History(context.Context, string) ([]audit.Event, error)  { return nil, nil }

// A backlog larger than one anchor is anchored in one run, an anchor per
// audit.MaxAnchorEvents, and the metric counts every event.
func TestAnchorRunCatchesUp(t *testing.T) {
	signer, err := audit.NewLocalSigner()
	if err != nil {
		t.Fatal(err)
	}
	var records bytes.Buffer
	backlog := int64(2*audit.MaxAnchorEvents + 5)
	a := auditor{environment: "pr1", events: syntheticEvents{n: backlog}, anchors: audit.DirAnchors(t.TempDir()), signer: signer,
		log: quiet, now: time.Now, metrics: emf.New(&records, metrics.Namespace, map[string]string{metrics.DimensionEnvironment: "pr1"})}
	resp, err := a.handle(context.Background(), Request{Action: "anchor"})
	if err != nil || len(resp.Anchors) != 3 || resp.Anchors[2].ToID != backlog || resp.Anchors[2].Events != 5 {
		t.Fatalf("anchors %+v, %v", resp.Anchors, err)
	}
	var record map[string]any
	if err := json.Unmarshal(records.Bytes(), &record); err != nil || record[metrics.AnchoredEvents] != float64(backlog) {
		t.Errorf("metric record %s", records.String())
	}
	if resp, err := a.handle(context.Background(), Request{Action: "anchor"}); err != nil || len(resp.Anchors) != 0 {
		t.Errorf("a second run anchored %+v, %v", resp.Anchors, err)
	}
}

// fakeKMS signs with a P-256 key as KMS does (DER-encoded ECDSA over a
// digest) and hands out its public half.
type fakeKMS struct {
	key                *ecdsa.PrivateKey
	arn                string
	signs, publicReads int
}

func (f *fakeKMS) Sign(_ context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	f.signs++
	if in.MessageType != kmstypes.MessageTypeDigest || in.SigningAlgorithm != kmstypes.SigningAlgorithmSpecEcdsaSha256 || len(in.Message) != 32 {
		return nil, errors.New("ValidationException")
	}
	signature, err := ecdsa.SignASN1(rand.Reader, f.key, in.Message)
	return &kms.SignOutput{Signature: signature, KeyId: aws.String(f.arn)}, err
}

func (f *fakeKMS) GetPublicKey(_ context.Context, in *kms.GetPublicKeyInput, _ ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	f.publicReads++
	if *in.KeyId != f.arn {
		return nil, errors.New("NotFoundException")
	}
	der, err := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	return &kms.GetPublicKeyOutput{PublicKey: der, KeyUsage: kmstypes.KeyUsageTypeSignVerify,
		SigningAlgorithms: []kmstypes.SigningAlgorithmSpec{kmstypes.SigningAlgorithmSpecEcdsaSha256}}, err
}

// Anchors signed through KMS verify with the key's public half, read once;
// a changed anchor, or one naming another key, does not verify.
func TestKMSSigner(t *testing.T) {
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeKMS{key: key, arn: "arn:aws:kms:ap-southeast-1:123456789012:key/1234"}
	signer := &kmsSigner{client: fake, keyArn: "alias/payments/pr1/signing"}
	digest := sha256.Sum256([]byte("anchor"))
	signature, keyID, err := signer.Sign(ctx, digest[:])
	if err != nil || keyID != fake.arn {
		t.Fatalf("sign: %q, %v", keyID, err)
	}
	for range 3 {
		if err := signer.Verify(ctx, digest[:], signature, keyID); err != nil {
			t.Fatal(err)
		}
	}
	if fake.publicReads != 1 {
		t.Errorf("read the public key %d times, want once", fake.publicReads)
	}
	other := sha256.Sum256([]byte("another anchor"))
	if err := signer.Verify(ctx, other[:], signature, keyID); err == nil {
		t.Error("a signature verified for another digest")
	}
	if err := signer.Verify(ctx, digest[:], signature, "arn:aws:kms:ap-southeast-1:123456789012:key/other"); err == nil {
		t.Error("a signature verified under another key")
	}
}
