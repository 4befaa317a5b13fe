package gitops

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnsafePath is returned (wrapped) for a path that could reach outside the
// repository: absolute, with "..", ".git", empty components, or through a
// symbolic link stored in the repository.
var ErrUnsafePath = errors.New("path outside the repository")

// CheckPath validates a repository-relative, slash-separated path such as
// "helm/nexo-be/values-prod.yaml". It does not look at the repository; the
// CLI additionally refuses paths that pass through a symbolic link.
func CheckPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: empty path", ErrUnsafePath)
	case strings.HasPrefix(p, "/"), len(p) > 1 && p[1] == ':':
		return fmt.Errorf("%w: %q is absolute; give a path relative to the repository root", ErrUnsafePath, p)
	case strings.ContainsAny(p, "\\\x00\n\r"):
		return fmt.Errorf("%w: %q contains a backslash or control character", ErrUnsafePath, p)
	}
	for _, part := range strings.Split(p, "/") {
		switch {
		case part == "" || part == ".":
			return fmt.Errorf("%w: %q has an empty or '.' component", ErrUnsafePath, p)
		case part == "..":
			return fmt.Errorf("%w: %q contains '..'", ErrUnsafePath, p)
		case strings.EqualFold(part, ".git"):
			return fmt.Errorf("%w: %q points into .git", ErrUnsafePath, p)
		}
	}
	return nil
}

// parentDirs lists the directory prefixes of p: "a/b/c" → ["a", "a/b"].
func parentDirs(p string) []string {
	var out []string
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			out = append(out, p[:i])
		}
	}
	return out
}
