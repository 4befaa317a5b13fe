// Command binsize prints a Markdown table of two unstripped Go binaries'
// bytes by module (internal/binsize), as in docs/install.md:
//
//	go build -trimpath -o /tmp/before ./cmd/nexo-bot   # on the old commit
//	go build -trimpath -o /tmp/after ./cmd/nexo-bot
//	go run ./scripts/binsize [-top 12] [-min-diff-kib 256] /tmp/before /tmp/after
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/nexo-org/nexo-bot/internal/binsize"
)

func main() {
	top := flag.Int("top", 12, "rows by size before")
	minDiff := flag.Int64("min-diff-kib", 256, "also list every module whose size changed by this much")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: go run ./scripts/binsize [-top N] [-min-diff-kib K] BEFORE [AFTER]  (unstripped binaries)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 || flag.NArg() > 2 {
		flag.Usage()
		os.Exit(2)
	}
	before, err := binsize.Analyze(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	after := before
	if flag.NArg() == 2 {
		if after, err = binsize.Analyze(flag.Arg(1)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	binsize.WriteTable(os.Stdout, before, after, *top, *minDiff<<10)
}
