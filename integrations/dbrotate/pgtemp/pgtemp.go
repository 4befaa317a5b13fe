// Package pgtemp starts a throwaway PostgreSQL server for tests: initdb in a
// temporary folder, scram-sha-256 password authentication on 127.0.0.1 (no
// trust), a random port, stopped and removed when the test ends. Unlike a
// shared server with trust authentication, it proves that a password
// really logs in and that a wrong one really does not.
package pgtemp

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running throwaway PostgreSQL.
type Server struct {
	Host string
	Port int
	// User and Password are the superuser's.
	User     string
	Password string
}

// Start runs initdb and pg_ctl from /usr/lib/postgresql/<newest>/bin (or
// $PG_BIN). As root it runs them as the "postgres" system user, since
// PostgreSQL refuses to run as root. It fails the test if it cannot.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := os.Getenv("PG_BIN")
	if bin == "" {
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
		if len(dirs) == 0 {
			t.Fatal("pgtemp: no PostgreSQL binaries (set PG_BIN to the folder holding initdb and pg_ctl)")
		}
		bin = dirs[0]
	}
	var cred *syscall.Credential
	var uid, gid int = -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("pgtemp: running as root and no postgres user: %v", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not t.TempDir(): its parent is private to the test's user.
	dir, err := os.MkdirTemp("", "nexo-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{Host: "127.0.0.1", User: "postgres", Password: randomPassword()}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		for _, p := range []string{dir, pwfile} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	run := func(name string, args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", name, err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run("initdb", "-D", data, "-U", s.User, "--auth=scram-sha-256", "--pwfile="+pwfile, "-N", "-E", "UTF8", "--locale=C"); err != nil {
		t.Fatalf("pgtemp: %v", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s.Port = freePort(t)
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off", s.Port, dir)
		lastErr = run("pg_ctl", "-D", data, "-o", opts, "-w", "-t", "20", "-l", filepath.Join(dir, "log"), "start")
		if lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		t.Fatalf("pgtemp: %v\n%s", lastErr, log)
	}
	t.Cleanup(func() { _ = run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop") })
	return s
}

// Exec runs statements as the superuser.
func (s *Server) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL(s.User, s.Password, "postgres"))
	if err != nil {
		t.Fatalf("pgtemp: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtemp: %s: %v", sql, err)
	}
}

// URL is a connection string for user and password (tests only: it holds
// the password in clear).
func (s *Server) URL(user, password, database string) string {
	cfg := fmt.Sprintf("host=%s port=%d user='%s' password='%s' dbname=%s sslmode=disable connect_timeout=5",
		s.Host, s.Port, escape(user), escape(password), database)
	return cfg
}

func escape(v string) string {
	out := make([]rune, 0, len(v))
	for _, r := range v {
		if r == '\'' || r == '\\' {
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
