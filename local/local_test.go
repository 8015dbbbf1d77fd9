//go:build linux

package local

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Stop (what Ctrl-C runs in make run) leaves nothing running: no API, no
// queue server, no emulator or function, no PostgreSQL, no binaries; and a
// start that is interrupted stops what it had started.
func TestStopLeavesNothingRunning(t *testing.T) {
	root, _ := filepath.Abs("..")
	p, err := Start(context.Background(), Options{Root: root, APIAddr: "127.0.0.1:0", Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	// Start the function's runtime too: the emulator starts it on the
	// first invocation, in a process group of its own.
	if _, err := p.invoke(context.Background(), []byte(`{"Records":[]}`)); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, proc := range []*process{p.api, p.queue, p.processor} {
		pids = append(pids, proc.cmd.Process.Pid)
		pids = append(pids, descendants(proc.cmd.Process.Pid)...)
	}
	if len(pids) < 4 {
		t.Fatalf("processes %v: the function's runtime did not start", pids)
	}
	dsn, bin := p.DSN, p.bin
	p.Stop()
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			if stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); err == nil && !zombie(stat) {
				t.Errorf("process %d is still running: %s", pid, stat)
			}
		}
	}
	if _, err := os.Stat(bin); !os.IsNotExist(err) {
		t.Errorf("%s is still there (%v)", bin, err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(); err == nil {
		t.Error("PostgreSQL still answers")
	}

	// Interrupted while it starts: nothing left either.
	before := platformDirs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if p, err := Start(ctx, Options{Root: root, APIAddr: "127.0.0.1:0", Log: io.Discard}); err == nil {
		p.Stop()
		t.Fatal("a start cancelled after 300 ms succeeded; the test needs a shorter deadline")
	}
	if after := platformDirs(t); after > before {
		t.Errorf("an interrupted start left %d directories behind", after-before)
	}
}

func platformDirs(t *testing.T) int {
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), "payments-local-*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(dirs)
}

// zombie reports a process that has exited and waits for its parent to
// reap it (state Z): not running.
func zombie(stat []byte) bool {
	for i := len(stat) - 1; i > 0; i-- {
		if stat[i] == ')' {
			return i+2 < len(stat) && stat[i+2] == 'Z'
		}
	}
	return false
}
