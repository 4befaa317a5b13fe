package redact

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestStringRemovesEveryForm(t *testing.T) {
	sec := `p+a/ss"w=rd&x y`
	for _, form := range []string{
		sec,
		`p+a/ss\"w=rd\u0026x y`,
		url.QueryEscape(sec),
		base64.StdEncoding.EncodeToString([]byte(sec)),
		base64.RawURLEncoding.EncodeToString([]byte(sec)),
	} {
		in := "before " + form + " after"
		out := String(in, sec)
		if strings.Contains(out, form) || !strings.Contains(out, Mask) {
			t.Errorf("form %q not redacted: %q", form, out)
		}
		if !Contains(in, sec) {
			t.Errorf("Contains missed form %q", form)
		}
	}
	if Contains("nothing here", sec) {
		t.Error("Contains found a secret that is not there")
	}
	if got := String("keep", ""); got != "keep" {
		t.Errorf("empty secret changed text: %q", got)
	}
}

func TestErrorKeepsChain(t *testing.T) {
	base := errors.New("sentinel")
	err := fmt.Errorf("login with hunter22 failed: %w", base)
	r := Error(err, "hunter22")
	if strings.Contains(r.Error(), "hunter22") {
		t.Fatalf("secret left in %q", r)
	}
	if !errors.Is(r, base) {
		t.Fatal("redacted error lost its chain")
	}
	if Error(nil, "x") != nil {
		t.Fatal("nil error became non-nil")
	}
}
