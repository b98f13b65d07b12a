// Command refdoc rewrites the configuration reference in docs/reference.md
// (or the file named by -doc) from the salesforce_streaming input's spec.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/salesforce-streaming/salesforce_streaming/cmd/refdoc/internal/refdoc"
)

func main() {
	doc := flag.String("doc", refdoc.Path, "the Markdown file holding the reference markers")
	flag.Parse()
	if err := run(*doc); err != nil {
		fmt.Fprintln(os.Stderr, "refdoc:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	ref, err := refdoc.Markdown()
	if err != nil {
		return err
	}
	out, err := refdoc.Splice(doc, ref)
	if err != nil {
		return fmt.Errorf("updating %s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}
