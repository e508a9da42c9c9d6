// Package cli is the facematch command: the API server and the operator's sub-commands of spec
// section 6. main only calls Run, so tests start the whole program in-process.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Env reads the environment; tests pass their own.
type Env func(string) string

// command is one sub-command.
type command struct {
	name    string // e.g. "org create"; its first word is its group
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
		{"serve", "run the API (--sandbox-only: sandbox keys only, no models)", serve},
		{"version", "print the version, the commit and the sha256 of the contract", version},
		{"org create", "create an organization", orgCreate},
		{"org list", "list the organizations with their balances", orgList},
		{"org show", "show an organization and its balance", orgShow},
		{"credits add", "add (or remove, when negative) credits of an organization", creditsAdd},
		{"app create", "create an application of an organization", appCreate},
		{"app list", "list the applications of an organization", appList},
		{"key create", "create an API key of an application; it is shown once", keyCreate},
		{"key list", "list the keys of an application: id, prefix, created, last used", keyList},
		{"key revoke", "revoke an API key", keyRevoke},
		{"session list", "list saved sessions of an application, newest first, as JSON lines", sessionList},
		{"session purge", "delete sessions older than a duration, with their images", sessionPurge},
		{"backup", "write a consistent copy of the SQLite database, also while the server runs", backup},
		{"compare", "compare the faces of two image files, no server needed", compare},
		{"eval", "score every pair of a pairs file and report error rates", eval},
	}
}

// UsageError is a command line or environment variable that does not parse: the program exits
// with status 2, as is customary for usage errors.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }

func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitCode is the process status for what Run returned: 0 for nil, 2 for a usage error, 1 for
// any other failure.
func ExitCode(err error) int {
	var u *UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		return 2
	}
	return 1
}

// Run runs the command line args (args[0] is the program name) and returns its error; usage
// errors are *UsageError and name the flag, variable or command at fault.
func Run(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	c := &cmdContext{getenv: getenv, stdout: stdout, stderr: stderr}
	rest := args[1:]
	if len(rest) > 0 && (rest[0] == "--version" || rest[0] == "-version") {
		return version(ctx, c, rest[1:])
	}
	for _, cmd := range commands() {
		words := strings.Fields(cmd.name)
		if len(rest) >= len(words) && strings.Join(rest[:len(words)], " ") == cmd.name {
			return cmd.run(ctx, c, rest[len(words):])
		}
	}
	if len(rest) == 0 || isHelp(rest[0]) || rest[0] == "help" {
		usage(stderr, "")
		return nil
	}
	if group := rest[0]; isGroup(group) {
		usage(stderr, group)
		if len(rest) == 1 || isHelp(rest[1]) {
			return nil
		}
		return usageErrorf("unknown command %q: `facematch %s -h` lists its commands", strings.Join(rest, " "), group)
	}
	usage(stderr, "")
	return usageErrorf("unknown command %q", strings.Join(rest, " "))
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// isGroup reports whether word is the first word of commands of two or more words.
func isGroup(word string) bool {
	for _, cmd := range commands() {
		if strings.HasPrefix(cmd.name, word+" ") {
			return true
		}
	}
	return false
}

// usage lists the commands, or those of one group.
func usage(w io.Writer, group string) {
	if group == "" {
		fmt.Fprintln(w, "usage: facematch <command> [flags]; `facematch <command> -h` lists its flags")
	} else {
		fmt.Fprintf(w, "usage: facematch %s <command> [flags]; `facematch %s <command> -h` lists its flags\n", group, group)
	}
	for _, cmd := range commands() {
		if group == "" || strings.HasPrefix(cmd.name, group+" ") {
			fmt.Fprintf(w, "  %-14s %s\n", cmd.name, cmd.summary)
		}
	}
}

// printJSON writes v as indented JSON on a line of its own.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printJSONLine writes v as compact JSON on one line, for listings read line by line.
func printJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
