package dbrotate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/nexo-org/nexo-bot/integrations/dbrotate"
	"github.com/nexo-org/nexo-bot/integrations/dbrotate/pgtemp"
)

func info(s *pgtemp.Server, user, password string) dbrotate.ConnInfo {
	return dbrotate.ConnInfo{Host: s.Host, Port: s.Port, Database: "postgres", User: user, Password: password, SSLMode: "disable"}
}

func TestAlterPasswordLogsInWithNewNotOld(t *testing.T) {
	srv := pgtemp.Start(t)
	ctx := context.Background()
	srv.Exec(t, `CREATE ROLE nexo_user LOGIN PASSWORD 'old-pass'`)
	old := info(srv, "nexo_user", "old-pass")
	if err := dbrotate.CheckLogin(ctx, old); err != nil {
		t.Fatalf("old password before rotation: %v", err)
	}
	const newPass = `n3w+/pa'ss\wo"rd=`
	if err := dbrotate.AlterPassword(ctx, old, "nexo_user", newPass); err != nil {
		t.Fatal(err)
	}
	if err := dbrotate.CheckLogin(ctx, info(srv, "nexo_user", newPass)); err != nil {
		t.Fatalf("new password: %v", err)
	}
	err := dbrotate.CheckLogin(ctx, old)
	if err == nil {
		t.Fatal("old password still logs in")
	}
	if !dbrotate.IsAuthFailure(err) {
		t.Fatalf("want an authentication failure, got %v", err)
	}
	if strings.Contains(err.Error(), "old-pass") {
		t.Fatalf("password in error: %v", err)
	}
	// The wrong current password: refused, nothing changed, no leak.
	err = dbrotate.AlterPassword(ctx, old, "nexo_user", "never-set-this")
	if err == nil || strings.Contains(err.Error(), "never-set-this") || strings.Contains(err.Error(), "old-pass") {
		t.Fatalf("alter with a wrong current password: %v", err)
	}
	if err := dbrotate.CheckLogin(ctx, info(srv, "nexo_user", newPass)); err != nil {
		t.Fatalf("failed alter changed the password: %v", err)
	}
}

func TestStoredVerifierIsSCRAM(t *testing.T) {
	srv := pgtemp.Start(t)
	ctx := context.Background()
	srv.Exec(t, `CREATE ROLE app LOGIN PASSWORD 'a'`)
	if err := dbrotate.AlterPassword(ctx, info(srv, "app", "a"), "app", "plain-text-never-stored"); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, srv.URL(srv.User, srv.Password, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var stored string
	if err := conn.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = 'app'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "SCRAM-SHA-256$4096:") || strings.Contains(stored, "plain-text") {
		t.Fatalf("stored %q", stored)
	}
}

func TestRoleNameCannotInject(t *testing.T) {
	srv := pgtemp.Start(t)
	ctx := context.Background()
	role := `nexo"; DROP ROLE x; --`
	srv.Exec(t, `CREATE ROLE x`)
	srv.Exec(t, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD 'o''ld'`, pgx.Identifier{role}.Sanitize()))
	cur := info(srv, role, "o'ld")
	if err := dbrotate.AlterPassword(ctx, cur, role, "fresh'); DROP ROLE x; --"); err != nil {
		t.Fatal(err)
	}
	if err := dbrotate.CheckLogin(ctx, info(srv, role, "fresh'); DROP ROLE x; --")); err != nil {
		t.Fatalf("new password: %v", err)
	}
	conn, err := pgx.Connect(ctx, srv.URL(srv.User, srv.Password, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname IN ('x', $1)`, role).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("roles left: %d, want 2 (injection dropped one)", n)
	}
}

func TestBadInputAndRedaction(t *testing.T) {
	ctx := context.Background()
	c := dbrotate.ConnInfo{Host: "127.0.0.1", Port: 1, Database: "d", User: "u", Password: "top-secret-pw"}
	for _, s := range []string{c.String(), fmt.Sprintf("%v %+v %#v", c, c, c), mustJSON(t, c)} {
		if strings.Contains(s, "top-secret-pw") {
			t.Fatalf("password printed: %s", s)
		}
	}
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "conn", c)
	if strings.Contains(buf.String(), "top-secret-pw") {
		t.Fatalf("password logged: %s", buf.String())
	}
	if err := dbrotate.AlterPassword(ctx, c, "", "x"); err == nil {
		t.Fatal("empty role accepted")
	}
	if err := dbrotate.AlterPassword(ctx, c, "u", ""); err == nil {
		t.Fatal("empty password accepted")
	}
	if err := dbrotate.CheckLogin(ctx, dbrotate.ConnInfo{Host: "h"}); err == nil {
		t.Fatal("missing port/user accepted")
	}
	err := dbrotate.CheckLogin(ctx, c) // nothing listens on port 1
	if err == nil || strings.Contains(err.Error(), "top-secret-pw") {
		t.Fatalf("connect error: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
