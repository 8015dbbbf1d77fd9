// Command audit anchors and verifies payments' histories (package audit)
// and prints what happened to a payment.
//
// In AWS it is the function payments-audit-<sfx>: EventBridge Scheduler
// invokes it every hour to anchor ({"action":"anchor"}): it signs a digest
// of the events recorded since the last anchor with the KMS signing key
// and writes it to the environment's Object Lock bucket, which nobody can
// change, the database's administrators included. Operators invoke it to
// verify ({"action":"verify"}) or to read a payment's history
// ({"action":"history","paymentId":"..."}); the scheduler invokes it daily
// to verify, and the alarms watch the metrics it emits (package metrics).
// It reads the database as the auditor role, which may read the history
// and nothing else, on the writer: an anchor must see every committed
// event, which a replica may not yet.
//
// On a workstation it is the operators' command:
//
//	audit verify  -env pr123                 # invokes payments-audit-pr123
//	audit history -env pr123 -payment <id>
//	audit anchor|verify|history -dsn postgres://... [-anchors dir] [-key file] [-settle 5m] [-payment id]
//
// With -dsn it works on a local database directly, anchoring into a
// directory with a key of its own (audit.DirAnchors, audit.LocalSigner).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/fintech/payments-platform/audit"
	"github.com/fintech/payments-platform/emf"
	"github.com/fintech/payments-platform/environment"
	"github.com/fintech/payments-platform/metrics"
	"github.com/fintech/payments-platform/postgres"
)

// Request is what the function is invoked with.
type Request struct {
	// Action is "anchor", "verify" or "history".
	Action    string `json:"action"`
	PaymentID string `json:"paymentId,omitempty"`
}

// Response answers a Request: the new anchors, the verification report, or
// the history.
type Response struct {
	Anchors []audit.Anchor `json:"anchors,omitempty"`
	Report  *audit.Report  `json:"report,omitempty"`
	History []audit.Event  `json:"history,omitempty"`
}

// eventLog is the history the auditor reads (postgres.EventLog).
type eventLog interface {
	audit.Events
	History(ctx context.Context, paymentID string) ([]audit.Event, error)
}

// auditor does the three actions over a history, an anchor store and a
// signer.
type auditor struct {
	environment string
	events      eventLog
	anchors     audit.Anchors
	signer      audit.Signer
	log         *slog.Logger
	now         func() time.Time
	// metrics receives one record per anchor or verification run (in
	// Lambda); nil on a workstation.
	metrics *emf.Logger
}

// timeLeft reports whether the invocation has time for another anchor
// (reading up to MaxAnchorEvents events, a signature and a write take
// seconds; two minutes leave room for a slow database).
func timeLeft(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > 2*time.Minute
}

// emit writes one metric, if metrics are on: a run whose record is lost
// leaves a gap the alarms treat as no news, never as failure.
func (a auditor) emit(ctx context.Context, name string, value float64) {
	if a.metrics == nil {
		return
	}
	if err := a.metrics.Emit([]emf.Metric{{Name: name, Unit: emf.Count, Value: value}}, nil); err != nil {
		a.log.WarnContext(ctx, "metric not written", "metric", name, "error", err)
	}
}

func (a auditor) handle(ctx context.Context, req Request) (Response, error) {
	switch req.Action {
	case "anchor":
		// One anchor covers at most audit.MaxAnchorEvents: a busy hour (at
		// 1,000 payments a second, millions of events) takes many, so a run
		// anchors until it has caught up or its time is nearly spent.
		var anchored []audit.Anchor
		events := 0
		defer func() { a.emit(ctx, metrics.AnchoredEvents, float64(events)) }()
		for {
			anchor, err := audit.AnchorNext(ctx, a.environment, a.events, a.anchors, a.signer, a.now())
			if err != nil {
				return Response{Anchors: anchored}, err
			}
			if anchor == nil {
				break
			}
			anchored, events = append(anchored, *anchor), events+anchor.Events
			a.log.InfoContext(ctx, "anchored", "fromId", anchor.FromID, "toId", anchor.ToID, "events", anchor.Events, "digest", anchor.Digest)
			if anchor.Events < audit.MaxAnchorEvents || !timeLeft(ctx) {
				break
			}
		}
		return Response{Anchors: anchored}, nil
	case "verify":
		report, err := audit.Verify(ctx, a.events, a.anchors, a.signer)
		if err != nil {
			return Response{}, err
		}
		if !report.OK() {
			a.log.ErrorContext(ctx, "the history is broken", "broken", report.Broken)
		}
		a.emit(ctx, metrics.BrokenLinks, float64(len(report.Broken)))
		return Response{Report: &report}, nil
	case "history":
		events, err := a.events.History(ctx, req.PaymentID)
		if err != nil {
			return Response{}, err
		}
		return Response{History: events}, nil
	}
	return Response{}, fmt.Errorf("audit: unknown action %q: use anchor, verify or history", req.Action)
}

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	var err error
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		err = serve(logger)
	} else {
		err = run(context.Background(), os.Args[1:], os.Stdout, logger, invokeFunction)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "audit:", err)
		os.Exit(1)
	}
}

