//go:build linux

// Package local runs the platform on one machine, for `make run` and the
// end-to-end tests (package e2e), from the shipped code and without Docker
// or an AWS account:
//
//   - PostgreSQL: a throwaway server (postgres/pgtest, as the tests start
//     one), migrated and given its roles by postgres.Bootstrap, as dbinit
//     does in AWS; the API and the processor connect as payments_app, the
//     role they use in AWS (with a password-less local login instead of an
//     IAM token);
//   - SQS: fauxqs (npm, pinned in tools/localsqs), an SQS server that speaks
//     the AWS JSON 1.0 protocol aws-sdk-go-v2 uses, with the payment queue
//     and its dead-letter queue as infra/processing.go creates them;
//   - the API: cmd/api built for this machine, relaying its outbox to the
//     queue (the SDK reaches fauxqs through AWS_ENDPOINT_URL_SQS);
//   - the processor: cmd/processor built for this machine, run by AWS's
//     Lambda Runtime Interface Emulator (aws-lambda-rie, a Go tool of this
//     module), and fed by EventSourceMapping, which polls the queue as
//     Lambda's SQS event source does.
//
// A local merchant is registered with an API key id and a certificate
// subject and issuer; a client sends them as API Gateway would (Headers).
package local

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/fintech/payments-platform/database"
	"github.com/fintech/payments-platform/environment"
	"github.com/fintech/payments-platform/gateway"
	"github.com/fintech/payments-platform/postgres"
	"github.com/fintech/payments-platform/postgres/pgtest"
)

// The local merchant and its credentials.
const (
	MerchantID = "local-merchant"
	APIKeyID   = "local-api-key"
)

// Certificate is the local merchant's client certificate, as the
// authorizer would name it.
var Certificate = gateway.Certificate{Subject: "CN=local-merchant,O=Local", Issuer: "CN=Local CA,O=Local"}

// Headers are what API Gateway would set on a request of the local
// merchant (nothing else reaches the service in AWS).
func Headers() http.Header {
	return http.Header{
		gateway.HeaderAPIKeyID:          {APIKeyID},
		gateway.HeaderClientCertSubject: {Certificate.Subject},
		gateway.HeaderClientCertIssuer:  {Certificate.Issuer},
	}
}

// Options configure Start.
type Options struct {
	// Root is the repository's root: the commands are built from it and
	// the queue server is installed under it.
	Root string
	// APIAddr is where the API listens (default 127.0.0.1:8080; port 0
	// for any free port).
	APIAddr string
	// VisibilityTimeout is the queue's (default the stack's,
	// environment.PaymentVisibilityTimeoutSeconds): how long a message
	// whose invocation failed waits before it is delivered again.
	VisibilityTimeout time.Duration
	// Log receives the components' output (default: discarded).
	Log io.Writer
}

// Platform is the running system.
type Platform struct {
	// URL is the API's; DSN the database's, as the administrator.
	URL, DSN string
	// QueueURL and DeadLetterQueueURL are the SQS queues'.
	QueueURL, DeadLetterQueueURL string
	// Mapping feeds the processor from the queue.
	Mapping *EventSourceMapping

	opts      Options
	bin       string
	db        *pgtest.Server
	queue     *process
	api       *process
	mu        sync.Mutex
	processor *process
	invokeURL string
	stop      context.CancelFunc
	done      chan struct{}
}

// Start brings the platform up; Stop takes it down. On an error, whatever
// had started is stopped.
func Start(ctx context.Context, opts Options) (*Platform, error) {
	if opts.APIAddr == "" {
		opts.APIAddr = "127.0.0.1:8080"
	}
	if opts.VisibilityTimeout == 0 {
		opts.VisibilityTimeout = environment.PaymentVisibilityTimeoutSeconds * time.Second
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	p := &Platform{opts: opts, done: make(chan struct{})}
	var err error
	if p.bin, err = os.MkdirTemp("", "payments-local-"); err != nil {
		return nil, err
	}
	for _, step := range []func(context.Context) error{p.build, p.startDatabase, p.startQueue, p.startAPI, p.StartProcessor} {
		if err := step(ctx); err != nil {
			p.Stop() // whatever had started
			return nil, err
		}
	}
	mappingCtx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	p.Mapping = newEventSourceMapping(p.queueClient(ctx), p.QueueURL, p.invoke)
	go func() {
		defer close(p.done)
		p.Mapping.Run(mappingCtx)
	}()
	return p, nil
}

// build compiles the shipped commands and the emulator for this machine.
func (p *Platform) build(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", p.bin+string(filepath.Separator),
		"./cmd/api", "./cmd/processor", "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie")
	cmd.Dir = p.opts.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("local: go build: %v\n%s", err, out)
	}
	return nil
}

func (p *Platform) startDatabase(ctx context.Context) error {
	var err error
	if p.db, err = pgtest.Start(); err != nil {
		return err
	}
	if p.DSN, err = p.db.CreateDatabase(); err != nil {
		return err
	}
	db, err := sql.Open("pgx", p.DSN)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := postgres.Bootstrap(ctx, db, postgres.Migrations(), postgres.DefaultRoles); err != nil {
		return fmt.Errorf("local: bootstrap: %w", err)
	}
	pool, err := postgres.NewPool(ctx, postgres.PoolConfig{DSN: p.DSN, MaxConns: 2})
	if err != nil {
		return err
	}
	defer pool.Close()
	registry := postgres.NewMerchantRegistry(pool, 0)
	return errors.Join(registry.Register(ctx, MerchantID, Certificate), registry.AddAPIKey(ctx, MerchantID, APIKeyID))
}

