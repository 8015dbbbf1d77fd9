// Command synthbench measures `cdk synth` of the payments app against the
// synth of a one-resource app (./baseline) on the same toolchain, in the same
// run, and prints the ratio: these machines are noisy, absolute times drift.
// Variants without cdk-nag and without CDK's built-in template validation show
// where the time goes. Binaries are built first, so Go compilation is not
// measured; runs are interleaved so drift hits every variant alike.
//
//	synthbench [-runs 3]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

type variant struct {
	name string
	app  string   // binary
	env  []string // extra environment
}

func main() {
	runs := flag.Int("runs", 3, "synths per variant (the median is reported)")
	flag.Parse()
	if err := run(*runs); err != nil {
		fmt.Fprintln(os.Stderr, "synthbench:", err)
		os.Exit(1)
	}
}

func run(runs int) error {
	for _, b := range [][2]string{{"build/cdkapp", "./cmd/cdkapp"}, {"build/synthbaseline", "./cmd/synthbench/baseline"}} {
		if out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	variants := []variant{
		{name: "one-resource app (baseline)", app: "build/synthbaseline"},
		{name: "payments app", app: "build/cdkapp"},
		{name: "payments app without cdk-nag", app: "build/cdkapp", env: []string{"CDKAPP_SKIP_NAG=1"}},
		{name: "payments app without CFN validate", app: "build/cdkapp", env: []string{"CDK_VALIDATION=false"}},
	}
	times := make([][]time.Duration, len(variants))
	for i := 0; i < runs; i++ {
		for v, variant := range variants {
			d, err := synth(variant)
			if err != nil {
				return err
			}
			times[v] = append(times[v], d)
		}
	}
	base := median(times[0])
	fmt.Printf("cdk synth, median of %d interleaved runs (Go binaries prebuilt)\n", runs)
	for v, variant := range variants {
		m := median(times[v])
		fmt.Printf("  %-36s %6.2fs  %5.2fx baseline\n", variant.name, m.Seconds(), m.Seconds()/base.Seconds())
	}
	full := median(times[1])
	fmt.Printf("  cdk-nag costs         %5.2fs\n", (full - median(times[2])).Seconds())
	fmt.Printf("  CFN validate costs    %5.2fs\n", (full - median(times[3])).Seconds())
	fmt.Printf("ratio (payments app / baseline): %.2f (goal <= 3)\n", full.Seconds()/base.Seconds())
	return nil
}

func synth(v variant) (time.Duration, error) {
	out, err := os.MkdirTemp("", "synthbench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(out)
	app, _ := filepath.Abs(v.app)
	cmd := exec.Command("cdk", "synth", "--quiet", "--lookups=false", "--no-notices", "--app", app, "--output", out)
	cmd.Env = append(os.Environ(), v.env...)
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%s: %v\n%s", v.name, err, b)
	}
	return time.Since(start), nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
