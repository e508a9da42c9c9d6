// Command attributes measures the age/gender estimates of the matcher on the labelled photos:
// every photo of the identity folders of ../shared/fixtures/faces that fixtures/faces-attributes.tsv
// labels, through the whole pipeline with rotation (detection, the chosen face, its crop). It prints each
// photo's estimate, then the gender accuracy and the age's mean absolute error. The labels are
// approximate (see the manifest), and so are these numbers: rough estimates on a few photos.
//
//	go run ./tools/attributes [-models models] [-labels fixtures/faces-attributes.tsv]
package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/facematch/facematch/internal/shared"
	"github.com/facematch/facematch/matcher"
)

// label is one identity's line of the manifest.
type label struct {
	identity, gender string
	age              float64 // NaN when unknown
}

func main() {
	matcher.UseFastBLAS()
	models := flag.String("models", "models", "model folder")
	labels := flag.String("labels", "fixtures/faces-attributes.tsv", "the labels' manifest")
	flag.Parse()
	if err := run(*models, *labels, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "attributes:", err)
		os.Exit(1)
	}
}

func readLabels(path string) ([]label, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma, r.Comment, r.FieldsPerRecord = '\t', '#', -1
	r.LazyQuotes = true
	var out []label
	header := true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		if header {
			if len(rec) < 7 || rec[0] != "identity" || rec[1] != "gender" || rec[6] != "age" {
				return nil, fmt.Errorf("%s: header %v, want identity, gender, ..., age in column 7", path, rec)
			}
			header = false
			continue
		}
		if len(rec) < 7 {
			return nil, fmt.Errorf("%s: line %v has %d fields, want at least 7", path, rec, len(rec))
		}
		l := label{identity: rec[0], gender: rec[1], age: math.NaN()}
		if l.gender != "male" && l.gender != "female" {
			return nil, fmt.Errorf("%s: %s has gender %q", path, l.identity, l.gender)
		}
		if rec[6] != "" {
			if l.age, err = strconv.ParseFloat(rec[6], 64); err != nil {
				return nil, fmt.Errorf("%s: %s: age %q: %v", path, l.identity, rec[6], err)
			}
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s labels no identity", path)
	}
	return out, nil
}

func run(models, labelsPath string, w io.Writer) error {
	labels, err := readLabels(labelsPath)
	if err != nil {
		return err
	}
	dir := shared.Dir()
	if dir == "" {
		return errors.New("the shared folder ../shared (or $FACEMATCH_SHARED) is missing")
	}
	m, err := matcher.New(matcher.Config{Models: models, Workers: 1})
	if err != nil {
		return err
	}
	defer m.Close()

	var (
		photos, genderRight, genderCount, ageCount, noFace, small int
		absErr, signedErr                                         float64
		ageErrors                                                 []float64
	)
	fmt.Fprintf(w, "%-52s %-7s %5s | %-7s %6s %6s\n", "photo", "label", "age", "gender", "p", "age")
	for _, l := range labels {
		files, err := filepath.Glob(filepath.Join(dir, "fixtures", "faces", l.identity, "*"))
		if err != nil || len(files) == 0 {
			return fmt.Errorf("no photos of %s under %s", l.identity, filepath.Join(dir, "fixtures", "faces"))
		}
		sort.Strings(files)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			photos++
			name := l.identity + "/" + filepath.Base(file)
			// With rotation (rotate_image), as a client sends a photo that may be on its side.
			a, err := m.Analyze(context.Background(), data, true)
			if err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			labelAge := "-"
			if !math.IsNaN(l.age) {
				labelAge = strconv.Itoa(int(l.age))
			}
			if a.Chosen < 0 {
				noFace++
				fmt.Fprintf(w, "%-52s %-7s %5s | no face\n", name, l.gender, labelAge)
				continue
			}
			e := a.Faces[a.Chosen].Attributes
			if e == nil {
				small++
				fmt.Fprintf(w, "%-52s %-7s %5s | face under %d px: no estimate\n", name, l.gender, labelAge, matcher.MinAttributesWidth)
				continue
			}
			genderCount++
			mark := ""
			if e.Gender() == l.gender {
				genderRight++
			} else {
				mark = " (wrong gender)"
			}
			p := e.Male
			if e.Gender() == "female" {
				p = e.Female
			}
			if !math.IsNaN(l.age) {
				ageCount++
				d := e.Age - l.age
				absErr += math.Abs(d)
				signedErr += d
				ageErrors = append(ageErrors, math.Abs(d))
			}
			fmt.Fprintf(w, "%-52s %-7s %5s | %-7s %6.3f %6.1f%s\n", name, l.gender, labelAge, e.Gender(), p, e.Age, mark)
		}
	}
	fmt.Fprintf(w, "\n%d photos of %d identities; %d without a face, %d with a face under %d px\n", photos, len(labels), noFace, small, matcher.MinAttributesWidth)
	if genderCount > 0 {
		fmt.Fprintf(w, "gender accuracy: %.1f%% (%d/%d)\n", 100*float64(genderRight)/float64(genderCount), genderRight, genderCount)
	}
	if ageCount > 0 {
		sort.Float64s(ageErrors)
		fmt.Fprintf(w, "age: mean absolute error %.1f years, median %.1f, max %.1f, mean signed error %+.1f (n = %d)\n",
			absErr/float64(ageCount), ageErrors[len(ageErrors)/2], ageErrors[len(ageErrors)-1], signedErr/float64(ageCount), ageCount)
	}
	fmt.Fprintln(w, "(approximate labels, few photos: rough estimates)")
	return nil
}