// AppDSN is the database as the application's role.
func (p *Platform) AppDSN() string {
	u, _ := url.Parse(p.DSN)
	u.User = url.User(postgres.DefaultRoles.App)
	return u.String()
}

func (p *Platform) startAPI(ctx context.Context) error {
	addr, err := freeAddr(p.opts.APIAddr)
	if err != nil {
		return err
	}
	p.api, err = startProcess(p.opts.Log, "api", filepath.Join(p.bin, "api"), nil, append(p.awsEnv(),
		"API_ADDR="+addr, database.EnvURL+"="+p.AppDSN(), database.EnvMaxConns+"=8",
		"OUTBOX_QUEUE_URL="+p.QueueURL, "ENVIRONMENT=local", "SHUTDOWN_TIMEOUT=5s"))
	if err != nil {
		return err
	}
	p.URL = "http://" + addr
	return waitFor(ctx, 30*time.Second, func() error {
		if p.api.exited() {
			return errStop{fmt.Errorf("local: the API exited: %s", p.api.cmd.ProcessState)}
		}
		resp, err := http.Get(p.URL + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("healthz answered %d", resp.StatusCode)
		}
		return nil
	})
}

// StartProcessor starts the processor (the emulator running
// cmd/processor) if it is not running.
func (p *Platform) StartProcessor(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.processor != nil {
		return nil
	}
	emulator, err := freeAddr("127.0.0.1:0")
	if err != nil {
		return err
	}
	runtimeAPI, err := freeAddr("127.0.0.1:0")
	if err != nil {
		return err
	}
	proc, err := startProcess(p.opts.Log, "processor", filepath.Join(p.bin, "aws-lambda-rie"),
		[]string{"--runtime-interface-emulator-address", emulator, "--runtime-api-address", runtimeAPI, filepath.Join(p.bin, "processor")},
		append(p.awsEnv(), database.EnvURL+"="+p.AppDSN(), "ENVIRONMENT=local", "AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(environment.ProcessorTimeoutSeconds), "LOG_LEVEL=warn"))
	if err != nil {
		return err
	}
	p.processor, p.invokeURL = proc, "http://"+emulator+"/2015-03-31/functions/function/invocations"
	return waitFor(ctx, 15*time.Second, func() error {
		c, err := net.Dial("tcp", emulator)
		if err == nil {
			c.Close()
		}
		return err
	})
}

// KillProcessor kills the processor at once (SIGKILL), as a crashed
// Lambda execution environment: an invocation in flight never answers.
func (p *Platform) KillProcessor() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.processor != nil {
		p.processor.kill()
		p.processor = nil
	}
}

// invoke sends an event to the processor. While it is down (killed, not
// yet started again) the invocation waits for it, as Lambda starts a new
// execution environment for the next batch rather than failing it.
func (p *Platform) invoke(ctx context.Context, event []byte) ([]byte, error) {
	for {
		p.mu.Lock()
		target := p.invokeURL
		running := p.processor != nil
		p.mu.Unlock()
		if running {
			return invokeEmulator(ctx, target, event)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops everything Start started and removes what it wrote.
func (p *Platform) Stop() {
	if p.stop != nil {
		p.stop()
		<-p.done
		p.stop = nil
	}
	p.KillProcessor()
	if p.api != nil {
		p.api.terminate(10 * time.Second)
		p.api = nil
	}
	if p.queue != nil {
		p.queue.terminate(5 * time.Second)
		p.queue = nil
	}
	if p.db != nil {
		p.db.Stop()
		p.db = nil
	}
	if p.bin != "" {
		os.RemoveAll(p.bin)
		p.bin = ""
	}
}

// awsEnv points the AWS SDK at the local queue server, with credentials
// it accepts, so that no request can reach AWS.
func (p *Platform) awsEnv() []string {
	return []string{"AWS_REGION=" + Region, "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		"AWS_ENDPOINT_URL_SQS=" + p.queue.url, "AWS_EC2_METADATA_DISABLED=true"}
}

// process is a child process, in a process group of its own so that
// stopping it stops what it started (the emulator's runtime).
type process struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

func startProcess(log io.Writer, name, path string, args, env []string) (*process, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	prefix := &prefixWriter{prefix: name + " | ", w: log}
	cmd.Stdout, cmd.Stderr = prefix, prefix
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("local: start %s: %w", name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

// kill kills the process, its group and its descendants at once: the
// emulator starts the function's runtime in a group of its own.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) kill() {
	for _, pid := range descendants(p.cmd.Process.Pid) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// descendants are the processes below pid, from /proc.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// After the command name, in parentheses: state, then the parent.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 1 {
			parent, _ := strconv.Atoi(fields[1])
			children[parent] = append(children[parent], child)
		}
	}
	var out []int
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// terminate asks the process group to stop (SIGTERM) and kills it after
// grace.
func (p *process) terminate(grace time.Duration) {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.kill()
	}
}

// prefixWriter prefixes each line with the component's name.
type prefixWriter struct {
	mu      sync.Mutex
	prefix  string
	w       io.Writer
	partial bool
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		if !w.partial {
			io.WriteString(w.w, w.prefix)
		}
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i < len(b) {
			i++
		}
		w.w.Write(b[:i])
		w.partial = b[i-1] != '\n'
		b = b[i:]
	}
	return n, nil
}

// freeAddr returns addr if nothing listens there, or with port 0 a free
// port on its host.
func freeAddr(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("local: %s is taken (another make run?): %w", addr, err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitFor retries check until it succeeds or within passes.
func waitFor(ctx context.Context, within time.Duration, check func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return nil
		}
		var stop errStop
		if errors.As(err, &stop) {
			return stop.error
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("local: not ready after %s: %w", within, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// errStop ends waitFor at once: waiting longer cannot help.
type errStop struct{ error }
