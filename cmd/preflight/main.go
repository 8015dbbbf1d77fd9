// Command preflight checks, before a deploy, what the AWS account must
// already have for the environment to deploy, and says what is missing and
// what to do about it. `make deploy` runs it first, so a deploy does not
// fail half an hour in on a missing bootstrap, certificate or quota.
//
//	preflight [-assembly cdk.out] [-c key=value ...]
//
// The -c flags are the CDK context overrides the deploy passes to the CDK
// CLI; the assembly is the synthesized output of the same configuration, from
// which the quota checks count what the deploy will create. Each check prints
// one line, "ok", "warn" or "FAIL"; the exit status is 1 if any failed.
// preflight only reads: it makes Get, Describe and List calls and nothing
// else.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fintech/payments-platform/assembly"
	"github.com/fintech/payments-platform/environment"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, awsClients, execCommander{}); err != nil {
		fmt.Fprintln(os.Stderr, "preflight:", err)
		os.Exit(1)
	}
}

// errFailed is returned when a check failed; the lines already say why.
var errFailed = errors.New("a check failed: fix the FAIL lines above before deploying")

// timeout bounds the whole run: the SDK retries throttled and failed calls,
// and an unreachable credential endpoint must not hang `make deploy`.
const timeout = 2 * time.Minute

func run(ctx context.Context, args []string, stdout io.Writer, newClients newClientsFunc, cmd commander) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	flags := flag.NewFlagSet("preflight", flag.ContinueOnError)
	dir := flags.String("assembly", "cdk.out", "the synthesized cloud assembly of the same configuration")
	withoutTrail := flags.Bool("without-trail", false, "deploy a production environment although no trail logs the account (a conscious choice: PCI DSS 10.2)")
	overrides := contextFlags{}
	flags.Var(overrides, "c", "a CDK context override `key=value`, as passed to the CDK CLI (repeatable)")
	flags.Var(overrides, "context", "the same as -c, the CDK CLI's long form")
	flags.SetOutput(stdout)
	if err := flags.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: use -assembly DIR and -c key=value", flags.Args())
	}

	out := &printer{w: stdout}
	lookup, err := loadContext(overrides)
	if err != nil {
		out.print(fail("config", "%v", err))
		return errFailed
	}

	// The caller's account is needed before the configuration: an unset
	// `account` context resolves to it, as the CDK CLI resolves it.
	contextAccount, _ := lookup(environment.KeyAccount).(string)
	primary, err := newClients(ctx, environment.PrimaryRegion)
	var credentials []result
	var caller string
	if err != nil {
		credentials = []result{credentialsFailure(err)}
	} else {
		credentials, caller = checkCredentials(ctx, primary.sts, contextAccount)
	}
	cfg, err := environment.Load(lookup, func(key string) string {
		if key == "CDK_DEFAULT_ACCOUNT" {
			return caller
		}
		return ""
	})
	if err != nil {
		out.print(fail("config", "%s", oneLine(err)))
		// Without credentials the account falls back to the offline
		// placeholder, which can be what made the ARNs invalid.
		if caller == "" {
			out.print(credentials...)
		}
		return errFailed
	}
	out.print(checkConfig(cfg)...)
	out.print(credentials...)

	// Without usable credentials every AWS check would fail the same way:
	// the credentials line already says so, and only Docker is checked.
	if caller == "" {
		out.print(checkDocker(ctx, cmd)...)
		return errFailed
	}
	replica, err := newClients(ctx, cfg.ReplicaRegion)
	if err != nil {
		out.print(fail("credentials", "cannot configure clients for %s: %v", cfg.ReplicaRegion, err))
		return errFailed
	}
	out.print(checkHostedZone(ctx, primary.route53, cfg)...)
	out.print(checkCertificate(ctx, primary.acm, "api", environment.KeyAPICertificateArn, cfg.APICertificateArn, cfg.HostName("api"))...)
	out.print(checkCertificate(ctx, primary.acm, "alb", environment.KeyALBCertificateArn, cfg.ALBCertificateArn, cfg.HostName("alb"))...)
	out.print(checkBootstrap(ctx, primary.ssm, cfg.Region)...)
	out.print(checkBootstrap(ctx, replica.ssm, cfg.ReplicaRegion)...)
	out.print(checkAccountSetup(ctx, primary.cloudformation, primary.apigateway)...)
	out.print(checkTrail(ctx, primary.trails, cfg.Posture().TrailRequired, *withoutTrail)...)
	out.print(checkDocker(ctx, cmd)...)

	d, loaded := loadDeployment(*dir, cfg.EnvironmentSuffix)
	out.print(loaded)
	if loaded.level == levelFail {
		return errFailed
	}
	r := cfg.Region
	out.print(checkVPCQuota(ctx, primary.quotas, primary.ec2, d, r)...)
	out.print(checkInternetGatewayQuota(ctx, primary.quotas, primary.ec2, d, r)...)
	out.print(checkElasticIPQuota(ctx, primary.quotas, primary.ec2, d, r)...)
	out.print(checkInterfaceEndpointQuota(ctx, primary.quotas, d, r)...)
	out.print(checkLambdaConcurrency(ctx, primary.lambda, d, r, "quota lambda concurrency")...)
	if d.Regions[cfg.ReplicaRegion].ReservedConcurrency() > 0 {
		out.print(checkLambdaConcurrency(ctx, replica.lambda, d, cfg.ReplicaRegion, "quota lambda concurrency "+cfg.ReplicaRegion)...)
	}
	out.print(checkVpcLinkQuota(ctx, primary.vpcLinks, d, r)...)
	out.print(checkWAFLoggingPolicy(ctx, primary.logs, d, r)...)
	return out.err()
}

