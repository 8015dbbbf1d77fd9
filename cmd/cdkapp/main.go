// Command cdkapp is the CDK app: it reads and validates the context, builds
// every stack of one environment and runs the cdk-nag packs over them.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

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
	cfg, err := infra.LoadConfig(func(key string) any {
		return app.Node().TryGetContext(&key)
	}, os.Getenv)
	if err != nil {
		return err
	}
	// cdk.json runs the app from the module root.
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	infra.NewStacks(app, cfg, root)
	// Only `make bench-synth` sets this, to measure what the packs cost.
	if os.Getenv("CDKAPP_SKIP_NAG") != "1" {
		infra.ApplyCompliance(app)
	}
	app.Synth(nil)
	return nil
}
