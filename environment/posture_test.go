package environment_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fintech/payments-platform/environment"
)

var update = flag.Bool("update", false, "rewrite the README's posture table from environment.PostureTable")

const (
	postureBegin = "<!-- posture:begin -->\n"
	postureEnd   = "<!-- posture:end -->"
)

// The README's "What production changes" table is environment.PostureTable,
// so it can never disagree with what the constructs read.
func TestREADMEPostureTable(t *testing.T) {
	path := filepath.Join("..", "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	begin, end := strings.Index(readme, postureBegin), strings.Index(readme, postureEnd)
	if begin < 0 || end < begin {
		t.Fatalf("README.md has no %q ... %q block", strings.TrimSpace(postureBegin), postureEnd)
	}
	got, want := readme[begin+len(postureBegin):end], environment.PostureTable()
	if got == want {
		return
	}
	if !*update {
		t.Fatalf("README.md's posture table is not environment.PostureTable(); run go test ./environment -run Posture -update\nwant:\n%s", want)
	}
	if err := os.WriteFile(path, []byte(readme[:begin+len(postureBegin)]+want+readme[end:]), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Production and the other environments differ in every row of the table:
// a row whose values agree would tell the reader nothing.
func TestPosturesDiffer(t *testing.T) {
	table := environment.PostureTable()
	for _, row := range strings.Split(strings.TrimSpace(table), "\n")[2:] {
		cells := strings.Split(row, " | ")
		if len(cells) != 3 {
			t.Fatalf("row %q has %d cells", row, len(cells))
		}
		if cells[1] == strings.TrimSuffix(cells[2], " |") {
			t.Errorf("row %q: production and the other environments agree", row)
		}
	}
}

// Outside production nothing is reserved (a new account's concurrency limit
// is 10 or 50, and Lambda keeps 100 unreserved), and the processor's
// production reservation is room above the event source's concurrency.
func TestPostureReservations(t *testing.T) {
	if got := environment.PostureOf(false).ProcessorReservedConcurrency; got != 0 {
		t.Errorf("outside production %d executions are reserved", got)
	}
	if got := environment.PostureOf(true).ProcessorReservedConcurrency; got <= environment.ProcessorMaxConcurrency {
		t.Errorf("production reserves %d executions, not more than the event source's %d", got, environment.ProcessorMaxConcurrency)
	}
}
