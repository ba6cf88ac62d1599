// Command gendoc writes the configuration reference, docs/configuration.md, from the
// configuration struct: its settings and defaults by reflection, its descriptions from the
// field comments in the config package's source. Run it from the repository root:
//
//	go run ./config/gendoc
//
// The reference test in package config fails when the document is out of date.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/scriptsync/scriptsync/config/internal/refdoc"
)

func main() {
	src := flag.String("src", "config", "the config package's source directory")
	out := flag.String("out", "docs/configuration.md", "the document to write")
	flag.Parse()
	if err := run(*src, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
}

func run(src, out string) error {
	sections, err := refdoc.Load(src)
	if err != nil {
		return err
	}
	// The reference is documentation in the repository, readable by everyone.
	//nolint:gosec // G306: see above
	if err := os.WriteFile(out, refdoc.Render(sections), 0o644); err != nil {
		return fmt.Errorf("write reference: %w", err)
	}
	return nil
}
