package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// flags is a sub-command's flag set. Flags declared with an environment variable also read
// FACEMATCH_<NAME> when the command line does not set them. Every value is parsed strictly: one
// that does not parse, or is out of range, on the command line or in the environment, is a
// *UsageError naming the flag or the variable (spec section 6), never a silent default.
//
// The standard library's flag package does the parsing; the environment overlay is the few
// lines of parse. A flag library (ff, kong) would add a dependency to save about as many lines,
// and reads the process environment where the commands take getenv.
type flags struct {
	fs     *flag.FlagSet
	getenv Env
	stderr io.Writer
	env    map[string]bool // flags that read an environment variable

	// The flags every command takes, so that scripts can pass the same ones to all of them.
	data        *string
	models      *string
	databaseURL *string
}

func newFlags(c *cmdContext, name string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors itself; -h prints the flags on stderr
	fs.Usage = func() {}
	f := &flags{fs: fs, getenv: c.getenv, stderr: c.stderr, env: map[string]bool{}}
	f.data = f.str("data", "./data", "folder of the SQLite database and anything else the service keeps")
	f.models = f.str("models", "./models", "folder of the dlib model files (serve, compare, eval)")
	f.databaseURL = f.str("database-url", "", "PostgreSQL database shared by replicas, postgres://user@host:port/db (default: SQLite in --data)")
	return f
}

// envName is the environment variable that sets a flag: --webhook-backoff reads
// FACEMATCH_WEBHOOK_BACKOFF.
func envName(flagName string) string {
	return "FACEMATCH_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// withEnv declares a flag that also reads its environment variable.
func (f *flags) withEnv(v flag.Value, name, help string) {
	f.fs.Var(v, name, help+" (env "+envName(name)+")")
	f.env[name] = true
}

// str declares a string flag with an environment variable.
func (f *flags) str(name, def, help string) *string {
	p := new(string)
	*p = def
	f.withEnv(checked[string]{p: p, parse: func(s string) (string, error) { return s, nil }}, name, help)
	return p
}

// text declares a string flag without an environment variable: the objects an admin command
// acts on (--org, --id) are named on its command line only.
func (f *flags) text(name, help string) *string {
	p := new(string)
	f.fs.Var(checked[string]{p: p, parse: func(s string) (string, error) { return s, nil }}, name, help)
	return p
}

// integer declares a whole-number flag of at least lo, with an environment variable.
func (f *flags) integer(name string, def, lo int, help string) *int {
	p := new(int)
	*p = def
	f.withEnv(checked[int]{p: p, parse: func(s string) (int, error) { return parseInt(s, lo) }}, name, help)
	return p
}

// count declares a whole-number flag of at least lo, without an environment variable.
func (f *flags) count(name string, def, lo int, help string) *int {
	p := new(int)
	*p = def
	f.fs.Var(checked[int]{p: p, parse: func(s string) (int, error) { return parseInt(s, lo) }}, name, help)
	return p
}

// int64Arg declares a whole-number flag without an environment variable.
func (f *flags) int64Arg(name string, def int64, help string) *int64 {
	p := new(int64)
	*p = def
	f.fs.Var(checked[int64]{p: p, parse: func(s string) (int64, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, errors.New("want a whole number")
		}
		return n, nil
	}}, name, help)
	return p
}

// boolean declares a flag that is true when given, with an environment variable that must read
// true or false (1, 0, t, f, true, false).
func (f *flags) boolean(name string, def bool, help string) *bool {
	p := new(bool)
	*p = def
	f.withEnv(boolValue{p}, name, help)
	return p
}

// switchArg declares a flag that is true when given, without an environment variable.
func (f *flags) switchArg(name, help string) *bool {
	p := new(bool)
	f.fs.Var(boolValue{p}, name, help)
	return p
}

// duration declares a duration flag of at least lo, with an environment variable. Durations are
// Go's (90s, 5m, 1h30m); with days, a whole number of days (30d) too.
func (f *flags) duration(name string, def, lo time.Duration, days bool, help string) *time.Duration {
	p := new(time.Duration)
	*p = def
	f.withEnv(checked[time.Duration]{p: p, parse: func(s string) (time.Duration, error) { return parseDuration(s, lo, days) }, show: showDuration}, name, help)
	return p
}

// durationArg is duration without an environment variable.
func (f *flags) durationArg(name string, def, lo time.Duration, days bool, help string) *time.Duration {
	p := new(time.Duration)
	*p = def
	f.fs.Var(checked[time.Duration]{p: p, parse: func(s string) (time.Duration, error) { return parseDuration(s, lo, days) }, show: showDuration}, name, help)
	return p
}

// number declares a decimal flag from lo to hi, without an environment variable.
func (f *flags) number(name string, def, lo, hi float64, help string) *float64 {
	p := new(float64)
	*p = def
	f.fs.Var(checked[float64]{p: p, parse: func(s string) (float64, error) {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || v < lo || v > hi {
			return 0, fmt.Errorf("want a number from %g to %g", lo, hi)
		}
		return v, nil
	}}, name, help)
	return p
}

