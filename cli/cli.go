// Package cli is the facematch command: the API server and the operator's sub-commands of spec
// section 6. main only calls Run, so tests start the whole program in-process.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
)

// Env reads the environment; tests pass their own.
type Env func(string) string

// command is one sub-command.
type command struct {
	name    string // e.g. "org create"
	summary string
	run     func(ctx context.Context, c *cmdContext, args []string) error
}

// cmdContext carries what every sub-command needs.
type cmdContext struct {
	getenv Env
	stdout io.Writer
	stderr io.Writer
}

func commands() []command {
	return []command{
		{"serve", "run the API", serve},
		{"org create", "create an organization", orgCreate},
		{"credits add", "add (or remove, when negative) credits of an organization", creditsAdd},
		{"app create", "create an application of an organization", appCreate},
		{"key create", "create an API key of an application; it is shown once", keyCreate},
		{"key revoke", "revoke an API key", keyRevoke},
		{"user create", "create a console account; a generated password is shown once", userCreate},
		{"compare", "compare the faces of two image files, no server needed", compare},
		{"eval", "score every pair of a pairs file and report error rates", eval},
	}
}

// Run runs the command line args (args[0] is the program name) and returns its error; usage
// errors name the right usage.
func Run(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	c := &cmdContext{getenv: getenv, stdout: stdout, stderr: stderr}
	rest := args[1:]
	for _, cmd := range commands() {
		words := strings.Fields(cmd.name)
		if len(rest) >= len(words) && strings.Join(rest[:len(words)], " ") == cmd.name {
			err := cmd.run(ctx, c, rest[len(words):])
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
	}
	usage(stderr)
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
		return nil
	}
	return fmt.Errorf("unknown command %q", strings.Join(rest, " "))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: facematch <command> [flags]; `facematch <command> -h` lists its flags")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", cmd.name, cmd.summary)
	}
}

// flags is a sub-command's flag set whose defaults come from FACEMATCH_* environment variables.
type flags struct {
	*flag.FlagSet
	getenv Env
}

func newFlags(c *cmdContext, name string) *flags {
	fs := flag.NewFlagSet("facematch "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	return &flags{FlagSet: fs, getenv: c.getenv}
}

// envName is the environment variable that sets a flag: --webhook-backoff reads
// FACEMATCH_WEBHOOK_BACKOFF.
func envName(flagName string) string {
	return "FACEMATCH_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f *flags) str(name, def, help string) *string {
	if v := f.getenv(envName(name)); v != "" {
		def = v
	}
	return f.String(name, def, help+" (env "+envName(name)+")")
}

func (f *flags) integer(name string, def int, help string) *int {
	if v, err := strconv.Atoi(f.getenv(envName(name))); err == nil {
		def = v
	}
	return f.Int(name, def, help+" (env "+envName(name)+")")
}

func (f *flags) boolean(name string, def bool, help string) *bool {
	if v, err := strconv.ParseBool(f.getenv(envName(name))); err == nil {
		def = v
	}
	return f.Bool(name, def, help+" (env "+envName(name)+")")
}

func (f *flags) models() *string {
	return f.str("models", "./models", "folder of the dlib model files")
}

func (f *flags) data() *string {
	return f.str("data", "./data", "folder of the SQLite database and stored images")
}

func (f *flags) workers() *int {
	return f.integer("workers", runtime.NumCPU(), "recognizers working at once")
}

// parse parses args and checks the number of positional arguments.
func (f *flags) parse(args []string, positional ...string) error {
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() != len(positional) {
		return fmt.Errorf("%s wants %d arguments (%s), got %d", f.Name(), len(positional), strings.Join(positional, " "), f.NArg())
	}
	return nil
}

// printJSON writes v as indented JSON on a line of its own.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
