// Command apibench measures the payment API on loopback against the limit of
// its own database, in one run (absolute figures drift on shared machines;
// the ratio is what matters):
//
//  1. baseline: pgbench runs the exact transaction POST /v1/payments runs
//     (idempotency row, payment, the payment's first history event with its
//     hash, which is also its outbox message) at the given concurrency, on a fresh PostgreSQL
//     with default durability and pgaudit as Aurora runs it; the same
//     transaction without the history event, and with pgaudit off, in
//     rounds that rotate their order: what the history and pgaudit cost,
//     as medians of the rounds' ratios (and the API's throughput with and
//     without the history after step 2);
//  2. the API (in this process, a pool as large as the concurrency) driven
//     by as many keep-alive connections posting unique Idempotency-Keys;
//  3. 10,000 concurrent client connections held open for the whole run,
//     each posting payments.
//
// It prints both throughputs, the ratio (goal >= 0.7), p50/p99, and the
// 10,000-connection run's errors (goal 0) and p99. The load comes from wrk
// (Debian), a separate process as lean as pgbench's client: a Go load
// generator here would take CPU from the server on a 2-core machine, and the
// open-file limit (20,000 here) cannot hold both ends of 10,000 connections
// in one process. Every run is bounded in time and targets 127.0.0.1 only.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fintech/payments-platform/gateway"
	apihttp "github.com/fintech/payments-platform/http"
	"github.com/fintech/payments-platform/postgres"
	"github.com/fintech/payments-platform/postgres/pgtest"
)

func main() {
	concurrency := flag.Int("c", 16, "concurrent clients for the throughput runs")
	duration := flag.Duration("d", 10*time.Second, "duration of each throughput run")
	conns := flag.Int("conns", 10000, "connections held open in the connection run")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the API throughput run to this file")
	flag.Parse()
	profilePath = *cpuProfile
	if err := run(*concurrency, *duration, *conns); err != nil {
		fmt.Fprintln(os.Stderr, "apibench:", err)
		os.Exit(1)
	}
}

// pgbenchScript is the statement POST /v1/payments executes
// (postgres.createPayment: idempotency row, payment, the first history
// event, which is the outbox message, one transaction), with pgbench variables for the
// parameters. Keys come from pgbench's random generator and ids are
// UUIDv7 like the API's (milliseconds, then md5 of the key: inserts at the
// right edge of the indexes), so the baseline pays no extra round trip for
// them, as the API pays none; the request's fingerprint, which the API
// computes, is an md5 made 32 bytes, and the event's fields are parameters
// (eventParameters).
const pgbenchScript = pgbenchVariables + `WITH idem AS (` + idempotencyInsert + `), pay AS (` + paymentInsert + `) INSERT INTO payments.payment_events (payment_id, seq, event_type, merchant_id, actor, request_id, occurred_at, details, hash) SELECT id, 1, 'created', 'merchant-1', :actor, :request, now(), :details, :hash::bytea FROM pay;
`

// The created event's parameters, which the API computes (its details and
// hash in Go) and sends with the statement, as pgbench sends these: what
// the writer does with them is store them.
var eventParameters = []string{"actor=api-key:bench-key", "request=req-0190a8e4-1f0b-7c2e-8d5a-3b6f9e2c1d4a",
	`details={"amount":1250,"currency":"SGD","reference":"bench"}`, `hash=\x` + strings.Repeat("5a", 32)}

// pgbenchScriptWithoutHistory is the transaction as it was before payments
// had a history, with its outbox row: what the history costs is the
// difference (the created event is the outbox message now).
const pgbenchScriptWithoutHistory = pgbenchVariables + `WITH idem AS (` + idempotencyInsert + `), pay AS (` + paymentInsert + `) ` + outboxInsert

const (
	pgbenchVariables  = "\\set k random(1, 9000000000000000000)\n\\set amount random(1, 100000)\n"
	idempotencyInsert = `INSERT INTO payments.idempotency_keys (merchant_id, idempotency_key, request_hash, payment_id, response_status, response_body, created_at) VALUES ('merchant-1', :k, decode(md5(:k::text) || md5(:k::text), 'hex'), (lpad(to_hex(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' || substr(md5(:k::text), 1, 3) || '8' || substr(md5(:k::text), 4, 15))::uuid, 201, :snapshot, now()) ON CONFLICT DO NOTHING RETURNING payment_id`
	paymentInsert     = `INSERT INTO payments.payments (id, merchant_id, amount_minor, currency, payment_method_token, reference, status, created_at, updated_at) SELECT payment_id, 'merchant-1', :amount, 'SGD', 'tok_4f9a8b7c6d5e', 'bench', 'pending', now(), now() FROM idem RETURNING id`
	outboxInsert      = `INSERT INTO payments.outbox (payment_id, event_type, payload, created_at) SELECT id, 'payment.created', :snapshot::jsonb, now() FROM pay;
`
)

