// Package dbtest gives tests real, migrated databases: a SQLite file in a
// temporary folder, and a fresh database in a throwaway PostgreSQL cluster
// (initdb + pg_ctl on a free port) started once per test binary.
//
// Environment:
//   - MEDISAC_TEST_DATABASE_URL: use this PostgreSQL server instead of
//     starting a cluster (each test still gets its own database).
//   - MEDISAC_TEST_REQUIRE: comma-separated list (postgres, browser); a
//     requirement that cannot be met fails the test instead of skipping it.
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
)

// Required reports whether the named requirement (postgres, browser) is
// listed in MEDISAC_TEST_REQUIRE.
func Required(name string) bool {
	for _, r := range strings.Split(os.Getenv("MEDISAC_TEST_REQUIRE"), ",") {
		if strings.TrimSpace(r) == name {
			return true
		}
	}
	return false
}

// SkipOrFail skips the test with reason, or fails it when the requirement is
// listed in MEDISAC_TEST_REQUIRE.
func SkipOrFail(t testing.TB, requirement, reason string) {
	t.Helper()
	if Required(requirement) {
		t.Fatalf("%s required (MEDISAC_TEST_REQUIRE) but unavailable: %s", requirement, reason)
	}
	t.Skipf("skipped: %s unavailable: %s", requirement, reason)
}

// Each runs fn as two subtests, "sqlite" and "postgres", each on a fresh,
// migrated database.
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// EachURL is Each for tests that also hand the database's address to
// something else (a child process, the command line): fn gets the address
// and the database opened on it.
func EachURL(t *testing.T, fn func(t *testing.T, target string, d *db.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "medisac.db")
		fn(t, target, open(t, target))
	})
	t.Run("postgres", func(t *testing.T) {
		target := PostgresURL(t)
		fn(t, target, open(t, target))
	})
}

// SQLite returns a fresh migrated SQLite database, closed when t ends.
func SQLite(t testing.TB) *db.DB {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "medisac.db"))
}

// Postgres returns a fresh migrated database on the test PostgreSQL server,
// closed and dropped when t ends. Without a server it skips (or fails when
// required).
func Postgres(t testing.TB) *db.DB {
	t.Helper()
	return open(t, PostgresURL(t))
}

// open opens and migrates the database at target, closed when t ends.
func open(t testing.TB, target string) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

var dbCounter atomic.Int64

// PostgresURL creates a new empty database on the test server and returns
// its URL; the database is dropped when t ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base, err := server()
	if err != nil {
		SkipOrFail(t, "postgres", err.Error())
	}
	name := fmt.Sprintf("t_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, dbCounter.Add(1))
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String()
}

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error
	cluster    *pgCluster
)

func server() (string, error) {
	serverOnce.Do(func() {
		if u := os.Getenv("MEDISAC_TEST_DATABASE_URL"); u != "" {
			serverURL = u
			return
		}
		cluster, serverErr = startCluster()
		if serverErr == nil {
			serverURL = cluster.url
		}
	})
	return serverURL, serverErr
}

// Main runs the package's tests and then stops the PostgreSQL cluster if
// one was started. Call it from TestMain: os.Exit(dbtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if cluster != nil {
		cluster.stop()
	}
	return code
}

type pgCluster struct {
	dir  string
	bin  string
	url  string
	cred *syscall.Credential
}

func findPGBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", fmt.Errorf("initdb not found (install PostgreSQL, e.g. apt-get install postgresql)")
	}
	// Take the newest version.
	best := matches[0]
	bestV := 0
	for _, m := range matches {
		parts := strings.Split(m, string(filepath.Separator))
		if len(parts) > 4 {
			if v, err := strconv.Atoi(parts[4]); err == nil && v > bestV {
				best, bestV = m, v
			}
		}
	}
	return filepath.Dir(best), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startCluster() (*pgCluster, error) {
	bin, err := findPGBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "medisac-pg-")
	if err != nil {
		return nil, err
	}
	c := &pgCluster{dir: dir, bin: bin}
	// initdb refuses to run as root: run the cluster as the postgres user.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300", port, dir)
	if out, err := c.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		logb, _ := os.ReadFile(filepath.Join(dir, "log"))
		return nil, fmt.Errorf("pg_ctl start: %v: %s %s", err, out, logb)
	}
	c.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	return c, nil
}

func (c *pgCluster) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd.CombinedOutput()
}

func (c *pgCluster) stop() {
	_, _ = c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(c.dir)
}
