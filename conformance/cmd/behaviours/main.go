// Command behaviours writes conformance/BEHAVIOURS.md: every rule of the contract
// (../shared/spec/face-match.md, or $FACEMATCH_SHARED/spec/face-match.md) with the specs of the
// suite that check it. It fails when a rule has no spec or a spec names an unknown rule.
//
//	go run ./cmd/behaviours [-check]   (from conformance/; also `go generate ./...`)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/facematch/facematch/conformance/internal/behaviours"
	"github.com/facematch/facematch/conformance/internal/target"
)

func main() {
	check := flag.Bool("check", false, "only report whether BEHAVIOURS.md is up to date")
	flag.Parse()
	if err := run(*check); err != nil {
		fmt.Fprintln(os.Stderr, "behaviours:", err)
		os.Exit(1)
	}
}

func run(check bool) error {
	root := target.RepoRoot()
	if root == "" {
		return fmt.Errorf("run it inside the facematch checkout")
	}
	dir := filepath.Join(root, "conformance")
	spec, err := behaviours.LoadSpec(behaviours.SpecPath(os.Getenv, root))
	if err != nil {
		return err
	}
	suite, err := behaviours.LoadSuite(filepath.Join(dir, "internal", "suite"))
	if err != nil {
		return err
	}
	out := behaviours.Render(spec, suite)
	path := filepath.Join(dir, "BEHAVIOURS.md")
	stale := false
	if old, _ := os.ReadFile(path); !bytes.Equal(old, out) {
		stale = true
		if !check {
			if err := os.WriteFile(path, out, 0o644); err != nil {
				return err
			}
			stale = false
		}
	}
	// The file is written even when the contract and the suite disagree, so that it shows the
	// rules without a spec; the disagreement still fails the run.
	if problems := behaviours.Check(spec, suite); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, p)
		}
		return fmt.Errorf("%d problems between the contract and the suite", len(problems))
	}
	if stale {
		return fmt.Errorf("%s is stale: go generate ./... in conformance/", path)
	}
	return nil
}
