// Command binsize prints a Markdown table of unstripped Go binaries' bytes
// by module, side by side (internal/binsize), as in docs/install.md:
//
//	go build -trimpath -o /tmp/before ./cmd/nexo-bot   # on the old commit
//	go build -trimpath -o /tmp/after ./cmd/nexo-bot
//	go run ./scripts/binsize [-top 12] [-min-diff-kib 256] before=/tmp/before after=/tmp/after
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nexo-org/nexo-bot/internal/binsize"
)

func main() {
	top := flag.Int("top", 12, "rows by size in the first binary")
	minDiff := flag.Int64("min-diff-kib", 256, "also list every module whose size changes by this much from the first binary to the last")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: go run ./scripts/binsize [-top N] [-min-diff-kib K] [NAME=]BINARY…  (unstripped binaries)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 {
		flag.Usage()
		os.Exit(2)
	}
	var names []string
	var reports []binsize.Report
	for _, arg := range flag.Args() {
		name, path, ok := strings.Cut(arg, "=")
		if !ok {
			name, path = filepath.Base(arg), arg
		}
		rep, err := binsize.Analyze(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		names, reports = append(names, name), append(reports, rep)
	}
	binsize.WriteTable(os.Stdout, names, reports, *top, *minDiff<<10)
}