// custom declares a flag with an environment variable whose value parse checks and converts.
func custom[T any](f *flags, name string, def T, parse func(string) (T, error), show func(T) string, help string) *T {
	p := new(T)
	*p = def
	f.withEnv(checked[T]{p: p, parse: parse, show: show}, name, help)
	return p
}

// parse parses args, then the environment variables of the flags the command line left unset,
// and checks the number of positional arguments. -h prints the flags and returns flag.ErrHelp,
// which the commands pass on as nil.
func (f *flags) parse(args []string, positional ...string) error {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			f.printHelp(positional)
			return flag.ErrHelp
		}
		return &UsageError{Err: fmt.Errorf("%s: %v (`facematch %s -h` lists its flags)", f.fs.Name(), err, f.fs.Name())}
	}
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	var errs []error
	f.fs.VisitAll(func(fl *flag.Flag) {
		if !f.env[fl.Name] || given[fl.Name] {
			return
		}
		name := envName(fl.Name)
		v := f.getenv(name)
		if v == "" {
			return
		}
		if err := fl.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %v", name, v, err))
		}
	})
	if len(errs) > 0 {
		return &UsageError{Err: fmt.Errorf("%s: %w", f.fs.Name(), errors.Join(errs...))}
	}
	if f.fs.NArg() != len(positional) {
		return usageErrorf("%s wants %d arguments (%s), got %d", f.fs.Name(), len(positional), strings.Join(positional, " "), f.fs.NArg())
	}
	return nil
}

// args are the positional arguments after parse.
func (f *flags) args() []string { return f.fs.Args() }

// printHelp lists the flags as --name VALUE, with their help, variable and default.
func (f *flags) printHelp(positional []string) {
	fmt.Fprintf(f.stderr, "usage: facematch %s [flags] %s\n", f.fs.Name(), strings.Join(positional, " "))
	f.fs.VisitAll(func(fl *flag.Flag) {
		arg := ""
		if p, ok := fl.Value.(interface{ placeholder() string }); ok {
			arg = " " + p.placeholder()
		}
		def := ""
		if fl.DefValue != "" && fl.DefValue != "false" {
			def = " (default " + fl.DefValue + ")"
		}
		fmt.Fprintf(f.stderr, "  --%s%s\n    \t%s%s\n", fl.Name, arg, fl.Usage, def)
	})
}

// helped turns the flag.ErrHelp of -h into success.
func helped(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// checked is a flag.Value whose parse function refuses what does not parse or is out of range.
type checked[T any] struct {
	p     *T
	parse func(string) (T, error)
	show  func(T) string
}

func (c checked[T]) Set(s string) error {
	v, err := c.parse(s)
	if err != nil {
		return err
	}
	*c.p = v
	return nil
}

// placeholder names the value in the help: n, duration, number or value.
func (c checked[T]) placeholder() string {
	switch any(*new(T)).(type) {
	case int, int64:
		return "n"
	case time.Duration:
		return "duration"
	case float64:
		return "number"
	case []time.Duration:
		return "durations"
	}
	return "value"
}

func (c checked[T]) String() string {
	if c.p == nil {
		return ""
	}
	if c.show != nil {
		return c.show(*c.p)
	}
	return fmt.Sprint(*c.p)
}

// boolValue is a strict boolean flag.
type boolValue struct{ p *bool }

func (b boolValue) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	*b.p = v
	return nil
}

func (b boolValue) String() string {
	if b.p == nil {
		return "false"
	}
	return strconv.FormatBool(*b.p)
}

// IsBoolFlag lets the flag be given without a value.
func (b boolValue) IsBoolFlag() bool { return true }

func parseInt(s string, lo int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New("want a whole number")
	}
	if n < lo {
		return 0, fmt.Errorf("want at least %d", lo)
	}
	return n, nil
}

// parseDuration reads a Go duration (and, with days, a whole number of days such as 30d) of at
// least lo.
func parseDuration(s string, lo time.Duration, days bool) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); days && ok {
		v, err := strconv.Atoi(n)
		if err != nil || v < 0 || v > 100*365 {
			return 0, fmt.Errorf("want a duration such as 30d or 720h")
		}
		d = time.Duration(v) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			if days {
				return 0, fmt.Errorf("want a duration such as 30d, 12h or 90m")
			}
			return 0, fmt.Errorf("want a duration such as 90s, 5m or 1h")
		}
	}
	if d < lo {
		return 0, fmt.Errorf("want at least %s", showDuration(lo))
	}
	return d, nil
}

func showDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}

// parseAddr checks a listen address: host:port, the host empty or an IP or name, the port a number.
func parseAddr(s string) (string, error) {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("want host:port, e.g. 127.0.0.1:8080")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return s, nil
}

// parseBaseURL checks an absolute http(s) URL with no path, query or fragment beyond a slash.
func parseBaseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("want a scheme and host such as https://faces.example.com")
	}
	return strings.TrimRight(s, "/"), nil
}

// workers declares --workers, the recognizers working at once: by default as many as the
// process may run threads at once (GOMAXPROCS, which follows a container's CPU limit), not the
// host's CPU count.
func (f *flags) workers() *int {
	return f.integer("workers", runtime.GOMAXPROCS(0), 1, "recognizers working at once")
}
