package gitops

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Golden pairs: testdata/values/<in>.in.yaml edited must equal <out>.out.yaml
// byte for byte. The expected files were written by hand (a plain text
// replacement of the one value), not by this code.
func TestSetTagGolden(t *testing.T) {
	cases := []struct {
		in, out  string
		key, tag string
		doc      int
		before   string
	}{
		{"comments", "comments", ".image.tag", "2026.02.17", AnyDoc, "2026.02.10"},
		{"double_quoted", "double_quoted", ".image.tag", "2026.02.17", AnyDoc, "2026.02.10"},
		{"single_quoted", "single_quoted", ".image.tag", "2026.02.17", AnyDoc, "2026.02.10"},
		{"anchors", "anchors", ".image.tag", "2026.02.17", AnyDoc, "2026.02.03"},
		{"anchored_value", "anchored_value", ".image.tag", "2026.02.17", AnyDoc, "2026.02.10"},
		{"multi_doc", "multi_doc", ".image.tag", "2026.02.17", AnyDoc, "2026.02.10"},
		{"multi_doc", "multi_doc_index2", ".image.tag", "2026.02.17", 2, "2026.02.10"},
		{"crlf", "crlf", ".image.tag", "2026.02.17", AnyDoc, "2026.02.10"},
		{"flow", "flow", ".image.tag", "2026.02.17", AnyDoc, "2026.02.10"},
		{"plain_needs_quotes", "plain_needs_quotes", ".image.tag", "1.10", AnyDoc, "1.9"},
		{"empty_quoted", "empty_quoted", ".image.tag", "2026.02.17", AnyDoc, ""},
		{"sequence", "sequence", ".containers[1].image.tag", "2026.02.17", AnyDoc, "2026.02.10"},
	}
	for _, c := range cases {
		t.Run(c.out, func(t *testing.T) {
			in := readGolden(t, c.in+".in.yaml")
			want := readGolden(t, c.out+".out.yaml")
			got, err := GetTagInDoc(in, c.doc, c.key)
			if err != nil || got != c.before {
				t.Fatalf("GetTag before = %q, %v; want %q", got, err, c.before)
			}
			out, err := SetTagInDoc(in, c.doc, c.key, c.tag)
			if err != nil {
				t.Fatalf("SetTag: %v", err)
			}
			if !bytes.Equal(out, want) {
				t.Fatalf("SetTag output differs from %s.out.yaml\n--- got ---\n%s\n--- want ---\n%s", c.out, out, want)
			}
			if got, err := GetTagInDoc(out, c.doc, c.key); err != nil || got != c.tag {
				t.Fatalf("GetTag after = %q, %v; want %q", got, err, c.tag)
			}
			// Idempotent: setting the same tag again changes nothing.
			again, err := SetTagInDoc(out, c.doc, c.key, c.tag)
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("second SetTag changed the bytes or failed: %v", err)
			}
		})
	}
}

func TestSetTagAnchoredValueFollowsAlias(t *testing.T) {
	out, err := SetTag(readGolden(t, "anchored_value.in.yaml"), ".image.tag", "2026.02.17")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := GetTag(out, ".worker.tag"); got != "2026.02.17" {
		t.Fatalf("alias *current should resolve to the new value, got %q", got)
	}
}

func TestSetTagRefusals(t *testing.T) {
	valid := []byte("image:\n  tag: 2026.02.10\n")
	cases := []struct {
		name, doc, key, tag, want string
	}{
		{"missing key", "image:\n  repository: x\n", ".image.tag", "2026.02.17", "key not found"},
		{"missing parent", "replicaCount: 1\n", ".image.tag", "2026.02.17", "key not found"},
		{"newline", string(valid), ".image.tag", "2026.02.17\nevil: true", "not allowed"},
		{"colon space", string(valid), ".image.tag", "a: b", "not allowed"},
		{"comment", string(valid), ".image.tag", "v1#x", "not allowed"},
		{"double quote", string(valid), ".image.tag", `v1"`, "not allowed"},
		{"single quote", string(valid), ".image.tag", `v1'`, "not allowed"},
		{"flow chars", string(valid), ".image.tag", "v1,{x}", "not allowed"},
		{"empty tag", string(valid), ".image.tag", "", "not allowed"},
		{"bad key", string(valid), "image.tag", "v1", "yq-style"},
		{"mapping", string(valid), ".image", "v1", "not a single value"},
		{"alias value", "base: &b 1.0\nimage:\n  tag: *b\n", ".image.tag", "v1", "alias"},
		{"through alias", "x: &img\n  tag: 1\nsidecar:\n  image: *img\n", ".sidecar.image.tag", "v1", "alias"},
		{"block scalar", "image:\n  tag: |\n    2026.02.10\n", ".image.tag", "v1", "block scalar"},
		{"null", "image:\n  tag:\n", ".image.tag", "v1", "no value"},
		{"doc index", string(valid), ".image.tag", "v1", "no document"},
		{"invalid yaml", "image: [\n", ".image.tag", "v1", "does not parse"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			idx := AnyDoc
			if c.name == "doc index" {
				idx = 3
			}
			out, err := SetTagInDoc([]byte(c.doc), idx, c.key, c.tag)
			if err == nil {
				t.Fatalf("SetTag accepted it:\n%s", out)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
			if out != nil {
				t.Fatalf("returned bytes with an error")
			}
		})
	}
	_, err := GetTag([]byte("a: 1\n"), ".image.tag")
	if !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("GetTag missing key: %v, want ErrKeyNotFound", err)
	}
}

func TestParseKey(t *testing.T) {
	segs, err := parseKey(`.a."b.c"[2].d`)
	if err != nil {
		t.Fatal(err)
	}
	want := []keySeg{{"a", -1}, {"b.c", -1}, {"", 2}, {"d", -1}}
	if len(segs) != len(want) {
		t.Fatalf("got %+v", segs)
	}
	for i := range want {
		if segs[i] != want[i] {
			t.Fatalf("segment %d = %+v, want %+v", i, segs[i], want[i])
		}
	}
	for _, bad := range []string{"", ".", "a.b", ".a..b", ".a[x]", ".a[1", `."a`} {
		if _, err := parseKey(bad); err == nil {
			t.Errorf("parseKey(%q) accepted", bad)
		}
	}
}

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "values", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzSetTag(f *testing.F) {
	f.Add([]byte("image:\n  tag: 2026.02.10 # c\n"), "2026.02.17")
	f.Add([]byte("a: {tag: \"x\"}\nimage: {tag: 'y'}\n"), "v1.2.3")
	f.Fuzz(func(t *testing.T, doc []byte, tag string) {
		out, err := SetTag(doc, ".image.tag", tag)
		if err != nil {
			return
		}
		if got, err := GetTag(out, ".image.tag"); err != nil || got != tag {
			t.Fatalf("after SetTag, GetTag = %q, %v; want %q", got, err, tag)
		}
	})
}

func TestGetTagFollowsMergeKeys(t *testing.T) {
	doc := readGolden(t, "anchors.in.yaml")
	if got, err := GetTag(doc, ".image.repository"); err != nil || got != "ghcr.io/nexo-org/nexo-be" {
		t.Fatalf("merged repository = %q, %v", got, err)
	}
	if _, err := SetTag(doc, ".image.repository", "x"); err == nil {
		t.Fatal("SetTag edited a value that lives in a merged anchor")
	}
}
