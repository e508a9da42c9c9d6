// Command gen rewrites the generated seed corpus (files named gen-*) of the image fuzz targets:
// imageinfo's FuzzReadHeader and imaging's FuzzDecode. It runs from `go generate ./imaging`.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/facematch/facematch/internal/fuzzseeds"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fuzzseeds:", err)
		os.Exit(1)
	}
}

// run writes the seeds for FuzzReadHeader under args[0] and for FuzzDecode under args[1], each a
// package folder.
func run(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: gen IMAGEINFO_DIR IMAGING_DIR")
	}
	seeds, err := fuzzseeds.Images()
	if err != nil {
		return err
	}
	for i, target := range []struct{ dir, name string }{{args[0], "FuzzReadHeader"}, {args[1], "FuzzDecode"}} {
		dir := filepath.Join(target.dir, "testdata", "fuzz", target.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		old, _ := filepath.Glob(filepath.Join(dir, "gen-*"))
		for _, p := range old {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
		for j, s := range seeds {
			entry := fuzzseeds.CorpusEntry(s.Data)
			if i == 1 {
				entry = fuzzseeds.CorpusEntry(s.Data, uint16([]int{0, 64, 640, 1}[j%4]))
			}
			if err := os.WriteFile(filepath.Join(dir, "gen-"+s.Name), entry, 0o644); err != nil {
				return err
			}
		}
	}
	fmt.Printf("wrote %d seeds for each target\n", len(seeds))
	return nil
}
