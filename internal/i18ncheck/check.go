// Package i18ncheck is the static check that every sentence people read
// comes from the message catalog (package i18n): it reads the Go source of
// the packages that talk to people (commands/… and bot/) and reports the
// string literals that look like words for people, and the message ids
// the code asks for that the catalog lacks. It runs in `make test` and
// `make lint` (TestNoSentenceOutsideTheCatalog).
//
// What it skips: imports and struct tags; comparisons (==, !=, case) and
// map indexes, which are data; logger calls (log lines are for operators,
// in English), errors.New and fmt.Errorf (internal errors never reach a
// person: the router turns them into a catalog sentence with a reference);
// calls into strings, regexp, strconv, time, path, filepath, url, http;
// message ids (the first argument of T.S and T.N). A line, or a whole
// function or file, can be exempted with a comment
// `//i18n:verbatim <why>` (the git commit and PR texts keep the
// playbook's form in every locale; Slack API method names; queries).
package i18ncheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Finding is one literal that looks like a sentence outside the catalog,
// or a message id the catalog lacks.
type Finding struct {
	Pos  string // file:line
	Text string
	Why  string
}

// Directive exempts a line, a function (in its doc) or a file (before the
// package clause).
const Directive = "//i18n:verbatim"

var (
	twoWords  = regexp.MustCompile(`[A-Za-zÀ-ÿ]{2,}[ \t]+[A-Za-zÀ-ÿ]{2,}`)
	capWord   = regexp.MustCompile(`\b[A-Z][a-z]{2,}\b`)
	textField = map[string]bool{"Text": true, "Label": true, "Title": true, "Submit": true, "Confirm": true, "Header": true, "Alt": true, "Summary": true, "Help": true}
	dataPkgs  = map[string]bool{"strings": true, "regexp": true, "strconv": true, "time": true, "path": true, "filepath": true, "url": true, "http": true, "errors": true, "bytes": true, "os": true, "slices": true, "json": true}
	// idFuncs take a message id first: T.S, T.N, i18n.M, commands.Refuse.
	idFuncs  = map[string]bool{"S": true, "N": true, "M": true, "Refuse": true}
	msgID    = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_|@-]+)+$`)
	logVerbs = map[string]bool{"Debug": true, "Info": true, "Warn": true, "Error": true, "Log": true, "DebugContext": true, "InfoContext": true, "WarnContext": true, "ErrorContext": true, "Printf": true, "Println": true}
)

// Check reads every non-test .go file under dirs (relative to root) and
// returns the findings, and the message ids asked for (T.S / T.N /
// commands.Refuse first arguments) with where.
func Check(root string, dirs []string, skip []string) (findings []Finding, ids map[string]string, err error) {
	ids = map[string]string{}
	for _, dir := range dirs {
		err = filepath.WalkDir(filepath.Join(root, dir), func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if de.IsDir() {
				for _, s := range skip {
					if rel == s {
						return filepath.SkipDir
					}
				}
				return nil
			}
			if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			f, ids2, err := checkFile(p, rel)
			if err != nil {
				return err
			}
			findings = append(findings, f...)
			for id, at := range ids2 {
				ids[id] = at
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	sort.Slice(findings, func(i, j int) bool { return findings[i].Pos < findings[j].Pos })
	return findings, ids, nil
}

func checkFile(path, rel string) ([]Finding, map[string]string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return nil, nil, err
	}
	exemptLines := map[int]bool{}
	for _, cg := range file.Comments {
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, Directive) {
				if c.Pos() < file.Package {
					return nil, nil, nil // the whole file
				}
				exemptLines[fset.Position(c.Pos()).Line] = true
			}
		}
	}
	exemptRanges := [][2]token.Pos{}
	for _, d := range file.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && hasDirective(fd.Doc) {
			exemptRanges = append(exemptRanges, [2]token.Pos{fd.Pos(), fd.End()})
		}
	}
	exempt := func(n ast.Node) bool {
		if exemptLines[fset.Position(n.Pos()).Line] {
			return true
		}
		for _, r := range exemptRanges {
			if n.Pos() >= r[0] && n.End() <= r[1] {
				return true
			}
		}
		return false
	}
	skipLits := map[*ast.BasicLit]bool{}
	textLits := map[*ast.BasicLit]bool{}
	ids := map[string]string{}
	markAll := func(n ast.Node) {
		ast.Inspect(n, func(x ast.Node) bool {
			if bl, ok := x.(*ast.BasicLit); ok {
				skipLits[bl] = true
			}
			return true
		})
	}
	ast.Inspect(file, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.ImportSpec, *ast.Field:
			markAll(x)
			return false
		case *ast.BinaryExpr:
			if x.Op == token.EQL || x.Op == token.NEQ {
				markAll(x.X)
				markAll(x.Y)
			}
		case *ast.CaseClause:
			for _, e := range x.List {
				markAll(e)
			}
		case *ast.IndexExpr:
			markAll(x.Index)
		case *ast.KeyValueExpr:
			if id, ok := x.Key.(*ast.Ident); ok && textField[id.Name] {
				if bl, ok := x.Value.(*ast.BasicLit); ok {
					if v, err := strconv.Unquote(bl.Value); err == nil && (id.Name == "Summary" || id.Name == "Help") && msgID.MatchString(v) {
						skipLits[bl] = true // a Spec's catalog ids
						ids[v] = rel + ":" + strconv.Itoa(fset.Position(bl.Pos()).Line)
					} else {
						textLits[bl] = true
					}
				}
			}
			if _, ok := x.Key.(*ast.BasicLit); ok {
				markAll(x.Key) // map keys are data
			}
		case *ast.CallExpr:
			name, recv := "", ""
			switch fn := x.Fun.(type) {
			case *ast.SelectorExpr:
				name, recv = fn.Sel.Name, exprName(fn.X)
			case *ast.Ident:
				name = fn.Name
			}
			switch {
			case logVerbs[name] && strings.Contains(strings.ToLower(recv), "log"):
				markAll(x)
			case dataPkgs[recv], recv == "fmt" && name == "Errorf":
				markAll(x)
			case idFuncs[name] && len(x.Args) > 0:
				if bl, ok := x.Args[0].(*ast.BasicLit); ok && bl.Kind == token.STRING {
					skipLits[bl] = true
					if id, err := strconv.Unquote(bl.Value); err == nil {
						ids[id] = rel + ":" + strconv.Itoa(fset.Position(bl.Pos()).Line)
					}
				}
			}
		}
		return true
	})
	var out []Finding
	ast.Inspect(file, func(n ast.Node) bool {
		bl, ok := n.(*ast.BasicLit)
		if !ok || bl.Kind != token.STRING || skipLits[bl] || exempt(bl) {
			return true
		}
		s, err := strconv.Unquote(bl.Value)
		if err != nil {
			return true
		}
		why := ""
		switch {
		case twoWords.MatchString(s):
			why = "words for people"
		case textLits[bl] && capWord.MatchString(s):
			why = "a label for people"
		}
		if why != "" {
			out = append(out, Finding{Pos: rel + ":" + strconv.Itoa(fset.Position(bl.Pos()).Line), Text: s, Why: why})
		}
		return true
	})
	return out, ids, nil
}

func exprName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return exprName(x.X) + "." + x.Sel.Name
	case *ast.CallExpr:
		return exprName(x.Fun)
	}
	return ""
}

// hasDirective reports whether a doc comment carries the directive
// (CommentGroup.Text drops directive lines, so read the raw list).
func hasDirective(doc *ast.CommentGroup) bool {
	if doc == nil {
		return false
	}
	for _, c := range doc.List {
		if strings.HasPrefix(c.Text, Directive) {
			return true
		}
	}
	return false
}
