package registry

import (
	"reflect"
	"testing"
)

func TestNearestTags(t *testing.T) {
	tags := []string{"2024.04.28", "2024.05.01", "2024.05.01-hotfix", "2024.05.03", "2024.06.01", "latest", "2023.05.02", "2024.05.01"}
	cases := []struct {
		want string
		n    int
		out  []string
	}{
		// 2024.05.02 does not exist: one day either side, ties by edit distance then name.
		{"2024.05.02", 3, []string{"2024.05.01", "2024.05.03", "2024.05.01-hotfix"}},
		{"2024.05.01-hotfx", 2, []string{"2024.05.01-hotfix", "2024.05.01"}},
		{"2024.06.15", 1, []string{"2024.06.01"}},
		// Not CalVer: edit distance only.
		{"lates", 2, []string{"latest", "2023.05.02"}}, // then a tie at distance 10, by name
		{"2024.05.02", 0, nil},
	}
	for _, c := range cases {
		if got := NearestTags(tags, c.want, c.n); !reflect.DeepEqual(got, c.out) {
			t.Errorf("NearestTags(%q, %d) = %v, want %v", c.want, c.n, got, c.out)
		}
	}
	if got := NearestTags(tags, "2024.05.02", 100); len(got) != 7 || got[len(got)-1] != "latest" {
		t.Errorf("all tags, deduplicated, non-CalVer last: %v", got)
	}
	if got := NearestTags(nil, "2024.05.02", 3); got != nil {
		t.Errorf("no tags: %v", got)
	}
}

func TestParseCalVer(t *testing.T) {
	if d, s, ok := ParseCalVer("2024.02.29-rc1"); !ok || s != "rc1" || d.Day() != 29 {
		t.Errorf("leap day: %v %q %v", d, s, ok)
	}
	for _, bad := range []string{"2023.02.29", "2024.13.01", "24.05.01", "v2024.05.01", "2024.5.1"} {
		if _, _, ok := ParseCalVer(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"2024.05.01", "2024.05.02", 1}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("%q %q: %d want %d", c.a, c.b, got, c.d)
		}
	}
}

func BenchmarkNearestTags(b *testing.B) {
	var tags []string
	for i := 0; i < 2000; i++ {
		tags = append(tags, "2024."+string(rune('0'+i%10))+"1.01-"+string(rune('a'+i%26)))
	}
	for b.Loop() {
		NearestTags(tags, "2024.05.02", 3)
	}
}
