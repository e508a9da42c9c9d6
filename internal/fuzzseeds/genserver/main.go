// Command genserver rewrites the generated seed corpus (files named gen-*) of the server's fuzz
// targets FuzzFaceMatchForm, FuzzMetadata and FuzzDestination. It runs from `go generate
// ./server`, in the server package's folder.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/facematch/facematch/internal/fuzzseeds"
)

func main() {
	maxParts := flag.Int("max-parts", 70, "the server's bound on form parts (server/form.go maxParts)")
	flag.Parse()
	if err := run(flag.Arg(0), *maxParts); err != nil {
		fmt.Fprintln(os.Stderr, "genserver:", err)
		os.Exit(1)
	}
}

func run(dir string, maxParts int) error {
	if dir == "" {
		return fmt.Errorf("usage: genserver [-max-parts N] SERVER_DIR")
	}
	forms, err := fuzzseeds.Forms(maxParts)
	if err != nil {
		return err
	}
	seeds := map[string]map[string][]byte{"FuzzFaceMatchForm": {}, "FuzzMetadata": {}, "FuzzDestination": {}}
	for _, f := range forms {
		seeds["FuzzFaceMatchForm"][f.Name] = fuzzseeds.CorpusEntry(f.ContentType, f.Body)
	}
	for i, m := range fuzzseeds.Metadata {
		seeds["FuzzMetadata"][strconv.Itoa(i)] = fuzzseeds.CorpusEntry([]byte(m))
	}
	for i, d := range fuzzseeds.Destinations {
		seeds["FuzzDestination"][strconv.Itoa(i)] = fuzzseeds.CorpusEntry(i%2 == 0, []byte(d))
	}
	for target, files := range seeds {
		corpus := filepath.Join(dir, "testdata", "fuzz", target)
		if err := os.MkdirAll(corpus, 0o755); err != nil {
			return err
		}
		old, _ := filepath.Glob(filepath.Join(corpus, "gen-*"))
		for _, p := range old {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
		for name, entry := range files {
			if err := os.WriteFile(filepath.Join(corpus, "gen-"+name), entry, 0o644); err != nil {
				return err
			}
		}
	}
	fmt.Printf("wrote %d form, %d metadata and %d destination seeds\n", len(forms), len(fuzzseeds.Metadata), len(fuzzseeds.Destinations))
	return nil
}
