//go:build linux

// Package e2e drives the platform running on this machine (package local:
// the shipped cmd/api and cmd/processor, PostgreSQL, an SQS server) through
// its public HTTP interface, from a request to a settled, balanced ledger
// and a verified history, and kills the processor in the middle of a batch
// to check that the redelivered messages settle exactly once.
//
// make test runs it with E2E_PAYMENTS=50 (the default); make e2e with 500.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fintech/payments-platform/audit"
	"github.com/fintech/payments-platform/local"
	"github.com/fintech/payments-platform/payments"
	"github.com/fintech/payments-platform/postgres"
)

var platform *local.Platform

func TestMain(m *testing.M) {
	root, _ := filepath.Abs("..")
	logs, err := os.CreateTemp("", "e2e-platform-*.log")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// A short visibility timeout: a message whose invocation was killed
	// comes back in seconds rather than the stack's three minutes.
	platform, err = local.Start(context.Background(), local.Options{Root: root, APIAddr: "127.0.0.1:0", VisibilityTimeout: 3 * time.Second, Log: logs})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: the platform did not start:", err, "(its output: "+logs.Name()+")")
		os.Exit(1)
	}
	code := m.Run()
	platform.Stop()
	if code == 0 {
		os.Remove(logs.Name())
	} else {
		fmt.Fprintln(os.Stderr, "e2e: the platform's output is in", logs.Name())
	}
	os.Exit(code)
}

// call sends a request as API Gateway would for the local merchant.
func call(t *testing.T, method, path string, body any, header http.Header) (*http.Response, []byte) {
	t.Helper()
	resp, out, err := try(method, path, body, header)
	if err != nil {
		t.Fatal(err)
	}
	return resp, out
}

// try is call for goroutines, which may not call t.Fatal.
func try(method, path string, body any, header http.Header) (*http.Response, []byte, error) {
	var reader io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		reader = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, platform.URL+path, reader)
	if err != nil {
		return nil, nil, err
	}
	req.Header = local.Headers()
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp, out, err
}

type newPayment struct {
	Amount             int64  `json:"amount"`
	Currency           string `json:"currency"`
	PaymentMethodToken string `json:"paymentMethodToken"`
	Reference          string `json:"reference"`
}

func idempotencyKey(k string) http.Header { return http.Header{"Idempotency-Key": {strconv.Quote(k)}} }

