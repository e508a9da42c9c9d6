package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/internal/shared"
)

// env is an environment with only the given variables.
func env(kv ...string) Env {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func modelsDir() string { return filepath.Join(shared.RepoRoot(), "models") }

func runCLI(t *testing.T, e Env, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), append([]string{"facematch"}, args...), e, &out, &errb)
	return out.String(), errb.String(), err
}

// `facematch compare` prints the face_match object of the API, with --threshold and --rotate.
func TestCompare(t *testing.T) {
	e := env("FACEMATCH_MODELS", modelsDir())
	a := shared.Path(t, "fixtures", "faces", "barack_obama", "obama.jpg")
	b := shared.Path(t, "fixtures", "faces", "barack_obama", "obama2.jpg")
	out, _, err := runCLI(t, e, "compare", a, b)
	if err != nil {
		t.Fatal(err)
	}
	var fm facematch.FaceMatch
	if err := json.Unmarshal([]byte(out), &fm); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if fm.Status != facematch.StatusApproved || fm.Score == nil || len(fm.User.Entities) != 1 || fm.Warnings == nil {
		t.Fatalf("got %s", out)
	}
	// The threshold decides: a score equal to it declines (FM-MATCH-2).
	out, _, err = runCLI(t, e, "compare", "--threshold", strings.TrimRight(strings.TrimRight(jsonNumber(*fm.Score), "0"), "."), a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"Declined"`) || !strings.Contains(out, facematch.RiskLowSimilarity) {
		t.Fatalf("threshold equal to the score: %s", out)
	}
	if _, _, err := runCLI(t, e, "compare", "--threshold", "101", a, b); err == nil {
		t.Fatal("threshold 101 accepted")
	}
	if _, _, err := runCLI(t, e, "compare", a); err == nil {
		t.Fatal("one image accepted")
	}
	if _, _, err := runCLI(t, env("FACEMATCH_MODELS", t.TempDir()), "compare", a, b); err == nil || !strings.Contains(err.Error(), "make models") {
		t.Fatalf("missing models: %v", err)
	}
}

func jsonNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// `facematch eval` scores a pairs file, writes the scores and prints FAR/FRR and accuracy,
// with a progress bar on stderr.
func TestEval(t *testing.T) {
	src, err := os.ReadFile(shared.Path(t, "fixtures", "lfw-dev", "pairs.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(src)), "\n")
	// Twenty pairs from each half of the file: genuine and impostor pairs both.
	subset := append([]string{lines[0]}, lines[1:21]...)
	subset = append(subset, lines[len(lines)-20:]...)
	dir := t.TempDir()
	pairs := filepath.Join(dir, "pairs.tsv")
	os.WriteFile(pairs, []byte(strings.Join(subset, "\n")+"\n"), 0o644)
	scores := filepath.Join(dir, "scores.tsv")
	out, stderr, err := runCLI(t, env("FACEMATCH_MODELS", modelsDir()), "eval", "--pairs", pairs,
		"--root", shared.Path(t, "fixtures", "lfw-dev"), "--out", scores, "--workers", "2")
	if err != nil {
		t.Fatal(err, stderr)
	}
	for _, want := range []string{"pairs 40", "images without a face 0", "FAR", "FRR", "10-fold accuracy"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr, "40/") && !strings.Contains(stderr, "images in") {
		t.Errorf("no progress on stderr: %q", stderr)
	}
	data, _ := os.ReadFile(scores)
	rows := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(rows) != 41 || rows[0] != "img_a\timg_b\tsame\tscore" {
		t.Fatalf("scores file: %d rows, header %q", len(rows), rows[0])
	}
	for _, r := range rows[1:] {
		if f := strings.Split(r, "\t"); len(f) != 4 || f[3] == "" {
			t.Fatalf("row %q", r)
		}
	}
	// A pairs file without the right header is refused with a clear error.
	bad := filepath.Join(dir, "bad.tsv")
	os.WriteFile(bad, []byte("a\tb\nx\ty\n"), 0o644)
	if _, _, err := runCLI(t, env("FACEMATCH_MODELS", modelsDir()), "eval", "--pairs", bad); err == nil || !strings.Contains(err.Error(), "img_a") {
		t.Fatalf("bad header: %v", err)
	}
}
