package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/facematch/facematch"
)

// A value that does not parse, on the command line or in a FACEMATCH_* variable, is a usage
// error (exit 2) naming the flag or the variable; nothing starts with a default instead (spec
// section 6).
func TestStrictFlagsAndVariables(t *testing.T) {
	const sandboxKey = "fm_sandbox_0123456789abcdef_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	data := t.TempDir()
	cases := []struct {
		name  string
		env   []string
		args  []string
		names string // what the message must name
	}{
		{"workers not a number (env)", []string{"FACEMATCH_WORKERS", "abc"}, []string{"serve", "--sandbox-only"}, "FACEMATCH_WORKERS"},
		{"workers zero", nil, []string{"serve", "--workers", "0"}, "-workers"},
		{"rate window without unit", nil, []string{"serve", "--rate-window", "5"}, "-rate-window"},
		{"rate window without unit (env)", []string{"FACEMATCH_RATE_WINDOW", "5"}, []string{"serve"}, "FACEMATCH_RATE_WINDOW"},
		{"boolean variable", []string{"FACEMATCH_ALLOW_PRIVATE_WEBHOOKS", "yes"}, []string{"serve"}, "FACEMATCH_ALLOW_PRIVATE_WEBHOOKS"},
		{"sandbox-only variable", []string{"FACEMATCH_SANDBOX_ONLY", "on"}, []string{"serve"}, "FACEMATCH_SANDBOX_ONLY"},
		{"write limit negative", nil, []string{"serve", "--write-limit", "-1"}, "-write-limit"},
		{"read limit (env)", []string{"FACEMATCH_READ_LIMIT", "1e3"}, []string{"serve"}, "FACEMATCH_READ_LIMIT"},
		{"backoff", nil, []string{"serve", "--webhook-backoff", "1m,soon"}, "-webhook-backoff"},
		{"media ttl (env)", []string{"FACEMATCH_MEDIA_URL_TTL", "1hour"}, []string{"serve"}, "FACEMATCH_MEDIA_URL_TTL"},
		{"address", nil, []string{"serve", "--addr", "8080"}, "-addr"},
		{"metrics address (env)", []string{"FACEMATCH_METRICS_ADDR", "localhost"}, []string{"serve"}, "FACEMATCH_METRICS_ADDR"},
		{"public url", nil, []string{"serve", "--public-url", "faces.example.com"}, "-public-url"},
		{"retention", nil, []string{"serve", "--retention", "30"}, "-retention"},
		{"shutdown timeout (env)", []string{"FACEMATCH_SHUTDOWN_TIMEOUT", "-1s"}, []string{"serve"}, "FACEMATCH_SHUTDOWN_TIMEOUT"},
		{"max inflight", nil, []string{"serve", "--max-inflight", "many"}, "-max-inflight"},
		{"live queue negative", nil, []string{"serve", "--live-queue", "-1"}, "-live-queue"},
		{"live queue (env)", []string{"FACEMATCH_LIVE_QUEUE", "lots"}, []string{"serve"}, "FACEMATCH_LIVE_QUEUE"},
		{"memory limit without number", nil, []string{"serve", "--memory-limit", "MiB"}, "-memory-limit"},
		{"memory limit unit unknown (env)", []string{"FACEMATCH_MEMORY_LIMIT", "300M"}, []string{"serve"}, "FACEMATCH_MEMORY_LIMIT"},
		{"memory limit too small", nil, []string{"serve", "--memory-limit", "1MiB"}, "-memory-limit"},
		{"body memory off", nil, []string{"serve", "--body-memory", "off"}, "-body-memory"},
		{"body memory under one body (env)", []string{"FACEMATCH_BODY_MEMORY", "8MiB"}, []string{"serve"}, "FACEMATCH_BODY_MEMORY"},
		{"sandbox key malformed", nil, []string{"serve", "--sandbox-key", "fm_sandbox_0123"}, "-sandbox-key"},
		{"sandbox key of live form (env)", []string{"FACEMATCH_SANDBOX_KEY", "fm_live" + strings.TrimPrefix(sandboxKey, "fm_sandbox")}, []string{"serve", "--sandbox-only"}, "FACEMATCH_SANDBOX_KEY"},
		{"sandbox key uppercase hex", nil, []string{"serve", "--sandbox-key", strings.ToUpper(sandboxKey[:11]) + sandboxKey[11:]}, "-sandbox-key"},
		{"unknown flag", nil, []string{"org", "list", "--colour"}, "-colour"},
		{"compare threshold", nil, []string{"compare", "--threshold", "101", "a.jpg", "b.jpg"}, "-threshold"},
		{"compare arguments", nil, []string{"compare", "a.jpg"}, "USER_IMAGE REF_IMAGE"},
		{"eval workers (env)", []string{"FACEMATCH_WORKERS", "two"}, []string{"eval", "--pairs", "p.tsv"}, "FACEMATCH_WORKERS"},
		{"eval without pairs", nil, []string{"eval"}, "--pairs"},
		{"credits amount", nil, []string{"credits", "add", "--org", "x", "--amount", "ten"}, "-amount"},
		{"session list limit", nil, []string{"session", "list", "--app", "x", "--limit", "-1"}, "-limit"},
		{"session list without app", nil, []string{"session", "list"}, "--app"},
		{"purge without unit", nil, []string{"session", "purge", "--older-than", "30"}, "-older-than"},
		{"purge without duration", nil, []string{"session", "purge"}, "--older-than"},
		{"backup without out", nil, []string{"backup"}, "--out"},
		{"org show without id", nil, []string{"org", "show"}, "--id"},
		{"unknown command", nil, []string{"frobnicate"}, "frobnicate"},
		{"unknown command of a group", nil, []string{"org", "delete"}, "org delete"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := env(append([]string{"FACEMATCH_DATA", data, "FACEMATCH_MODELS", t.TempDir()}, tc.env...)...)
			_, stderr, err := runCLI(t, e, tc.args...)
			var u *UsageError
			if !errors.As(err, &u) || ExitCode(err) != 2 {
				t.Fatalf("%v: got %v (exit %d), want a usage error (exit 2); stderr %s", tc.args, err, ExitCode(err), stderr)
			}
			if !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("%v: %q does not name %s", tc.args, err, tc.names)
			}
		})
	}
}

