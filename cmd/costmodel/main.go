// Command costmodel estimates the monthly cost of a non-production and a
// production environment from their synthesized assemblies (package cost)
// and rewrites the generated section of docs/COST.md.
//
//	costmodel <non-production cdk.out> <production cdk.out> <docs/COST.md>
package main

import (
	"fmt"
	"os"

	"github.com/fintech/payments-platform/assembly"
	"github.com/fintech/payments-platform/cost"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: costmodel <non-production cdk.out> <production cdk.out> <docs/COST.md>")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "costmodel:", err)
		os.Exit(1)
	}
}

func run(nonProductionDir, productionDir, docPath string) error {
	nonProduction, err := assembly.Load(nonProductionDir)
	if err != nil {
		return err
	}
	production, err := assembly.Load(productionDir)
	if err != nil {
		return err
	}
	section, err := cost.Section(nonProduction, production)
	if err != nil {
		return err
	}
	doc, err := os.ReadFile(docPath)
	if err != nil {
		return err
	}
	updated, err := cost.ReplaceSection(string(doc), section)
	if err != nil {
		return fmt.Errorf("%s: %w", docPath, err)
	}
	fmt.Print(section)
	return os.WriteFile(docPath, []byte(updated), 0o644)
}
