package argocd

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// swagger is the subset of argocd-server's swagger 2.0 document the
// contract test reads.
type swagger struct {
	Paths       map[string]map[string]json.RawMessage `json:"paths"`
	Definitions map[string]swaggerDef                 `json:"definitions"`
}

type swaggerDef struct {
	Type       string                 `json:"type"`
	Properties map[string]swaggerProp `json:"properties"`
	AllOf      []swaggerProp          `json:"allOf"`
}

type swaggerProp struct {
	Ref    string       `json:"$ref"`
	Type   string       `json:"type"`
	Format string       `json:"format"`
	Items  *swaggerProp `json:"items"`
}

func loadSwagger(t *testing.T) *swagger {
	t.Helper()
	b, err := os.ReadFile("testdata/argocd-swagger.json")
	if err != nil {
		t.Fatal(err)
	}
	var s swagger
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Definitions) < 100 {
		t.Fatalf("swagger has only %d definitions: wrong file?", len(s.Definitions))
	}
	return &s
}

func refName(ref string) string { return strings.TrimPrefix(ref, "#/definitions/") }

// properties returns a definition's properties, merged with its allOf parts.
func (s *swagger) properties(t reporter, def string) map[string]swaggerProp {
	t.Helper()
	d, ok := s.Definitions[def]
	if !ok {
		t.Fatalf("swagger has no definition %s", def)
	}
	out := map[string]swaggerProp{}
	for _, part := range d.AllOf {
		for k, v := range s.properties(t, refName(part.Ref)) {
			out[k] = v
		}
	}
	for k, v := range d.Properties {
		out[k] = v
	}
	return out
}

// reporter is the part of testing.TB the walker uses.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// fakeT collects errors instead of failing.
type fakeT struct{ errs []string }

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}
func (f *fakeT) Fatalf(format string, args ...any) { f.Errorf(format, args...) }

var timeType = reflect.TypeOf(time.Time{})

// checkStruct verifies every json field of typ exists in def, has a
// compatible type, and recurses into nested structs along the swagger $refs.
// It returns the number of fields checked.
func (s *swagger) checkStruct(t reporter, typ reflect.Type, def string, seen map[string]bool) int {
	t.Helper()
	key := typ.String() + "=" + def
	if seen[key] {
		return 0
	}
	seen[key] = true
	props := s.properties(t, def)
	n := 0
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		p, ok := props[name]
		if !ok {
			t.Errorf("%s.%s: json field %q is not in swagger definition %s", typ.Name(), f.Name, name, def)
			continue
		}
		n++
		n += s.checkField(t, typ.Name()+"."+f.Name, f.Type, p, seen)
	}
	return n
}

func (s *swagger) checkField(t reporter, where string, ft reflect.Type, p swaggerProp, seen map[string]bool) int {
	t.Helper()
	for ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	switch {
	case ft == timeType:
		if refName(p.Ref) != "v1Time" && p.Format != "date-time" {
			t.Errorf("%s: Go time but swagger has %+v", where, p)
		}
		return 0
	case ft.Kind() == reflect.Struct:
		if p.Ref == "" {
			t.Errorf("%s: Go struct but swagger property is %q", where, p.Type)
			return 0
		}
		return s.checkStruct(t, ft, refName(p.Ref), seen)
	case ft.Kind() == reflect.Slice:
		if p.Type != "array" || p.Items == nil {
			t.Errorf("%s: Go slice but swagger type %q", where, p.Type)
			return 0
		}
		return s.checkField(t, where+"[]", ft.Elem(), *p.Items, seen)
	case ft.Kind() == reflect.String:
		if p.Type != "string" {
			t.Errorf("%s: Go string but swagger type %q", where, p.Type)
		}
	case ft.Kind() == reflect.Bool:
		if p.Type != "boolean" {
			t.Errorf("%s: Go bool but swagger type %q", where, p.Type)
		}
	case ft.Kind() >= reflect.Int && ft.Kind() <= reflect.Int64:
		if p.Type != "integer" {
			t.Errorf("%s: Go int but swagger type %q", where, p.Type)
		}
		if p.Format == "int64" && ft.Kind() != reflect.Int64 {
			t.Errorf("%s: swagger int64 needs a Go int64", where)
		}
	default:
		t.Errorf("%s: unhandled Go kind %s", where, ft.Kind())
	}
	return 0
}

func TestTypesMatchSwagger(t *testing.T) {
	s := loadSwagger(t)
	roots := []struct {
		v   any
		def string
	}{
		{Application{}, "v1alpha1Application"},
		{ApplicationStatus{}, "v1alpha1ApplicationStatus"},
		{RevisionHistory{}, "v1alpha1RevisionHistory"},
		{OperationState{}, "v1alpha1OperationState"},
		{ResourceNode{}, "v1alpha1ResourceNode"},
		{ResourceTree{}, "v1alpha1ApplicationTree"},
		{ResourceStatus{}, "applicationv1alpha1ResourceStatus"},
		{SyncRequest{}, "applicationApplicationSyncRequest"},
		{RollbackRequest{}, "applicationApplicationRollbackRequest"},
		{PatchRequest{}, "applicationApplicationPatchRequest"},
		{APIError{}, "runtimeError"},
		{EventList{}, "eventsEventList"},
		{AppProject{}, "v1alpha1AppProject"},
	}
	seen := map[string]bool{}
	total := 0
	for _, r := range roots {
		total += s.checkStruct(t, reflect.TypeOf(r.v), r.def, seen)
	}
	// Guard against a walker that silently checks nothing.
	if total < 60 {
		t.Fatalf("only %d fields checked", total)
	}
	var defs []string
	for k := range seen {
		defs = append(defs, k)
	}
	sort.Strings(defs)
	t.Logf("checked %d fields across %d type/definition pairs", total, len(defs))
}

// TestContractCatchesMismatch proves the walker fails on a wrong tag.
func TestContractCatchesMismatch(t *testing.T) {
	s := loadSwagger(t)
	type wrong struct {
		Revision string `json:"revison"`
		ID       string `json:"id"`
	}
	ft := &fakeT{}
	s.checkStruct(ft, reflect.TypeOf(wrong{}), "v1alpha1RevisionHistory", map[string]bool{})
	if len(ft.errs) != 2 {
		t.Fatalf("want 2 errors (misspelt field, string for int64), got %v", ft.errs)
	}
}

func TestPathsAndMethodsExist(t *testing.T) {
	s := loadSwagger(t)
	used := []struct{ method, path string }{
		{"get", "/api/v1/applications/{name}"},
		{"patch", "/api/v1/applications/{name}"},
		{"post", "/api/v1/applications/{name}/sync"},
		{"post", "/api/v1/applications/{name}/rollback"},
		{"get", "/api/v1/applications/{applicationName}/resource-tree"},
		{"get", "/api/v1/applications/{name}/events"},
		{"get", "/api/v1/projects/{name}"},
	}
	for _, u := range used {
		ops, ok := s.Paths[u.path]
		if !ok {
			t.Errorf("swagger has no path %s", u.path)
			continue
		}
		if _, ok := ops[u.method]; !ok {
			t.Errorf("swagger path %s has no %s", u.path, u.method)
		}
	}
	// The GET takes the refresh query parameter the client sends.
	var get struct {
		Parameters []struct{ Name, In string } `json:"parameters"`
	}
	if err := json.Unmarshal(s.Paths["/api/v1/applications/{name}"]["get"], &get); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range get.Parameters {
		found = found || (p.Name == "refresh" && p.In == "query")
	}
	if !found {
		t.Error("GET /api/v1/applications/{name} has no refresh query parameter")
	}
}