// serve runs as the function, configured by its environment.
func serve(logger *slog.Logger) error {
	get := os.Getenv
	if get("ANCHOR_BUCKET") == "" || get("SIGNING_KEY_ARN") == "" {
		return errors.New("ANCHOR_BUCKET and SIGNING_KEY_ARN are required")
	}
	ctx := context.Background()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	poolCfg, err := postgres.IAMPoolConfig(get, awsCfg.Region, awsCfg.Credentials, 2)
	if err != nil {
		return err
	}
	pool, err := postgres.NewPool(ctx, poolCfg)
	if err != nil {
		return err
	}
	a := auditor{
		environment: get("ENVIRONMENT_SUFFIX"), events: postgres.NewEventLog(pool),
		anchors: newS3Anchors(awsCfg, get("ANCHOR_BUCKET")), signer: newKMSSigner(awsCfg, get("SIGNING_KEY_ARN")),
		log: logger, now: time.Now,
		metrics: emf.New(os.Stdout, metrics.Namespace, map[string]string{metrics.DimensionEnvironment: get("ENVIRONMENT_SUFFIX")}),
	}
	lambda.Start(a.handle)
	return nil
}

// invoker calls the environment's function.
type invoker func(ctx context.Context, region, function string, payload []byte) ([]byte, error)

func invokeFunction(ctx context.Context, region, function string, payload []byte) ([]byte, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, err
	}
	out, err := awslambda.NewFromConfig(cfg).Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(function), Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", function, err)
	}
	if out.FunctionError != nil {
		var failure struct {
			ErrorMessage string `json:"errorMessage"`
		}
		_ = json.Unmarshal(out.Payload, &failure)
		return nil, fmt.Errorf("%s: %s", function, failure.ErrorMessage)
	}
	return out.Payload, nil
}

const usage = "usage: audit anchor|verify|history (-env <suffix> | -dsn <connection string> [-anchors dir] [-key file]) [-payment id]"

// run is the operators' command: through the environment's function, or
// on a local database.
func run(ctx context.Context, args []string, out io.Writer, logger *slog.Logger, invoke invoker) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	action, args := args[0], args[1:]
	flags := flag.NewFlagSet("audit "+action, flag.ContinueOnError)
	flags.SetOutput(out)
	env := flags.String("env", "", "the environment suffix: invoke its audit function")
	dsn := flags.String("dsn", "", "a local database instead")
	anchorDir := flags.String("anchors", "audit-anchors", "with -dsn: the directory anchors are kept in")
	keyFile := flags.String("key", "audit-anchors/signing-key.pem", "with -dsn: the local signing key (created if missing)")
	payment := flags.String("payment", "", "history: the payment's id")
	settle := flags.Duration("settle", 5*time.Minute, "with -dsn: anchor only events older than this (longer than any transaction runs)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if action == "history" && *payment == "" {
		return errors.New("history needs -payment <id>")
	}
	req := Request{Action: action, PaymentID: *payment}
	var resp Response
	switch {
	case *dsn != "":
		pool, err := postgres.NewPool(ctx, postgres.PoolConfig{DSN: *dsn, MaxConns: 2})
		if err != nil {
			return err
		}
		defer pool.Close()
		if err := os.MkdirAll(*anchorDir, 0o700); err != nil {
			return err
		}
		signer, err := audit.LoadOrCreateLocalSigner(*keyFile)
		if err != nil {
			return err
		}
		events := postgres.NewEventLog(pool)
		events.SettleAfter = *settle
		a := auditor{environment: "local", events: events, anchors: audit.DirAnchors(*anchorDir), signer: signer, log: logger, now: time.Now}
		if resp, err = a.handle(ctx, req); err != nil {
			return err
		}
	case *env != "":
		cfg, err := environment.Named(*env)
		if err != nil {
			return err
		}
		payload, _ := json.Marshal(req)
		answer, err := invoke(ctx, cfg.Region, cfg.AuditFunctionName(), payload)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(answer, &resp); err != nil {
			return fmt.Errorf("%s answered %s: %w", cfg.AuditFunctionName(), answer, err)
		}
	default:
		return errors.New("give -env <suffix> (a deployed environment) or -dsn <connection string> (a local database)")
	}
	return print(out, req, resp)
}

// print writes a human-readable summary, and says whether the history is
// broken through the error.
func print(out io.Writer, req Request, resp Response) error {
	switch req.Action {
	case "anchor":
		if len(resp.Anchors) == 0 {
			fmt.Fprintln(out, "nothing to anchor: no settled event since the last anchor")
			return nil
		}
		for _, a := range resp.Anchors {
			fmt.Fprintf(out, "anchored events (%d, %d]: %d events, digest %s\n", a.FromID, a.ToID, a.Events, a.Digest)
		}
	case "verify":
		r := resp.Report
		fmt.Fprintf(out, "verified %d payments, %d events, %d anchors\n", r.Payments, r.Events, r.Anchors)
		for _, b := range r.Broken {
			fmt.Fprintln(out, "BROKEN:", b.Error())
		}
		if !r.OK() {
			return audit.ErrBroken
		}
	case "history":
		if len(resp.History) == 0 {
			return fmt.Errorf("payment %s has no history", req.PaymentID)
		}
		for _, e := range resp.History {
			fmt.Fprintf(out, "%d  %-10s  %s  %-28s  %s  %s  %x\n", e.Seq, e.Type, e.OccurredAt.UTC().Format(time.RFC3339Nano), e.Actor, e.RequestID, e.Details, e.Hash[:8])
		}
		if b := audit.VerifyChain(resp.History); b != nil {
			fmt.Fprintln(out, "BROKEN:", b.Error())
			return audit.ErrBroken
		}
		fmt.Fprintln(out, "the chain verifies")
	}
	return nil
}
