package gitops

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// FileHistory lists the commits of origin/<branch> that touched path, newest
// first (the commits Log gives), each with the file's content then: one
// `git log --raw` names the blob of every version and one `git cat-file
// --batch` reads them all. A version that is a symbolic link is refused
// (ErrUnsafePath), as ReadFile refuses it; one where path is a directory or
// a submodule is an error.
func (c *CLI) FileHistory(ctx context.Context, path string) ([]Version, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	base, err := c.baseLocked(ctx)
	if err != nil {
		return nil, err
	}
	// -c shows a merge that resolved path differently from every parent
	// (the only merges git log lists for a path) as one combined raw line.
	out, err := c.run(ctx, nil, nil, "log", "-z", "--raw", "-c", "--no-abbrev", "--no-renames",
		"--format=%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%cI%x1f%s%x1f%b%x1f", base, "--", path)
	if err != nil {
		return nil, err
	}
	versions, blobs, err := parseFileLog(string(out), path)
	if err != nil {
		return nil, err
	}
	var want []string
	for i := range versions {
		switch b := blobs[i]; {
		case versions[i].Deleted:
		case b == "":
			// No raw line (not expected from git): read it as ReadFile does.
			content, err := c.showLocked(ctx, versions[i].SHA, path)
			if err != nil {
				return nil, err
			}
			versions[i].Content = content
		default:
			want = append(want, b)
		}
	}
	if len(want) == 0 {
		return versions, nil
	}
	contents, err := c.catBlobs(ctx, want)
	if err != nil {
		return nil, err
	}
	for i := range versions {
		if b := blobs[i]; b != "" && !versions[i].Deleted {
			versions[i].Content = contents[b]
		}
	}
	return versions, nil
}

// parseFileLog reads FileHistory's git log: per commit the header fields,
// then raw lines ":<modes> <shas> <status>\0<path>\0" (one colon per
// parent). It returns the versions and, by index, the blob of each ("" when
// git printed no raw line for path).
func parseFileLog(out, path string) ([]Version, []string, error) {
	var versions []Version
	var blobs []string
	for _, chunk := range strings.Split(out, "\x1e") {
		if strings.Trim(chunk, "\x00\n") == "" {
			continue
		}
		f := strings.SplitN(chunk, "\x1f", 8)
		if len(f) != 8 {
			return nil, nil, fmt.Errorf("gitops: unexpected git log record %.80q", chunk)
		}
		t, err := time.Parse(time.RFC3339, f[4])
		if err != nil {
			return nil, nil, fmt.Errorf("gitops: commit %s date: %w", f[0], err)
		}
		v := Version{Commit: Commit{SHA: f[0], Parents: strings.Fields(f[1]), Author: f[2], Email: f[3],
			Time: t, Subject: f[5], Body: strings.TrimSpace(f[6])}}
		blob := ""
		tokens := strings.Split(f[7], "\x00")
		for i := 0; i < len(tokens); i++ {
			meta := strings.TrimLeft(tokens[i], "\n")
			if !strings.HasPrefix(meta, ":") {
				continue
			}
			if i+1 >= len(tokens) {
				return nil, nil, fmt.Errorf("gitops: raw line without a path in commit %s", v.SHA)
			}
			i++
			if tokens[i] != path {
				return nil, nil, fmt.Errorf("gitops: %q is a directory at %.12s, not a file", path, v.SHA)
			}
			mode, sha, err := rawResult(meta)
			if err != nil {
				return nil, nil, fmt.Errorf("gitops: commit %s: %w", v.SHA, err)
			}
			switch mode {
			case "000000":
				v.Deleted = true
			case "120000":
				return nil, nil, fmt.Errorf("%w: %q is a symbolic link at %.12s", ErrUnsafePath, path, v.SHA)
			case "100644", "100755":
				blob = sha
			default:
				return nil, nil, fmt.Errorf("gitops: %q is not a file at %.12s (mode %s)", path, v.SHA, mode)
			}
		}
		versions = append(versions, v)
		blobs = append(blobs, blob)
	}
	return versions, blobs, nil
}

// rawResult is the resulting mode and blob of a raw diff line: for n
// colons (parents) there are n+1 modes, then n+1 object names, then the
// status; the last of each is the commit's.
func rawResult(meta string) (mode, sha string, err error) {
	n := len(meta) - len(strings.TrimLeft(meta, ":"))
	fields := strings.Fields(meta[n:])
	if n == 0 || len(fields) != 2*(n+1)+1 {
		return "", "", fmt.Errorf("unexpected raw diff line %q", meta)
	}
	return fields[n], fields[2*n+1], nil
}

// catBlobs reads blobs by object name with one git cat-file --batch.
func (c *CLI) catBlobs(ctx context.Context, names []string) (map[string][]byte, error) {
	var in bytes.Buffer
	for _, n := range names {
		in.WriteString(n)
		in.WriteByte('\n')
	}
	out, err := c.run(ctx, in.Bytes(), nil, "cat-file", "--batch")
	if err != nil {
		return nil, err
	}
	r := bufio.NewReader(bytes.NewReader(out))
	blobs := make(map[string][]byte, len(names))
	for range names {
		header, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("gitops: cat-file: %w", err)
		}
		f := strings.Fields(header)
		if len(f) != 3 || f[1] != "blob" {
			return nil, fmt.Errorf("gitops: cat-file: unexpected %q", strings.TrimSpace(header))
		}
		size, err := strconv.Atoi(f[2])
		if err != nil || size < 0 {
			return nil, fmt.Errorf("gitops: cat-file: size in %q", strings.TrimSpace(header))
		}
		content := make([]byte, size+1) // and the newline after it
		if _, err := io.ReadFull(r, content); err != nil {
			return nil, fmt.Errorf("gitops: cat-file %s: %w", f[0], err)
		}
		blobs[f[0]] = content[:size]
	}
	return blobs, nil
}

// ChangedPaths lists the files that differ between two commits (renames
// are a deletion and an addition).
func (c *CLI) ChangedPaths(ctx context.Context, from, to string) ([]string, error) {
	for _, rev := range []string{from, to} {
		if err := checkRev(rev); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ensure(ctx); err != nil {
		return nil, err
	}
	out, err := c.run(ctx, nil, nil, "diff", "--name-only", "-z", "--no-renames", from+"^{commit}", to+"^{commit}", "--")
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, p := range strings.Split(string(out), "\x00") {
		if p != "" {
			paths = append(paths, p)
		}
	}
	return paths, nil
}