// The bench merchant's credentials, as API Gateway forwards them.
var benchCertificate = gateway.Certificate{Subject: "CN=merchant-1,O=bench", Issuer: "CN=bench CA"}

const benchAPIKeyID = "bench-key"

// snapshot is a response body of the size the API stores.
const snapshot = `{"id":"0190a8e4-1f0b-7c2e-8d5a-3b6f9e2c1d4a","merchantId":"merchant-1","amount":1250,"currency":"SGD","reference":"bench","status":"pending","createdAt":"2026-11-28T04:00:00.123456Z","updatedAt":"2026-11-28T04:00:00.123456Z"}`

func run(concurrency int, duration time.Duration, conns int) error {
	pgtest.Options = "" // PostgreSQL defaults: fsync on, as in production
	server, err := pgtest.Start()
	if err != nil {
		return err
	}
	defer server.Stop()
	dsn, err := server.CreateDatabase()
	if err != nil {
		return err
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := postgres.Bootstrap(context.Background(), db, postgres.Migrations(), postgres.DefaultRoles); err != nil {
		return err
	}
	fmt.Printf("payment API benchmark on loopback: %d clients, %s per run, PostgreSQL with fsync on\n", concurrency, duration)

	// The bootstrap role audits its own session's writes (as Aurora's
	// master user does); the application's role does not, and the
	// benchmark connects as the bootstrap role: only the object auditing
	// of the payment tables and the cluster's DDL and role classes stay,
	// as for the application in production.
	if _, err := db.Exec(`ALTER ROLE CURRENT_USER RESET pgaudit.log`); err != nil && server.PgAudit() {
		return err
	}
	costs, err := measureCosts(server, db, dsn, concurrency, pgbenchDuration(duration))
	if err != nil {
		return err
	}
	baseline := costs.withHistory
	fmt.Printf("  pgbench (same transaction)      %8.0f tx/s  (median of %d rounds of %s)\n", baseline, rounds, pgbenchDuration(duration))
	fmt.Printf("  history event, with / without:  throughput %s, capacity %s  (goal >= 0.90)\n", costs.history.throughput, costs.history.capacity)
	if costs.pgaudit.throughput.median > 0 {
		fmt.Printf("  pgaudit, on / off:              throughput %s, capacity %s\n", costs.pgaudit.throughput, costs.pgaudit.capacity)
	} else {
		fmt.Println("  pgaudit is not installed: its cost is not measured (make postgres installs it)")
	}

	pool, err := postgres.NewPool(context.Background(), postgres.PoolConfig{DSN: dsn, MaxConns: int32(concurrency)})
	if err != nil {
		return err
	}
	defer pool.Close()
	// The API identifies the caller's merchant on every request, as in
	// production: registered credentials, the registry's answers reused
	// for the production ttl.
	registry := postgres.NewMerchantRegistry(pool, postgres.MerchantAnswerTTL)
	if err := errors.Join(registry.Register(context.Background(), "merchant-1", benchCertificate),
		registry.AddAPIKey(context.Background(), "merchant-1", benchAPIKeyID)); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           apihttp.NewHandler(postgres.NewPaymentService(pool, pool), registry, slog.New(slog.NewJSONHandler(io.Discard, nil))),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
	}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String()

	if _, err := runWrk(url, concurrency, 2*time.Second); err != nil { // warm the pool and the server
		return err
	}
	stopProfile, err := startProfile()
	if err != nil {
		return err
	}
	api, err := runWrk(url, concurrency, duration)
	stopProfile()
	if err != nil {
		return err
	}
	fmt.Printf("  API POST /v1/payments (wrk)     %8.0f req/s  p50 %s  p99 %s  errors %d\n", api.throughput, api.p50, api.p99, api.errors)
	fmt.Printf("  ratio API / pgbench             %8.2f  (goal >= 0.70)\n", api.throughput/baseline)
	history, err := measureAPIHistoryCost(db, url, concurrency, pgbenchDuration(duration))
	if err != nil {
		return err
	}
	fmt.Printf("  API with / without history:     throughput %s  (goal >= 0.90)\n", history)

	// wrk holds every connection open for the whole run, posting on each.
	if err := raiseFileLimit(conns + 500); err != nil {
		return err
	}
	held, err := runWrk(url, conns, duration)
	if err != nil {
		return err
	}
	fmt.Printf("  %d connections held (wrk)    %8.0f req/s  p50 %s  p99 %s  errors %d (goal 0)\n", conns, held.throughput, held.p50, held.p99, held.errors)
	return nil
}

