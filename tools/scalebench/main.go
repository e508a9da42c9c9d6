// Command scalebench measures, in one run on one machine, what PostgreSQL and replicas change
// (docs/scaling.md):
//
//   - sandbox requests per second and live pairs per second of 1 server on SQLite, 1 on
//     PostgreSQL and 2 on PostgreSQL (clients spread over them), all as child processes;
//   - what a request costs the database: statements per sandbox call, live call and saved live
//     call, counted by pg_stat_statements;
//   - the ceilings of the stores themselves, called in-process by many goroutines: rate-limit
//     takes per second and saved sessions per second, SQLite against PostgreSQL;
//   - a server's peak resident memory under the load tool's mix at 16, 64 and 256 clients,
//     against the 400 MB bound of a replica with 2 workers (memory.go).
//
// PostgreSQL is a throw-away server (internal/pgtest) with durable commits, as in production.
//
//	go run ./tools/scalebench [-bin bin/facematch] [-models models] [-seconds 8] [-memory-seconds 30]
//	go run ./tools/scalebench -memory-only      # the memory section alone
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/internal/benchseed"
	"github.com/facematch/facematch/internal/pgtest"
	"github.com/facematch/facematch/internal/shared"
	"github.com/facematch/facematch/postgres"
	"github.com/facematch/facematch/sqlite"
)

func main() {
	bin := flag.String("bin", "bin/facematch", "the server binary")
	models := flag.String("models", "models", "model folder")
	seconds := flag.Float64("seconds", 8, "duration of each timed run")
	clients := flag.Int("clients", 16, "client concurrency of the HTTP runs")
	workers := flag.Int("workers", 2, "recognizer workers per server")
	storesOnly := flag.Bool("stores-only", false, "measure only the store ceilings (no servers)")
	memorySeconds := flag.Float64("memory-seconds", 30, "duration of each run of the memory section (0 skips it)")
	memoryOnly := flag.Bool("memory-only", false, "measure only a server's peak memory under load")
	flag.Parse()
	err := error(nil)
	if !*memoryOnly {
		err = run(*bin, *models, time.Duration(*seconds*float64(time.Second)), *clients, *workers, *storesOnly)
	}
	if err == nil && !*storesOnly && *memorySeconds > 0 {
		err = memoryRuns(*bin, *models, time.Duration(*memorySeconds*float64(time.Second)), *workers)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scalebench:", err)
		os.Exit(1)
	}
}

func run(bin, models string, d time.Duration, clients, workers int, storesOnly bool) error {
	dir := shared.Dir()
	if dir == "" {
		return fmt.Errorf("the shared folder ../shared is missing")
	}
	read := func(rel string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, "fixtures", "faces", rel)) }
	small, err := read("barack_obama/obama_small.jpg")
	if err != nil {
		return err
	}
	small2, err := read("barack_obama/obama-240p.jpg")
	if err != nil {
		return err
	}
	pg, err := pgtest.Start(pgtest.Options{Durable: true, Settings: []string{"shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all"}})
	if err != nil {
		return err
	}
	defer pg.Stop()
	ctx := context.Background()
	if storesOnly {
		return storeCeilings(ctx, pg, d)
	}

	fmt.Printf("scalebench: %d clients, %s per run, %d workers per server, two small JPEGs per call\n\n", clients, d, workers)
	body, ct := formBody(small, small2, false)
	savedBody, savedCT := formBody(small, small2, true)
	type setup struct {
		name     string
		replicas int
		pg       bool
	}
	fmt.Printf("%-22s %14s %14s %16s %24s %24s\n", "", "sandbox req/s", "live pairs/s", "saved pairs/s", "server CPU µs/call*", "PostgreSQL CPU µs/call*")
	for _, s := range []setup{{"1 server, SQLite", 1, false}, {"1 server, PostgreSQL", 1, true}, {"2 servers, PostgreSQL", 2, true}} {
		data, err := os.MkdirTemp("", "scalebench")
		if err != nil {
			return err
		}
		var store []string
		if s.pg {
			url, err := pg.CreateDatabase(ctx)
			if err != nil {
				return err
			}
			store = []string{"--database-url", url}
		}
		live, sandboxKey, err := seed(bin, data, store)
		if err != nil {
			return err
		}
		var servers []*server
		for range s.replicas {
			args := append([]string{"serve", "--addr", "ADDR", "--data", data, "--models", models, "--workers", fmt.Sprint(workers),
				"--write-limit", "100000000", "--read-limit", "100000000", "--live-queue", "64"}, store...)
			if s.pg {
				// Replicas keep data folders of their own: nothing in them is shared.
				args[4] = filepath.Join(data, fmt.Sprint("replica", len(servers)))
			}
			srv, err := start(bin, args...)
			if err != nil {
				return err
			}
			servers = append(servers, srv)
		}
		var urls []string
		for _, srv := range servers {
			urls = append(urls, srv.base+"/v3/face-match/")
		}
		cpu, srvCPU := make([]float64, 3), make([]float64, 3)
		serversCPU := func() float64 {
			var sum float64
			for _, srv := range servers {
				sum += processCPU(srv.cmd.Process.Pid)
			}
			return sum
		}
		measure := func(i int, key string, b []byte, ct string) (float64, error) {
			c0, s0 := postgresCPU(pg.PostmasterPID()), serversCPU()
			r, err := hammer(urls, key, b, ct, clients, d)
			if r > 0 {
				cpu[i] = (postgresCPU(pg.PostmasterPID()) - c0) / (r * d.Seconds()) * 1e6
				srvCPU[i] = (serversCPU() - s0) / (r * d.Seconds()) * 1e6
			}
			return r, err
		}
		sb, err := measure(0, sandboxKey, body, ct)
		if err == nil {
			var lv, sv float64
			if lv, err = measure(1, live, body, ct); err == nil {
				if sv, err = measure(2, live, savedBody, savedCT); err == nil {
					pgCPU := "-"
					if s.pg {
						pgCPU = fmt.Sprintf("%.0f / %.0f / %.0f", cpu[0], cpu[1], cpu[2])
					}
					fmt.Printf("%-22s %14.0f %14.1f %16.1f %24s %24s\n", s.name, sb, lv, sv,
						fmt.Sprintf("%.0f / %.0f / %.0f", srvCPU[0], srvCPU[1], srvCPU[2]), pgCPU)
				}
			}
		}
		for _, srv := range servers {
			srv.stop()
		}
		os.RemoveAll(data)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}

	fmt.Println("* CPU time per call of the server processes, and of all PostgreSQL processes: sandbox / live / saved live")
	if err := statementsPerRequest(ctx, pg, bin, models, body, ct, savedBody, savedCT); err != nil {
		return err
	}
	return storeCeilings(ctx, pg, d)
}

