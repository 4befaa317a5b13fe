// Package dbrotate changes a PostgreSQL role's password and checks a login,
// through pgx, without the password ever reaching an error, a log or the
// server's statement log in clear: when the server stores SCRAM-SHA-256
// verifiers, the new password is sent already hashed (as psql's \password
// does), so even log_statement=all records only the verifier.
package dbrotate

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nexo-org/nexo-bot/integrations/secretstore/redact"
)

// DefaultTimeout bounds one connection and its statements.
const DefaultTimeout = 15 * time.Second

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// ConnInfo is how to log in. Its String, LogValue and JSON forms hide the
// password.
type ConnInfo struct {
	Host     string
	Port     int
	Database string
	User     string
	Password string
	// SSLMode is a libpq sslmode (disable, require, verify-full, …); default "prefer".
	SSLMode string
}

// String describes the connection without the password.
func (c ConnInfo) String() string {
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=%s", c.User, net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), c.Database, c.sslMode())
}

// GoString is String, so %#v does not print the password either.
func (c ConnInfo) GoString() string { return c.String() }

// LogValue hides the password from slog.
func (c ConnInfo) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON hides the password.
func (c ConnInfo) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

func (c ConnInfo) sslMode() string {
	if c.SSLMode == "" {
		return "prefer"
	}
	return c.SSLMode
}

func (c ConnInfo) validate() error {
	switch {
	case c.Host == "":
		return errors.New("dbrotate: no host")
	case c.Port <= 0 || c.Port > 65535:
		return fmt.Errorf("dbrotate: bad port %d", c.Port)
	case c.User == "":
		return errors.New("dbrotate: no user")
	case c.Database == "":
		return errors.New("dbrotate: no database")
	}
	return nil
}

// connect parses a URL without the password (so sslmode and TLS follow
// libpq's rules) and sets the password on the parsed config.
func connect(ctx context.Context, c ConnInfo) (*pgx.Conn, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(c.User),
		Host:     net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
		Path:     "/" + c.Database,
		RawQuery: url.Values{"sslmode": {c.sslMode()}}.Encode(),
	}
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("dbrotate: %s: %w", c, redact.Error(err, c.Password))
	}
	cfg.Password = c.Password
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("dbrotate: log in to %s: %w", c, redact.Error(err, c.Password))
	}
	return conn, nil
}

// CheckLogin logs in with conn and runs SELECT 1.
func CheckLogin(ctx context.Context, conn ConnInfo) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	c, err := connect(ctx, conn)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("dbrotate: %s: SELECT 1: %w", conn, redact.Error(err, conn.Password))
	}
	return nil
}

// AlterPassword logs in with the current credentials in conn and sets role's
// password to newPassword with ALTER ROLE. The statement is built by the
// server (format('%I', '%L')), so the role name and the password are quoted
// by PostgreSQL itself and cannot inject SQL. The statement is never logged.
// A role can always change its own password.
func AlterPassword(ctx context.Context, conn ConnInfo, role, newPassword string) error {
	if role == "" {
		return errors.New("dbrotate: no role")
	}
	if newPassword == "" {
		return errors.New("dbrotate: empty new password")
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	c, err := connect(ctx, conn)
	if err != nil {
		return redact.Error(err, newPassword)
	}
	defer c.Close(context.WithoutCancel(ctx))
	scrub := func(err error, what string) error {
		return fmt.Errorf("dbrotate: %s: %s role %s: %w", conn, what, pgx.Identifier{role}.Sanitize(),
			redact.Error(err, newPassword, conn.Password))
	}
	literal := newPassword
	var encryption string
	if err := c.QueryRow(ctx, "SHOW password_encryption").Scan(&encryption); err != nil {
		return scrub(err, "read password_encryption for")
	}
	if encryption == "scram-sha-256" && printableASCII(newPassword) {
		v, err := SCRAMVerifier(newPassword)
		if err != nil {
			return scrub(err, "hash the password of")
		}
		literal = v
	}
	var stmt string
	if err := c.QueryRow(ctx, "SELECT format('ALTER ROLE %I WITH PASSWORD %L', $1::text, $2::text)", role, literal).Scan(&stmt); err != nil {
		return redact.Error(scrub(err, "build ALTER for"), literal)
	}
	if _, err := c.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol); err != nil {
		return redact.Error(scrub(err, "alter"), literal)
	}
	return nil
}

// IsAuthFailure reports whether err is PostgreSQL refusing the password
// (SQLSTATE 28P01) or the login (28000).
func IsAuthFailure(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "28P01" || pg.Code == "28000")
}

// SCRAMVerifier returns a PostgreSQL SCRAM-SHA-256 verifier for password,
// with a random salt: "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>".
// Passwords outside printable ASCII would need SASLprep first, so
// AlterPassword sends those in clear to the server instead.
func SCRAMVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return scramVerifier(password, salt, scramIterations)
}

func scramVerifier(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b(salt), b(stored[:]), b(serverKey)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Postgres is AlterPassword and CheckLogin as methods, for callers that take
// an interface.
type Postgres struct{}

// AlterPassword calls the package function.
func (Postgres) AlterPassword(ctx context.Context, conn ConnInfo, role, newPassword string) error {
	return AlterPassword(ctx, conn, role, newPassword)
}

// CheckLogin calls the package function.
func (Postgres) CheckLogin(ctx context.Context, conn ConnInfo) error { return CheckLogin(ctx, conn) }
