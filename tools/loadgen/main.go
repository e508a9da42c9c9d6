// Command loadgen drives a running Face Match server with mixed traffic and prints, per route,
// p50/p95/p99 latency, throughput and answers by status; it exits 1 when any answer was a 5xx
// (or a request got no answer), 2 when the run could not start. It targets loopback addresses
// only (-allow-remote overrides) and stops by itself after -duration and/or -requests.
//
//	go run ./tools/loadgen -url http://127.0.0.1:8080 -live-key fm_live_... -sandbox-key fm_sandbox_... \
//	    -concurrency 16 -duration 60s -mix sandbox=60,live=20,decision=20 -server-pid $(pgrep -n facematch)
//
// -server-pid prints the server's peak resident memory after the run. A 503 with Retry-After
// (the server's live queue was full) is counted apart, not as a failure, and its client waits
// as told before its next request.
//
// Live calls spend a credit each and every call counts against the key's rate limit (300 writes
// and 600 reads a minute by default): start the server for a load run with raised limits, e.g.
// `serve --write-limit 1000000 --read-limit 1000000`, and give the live organization enough
// credits. See docs/reliability.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/facematch/facematch/internal/progress"
	"github.com/facematch/facematch/internal/shared"
	"github.com/facematch/facematch/tools/loadgen/load"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "base URL of the server (loopback only, unless -allow-remote)")
	allowRemote := fs.Bool("allow-remote", false, "allow a URL that is not a loopback address")
	liveKey := fs.String("live-key", getenv("FACEMATCH_LIVE_KEY"), "live API key (or $FACEMATCH_LIVE_KEY)")
	sandboxKey := fs.String("sandbox-key", getenv("FACEMATCH_SANDBOX_KEY"), "sandbox API key (or $FACEMATCH_SANDBOX_KEY)")
	concurrency := fs.Int("concurrency", 16, "requests in flight at once")
	duration := fs.Duration("duration", 60*time.Second, "stop after this long (0: only -requests bounds the run)")
	requests := fs.Int("requests", 0, "stop after this many requests (0: only -duration bounds the run)")
	mixFlag := fs.String("mix", "sandbox=60,live=20,decision=20", "weights of the routes")
	images := fs.String("images", "", "folder of photos to send (default ../shared/fixtures/faces)")
	maxImage := fs.Int64("max-image-bytes", 100<<10, "send only photos of at most this size")
	timeout := fs.Duration("timeout", 2*time.Minute, "bound on one request")
	serverPID := fs.Int("server-pid", 0, "print the peak resident memory (VmHWM) of this process, the server, after the run (Linux)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	mix, err := load.ParseMix(*mixFlag)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	cfg := load.Config{
		URL: *url, AllowRemote: *allowRemote, LiveKey: *liveKey, SandboxKey: *sandboxKey,
		Concurrency: *concurrency, Duration: *duration, Requests: *requests, Mix: mix, Timeout: *timeout,
		Seed: uint64(time.Now().UnixNano()),
	}
	if mix[load.Sandbox] > 0 || mix[load.Live] > 0 {
		dir := *images
		if dir == "" {
			if shared.Dir() == "" {
				fmt.Fprintln(stderr, "loadgen: no -images and no ../shared folder")
				return 2
			}
			dir = filepath.Join(shared.Dir(), "fixtures", "faces")
		}
		if cfg.Images, err = load.LoadImages(dir, *maxImage); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 2
		}
	}
	if *serverPID > 0 {
		if _, err := load.PeakRSS(*serverPID); err != nil {
			fmt.Fprintln(stderr, "loadgen: -server-pid:", err)
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintf(stdout, "loadgen: %s, concurrency %d, %s, mix %s, %d photos\n", cfg.URL, cfg.Concurrency, bounds(cfg), *mixFlag, len(cfg.Images))
	// The live line goes to stderr, so that stdout keeps only the report.
	live := newLiveLine(stderr, progress.IsTerminal(stderr), cfg.Duration, cfg.Requests, time.Now())
	cfg.OnResult = live.record
	stopLive := make(chan struct{})
	liveDone := make(chan struct{})
	go func() { live.run(stopLive); close(liveDone) }()
	rep, err := load.Run(ctx, cfg)
	close(stopLive)
	<-liveDone
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	rep.Print(stdout)
	if *serverPID > 0 {
		peak, err := load.PeakRSS(*serverPID)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen: -server-pid:", err)
			return 2
		}
		fmt.Fprintf(stdout, "server peak resident memory (VmHWM of pid %d): %d MB\n", *serverPID, peak>>20)
	}
	if rep.Failed() {
		fmt.Fprintf(stderr, "loadgen: %d answers were 5xx and %d requests got no answer\n", rep.ServerErrors(), rep.Total.Errors)
		return 1
	}
	return 0
}

func bounds(cfg load.Config) string {
	switch {
	case cfg.Duration > 0 && cfg.Requests > 0:
		return fmt.Sprintf("at most %s and %d requests", cfg.Duration, cfg.Requests)
	case cfg.Duration > 0:
		return "for " + cfg.Duration.String()
	}
	return fmt.Sprintf("%d requests", cfg.Requests)
}