// costs are pgbench's throughput of the API's transaction as it runs in
// production (with history, pgaudit on), and what the history and pgaudit
// cost it, against the same transaction without the history event and
// with pgaudit off, two ways: the ratio of throughputs, and the ratio of
// the server's CPU time per transaction (its inverse: the capacity left of
// a CPU-bound writer, Aurora's first bottleneck, docs/CAPACITY.md). This
// machine's throughput drifts by a quarter within a minute (its commits
// wait on a shared disk), more than either cost; the CPU time a
// transaction takes drifts far less. So the variants run back to back in
// short rounds, each from a checkpoint, in an order that rotates from round
// to round, and each figure is the median of the rounds' ratios (with their
// range): a drift touches both sides of a round's ratio alike.
type costs struct {
	withHistory      float64 // median tx/s
	history, pgaudit struct {
		throughput, capacity ratios // capacity: CPU per transaction without / with
	}
}

// ratios are the median of the rounds' ratios and their range.
type ratios struct{ median, min, max float64 }

func (r ratios) String() string {
	return fmt.Sprintf("%.2f (rounds %.2f-%.2f)", r.median, r.min, r.max)
}

func ratiosOf(xs []float64) ratios {
	sorted := slices.Sorted(slices.Values(xs))
	return ratios{median: sorted[len(sorted)/2], min: sorted[0], max: sorted[len(sorted)-1]}
}

const rounds = 7

func measureCosts(server *pgtest.Server, db *sql.DB, dsn string, clients int, duration time.Duration) (costs, error) {
	var c costs
	// pgaudit off: no object auditing, no session classes, for new
	// sessions of this database (a database setting outranks the server's
	// command line).
	var name string
	var postmaster int
	if err := db.QueryRow(`SELECT quote_ident(current_database())`).Scan(&name); err != nil {
		return c, err
	}
	if err := db.QueryRow(`SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'`).Scan(&postmaster); err != nil {
		return c, err
	}
	postmaster, err := parentOf(postmaster)
	if err != nil {
		return c, err
	}
	pgaudit := func(on bool) error {
		if !server.PgAudit() {
			return nil
		}
		statements := []string{`SET pgaudit.role = ''`, `SET pgaudit.log = 'none'`}
		if on {
			statements = []string{`RESET pgaudit.role`, `RESET pgaudit.log`}
		}
		for _, s := range statements {
			if _, err := db.Exec(`ALTER DATABASE ` + name + ` ` + s); err != nil {
				return err
			}
		}
		return nil
	}
	runs := []struct {
		script  string
		audited bool
	}{{pgbenchScript, true}, {pgbenchScriptWithoutHistory, true}, {pgbenchScript, false}}
	if !server.PgAudit() {
		runs = runs[:2]
	}
	var with, historyTPS, historyCPU, auditTPS, auditCPU []float64
	for r := range rounds {
		tps := make([]float64, len(runs))
		cpu := make([]float64, len(runs)) // server CPU seconds per transaction
		for i := range runs {
			run := (r + i) % len(runs)
			if err := pgaudit(runs[run].audited); err != nil {
				return c, err
			}
			// Every run starts from a checkpoint: one that fell within
			// a run would make it pay for the full-page writes after it.
			if _, err := db.Exec(`CHECKPOINT`); err != nil {
				return c, err
			}
			before, err := serverCPU(postmaster)
			if err != nil {
				return c, err
			}
			p, err := runPgbench(server, dsn, runs[run].script, clients, duration)
			if err != nil {
				return c, err
			}
			after, err := serverCPU(postmaster)
			if err != nil {
				return c, err
			}
			tps[run], cpu[run] = p.tps, (after-before).Seconds()/float64(p.transactions)
		}
		with = append(with, tps[0])
		historyTPS, historyCPU = append(historyTPS, tps[0]/tps[1]), append(historyCPU, cpu[1]/cpu[0])
		if len(runs) == 3 {
			auditTPS, auditCPU = append(auditTPS, tps[0]/tps[2]), append(auditCPU, cpu[2]/cpu[0])
		}
	}
	c.withHistory = ratiosOf(with).median
	c.history.throughput, c.history.capacity = ratiosOf(historyTPS), ratiosOf(historyCPU)
	if auditTPS != nil {
		c.pgaudit.throughput, c.pgaudit.capacity = ratiosOf(auditTPS), ratiosOf(auditCPU)
	}
	return c, pgaudit(true)
}