// The command line wins over the environment: a variable the command line overrides is not read.
func TestFlagWinsOverVariable(t *testing.T) {
	c := &cmdContext{getenv: env("FACEMATCH_WORKERS", "3", "FACEMATCH_RATE_WINDOW", "2m", "FACEMATCH_SANDBOX_ONLY", "true")}
	cfg, _, err := serveFlags(c, []string{"--workers", "5"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Workers != 5 || cfg.RateWindow.Minutes() != 2 || !cfg.SandboxOnly {
		t.Fatalf("workers %d, window %v, sandbox only %v", cfg.Workers, cfg.RateWindow, cfg.SandboxOnly)
	}
}

// --workers follows GOMAXPROCS (a container's CPU limit), not the host's CPU count.
func TestWorkersDefaultIsGOMAXPROCS(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	cfg, _, err := serveFlags(&cmdContext{getenv: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Workers != 1 {
		t.Fatalf("workers %d with GOMAXPROCS 1 (host CPUs %d)", cfg.Workers, runtime.NumCPU())
	}
}

// --body-memory reads sizes of at least one of the largest bodies, 48 MiB unless given.
func TestBodyMemory(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		args []string
		want int64
	}{
		{nil, nil, 48 << 20},
		{nil, []string{"--body-memory", "12MiB"}, 12 << 20},
		{[]string{"FACEMATCH_BODY_MEMORY", "1GiB"}, nil, 1 << 30},
	} {
		cfg, _, err := serveFlags(&cmdContext{getenv: env(tc.env...)}, tc.args)
		if err != nil {
			t.Fatalf("%v %v: %v", tc.env, tc.args, err)
		}
		if cfg.BodyMemory != tc.want {
			t.Fatalf("%v %v: body memory %d, want %d", tc.env, tc.args, cfg.BodyMemory, tc.want)
		}
	}
}

// --live-queue follows --workers (twice, at least 8) unless given; --memory-limit reads sizes in bytes and off.
func TestLiveQueueAndMemoryLimit(t *testing.T) {
	cases := []struct {
		env      []string
		args     []string
		queue    int
		memLimit int64
	}{
		{nil, []string{"--workers", "1"}, 8, 40 << 20},
		{nil, []string{"--workers", "3"}, 8, 60 << 20},
		{nil, []string{"--workers", "6"}, 12, 120 << 20},
		{nil, []string{"--workers", "3", "--live-queue", "0", "--memory-limit", "off"}, 0, 0},
		{[]string{"FACEMATCH_LIVE_QUEUE", "5", "FACEMATCH_MEMORY_LIMIT", "1GiB"}, nil, 5, 1 << 30},
		{nil, []string{"--memory-limit", "300MB"}, -1, 300 << 20},
		{nil, []string{"--memory-limit", "268435456"}, -1, 256 << 20},
	}
	for _, tc := range cases {
		cfg, o, err := serveFlags(&cmdContext{getenv: env(tc.env...)}, tc.args)
		if err != nil {
			t.Fatalf("%v %v: %v", tc.env, tc.args, err)
		}
		want := tc.queue
		if want < 0 {
			want = max(8, 2*cfg.Workers)
		}
		if cfg.LiveQueue != want || o.memoryLimit != tc.memLimit {
			t.Fatalf("%v %v: live queue %d, memory limit %d; want %d, %d", tc.env, tc.args, cfg.LiveQueue, o.memoryLimit, want, tc.memLimit)
		}
	}
}

// Every command takes --data and --models, so that scripts can pass the same flags to all.
func TestEveryCommandTakesDataAndModels(t *testing.T) {
	for _, cmd := range commands() {
		args := append(strings.Fields(cmd.name), "--data", t.TempDir(), "--models", t.TempDir(), "-h")
		_, stderr, err := runCLI(t, env(), args...)
		if err != nil {
			t.Errorf("%s: %v", cmd.name, err)
		}
		if !strings.Contains(stderr, "usage: facematch "+cmd.name) || !strings.Contains(stderr, "FACEMATCH_DATA") {
			t.Errorf("%s -h printed %q", cmd.name, stderr)
		}
	}
}

// `facematch org -h` (and `facematch org`) lists the group's commands.
func TestGroupHelp(t *testing.T) {
	for _, args := range [][]string{{"org", "-h"}, {"org"}, {"session", "--help"}} {
		_, stderr, err := runCLI(t, env(), args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		group := args[0]
		for _, cmd := range commands() {
			listed := strings.Contains(stderr, "  "+cmd.name+" ")
			if strings.HasPrefix(cmd.name, group+" ") != listed {
				t.Errorf("%v: %s listed %v:\n%s", args, cmd.name, listed, stderr)
			}
		}
	}
}

// `facematch version` and `facematch --version` print the version, the commit and the sha256 of
// the contract built in.
func TestVersion(t *testing.T) {
	sum := sha256.Sum256(facematch.OpenAPISpec)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, _, err := runCLI(t, env(), args...)
		if err != nil {
			t.Fatal(err)
		}
		var v buildVersion
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%v printed %q", args, out)
		}
		if v.ContractSHA256 != hex.EncodeToString(sum[:]) || v.Version == "" || v.Commit == "" || v.GoVersion != runtime.Version() {
			t.Fatalf("%v printed %+v", args, v)
		}
	}
}
