package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/facematch/facematch/internal/shared"
	"github.com/facematch/facematch/tools/loadgen/load"
)

// memoryTarget is issue 13's bound on a replica's peak resident memory with 2 workers.
const memoryTarget = 400 << 20

// memoryRuns loads a fresh server (SQLite, the serve defaults but for the rate limits) with the
// load tool's mix at growing concurrency and prints each run's peak resident memory against
// memoryTarget: what docs/scaling.md's Memory section measures. Each run has a server of its
// own, so that each peak is its own.
func memoryRuns(bin, models string, d time.Duration, workers int) error {
	dir := shared.Dir()
	if dir == "" {
		return fmt.Errorf("the shared folder ../shared is missing")
	}
	images, err := load.LoadImages(filepath.Join(dir, "fixtures", "faces"), 100<<10)
	if err != nil {
		return err
	}
	mix, err := load.ParseMix("sandbox=60,live=20,decision=20")
	if err != nil {
		return err
	}
	fmt.Printf("\nmemory: a server with %d workers and the serve defaults, %s per run, mix sandbox=60,live=20,decision=20, %d photos of at most 100 KB\n", workers, d, len(images))
	fmt.Printf("%8s %12s %10s %10s %14s %12s %8s %12s\n", "clients", "peak MB", "live 200", "live 503", "sandbox req/s", "sandbox p99", "5xx*", "RATIO peak/400 MB")
	for _, clients := range []int{16, 64, 256} {
		data, err := os.MkdirTemp("", "scalebench-memory")
		if err != nil {
			return err
		}
		err = func() error {
			defer os.RemoveAll(data)
			live, sandbox, err := seed(bin, data, nil)
			if err != nil {
				return err
			}
			srv, err := start(bin, "serve", "--addr", "ADDR", "--data", data, "--models", models, "--workers", fmt.Sprint(workers),
				"--write-limit", "100000000", "--read-limit", "100000000")
			if err != nil {
				return err
			}
			defer srv.stop()
			r, err := load.Run(context.Background(), load.Config{
				URL: srv.base, LiveKey: live, SandboxKey: sandbox, Concurrency: clients, Duration: d,
				Mix: mix, Images: images, Seed: 1,
			})
			if err != nil {
				return err
			}
			peak, err := load.PeakRSS(srv.cmd.Process.Pid)
			if err != nil {
				return err
			}
			lv, sb := r.Routes[load.Live], r.Routes[load.Sandbox]
			fmt.Printf("%8d %12d %10d %10d %14.1f %9.1f ms %8d %12.2f\n", clients, peak>>20, lv.Statuses[200], r.Refused,
				sb.PerSecond, float64(sb.P99.Microseconds())/1000, r.ServerErrors()+r.Total.Errors, float64(peak)/memoryTarget)
			return nil
		}()
		if err != nil {
			return fmt.Errorf("memory, %d clients: %w", clients, err)
		}
	}
	fmt.Println("* 5xx other than the 503s of admission control, and requests without an answer: both should be 0")
	return nil
}