// measureAPIHistoryCost is the API's throughput with the history against
// without it, in rounds like measureCosts'. The API always writes the
// created event, which is its outbox message; "without" is the API as it
// was before the history, through a rule that rewrites the event's insert,
// in the same statement, into the outbox row that API wrote (the payment
// as JSON). The API still computes the hash and sends it, a few
// microseconds the "without" side would not spend. The writer's own
// figures are measureCosts'.
func measureAPIHistoryCost(db *sql.DB, url string, clients int, d time.Duration) (ratios, error) {
	without := func(on bool) error {
		statement := `DROP RULE IF EXISTS apibench_without_history ON payments.payment_events`
		if on {
			statement = `CREATE OR REPLACE RULE apibench_without_history AS ON INSERT TO payments.payment_events DO INSTEAD
				INSERT INTO payments.outbox (payment_id, event_type, payload, created_at)
				VALUES (NEW.payment_id, 'payment.created', jsonb_build_object('id', NEW.payment_id, 'merchantId', NEW.merchant_id,
					'status', 'pending', 'createdAt', NEW.occurred_at, 'updatedAt', NEW.occurred_at) || NEW.details::jsonb, NEW.occurred_at)`
		}
		_, err := db.Exec(statement)
		return err
	}
	var ratio []float64
	for r := range rounds {
		tps := [2]float64{}
		for i := range 2 {
			if err := without((r+i)%2 == 1); err != nil {
				return ratios{}, err
			}
			if _, err := db.Exec(`CHECKPOINT`); err != nil {
				return ratios{}, err
			}
			res, err := runWrk(url, clients, d)
			if err != nil {
				return ratios{}, err
			}
			if res.errors > 0 {
				return ratios{}, fmt.Errorf("wrk: %d errors", res.errors)
			}
			tps[(r+i)%2] = res.throughput
		}
		ratio = append(ratio, tps[0]/tps[1])
	}
	return ratiosOf(ratio), without(false)
}

// pgbenchDuration is one round's run: rounds of half the API's run, at
// least a second each.
func pgbenchDuration(d time.Duration) time.Duration {
	return max(d/2, time.Second).Truncate(time.Second)
}

// pgbenchRun is what one pgbench run did.
type pgbenchRun struct {
	tps          float64
	transactions int64
}

func runPgbench(server *pgtest.Server, dsn, sql string, clients int, duration time.Duration) (pgbenchRun, error) {
	var run pgbenchRun
	dir, err := os.MkdirTemp("", "apibench-")
	if err != nil {
		return run, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "payment.sql")
	if err := os.WriteFile(script, []byte(sql), 0o644); err != nil {
		return run, err
	}
	var out bytes.Buffer
	// The snapshot is a parameter, as the API sends it: parsed as JSON on
	// every execution, and not written out in pgaudit's log of the
	// statement.
	cmd := exec.Command(server.BinPath("pgbench"), "-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", "2",
		"-T", strconv.Itoa(int(duration.Seconds())), "-D", "snapshot="+snapshot)
	for _, p := range eventParameters {
		cmd.Args = append(cmd.Args, "-D", p)
	}
	cmd.Args = append(cmd.Args, "-f", script, dsn)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return run, fmt.Errorf("pgbench: %v\n%s", err, out.String())
	}
	m := regexp.MustCompile(`tps = ([0-9.]+)`).FindStringSubmatch(out.String())
	if m == nil {
		return run, fmt.Errorf("pgbench printed no tps:\n%s", out.String())
	}
	if failed := regexp.MustCompile(`number of failed transactions: ([1-9][0-9]*)`).FindStringSubmatch(out.String()); failed != nil {
		return run, fmt.Errorf("pgbench: %s failed transactions", failed[1])
	}
	n := regexp.MustCompile(`number of transactions actually processed: ([0-9]+)`).FindStringSubmatch(out.String())
	if n == nil {
		return run, fmt.Errorf("pgbench printed no transaction count:\n%s", out.String())
	}
	run.transactions, _ = strconv.ParseInt(n[1], 10, 64)
	run.tps, err = strconv.ParseFloat(m[1], 64)
	return run, err
}

