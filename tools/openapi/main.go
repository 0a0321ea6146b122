// Command openapi checks that OpenAPI 3 documents are valid (kin-openapi's
// loader and validator: structure, $refs, path parameters, schemas):
//
//	go run . ../../gateway/openapi.json ../../gateway/openapi-internal.json
//
// gateway's TestOpenAPIValid runs it. It is a module of its own so that
// the product's go.mod and binary do not carry kin-openapi and its
// dependencies for a check that only tests make.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/getkin/kin-openapi/openapi3"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: openapi <document.json>...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		if err := check(path); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
			continue
		}
		fmt.Printf("%s: valid OpenAPI 3\n", path)
	}
	if failed {
		os.Exit(1)
	}
}

func check(path string) error {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	// Examples are checked against their schemas too; x- extensions are
	// ours (x-pep, x-any-method) and allowed.
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	return nil
}
