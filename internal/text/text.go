// Package text holds the string helpers every layer shares: one of each.
package text

import (
	"crypto/rand"
	"encoding/hex"
)

// Clip shortens s to at most n runes, ending in "…" when it was cut. It
// never splits a UTF-8 sequence.
func Clip(s string, n int) string {
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n == 1 {
		return string(r[:1])
	}
	return string(r[:n-1]) + "…"
}

// ClipBytes shortens s to at most n bytes without splitting a UTF-8
// sequence and without an ellipsis (for byte-limited fields).
func ClipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := 0
	for i := range s {
		if i > n {
			break
		}
		cut = i
	}
	if len(s) <= n {
		cut = len(s)
	}
	return s[:cut]
}

// Ref is a short random reference id ("e3f9a1c2") that ties what a person
// is told to the log line with the details.
func Ref() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
