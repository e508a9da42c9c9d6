package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/matcher"
)

// compare prints the face_match object the API would answer for two image files.
func compare(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "compare")
	threshold := f.Float64("threshold", facematch.DefaultThreshold, "decline threshold: a score at or below it is Declined")
	rotate := f.Bool("rotate", false, "try the images at 0, 90, 180 and 270 degrees")
	models := f.models()
	workers := f.integer("workers", 2, "recognizers working at once")
	if err := f.parse(args, "USER_IMAGE", "REF_IMAGE"); err != nil {
		return err
	}
	if *threshold < 0 || *threshold > 100 {
		return fmt.Errorf("--threshold %v: want a number from 0 to 100", *threshold)
	}
	var imgs [2][]byte
	for i, path := range f.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		imgs[i] = data
	}
	m, err := matcher.New(matcher.Config{Models: *models, Workers: *workers})
	if err != nil {
		return err
	}
	defer m.Close()
	fm, err := m.Match(ctx, facematch.MatchInput{User: imgs[0], Ref: imgs[1], Threshold: *threshold, Rotate: *rotate})
	if err != nil {
		return err
	}
	return printJSON(c.stdout, fm)
}
