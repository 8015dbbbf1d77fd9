// Package pgtest starts a throwaway PostgreSQL server for tests: initdb and
// pg_ctl in a temporary directory, on a free loopback port, stopped when the
// tests end. As root it runs the server as the "postgres" user, since
// PostgreSQL refuses to run as root.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// Server is a running PostgreSQL.
type Server struct {
	dir, bin string
	port     int
	asUser   string // run binaries as this user ("" for the current one)
	dbs      atomic.Int64
}

// BinDir finds the PostgreSQL server binaries: Debian's complete set under
// /usr/lib/postgresql/<version>/bin (newest first), else initdb on PATH.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if path, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(path), nil
	}
	return "", fmt.Errorf("PostgreSQL server binaries not found (initdb): install Debian's postgresql package (make test does)")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start initializes and starts a server. Call Stop when done.
func Start() (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		s.asUser = "postgres"
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if s.port, err = freePort(); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := s.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.Resume(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Options are extra server settings (e.g. "-c fsync=on" for benchmarks).
var Options = "-c fsync=off"

// auditOptions load pgaudit as Aurora's cluster parameter group does
// (infra/database.go): DDL and role changes of every session, writes to
// the tables granted to rds_pgaudit (object auditing), never statement
// parameters.
const auditOptions = "-c shared_preload_libraries=pgaudit -c pgaudit.log=ddl,role -c pgaudit.role=rds_pgaudit -c pgaudit.log_parameter=off -c pgaudit.log_statement_once=on"

// PgAudit reports whether the server has pgaudit (Debian's
// postgresql-<version>-pgaudit, which make postgres installs).
func (s *Server) PgAudit() bool {
	_, err := os.Stat(filepath.Join(filepath.Dir(s.bin), "lib", "pgaudit.so"))
	return err == nil
}

// Log returns what the server has logged so far (pgaudit writes there).
func (s *Server) Log() (string, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "server.log"))
	return string(b), err
}

// Resume starts the server (again) on its port and data directory.
func (s *Server) Resume() error {
	// fsync off by default: these databases are disposable, and tests should
	// measure our code, not the disk.
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300 %s", s.port, s.dir, Options)
	if s.PgAudit() {
		opts += " " + auditOptions
	}
	if err := s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-o", opts, "-l", filepath.Join(s.dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		return fmt.Errorf("%w\n%s", err, log)
	}
	return nil
}

// Pause stops the server, as an outage would, keeping its data for Resume.
func (s *Server) Pause() error {
	return s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w", "stop")
}

// BinPath is the path of a PostgreSQL program (e.g. pgbench).
func (s *Server) BinPath(name string) string { return filepath.Join(s.bin, name) }

func (s *Server) run(name string, args ...string) error {
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	return nil
}

// Stop stops the server immediately and removes its files.
func (s *Server) Stop() {
	_ = s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// DSN is the connection string of a database on this server.
func (s *Server) DSN(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, database)
}

// NewDatabase creates an empty database, as on Aurora: the rds_iam role
// exists (Aurora provides it; plain PostgreSQL does not). It returns the
// DSN; the database is dropped with the server.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	dsn, err := s.CreateDatabase()
	if err != nil {
		tb.Fatal(err)
	}
	return dsn
}

// CreateDatabase is NewDatabase for use outside tests (benchmarks).
func (s *Server) CreateDatabase() (string, error) {
	name := fmt.Sprintf("test_%d", s.dbs.Add(1))
	admin, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer admin.Close()
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	if _, err := admin.ExecContext(ctx, `DO $$ BEGIN CREATE ROLE rds_iam; EXCEPTION WHEN duplicate_object THEN NULL; END $$`); err != nil {
		return "", err
	}
	return s.DSN(name), nil
}

// Open connects to dsn and closes the pool when the test ends.
func Open(tb testing.TB, dsn string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// RunTests is a test package's TestMain body: it starts a server into
// *server, runs the tests, stops the server and returns the exit code.
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.RunTests(m, &server)) }
func RunTests(m *testing.M, server **Server) int {
	s, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	*server = s
	defer s.Stop()
	return m.Run()
}