// loadDeployment reads the assembly the quota checks count from.
func loadDeployment(dir, suffix string) (deployment, result) {
	const check = "assembly"
	stacks, err := assembly.Load(dir)
	if err != nil {
		return deployment{}, fail(check, "cannot read %s (%v): synthesize with the same -c flags first (cdk synth)", dir, err)
	}
	d := readDeployment(stacks, suffix)
	if len(d.Stacks) == 0 || len(d.Stacks) == 1 && d.Stacks[environment.AccountStackName] {
		return deployment{}, fail(check, "%s holds no stack of environment %s (*-%s): synthesize with the same -c flags first (cdk synth)",
			dir, suffix, suffix)
	}
	return d, ok(check, "%d stacks of environment %s and the account in %s", len(d.Stacks), suffix, dir)
}

// printer writes results as they come and remembers whether one failed.
type printer struct {
	w      io.Writer
	failed int
}

func (p *printer) print(results ...result) {
	for _, r := range results {
		if r.level == levelFail {
			p.failed++
		}
		fmt.Fprintln(p.w, r)
	}
}

func (p *printer) err() error {
	if p.failed > 0 {
		return errFailed
	}
	return nil
}

// oneLine keeps a multi-line error on its FAIL line.
func oneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), ":\n", ": ")
	return strings.ReplaceAll(s, "\n", "; ")
}

// contextFlags collects -c key=value, the later of two equal keys winning as
// with the CDK CLI.
type contextFlags map[string]string

func (c contextFlags) String() string { return "" }

func (c contextFlags) Set(s string) error {
	key, value, found := strings.Cut(s, "=")
	if !found || key == "" {
		return fmt.Errorf("%q is not key=value", s)
	}
	c[key] = value
	return nil
}

// contextFiles are the files the CDK CLI reads context from, in the order it
// consults them after the command line: the project's cdk.json, its
// cdk.context.json (cached lookups) and the user's ~/.cdk.json.
func contextFiles() []string {
	files := []string{"cdk.json", "cdk.context.json"}
	if home, err := os.UserHomeDir(); err == nil {
		files = append(files, filepath.Join(home, ".cdk.json"))
	}
	return files
}

// loadContext returns the context the CDK CLI would hand the app: a -c
// value (always a string) wins over cdk.json's "context" object, which wins
// over cdk.context.json and then ~/.cdk.json. cdk.json must exist: without
// it preflight is not running where `make` runs it, and would check a
// default configuration nobody deploys.
func loadContext(overrides map[string]string) (func(string) any, error) {
	bags := []map[string]any{}
	for i, file := range contextFiles() {
		data, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) && i > 0 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read %s (%v): run preflight from the repository root, as make preflight does", file, err)
		}
		bag := map[string]any{}
		if i == 1 {
			// cdk.context.json is the context object itself.
			err = json.Unmarshal(data, &bag)
		} else {
			var project struct{ Context map[string]any }
			err = json.Unmarshal(data, &project)
			bag = project.Context
		}
		if err != nil {
			return nil, fmt.Errorf("%s is not valid JSON: %v", file, err)
		}
		bags = append(bags, bag)
	}
	return func(key string) any {
		if v, ok := overrides[key]; ok {
			return v
		}
		for _, bag := range bags {
			if v, ok := bag[key]; ok {
				return v
			}
		}
		return nil
	}, nil
}