// statementsPerRequest runs a number of calls of each kind against one server on PostgreSQL
// and counts the statements the database ran for them.
func statementsPerRequest(ctx context.Context, pg *pgtest.Server, bin, models string, body []byte, ct string, savedBody []byte, savedCT string) error {
	url, err := pg.CreateDatabase(ctx)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		return err
	}
	data, err := os.MkdirTemp("", "scalebench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	live, sandboxKey, err := seed(bin, data, []string{"--database-url", url})
	if err != nil {
		return err
	}
	srv, err := start(bin, "serve", "--addr", "ADDR", "--data", data, "--models", models, "--workers", "2", "--database-url", url, "--replica-lease", "1h")
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Printf("\nstatements per request on PostgreSQL (pg_stat_statements, 50 calls each):\n")
	const n = 50
	for _, c := range []struct {
		name     string
		key      string
		body     []byte
		ct       string
		wantSave bool
	}{{"sandbox call", sandboxKey, body, ct, false}, {"live call", live, body, ct, false}, {"saved live call", live, savedBody, savedCT, true}} {
		time.Sleep(200 * time.Millisecond)
		if _, err := conn.Exec(ctx, `SELECT pg_stat_statements_reset()`); err != nil {
			return err
		}
		for range n {
			if err := once(srv.base+"/v3/face-match/", c.key, c.body, c.ct); err != nil {
				return err
			}
		}
		rows, err := conn.Query(ctx, `SELECT calls, toplevel, query FROM pg_stat_statements
			WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'
			ORDER BY calls DESC`)
		if err != nil {
			return err
		}
		type stmt struct {
			calls    int64
			toplevel bool
			query    string
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stmt, error) {
			var s stmt
			return s, r.Scan(&s.calls, &s.toplevel, &s.query)
		})
		if err != nil {
			return err
		}
		var total, client int64
		var parts []string
		for _, s := range list {
			total += s.calls
			if !s.toplevel {
				continue
			}
			client += s.calls
			if s.calls >= n/2 {
				q := strings.Join(strings.Fields(s.query), " ")
				if len(q) > 48 {
					q = q[:48] + "..."
				}
				parts = append(parts, fmt.Sprintf("      %.2f  %s", float64(s.calls)/n, q))
			}
		}
		fmt.Printf("  %-16s %.2f statements sent by the server, %.2f run in all (inside take_request, foreign-key checks); the server's background work (lease, outbox polling) included\n%s\n",
			c.name, float64(client)/n, float64(total)/n, strings.Join(parts, "\n"))
	}
	return nil
}

