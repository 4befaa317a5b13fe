package text

import (
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer sentence", 8, "a longe…"},
		{"ção ação", 4, "ção…"},
		{"日本語テキスト", 3, "日本…"},
		{"abc", 1, "a"},
		{"abc", 0, ""},
	}
	for _, c := range cases {
		got := Clip(c.in, c.n)
		if got != c.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
		if utf8.RuneCountInString(got) > c.n && c.n > 0 {
			t.Errorf("Clip(%q, %d) has %d runes", c.in, c.n, utf8.RuneCountInString(got))
		}
	}
}

func TestClipBytes(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc"},
		{"ção", 1, ""},  // 'ç' is two bytes
		{"ção", 2, "ç"}, // cut before 'ã'
		{"ção", 3, "ç"},
		{"ção", 4, "çã"},
	}
	for _, c := range cases {
		got := ClipBytes(c.in, c.n)
		if got != c.want || !utf8.ValidString(got) || len(got) > c.n {
			t.Errorf("ClipBytes(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
