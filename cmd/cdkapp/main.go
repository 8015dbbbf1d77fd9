// Command cdkapp is the CDK app: it reads and validates the context, builds
// the account setup and every stack of one environment, and runs the cdk-nag
// packs over the construct tree and over the synthesized templates.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
	"github.com/fintech/payments-platform/infra"
)

func main() {
	defer jsii.Close()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	app := awscdk.NewApp(nil)
	cfg, err := environment.Load(func(key string) any {
		return app.Node().TryGetContext(&key)
	}, os.Getenv)
	if err != nil {
		return err
	}
	// What deploys but will not work as expected (alarms that reach nobody,
	// a truststore nobody can pass): said at every synth, not only by
	// make preflight.
	for _, w := range cfg.DeployWarnings() {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	// cdk.json runs the app from the module root.
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	infra.NewStacks(app, cfg, root)
	// Only `make bench-synth` sets this, to measure what the packs cost.
	nag := os.Getenv("CDKAPP_SKIP_NAG") != "1"
	if nag {
		infra.ApplyCompliance(app)
	}
	assembly := app.Synth(nil)
	if !nag {
		return nil
	}
	// The packs again, over the templates just written: they see every
	// resource, also those the construct tree holds as plain CfnResource.
	unsuppressed, err := infra.NagTemplates(*assembly.Directory())
	if err != nil {
		return fmt.Errorf("cdk-nag over the synthesized templates: %w", err)
	}
	if unsuppressed > 0 {
		return fmt.Errorf("cdk-nag over the synthesized templates: %d unsuppressed errors (reports in %s/%s; go run ./cmd/nagreport lists them)",
			unsuppressed, *assembly.Directory(), infra.TemplateNagDir)
	}
	return nil
}
