package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/facematch/facematch/internal/progress"
	"github.com/facematch/facematch/matcher"
)

// eval scores every pair of a pairs file, computing each image's descriptor once on all workers.
func eval(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "eval")
	pairsPath := f.str("pairs", "", "TSV file whose header names img_a, img_b and optionally same (1/0)")
	root := f.str("root", "", "folder the image paths are relative to (default: the pairs file's folder)")
	out := f.str("out", "", "write img_a, img_b, same, score rows to this TSV file")
	workers := f.workers()
	if err := f.parse(args); err != nil {
		return helped(err)
	}
	if *pairsPath == "" {
		return usageErrorf("eval needs --pairs FILE.tsv")
	}
	if *root == "" {
		*root = filepath.Dir(*pairsPath)
	}
	pf, err := os.Open(*pairsPath)
	if err != nil {
		return err
	}
	pairs, err := matcher.ReadPairs(pf)
	pf.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", *pairsPath, err)
	}
	m, err := matcher.New(matcher.Config{Models: *f.models, Workers: *workers})
	if err != nil {
		return err
	}
	defer m.Close()

	files := matcher.DistinctFiles(pairs)
	bar := progress.New(c.stderr, "images", len(files), progress.IsTerminal(c.stderr))
	analyses, err := m.AnalyzeFiles(ctx, *root, files, bar.Set)
	bar.Finish()
	if err != nil {
		return err
	}
	scored := matcher.ScorePairs(pairs, analyses)
	if *out != "" {
		if err := writeScores(*out, scored); err != nil {
			return err
		}
	}
	passes := map[string]int{}
	for _, file := range files {
		passes[analyses[file].Pass]++
	}
	return printReport(c.stdout, scored, len(files), passes)
}

func writeScores(path string, scored []matcher.Scored) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "img_a\timg_b\tsame\tscore")
	for _, s := range scored {
		same, score := "", ""
		if s.Same >= 0 {
			same = strconv.Itoa(s.Same)
		}
		if s.Score != nil {
			score = strconv.FormatFloat(*s.Score, 'f', 2, 64)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", s.A, s.B, same, score)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// printReport writes the error rates at the documented thresholds and the 10-fold accuracy.
func printReport(w io.Writer, scored []matcher.Scored, images int, passes map[string]int) error {
	unscored := 0
	for _, s := range scored {
		if s.Score == nil {
			unscored++
		}
	}
	fmt.Fprintf(w, "pairs %d, images %d, images without a face %d, pairs without a score %d\n", len(scored), images, passes[""], unscored)
	fmt.Fprintf(w, "faces found by pass: hog %d, hog-2x %d, cnn %d\n", passes["hog"], passes["hog-2x"], passes["cnn"])
	r := matcher.RatesAt(scored, 0)
	if r.Genuine+r.Impostor == 0 {
		return nil
	}
	fmt.Fprintf(w, "genuine pairs %d, impostor pairs %d\n", r.Genuine, r.Impostor)
	fmt.Fprintf(w, "%-9s  %-22s  %-22s  %s\n", "threshold", "FAR (false accepts)", "FRR (false rejects)", "accuracy")
	for _, t := range []float64{30, 50, 60} {
		r := matcher.RatesAt(scored, t)
		fmt.Fprintf(w, "%-9.0f  %6.2f%% (%4d/%4d)     %6.2f%% (%4d/%4d)     %6.2f%%\n", t,
			100*r.FAR, r.FalseAccepts, r.Impostor, 100*r.FRR, r.FalseRejects, r.Genuine, 100*r.Accuracy)
	}
	mean, std := matcher.TenFoldAccuracy(scored)
	_, err := fmt.Fprintf(w, "10-fold accuracy %.2f%% (std %.2f%%)\n", 100*mean, 100*std)
	return err
}
