//go:build linux

// Command local is `make run`: the platform on this machine (package
// local), until Ctrl-C. It prints the API's URL and commands to create a
// payment, read its history and its ledger postings.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fintech/payments-platform/gateway"
	"github.com/fintech/payments-platform/local"
	"github.com/fintech/payments-platform/postgres/pgtest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "where the API listens")
	quiet := flag.Bool("quiet", false, "do not print the components' logs")
	flag.Parse()
	if err := run(*addr, *quiet); err != nil {
		fmt.Fprintln(os.Stderr, "make run:", err)
		os.Exit(1)
	}
}

func run(addr string, quiet bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	var log io.Writer = os.Stderr
	if quiet {
		log = io.Discard
	}
	fmt.Println("starting PostgreSQL, the SQS server, the API and the processor…")
	started := time.Now()
	p, err := local.Start(ctx, local.Options{Root: root, APIAddr: addr, Log: log})
	if err != nil {
		return err
	}
	defer p.Stop()
	psql, _ := pgtest.BinDir()
	h := local.Headers()
	credentials := fmt.Sprintf("-H '%s: %s' -H '%s: %s' -H '%s: %s'",
		gateway.HeaderAPIKeyID, h.Get(gateway.HeaderAPIKeyID), gateway.HeaderClientCertSubject, h.Get(gateway.HeaderClientCertSubject),
		gateway.HeaderClientCertIssuer, h.Get(gateway.HeaderClientCertIssuer))
	fmt.Printf(`
ready in %s: the API at %s (merchant %s; the headers below are what API Gateway sets)

create a payment (change the Idempotency-Key for another; a token starting tok_decline is declined):
  curl -s %s/v1/payments %s -H 'Content-Type: application/json' -H 'Idempotency-Key: "%d"' \
    -d '{"amount":1250,"currency":"SGD","paymentMethodToken":"tok_visa_4242","reference":"order-1"}'

its history (created, processing, settled) a second later; ID is the "id" above:
  curl -s %s/v1/payments/ID/events %s

the ledger postings of settled payments:
  %s/psql '%s' -c 'SELECT payment_id, account, amount_minor, currency FROM payments.ledger_entries ORDER BY id'

Ctrl-C stops everything.
`, time.Since(started).Round(100*time.Millisecond), p.URL, local.MerchantID,
		p.URL, credentials, time.Now().Unix(), p.URL, credentials, strings.TrimSuffix(psql, "/"), p.DSN)
	<-ctx.Done()
	fmt.Println("\nstopping…")
	return nil
}
