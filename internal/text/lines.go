package text

import "strings"

// TrimLines drops trailing spaces (tabwriter padding) and the last newline.
func TrimLines(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