// storeCeilings calls the stores in-process from many goroutines.
func storeCeilings(ctx context.Context, pg *pgtest.Server, d time.Duration) error {
	fmt.Printf("\nstore ceilings, in-process, 32 goroutines, %s each:\n", d)
	fmt.Printf("%-12s %18s %18s %16s\n", "", "takes/s (64 keys)", "takes/s (1 key)", "saved sessions/s")
	sqliteDir, err := os.MkdirTemp("", "scalebench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(sqliteDir)
	sq, err := sqlite.Open(ctx, sqliteDir)
	if err != nil {
		return err
	}
	defer sq.Close()
	url, err := pg.CreateDatabase(ctx)
	if err != nil {
		return err
	}
	pq, err := postgres.Open(ctx, url+"&pool_max_conns=32")
	if err != nil {
		return err
	}
	defer pq.Close()
	img := bytes.Repeat([]byte{0xA5}, 40<<10) // two 40 kB images per session, about a small JPEG
	for _, s := range []struct {
		name  string
		store facematch.Store
	}{{"SQLite", sq}, {"PostgreSQL", pq}} {
		many := rate(32, d, func(i int) error {
			_, err := s.store.TakeRequest(ctx, fmt.Sprint("key", i%64), "write", 1<<30, time.Minute)
			return err
		})
		one := rate(32, d, func(int) error {
			_, err := s.store.TakeRequest(ctx, "hot", "write", 1<<30, time.Minute)
			return err
		})
		o, err := s.store.CreateOrganization(ctx, "bench", 1<<40)
		if err != nil {
			return err
		}
		app, err := s.store.CreateApplication(ctx, o.ID, "bench", facematch.ModeLive)
		if err != nil {
			return err
		}
		score := 91.5
		var seq atomic.Int64
		sessions := rate(32, d, func(int) error {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", seq.Add(1))
			r, err := s.store.ReserveCredit(ctx, o.ID, id)
			if err != nil {
				return err
			}
			_, err = s.store.CreateSession(ctx, facematch.NewSession{
				Session: facematch.Session{ID: id, AppID: app.ID, CreatedAt: time.Now().UTC(),
					FaceMatch: facematch.FaceMatch{Status: "Approved", Score: &score, Warnings: []facematch.Warning{}}},
				Source: facematch.StoredImage{ContentType: "image/jpeg", Data: img},
				Target: facematch.StoredImage{ContentType: "image/jpeg", Data: img},
				Credit: r,
			})
			return err
		})
		fmt.Printf("%-12s %18.0f %18.0f %16.0f\n", s.name, many, one, sessions)
	}
	return nil
}

// rate runs fn from g goroutines for d and returns calls per second; it stops at an error.
func rate(g int, d time.Duration, fn func(i int) error) float64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i += g {
				if err := fn(i); err != nil {
					fmt.Fprintln(os.Stderr, "scalebench:", err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// server is a child process serving HTTP.
type server struct {
	cmd  *exec.Cmd
	base string
}

func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	s.cmd.Wait()
}

func start(name string, args ...string) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	for i, a := range args {
		if a == "ADDR" {
			args[i] = addr
		}
	}
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, base: "http://" + addr}
	for range 1200 {
		if res, err := http.Get(s.base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("%s did not start: %s", name, stderr.String())
}

// seed creates an organization with a live and a sandbox key in the store the flags name.
func seed(bin, data string, store []string) (live, sandbox string, err error) {
	return benchseed.Seed(bin, 100000000, append([]string{"--data", data}, store...)...)
}

// formBody is a face-match request body.
func formBody(user, ref []byte, save bool) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range []struct {
		field string
		data  []byte
	}{{"user_image", user}, {"ref_image", ref}} {
		p, _ := w.CreateFormFile(f.field, f.field+".jpg")
		p.Write(f.data)
	}
	w.WriteField("save_api_request", fmt.Sprint(save))
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// hammer posts body from clients goroutines, spread over urls, for d and returns requests per
// second; any answer but a 200 is an error.
func hammer(urls []string, key string, body []byte, ct string, clients int, d time.Duration) (float64, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	var (
		n        atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := urls[c%len(urls)]
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", ct)
				req.Header.Set("x-api-key", key)
				res, err := client.Do(req)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					firstErr.CompareAndSwap(nil, fmt.Errorf("%s answered %d", url, res.StatusCode))
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

// once makes one call and wants a 200.
func once(url, key string, body []byte, ct string) error {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("x-api-key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("%s answered %d", url, res.StatusCode)
	}
	return nil
}

// postgresCPU sums the CPU seconds (user and system) used so far by the running processes of
// the PostgreSQL server: the postmaster, its backends and helpers.
func postgresCPU(postmaster int) float64 {
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var total float64
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(data)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < 0 || s[open+1:end] != "postgres" {
			continue
		}
		f := strings.Fields(s[end+2:])
		if f[1] != fmt.Sprint(postmaster) && !strings.HasPrefix(p, fmt.Sprintf("/proc/%d/", postmaster)) {
			continue
		}
		total += statCPU(f)
	}
	return total
}

// processCPU is the CPU seconds one process has used, user and system.
func processCPU(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	return statCPU(strings.Fields(s[strings.LastIndexByte(s, ')')+2:]))
}

// statCPU reads user and system time from the fields of /proc/PID/stat after the name.
func statCPU(f []string) float64 {
	var ut, st float64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return (ut + st) / 100 // clock ticks
}
