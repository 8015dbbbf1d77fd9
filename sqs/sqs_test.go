package sqs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/fintech/payments-platform/payments"
	"github.com/fintech/payments-platform/postgres"
	"github.com/fintech/payments-platform/postgres/pgtest"
	"github.com/fintech/payments-platform/sqs"
)

var server *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.RunTests(m, &server)) }

// fakeQueue records every message body; reject names entry ids it fails.
type fakeQueue struct {
	mu       sync.Mutex
	received map[string]int // outbox id -> deliveries
	reject   map[string]bool
}

func (q *fakeQueue) SendMessageBatch(_ context.Context, in *awssqs.SendMessageBatchInput, _ ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(in.Entries) > sqs.MaxBatch {
		return nil, fmt.Errorf("%d entries", len(in.Entries))
	}
	out := &awssqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if q.reject[*e.Id] {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
			continue
		}
		q.received[*e.Id]++
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func setup(t *testing.T, n int) (*postgres.OutboxRelay, *fakeQueue, func() int) {
	t.Helper()
	dsn := server.NewDatabase(t)
	if _, err := postgres.Bootstrap(context.Background(), pgtest.Open(t, dsn), postgres.Migrations(), postgres.DefaultRoles); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.NewPool(context.Background(), postgres.PoolConfig{DSN: dsn, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	svc := postgres.NewPaymentService(pool, pool)
	for i := range n {
		p := payments.NewPayment{MerchantID: "m", Amount: int64(i + 1), Currency: "SGD", PaymentMethodToken: "tok_12345678", Reference: "r"}
		if _, err := svc.CreatePayment(context.Background(), payments.Actor{Credential: "test", RequestID: "r"}, payments.Idempotency{Key: strconv.Itoa(i), Fingerprint: p.Fingerprint()}, p); err != nil {
			t.Fatal(err)
		}
	}
	relay := postgres.NewOutboxRelay(pool)
	unsent := func() int {
		b, err := relay.Backlog(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return b.Unsent
	}
	return relay, &fakeQueue{received: map[string]int{}, reject: map[string]bool{}}, unsent
}

// Two relays at once publish every payment exactly once: they take turns
// (the relay position's row lock, SKIP LOCKED), and the position moves past
// what each published.
func TestTwoConcurrentRelays(t *testing.T) {
	relay, queue, unsent := setup(t, 137)
	publisher := sqs.Publisher{Client: queue, QueueURL: "https://sqs.ap-southeast-1.amazonaws.com/123456789012/payments"}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := relay.RelayBatch(context.Background(), publisher, 25)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	if left := unsent(); left != 0 {
		t.Errorf("%d events left unsent", left)
	}
	if len(queue.received) != 137 {
		t.Errorf("%d distinct events published, want 137", len(queue.received))
	}
	for id, n := range queue.received {
		if n != 1 {
			t.Errorf("event %s published %d times", id, n)
		}
	}
}

// An entry SQS rejects stays unsent and goes out on the next round, with
// what followed it (published again: at-least-once, which the processor
// absorbs); the position never passes it.
func TestRejectedEntriesAreRetried(t *testing.T) {
	relay, queue, unsent := setup(t, 12)
	queue.reject["3"], queue.reject["11"] = true, true
	publisher := sqs.Publisher{Client: queue, QueueURL: "q"}
	if n, err := relay.RelayBatch(context.Background(), publisher, 50); err == nil || n != 2 {
		// The first SQS batch (events 1-10) has one rejection, which stops
		// the round; the position moves over events 1 and 2.
		t.Fatalf("first round: sent %d, err %v; want the 2 before the rejected one and an error", n, err)
	}
	if left := unsent(); left != 10 {
		t.Errorf("%d unsent after the first round, want everything from the rejected one on (10)", left)
	}
	delete(queue.reject, "3")
	delete(queue.reject, "11")
	for unsent() > 0 {
		if _, err := relay.RelayBatch(context.Background(), publisher, 50); err != nil {
			t.Fatal(err)
		}
	}
	if len(queue.received) != 12 {
		t.Errorf("%d events published, want 12", len(queue.received))
	}
}

// slowQueue answers each call after a pause and records how many calls
// were in flight at once.
type slowQueue struct {
	mu               sync.Mutex
	inFlight, most   int
	calls, delivered int
}

func (q *slowQueue) SendMessageBatch(_ context.Context, in *awssqs.SendMessageBatchInput, _ ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error) {
	q.mu.Lock()
	q.inFlight++
	q.calls++
	q.most = max(q.most, q.inFlight)
	q.mu.Unlock()
	time.Sleep(20 * time.Millisecond) // SendMessageBatch's latency in AWS
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inFlight--
	out := &awssqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		q.delivered++
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

// One relay publishes for every API task in turn: its batches go out
// MaxInFlight at a time, or 1,000 payments a second would not fit in the
// calls' latency.
func TestPublishSendsBatchesAtOnce(t *testing.T) {
	queue := &slowQueue{}
	events := make([]payments.OutboxEvent, 200)
	for i := range events {
		events[i] = payments.OutboxEvent{ID: int64(i + 1), PaymentID: fmt.Sprint("p", i), Payload: []byte(`{}`)}
	}
	sent, err := sqs.Publisher{Client: queue, QueueURL: "q"}.Publish(context.Background(), events)
	if err != nil || len(sent) != 200 || queue.delivered != 200 || queue.calls != 20 {
		t.Fatalf("sent %d (%v), %d delivered in %d calls", len(sent), err, queue.delivered, queue.calls)
	}
	if queue.most != sqs.MaxInFlight {
		t.Errorf("at most %d calls at once, want %d", queue.most, sqs.MaxInFlight)
	}
}

// A reference may hold characters SQS refuses in a message body (U+FFFE,
// U+FFFF pass the API's validation and json.Marshal): they go out escaped,
// and the processor reads the same payment.
func TestBodiesAreWhatSQSAccepts(t *testing.T) {
	p := payments.Payment{ID: "0190a8e4-1f0b-7c2e-8d5a-3b6f9e2c1d4a", Reference: "order \ufffe\uffff \u00e9 \U0001F600"}
	payload, _ := json.Marshal(p)
	queue := &bodyQueue{}
	if _, err := (sqs.Publisher{Client: queue, QueueURL: "q"}).Publish(context.Background(), []payments.OutboxEvent{{ID: 1, PaymentID: p.ID, Payload: payload}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range queue.body {
		if r == 0xFFFE || r == 0xFFFF {
			t.Errorf("body %q holds %U, which SQS refuses", queue.body, r)
		}
	}
	var got payments.Payment
	if err := json.Unmarshal([]byte(queue.body), &got); err != nil || got.Reference != p.Reference {
		t.Errorf("body %q reads as %q (%v), want %q", queue.body, got.Reference, err, p.Reference)
	}
}

type bodyQueue struct{ body string }

func (q *bodyQueue) SendMessageBatch(_ context.Context, in *awssqs.SendMessageBatchInput, _ ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error) {
	q.body = *in.Entries[0].MessageBody
	return &awssqs.SendMessageBatchOutput{Successful: []types.SendMessageBatchResultEntry{{Id: in.Entries[0].Id}}}, nil
}
