// Package binsize tells which Go modules a binary's bytes come from. It
// reads an unstripped ELF build (the symbol table names every function and
// variable) and counts, per module, the symbols in the sections a stripped
// build keeps (.text, .rodata, .data, .noptrdata, …; not .bss, which takes
// no file space). The function table .gopclntab, a third of a Go binary, is
// shared out in proportion to each module's code. The module list comes from
// the binary's build info.
package binsize

import (
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Std and Runtime name the rows for the standard library and for the
// linker's tables that belong to no package (go:func.*, type links, …).
const (
	Std     = "std"
	Runtime = "(runtime tables, strings)"
)

// Row is one module's share of a binary.
type Row struct {
	Module string
	Bytes  int64
}

// Report is a binary's bytes by module, largest first.
type Report struct {
	// Loaded is the size of the sections a stripped build keeps: the
	// stripped file is Loaded plus a few KiB of headers.
	Loaded int64
	Rows   []Row
}

// Of returns a module's bytes (0 when absent).
func (r Report) Of(module string) int64 {
	for _, row := range r.Rows {
		if row.Module == module {
			return row.Bytes
		}
	}
	return 0
}

// Analyze reads an unstripped Go ELF binary.
func Analyze(path string) (Report, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return Report{}, fmt.Errorf("binsize: build info of %s: %w", path, err)
	}
	modules := []string{bi.Main.Path}
	for _, d := range bi.Deps {
		modules = append(modules, d.Path)
	}
	f, err := elf.Open(path)
	if err != nil {
		return Report{}, fmt.Errorf("binsize: %w", err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return Report{}, fmt.Errorf("binsize: %s has no symbol table (build it without -s -w): %w", path, err)
	}
	var rep Report
	var pclntab, text int64
	kept := map[int]bool{}
	textSection := -1
	for i, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Type == elf.SHT_NOBITS {
			continue
		}
		rep.Loaded += int64(s.Size)
		switch s.Name {
		case ".gopclntab":
			pclntab = int64(s.Size)
		case ".text":
			textSection = i
			kept[i] = true
		default:
			kept[i] = true
		}
	}
	bytes := map[string]int64{}
	code := map[string]int64{}
	var counted int64
	for _, s := range syms {
		idx := int(s.Section)
		if !kept[idx] || s.Size == 0 {
			continue
		}
		m := ModuleOf(s.Name, modules)
		bytes[m] += int64(s.Size)
		counted += int64(s.Size)
		if idx == textSection {
			code[m] += int64(s.Size)
			text += int64(s.Size)
		}
	}
	if text > 0 {
		for m, c := range code {
			bytes[m] += pclntab * c / text
		}
	}
	// What no symbol covers (alignment, section padding, pclntab rounding).
	var total int64
	for _, b := range bytes {
		total += b
	}
	bytes[Runtime] += rep.Loaded - total
	for m, b := range bytes {
		rep.Rows = append(rep.Rows, Row{Module: m, Bytes: b})
	}
	sort.Slice(rep.Rows, func(i, j int) bool {
		if rep.Rows[i].Bytes != rep.Rows[j].Bytes {
			return rep.Rows[i].Bytes > rep.Rows[j].Bytes
		}
		return rep.Rows[i].Module < rep.Rows[j].Module
	})
	return rep, nil
}

// symbolPrefixes are the linker's decorations before a package path.
var symbolPrefixes = []string{"type:.eq.", "type:.hash.", "type:", "go:itab.", "go:info.", "go:cuinfo.", "go:link.", "*", "[]", "map[", "func(", "chan ", "struct {"}

// ModuleOf is the module of a symbol: the longest module path that
// prefixes the package path in name (package main belongs to modules[0],
// the main module), else Std for a standard-library package, else Runtime.
func ModuleOf(name string, modules []string) string {
	for changed := true; changed; {
		changed = false
		for _, p := range symbolPrefixes {
			if strings.HasPrefix(name, p) {
				name, changed = name[len(p):], true
			}
		}
		// An array type, e.g. "[4]k8s.io/…".
		if strings.HasPrefix(name, "[") {
			if i := strings.IndexByte(name, ']'); i > 0 {
				name, changed = name[i+1:], true
			}
		}
	}
	if strings.HasPrefix(name, "main.") && len(modules) > 0 {
		return modules[0]
	}
	best := ""
	for _, m := range modules {
		if len(m) > len(best) && strings.HasPrefix(name, m) && len(name) > len(m) && (name[len(m)] == '/' || name[len(m)] == '.') {
			best = m
		}
	}
	if best != "" {
		return best
	}
	if strings.HasPrefix(name, "go:") {
		return Runtime
	}
	// A standard-library path has no dot in its first element
	// (runtime.main, net/http.(*Client).Do, vendor/golang.org/x/net/…).
	first := name
	if i := strings.IndexByte(name, '/'); i >= 0 {
		first = name[:i]
	} else if i := strings.IndexByte(name, '.'); i >= 0 {
		first = name[:i]
	}
	if isIdent(first) {
		return Std
	}
	return Runtime
}

func isIdent(s string) bool {
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// MiB formats bytes as MiB with one decimal.
func MiB(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

// WriteTable writes a Markdown table of reports side by side by module
// (columns named by names): the top rows by the first report's size and
// every row whose size changes by at least minDiff bytes between the first
// and the last report; the other rows are summed into one.
func WriteTable(w io.Writer, names []string, reports []Report, top int, minDiff int64) {
	sizes := map[string][]int64{}
	for i, rep := range reports {
		for _, r := range rep.Rows {
			if sizes[r.Module] == nil {
				sizes[r.Module] = make([]int64, len(reports))
			}
			sizes[r.Module][i] = r.Bytes
		}
	}
	modules := make([]string, 0, len(sizes))
	for m := range sizes {
		modules = append(modules, m)
	}
	sort.Slice(modules, func(i, j int) bool {
		a, b := sizes[modules[i]][0], sizes[modules[j]][0]
		if a != b {
			return a > b
		}
		return modules[i] < modules[j]
	})
	row := func(label string, vals []int64, bold bool) {
		fmt.Fprintf(w, "| %s |", label)
		for _, v := range vals {
			if bold {
				fmt.Fprintf(w, " **%s** |", MiB(v))
			} else {
				fmt.Fprintf(w, " %s |", MiB(v))
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "| module | %s |\n|---|%s\n", strings.Join(names, " | "), strings.Repeat("---:|", len(names)))
	rest := make([]int64, len(reports))
	restN := 0
	for i, m := range modules {
		v := sizes[m]
		diff := v[0] - v[len(v)-1]
		if diff < 0 {
			diff = -diff
		}
		if i < top || diff >= minDiff {
			row(m, v, false)
			continue
		}
		for j := range v {
			rest[j] += v[j]
		}
		restN++
	}
	if restN > 0 {
		row(fmt.Sprintf("%d other modules", restN), rest, false)
	}
	loaded := make([]int64, len(reports))
	for i, rep := range reports {
		loaded[i] = rep.Loaded
	}
	row("**loaded sections (≈ stripped file)**", loaded, true)
}
