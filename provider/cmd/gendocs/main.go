// Command gendocs regenerates docs/ of the provider module (run it from
// there: `make provider-docs` passes the terraform/tofu binary the bootstrap
// chose). TestDocsAreCurrent fails when docs/ differs from what it writes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/calcgrid/calcgrid/provider/internal/docsgen"
)

func main() {
	tf := flag.String("tf", os.Getenv("TF_ACC_TERRAFORM_PATH"), "terraform or tofu binary (default: $TF_ACC_TERRAFORM_PATH)")
	out := flag.String("out", "docs", "directory to render into")
	verbose := flag.Bool("v", false, "show the tools' output")
	flag.Parse()
	log := io.Discard
	if *verbose {
		log = os.Stderr
	}
	if err := docsgen.Generate(context.Background(), *tf, ".", *out, log); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}
