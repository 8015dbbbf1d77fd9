// Command diagram writes the architecture of a synthesized cloud assembly
// as a Graphviz graph (package diagram); `make diagram` renders it into
// docs/.
//
//	diagram [cdk.out] > docs/architecture.dot
package main

import (
	"fmt"
	"os"

	"github.com/fintech/payments-platform/assembly"
	"github.com/fintech/payments-platform/diagram"
)

func main() {
	dir := "cdk.out"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	stacks, err := assembly.Load(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "diagram:", err)
		os.Exit(1)
	}
	diagram.Build(stacks).WriteDOT(os.Stdout)
}
