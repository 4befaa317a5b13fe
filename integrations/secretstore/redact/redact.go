// Package redact removes secret values from text and errors before they
// reach a log, a chat message, a stored record or an error string.
package redact

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
)

// Mask is what a secret is replaced with.
const Mask = "[REDACTED]"

// Forms returns the spellings under which a secret can show up in text: the
// raw value, its JSON-string, URL-query and URL-path escapes, and its
// standard and URL-safe base64 encodings (padded and not). Empty secrets
// have no forms.
func Forms(secret string) []string {
	if secret == "" {
		return nil
	}
	js, _ := json.Marshal(secret)
	set := map[string]bool{
		secret:                        true,
		strings.Trim(string(js), `"`): true,
		url.QueryEscape(secret):       true,
		url.PathEscape(secret):        true,
		base64.StdEncoding.EncodeToString([]byte(secret)):    true,
		base64.RawStdEncoding.EncodeToString([]byte(secret)): true,
		base64.URLEncoding.EncodeToString([]byte(secret)):    true,
		base64.RawURLEncoding.EncodeToString([]byte(secret)): true,
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	// Longest first, so a form containing another is replaced whole.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j]) > len(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// String replaces every form of every secret in s with Mask.
func String(s string, secrets ...string) string {
	for _, sec := range secrets {
		for _, f := range Forms(sec) {
			s = strings.ReplaceAll(s, f, Mask)
		}
	}
	return s
}

// Contains reports whether any form of any secret occurs in s.
func Contains(s string, secrets ...string) bool {
	for _, sec := range secrets {
		for _, f := range Forms(sec) {
			if strings.Contains(s, f) {
				return true
			}
		}
	}
	return false
}

// Error returns err with every form of the secrets removed from its text.
// The result still unwraps to err, for errors.Is and errors.As; only its
// Error() text is scrubbed. A nil err stays nil.
func Error(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := String(msg, secrets...)
	if clean == msg {
		if _, ok := err.(*redacted); ok {
			return err
		}
	}
	return &redacted{msg: clean, err: err}
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }
