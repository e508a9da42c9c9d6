package cli

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The built program exits 0 on success, 2 for a flag or variable that does not parse, and 1 for
// any other failure, with the reason on stderr (spec section 6).
func TestExitCodes(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	for _, tc := range []struct {
		env    []string
		args   []string
		code   int
		stderr string
	}{
		{nil, []string{"version"}, 0, ""},
		{nil, []string{"org", "-h"}, 0, "org list"},
		{[]string{"FACEMATCH_WORKERS=abc"}, []string{"serve", "--sandbox-only"}, 2, `FACEMATCH_WORKERS="abc"`},
		{nil, []string{"serve", "--rate-window", "5"}, 2, "-rate-window"},
		{nil, []string{"org", "show"}, 2, "--id"},
		{nil, []string{"org", "show", "--id", "nope"}, 1, "not found"},
		{nil, []string{"frobnicate"}, 2, "unknown command"},
	} {
		cmd := exec.Command(bin, append(tc.args, "--data", data)...)
		if tc.args[0] == "frobnicate" || tc.args[len(tc.args)-1] == "-h" {
			cmd = exec.Command(bin, tc.args...)
		}
		cmd.Env = append(os.Environ(), tc.env...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%v %v: exit %d, want %d; stderr %q", tc.env, tc.args, code, tc.code, stderr.String())
		}
	}
}
