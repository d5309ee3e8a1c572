// Command terraform-provider-calcgrid is calcgrid's Terraform and OpenTofu
// provider (package internal/provider), served at
// registry.calcgrid.local/calcgrid/calcgrid from the local mirror that
// scripts/bootstrap.sh fills.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/calcgrid/calcgrid/provider/internal/provider"
)

// version is the provider's release: the bootstrap installs the binary into
// the mirror under the version the binary reports (-version).
const version = "0.1.0"

func main() {
	debug := flag.Bool("debug", false, "run with support for debuggers such as delve (prints TF_REATTACH_PROVIDERS)")
	printVersion := flag.Bool("version", false, "print the provider's version and exit")
	flag.Parse()
	if *printVersion {
		fmt.Println(version)
		return
	}
	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: provider.Address,
		Debug:   *debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
