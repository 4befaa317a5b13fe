package binsize

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestModuleOf(t *testing.T) {
	mods := []string{"github.com/nexo-org/nexo-bot", "k8s.io/api", "k8s.io/apimachinery", "gopkg.in/yaml.v3", "github.com/aws/aws-sdk-go-v2", "github.com/aws/aws-sdk-go-v2/service/secretsmanager"}
	for name, want := range map[string]string{
		"k8s.io/api/core/v1.(*Pod).Marshal":                                   "k8s.io/api",
		"type:*k8s.io/api/core/v1.Pod":                                        "k8s.io/api",
		"type:.eq.k8s.io/apimachinery/pkg/apis/meta/v1.TypeMeta":              "k8s.io/apimachinery",
		"go:itab.*k8s.io/api/core/v1.Pod,k8s.io/apimachinery/pkg/runtime.Obj": "k8s.io/api",
		"gopkg.in/yaml.v3.(*parser).parse":                                    "gopkg.in/yaml.v3",
		"github.com/aws/aws-sdk-go-v2/service/secretsmanager.New":             "github.com/aws/aws-sdk-go-v2/service/secretsmanager",
		"github.com/aws/aws-sdk-go-v2/aws.Config.Copy":                        "github.com/aws/aws-sdk-go-v2",
		"github.com/nexo-org/nexo-bot/integrations/kube.(*Client).Pods":       "github.com/nexo-org/nexo-bot",
		"type:[4]github.com/nexo-org/nexo-bot/chat.Block":                     "github.com/nexo-org/nexo-bot",
		"runtime.main":                     Std,
		"net/http.(*Client).Do":            Std,
		"vendor/golang.org/x/net/idna.New": Std,
		"go:func.*":                        Runtime,
		"go:string.*":                      Runtime,
		"k8s.io/apimachineryX.F":           Runtime,
	} {
		if got := ModuleOf(name, mods); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}

// A small program built here: every byte is accounted for, the standard
// library dominates, and the program's own module shows up.
func TestAnalyzeABinary(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/hello\n\ngo 1.22\n")
	write("main.go", "package main\n\nimport \"fmt\"\n\nvar table [1 << 16]byte\n\nfunc main() { table[1] = 1; fmt.Println(\"hello\", table[1:2]) }\n")
	build := func(out string, flags ...string) string {
		cmd := exec.Command(goBin, append(append([]string{"build", "-trimpath"}, flags...), "-o", out, ".")...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
		return filepath.Join(dir, out)
	}
	full := build("hello")
	stripped := build("hello-stripped", "-ldflags=-s -w")
	rep, err := Analyze(full)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, r := range rep.Rows {
		if r.Bytes < 0 {
			t.Errorf("%s: negative %d", r.Module, r.Bytes)
		}
		sum += r.Bytes
	}
	if sum != rep.Loaded {
		t.Errorf("rows sum to %d, loaded sections are %d", sum, rep.Loaded)
	}
	st, err := os.Stat(stripped)
	if err != nil {
		t.Fatal(err)
	}
	if diff := st.Size() - rep.Loaded; diff < 0 || diff > 64<<10 {
		t.Errorf("stripped file %d bytes, loaded sections %d: not within 64 KiB", st.Size(), rep.Loaded)
	}
	if rep.Rows[0].Module != Std {
		t.Errorf("largest row %s, want the standard library", rep.Rows[0].Module)
	}
	if rep.Of("example.com/hello") == 0 {
		t.Errorf("the program's module is missing: %+v", rep.Rows)
	}
	if _, err := Analyze(stripped); err == nil || !strings.Contains(err.Error(), "no symbol table") {
		t.Errorf("a stripped binary: %v", err)
	}
	var buf bytes.Buffer
	WriteTable(&buf, []string{"a", "b"}, []Report{rep, rep}, 2, 1)
	if !strings.Contains(buf.String(), "| std |") || !strings.Contains(buf.String(), "loaded sections") {
		t.Errorf("table:\n%s", buf.String())
	}
}
