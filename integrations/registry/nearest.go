package registry

import (
	"math"
	"regexp"
	"sort"
	"time"
)

// calver matches nexo's image tags: YYYY.MM.DD with an optional -suffix.
var calver = regexp.MustCompile(`^(\d{4})\.(\d{2})\.(\d{2})(?:-([0-9A-Za-z._-]+))?$`)

// ParseCalVer reads a YYYY.MM.DD[-suffix] tag's date; ok is false for other tags
// and impossible dates.
func ParseCalVer(tag string) (date time.Time, suffix string, ok bool) {
	m := calver.FindStringSubmatch(tag)
	if m == nil {
		return time.Time{}, "", false
	}
	d, err := time.Parse("2006.01.02", m[1]+"."+m[2]+"."+m[3])
	if err != nil {
		return time.Time{}, "", false
	}
	return d, m[4], true
}

// NearestTags returns up to n distinct tags from tags nearest to want: for
// a CalVer want, CalVer tags first by distance in days, then by edit
// distance, then alphabetically; tags that are not CalVer (or any tag when
// want is not CalVer) come after, by edit distance. It backs the "did you
// mean" suggestion when a wanted tag does not exist.
func NearestTags(tags []string, want string, n int) []string {
	if n <= 0 || len(tags) == 0 {
		return nil
	}
	wantDate, _, wantOK := ParseCalVer(want)
	type cand struct {
		tag  string
		days float64
		edit int
	}
	seen := map[string]bool{}
	var cands []cand
	for _, t := range tags {
		if seen[t] {
			continue
		}
		seen[t] = true
		c := cand{tag: t, days: math.Inf(1), edit: editDistance(t, want)}
		if d, _, ok := ParseCalVer(t); ok && wantOK {
			c.days = math.Abs(d.Sub(wantDate).Hours() / 24)
		}
		cands = append(cands, c)
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.days != b.days {
			return a.days < b.days
		}
		if a.edit != b.edit {
			return a.edit < b.edit
		}
		return a.tag < b.tag
	})
	out := make([]string, 0, min(n, len(cands)))
	for _, c := range cands[:min(n, len(cands))] {
		out = append(out, c.tag)
	}
	return out
}

// editDistance is the Levenshtein distance over bytes (tags are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