func TestPaymentsSettleExactlyOnce(t *testing.T) {
	n := 50
	if v := os.Getenv("E2E_PAYMENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 10 {
			t.Fatalf("E2E_PAYMENTS=%q: want a number >= 10", v)
		}
	}
	ctx := context.Background()
	db, err := pgxpool.New(ctx, platform.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Keys of this run only: a second run in the same process (-count)
	// must not replay the first one's payments.
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	before := platform.Mapping.Stats()
	killed, hookErr := killMidBatch(t, db)
	started := time.Now()

	// Create: n payments from 8 clients; every fifth is declined.
	requests := make([]newPayment, n)
	ids := make([]string, n)
	for i := range requests {
		token := "tok_visa_" + strconv.Itoa(i)
		if i%5 == 4 {
			token = "tok_decline_" + strconv.Itoa(i)
		}
		requests[i] = newPayment{Amount: int64(100 + i*37), Currency: "SGD", PaymentMethodToken: token, Reference: "e2e-" + run + "-" + strconv.Itoa(i)}
	}
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				resp, body, err := try(http.MethodPost, "/v1/payments", requests[i], idempotencyKey(run+"-"+strconv.Itoa(i)))
				var p payments.Payment
				if err != nil || resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &p) != nil || p.Status != payments.StatusPending {
					t.Errorf("create %d: %v %s", i, err, body)
					continue
				}
				ids[i] = p.ID
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	created := time.Since(started)

	// Replay: the same key and body answer the first response; the same
	// key with another body is refused.
	resp, body := call(t, http.MethodPost, "/v1/payments", requests[0], idempotencyKey(run+"-0"))
	var replayed payments.Payment
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Idempotent-Replayed") != "true" || json.Unmarshal(body, &replayed) != nil || replayed.ID != ids[0] {
		t.Errorf("replay: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	changed := requests[0]
	changed.Amount++
	if resp, body := call(t, http.MethodPost, "/v1/payments", changed, idempotencyKey(run+"-0")); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("the same key with another body: %d %s", resp.StatusCode, body)
	}

	// Read and list.
	if resp, body := call(t, http.MethodGet, "/v1/payments/"+ids[1], nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("read: %d %s", resp.StatusCode, body)
	}
	listed := map[string]bool{}
	for cursor := ""; ; {
		path := "/v1/payments?limit=100"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		resp, body := call(t, http.MethodGet, path, nil, nil)
		var page struct {
			Payments   []payments.Payment `json:"payments"`
			NextCursor string             `json:"nextCursor"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &page) != nil {
			t.Fatalf("list: %d %s", resp.StatusCode, body)
		}
		for _, p := range page.Payments {
			listed[p.ID] = true
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	for _, id := range ids {
		if !listed[id] {
			t.Errorf("%s is not listed", id)
		}
	}

	// Settlement, through the processor and its crash.
	deadline := time.Now().Add(90 * time.Second)
	for {
		var open int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM payments.payments WHERE id = ANY($1) AND status NOT IN ('settled', 'declined')`, ids).Scan(&open); err != nil {
			t.Fatal(err)
		}
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d payments not settled or declined after 90 s (mapping %+v)", open, n, platform.Mapping.Stats())
		}
		time.Sleep(100 * time.Millisecond)
	}
	settledIn := time.Since(started)
	if err, _ := hookErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	if !killed.Load() {
		t.Fatal("the processor was never killed in the middle of a batch: the redelivery was not exercised")
	}
	// The killed invocation's batch comes back after the visibility
	// timeout, the part already settled included: wait until both queues
	// are empty, then check that nothing happened twice.
	for {
		depth, err := platform.QueueDepth(ctx, platform.QueueURL)
		if err != nil {
			t.Fatal(err)
		}
		if depth == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue still holds %d messages (mapping %+v)", depth, platform.Mapping.Stats())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Exactly once: each payment's history is created, processing, then
	// settled or declined, once each; a settled payment has its postings
	// once, balanced; a declined one none.
	var latencies []time.Duration
	settled := 0
	for i, id := range ids {
		resp, body := call(t, http.MethodGet, "/v1/payments/"+id+"/events", nil, nil)
		var history struct {
			Events []struct {
				Seq        int       `json:"seq"`
				Type       string    `json:"type"`
				OccurredAt time.Time `json:"occurredAt"`
			} `json:"events"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &history) != nil {
			t.Fatalf("history of %s: %d %s", id, resp.StatusCode, body)
		}
		final := payments.EventSettled
		if i%5 == 4 {
			final = payments.EventDeclined
		}
		var types []string
		for j, e := range history.Events {
			types = append(types, e.Type)
			if e.Seq != j+1 {
				t.Errorf("%s: event %d has seq %d", id, j, e.Seq)
			}
		}
		if !slices.Equal(types, []string{payments.EventCreated, payments.EventProcessing, final}) {
			t.Errorf("%s: history %v, want created, processing, %s once each", id, types, final)
			continue
		}
		latencies = append(latencies, history.Events[2].OccurredAt.Sub(history.Events[0].OccurredAt))

		rows, err := db.Query(ctx, `SELECT account, amount_minor FROM payments.ledger_entries WHERE payment_id = $1 ORDER BY account`, id)
		if err != nil {
			t.Fatal(err)
		}
		var postings []payments.Posting
		for rows.Next() {
			var p payments.Posting
			if err := rows.Scan(&p.Account, &p.Amount); err != nil {
				t.Fatal(err)
			}
			postings = append(postings, p)
		}
		rows.Close()
		var want []payments.Posting
		if final == payments.EventSettled {
			settled++
			want = payments.Postings(payments.Payment{Amount: requests[i].Amount, Currency: "SGD", MerchantID: local.MerchantID})
			slices.SortFunc(want, func(a, b payments.Posting) int {
				if a.Account < b.Account {
					return -1
				}
				return 1
			})
		}
		var sum int64
		for _, p := range postings {
			sum += p.Amount
		}
		if !slices.Equal(postings, want) || sum != 0 {
			t.Errorf("%s: postings %v (sum %d), want %v once", id, postings, sum, want)
		}
	}

	// Nothing in the dead-letter queue; every chain, and the anchor over
	// all of it, verify.
	if depth, err := platform.QueueDepth(ctx, platform.DeadLetterQueueURL); err != nil || depth != 0 {
		t.Errorf("the dead-letter queue holds %d messages (%v)", depth, err)
	}
	log := postgres.NewEventLog(db)
	log.SettleAfter = 0
	signer, err := audit.NewLocalSigner()
	if err != nil {
		t.Fatal(err)
	}
	anchors := audit.DirAnchors(t.TempDir())
	if _, err := audit.AnchorNext(ctx, "local", log, anchors, signer, time.Now()); err != nil {
		t.Fatal(err)
	}
	var all int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM payments.payments`).Scan(&all); err != nil {
		t.Fatal(err)
	}
	if report, err := audit.Verify(ctx, log, anchors, signer); err != nil || !report.OK() || report.Payments != all {
		t.Errorf("audit of %d payments: %+v, %v", all, report, err)
	}

	after := platform.Mapping.Stats()
	stats := local.MappingStats{Invocations: after.Invocations - before.Invocations,
		FailedInvocations: after.FailedInvocations - before.FailedInvocations, Redelivered: after.Redelivered - before.Redelivered}
	if stats.Redelivered == 0 || stats.FailedInvocations == 0 {
		t.Errorf("no invocation failed or no message was delivered twice (%+v)", stats)
	}
	if len(latencies) == 0 {
		t.FailNow()
	}
	slices.Sort(latencies)
	t.Logf("%d payments (%d settled, %d declined): created in %s, all settled or declined %s after the first request; "+
		"request to final event p50 %s, p99 %s; %d invocations, %d killed or failed, %d messages redelivered, each settled once",
		n, settled, n-settled, created.Round(time.Millisecond), settledIn.Round(time.Millisecond),
		latencies[len(latencies)/2].Round(time.Millisecond), latencies[len(latencies)*99/100].Round(time.Millisecond),
		stats.Invocations, stats.FailedInvocations, stats.Redelivered)
}

// killMidBatch arranges for the processor to be killed (SIGKILL) during the
// first invocation it is seen to have settled part of, but not all, of its
// batch, and started again half a second later: the invocation never
// answers, so the whole batch returns after the visibility timeout, the
// part already settled included. It reports whether that happened (an
// invocation that answered before the kill landed does not count: the
// next batch is tried), and an error the hook met.
func killMidBatch(t *testing.T, db *pgxpool.Pool) (killed *atomic.Bool, failure *atomic.Value) {
	killed, failure = new(atomic.Bool), new(atomic.Value)
	var trying atomic.Bool
	t.Cleanup(func() { platform.Mapping.OnInvoke(nil) })
	platform.Mapping.OnInvoke(func(batch []events.SQSMessage, done <-chan struct{}) {
		if killed.Load() || len(batch) < 2 || !trying.CompareAndSwap(false, true) {
			return
		}
		defer trying.Store(false)
		var ids []string
		for _, m := range batch {
			var p payments.Payment
			if json.Unmarshal([]byte(m.Body), &p) == nil {
				ids = append(ids, p.ID)
			}
		}
		for {
			select {
			case <-done:
				return // too late for this batch: the next one
			default:
			}
			var finished int
			if err := db.QueryRow(context.Background(), `SELECT count(*) FROM payments.payments WHERE id = ANY($1) AND status IN ('settled', 'declined')`, ids).Scan(&finished); err != nil {
				failure.Store(err)
				return
			}
			if finished > 0 && finished < len(ids) {
				failedBefore := platform.Mapping.Stats().FailedInvocations
				platform.KillProcessor()
				<-done
				killed.Store(platform.Mapping.Stats().FailedInvocations > failedBefore)
				time.Sleep(500 * time.Millisecond)
				if err := platform.StartProcessor(context.Background()); err != nil {
					failure.Store(err)
				}
				return
			}
			time.Sleep(200 * time.Microsecond)
		}
	})
	return killed, failure
}