type result struct {
	requests, errors int
	throughput       float64
	p50, p99         time.Duration
}

// wrkScript posts unique Idempotency-Keys (thread number, start time and a
// counter) and prints one machine-readable summary line.
const wrkScript = `local threads = 0
setup = function(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
init = function(args)
  prefix = string.format("%d-%d-%d", tid, os.time(), math.random(1, 1000000000))
  counter = 0
  body = '{"merchantId":"merchant-1","amount":1250,"currency":"SGD","paymentMethodToken":"tok_4f9a8b7c6d5e","reference":"bench"}'
end
request = function()
  counter = counter + 1
  return wrk.format("POST", "/v1/payments", {["Content-Type"] = "application/json", ["Idempotency-Key"] = '"' .. prefix .. "-" .. counter .. '"',
    ["` + gateway.HeaderAPIKeyID + `"] = "` + benchAPIKeyID + `", ["` + gateway.HeaderClientCertSubject + `"] = "CN=merchant-1,O=bench",
    ["` + gateway.HeaderClientCertIssuer + `"] = "CN=bench CA"}, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50)))
  io.write(string.format("P99 %d\n", latency:percentile(99)))
end
`

// runWrk drives the API with wrk: connections held open for d, two threads.
func runWrk(url string, connections int, d time.Duration) (result, error) {
	dir, err := os.MkdirTemp("", "apibench-wrk-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "post.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		return result{}, err
	}
	threads := min(2, connections)
	var out bytes.Buffer
	cmd := exec.Command("wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(connections), "-d", fmt.Sprintf("%ds", int(d.Seconds())),
		"--timeout", "30s", "-s", script, url)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("wrk (install Debian's wrk; make bench-api does): %v\n%s", err, out.String())
	}
	var requests, durationUs, connect, read, write, status, timeout, p50, p99 int64
	m := regexp.MustCompile(`RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)\s+P99 (\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		return result{}, fmt.Errorf("wrk printed no summary:\n%s", out.String())
	}
	for i, dst := range []*int64{&requests, &durationUs, &connect, &read, &write, &status, &timeout, &p50, &p99} {
		*dst, _ = strconv.ParseInt(m[i+1], 10, 64)
	}
	errors := connect + read + write + status + timeout
	return result{
		requests: int(requests), errors: int(errors),
		throughput: float64(requests-errors) / (float64(durationUs) / 1e6),
		p50:        (time.Duration(p50) * time.Microsecond).Round(10 * time.Microsecond),
		p99:        (time.Duration(p99) * time.Microsecond).Round(10 * time.Microsecond),
	}, nil
}

var profilePath string

func startProfile() (stop func(), err error) {
	if profilePath == "" {
		return func() {}, nil
	}
	f, err := os.Create(profilePath)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func raiseFileLimit(n int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	want := uint64(n)
	if lim.Cur >= want {
		return nil
	}
	if lim.Max < want {
		return fmt.Errorf("the open-file hard limit %d is below the %d this run needs: raise `ulimit -Hn`", lim.Max, want)
	}
	lim.Cur = want
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// serverCPU is the CPU time the PostgreSQL server has used so far: the
// postmaster's own and that of its children, those that exited (the
// backends of finished pgbench runs, added to the postmaster's when it
// reaps them) and those still running (checkpointer, WAL writer, …).
func serverCPU(postmaster int) (time.Duration, error) {
	ticks := func(f []string, from, to int) (n int64) {
		for i := from; i <= to; i++ { // utime, stime, cutime, cstime: stat's fields 14-17, 11-14 after the name
			v, _ := strconv.ParseInt(f[i], 10, 64)
			n += v
		}
		return n
	}
	f, err := procStat(strconv.Itoa(postmaster))
	if err != nil {
		return 0, err
	}
	total := ticks(f, 11, 14)
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		if f, err := procStat(p.Name()); err == nil && f[1] == strconv.Itoa(postmaster) {
			total += ticks(f, 11, 12)
		}
	}
	return time.Duration(total) * time.Second / 100, nil // USER_HZ is 100 on Linux
}

// procStat is a process's /proc/<pid>/stat after its command name (which
// is in parentheses and may hold spaces): state, parent, ….
func procStat(pid string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:])), nil
}

// parentOf is a process's parent.
func parentOf(pid int) (int, error) {
	f, err := procStat(strconv.Itoa(pid))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[1])
}
