package cli

import (
	"context"
	"os"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/matcher"
)

// compare prints the face_match object the API would answer for two image files.
func compare(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "compare")
	threshold := f.number("threshold", facematch.DefaultThreshold, 0, 100, "decline threshold: a score at or below it is Declined")
	rotate := f.switchArg("rotate", "try the images at 0, 90, 180 and 270 degrees")
	workers := f.integer("workers", 2, 1, "recognizers working at once")
	if err := f.parse(args, "USER_IMAGE", "REF_IMAGE"); err != nil {
		return helped(err)
	}
	var imgs [2][]byte
	for i, path := range f.args() {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		imgs[i] = data
	}
	m, err := matcher.New(matcher.Config{Models: *f.models, Workers: *workers})
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
