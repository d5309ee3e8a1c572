// Command tfdocs checks or rewrites the generated Inputs and Outputs tables
// of the Terraform module READMEs (see package tfdocs).
//
// Usage, from tests/:
//
//	go run ./cmd/tfdocs          # check: exit 1 listing stale READMEs
//	go run ./cmd/tfdocs -write   # rewrite the stale ones
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/calcgrid/calcgrid/tests/tfdocs"
)

func main() {
	write := flag.Bool("write", false, "rewrite stale READMEs instead of only listing them")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./cmd/tfdocs [-write]\n\n"+
			"Checks the generated tables between %s and %s in modules/*/README.md and\n"+
			"terraform/README.md against the code; -write rewrites them.\n\n", tfdocs.BeginMarker, tfdocs.EndMarker)
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(*write))
}

func run(write bool) int {
	root, err := tfdocs.FindRoot(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tfdocs:", err)
		return 2
	}
	results, err := tfdocs.Run(root, write)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tfdocs:", err)
		return 2
	}
	stale := 0
	for _, r := range results {
		if !r.Stale {
			continue
		}
		stale++
		if write {
			fmt.Println("rewrote", r.README)
		} else {
			fmt.Println("stale:", r.README)
		}
	}
	if stale > 0 && !write {
		fmt.Fprintf(os.Stderr, "%d README(s) not current; fix: %s\n", stale, tfdocs.FixCommand)
		return 1
	}
	return 0
}
