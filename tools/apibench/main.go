// Command apibench measures the API against honest baselines in one run and prints ratios:
//
//   - sandbox requests per second against a bare net/http handler that reads the same request
//     and returns the same JSON, with the same client and concurrency;
//   - live pair latency (p50) against the raw dlib pipeline (bin/dlibraw) on the same photos;
//   - live throughput with 2 workers against 1;
//   - the server's resident memory.
//
// Servers run as child processes (bin/facematch serve) on loopback, each on a temp data folder.
//
//	go run ./tools/apibench [-bin bin/facematch] [-dlibraw bin/dlibraw] [-models models] [-seconds 10]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/facematch/facematch/imaging"
	"github.com/facematch/facematch/internal/benchseed"
	"github.com/facematch/facematch/internal/shared"
	"github.com/facematch/facematch/matcher"
)

func main() {
	matcher.UseFastBLAS()
	bin := flag.String("bin", "bin/facematch", "the server binary")
	dlibraw := flag.String("dlibraw", "bin/dlibraw", "the plain-dlib reference program")
	models := flag.String("models", "models", "model folder")
	seconds := flag.Float64("seconds", 10, "duration of each timed run")
	concurrency := flag.Int("concurrency", 16, "client concurrency of the sandbox runs")
	bare := flag.String("bare", "", "internal: serve the bare baseline handler on this address")
	flag.Parse()
	if *bare != "" {
		serveBare(*bare)
		return
	}
	if err := run(*bin, *dlibraw, *models, time.Duration(*seconds*float64(time.Second)), *concurrency); err != nil {
		fmt.Fprintln(os.Stderr, "apibench:", err)
		os.Exit(1)
	}
}

// sandboxAnswer is what the bare handler answers: the shape and size of a sandbox answer.
const sandboxAnswer = `{"request_id":"3f1c9c5e-3b7e-4d0e-9a51-2d2f6f3f9a10","face_match":{"status":"Approved","score":87.35,"user_image":{"entities":[{"bbox":[412,198,688,474],"confidence":null,"age":null,"gender":null}],"best_angle":0},"ref_image":{"entities":[{"bbox":[120,88,301,269],"confidence":null,"age":null,"gender":null}],"best_angle":0},"warnings":[]},"vendor_data":null,"metadata":null,"created_at":"2026-06-12T01:04:42.763237+00:00"}`

// serveBare is the baseline: a net/http handler that reads the request and returns the JSON.
func serveBare(addr string) {
	http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(sandboxAnswer))
	}))
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
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

// cpuSeconds reads the CPU time the child has used, user and system.
func (s *server) cpuSeconds() float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // clock ticks
}

// peakRSSMB reads the child's peak resident memory.
func (s *server) peakRSSMB() float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func start(name string, args ...string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	for i, a := range args {
		if a == "ADDR" {
			args[i] = addr
		}
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, base: "http://" + addr}
	for i := 0; i < 600; i++ {
		if res, err := http.Get(s.base + "/readyz"); err == nil {
			res.Body.Close()
			return s, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("%s did not start", name)
}

// seed creates an organization with a live and a sandbox key on a data folder.
func seed(bin, data string) (live, sandbox string, err error) {
	return benchseed.Seed(bin, 1000000, "--data", data)
}

// formBody is a face-match request body.
func formBody(user, ref []byte) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range []struct {
		field string
		data  []byte
	}{{"user_image", user}, {"ref_image", ref}} {
		p, _ := w.CreateFormFile(f.field, f.field+".jpg")
		p.Write(f.data)
	}
	w.WriteField("save_api_request", "false")
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// hammer posts body to url from concurrency goroutines for d and returns requests per second
// and latencies; any answer but a 200 is an error.
func hammer(url, key string, body []byte, ct string, concurrency int, d time.Duration) (float64, []time.Duration, error) {
	return hammerMany(url, key, [][]byte{body}, []string{ct}, concurrency, d)
}

// hammerMany is hammer cycling through several bodies.
func hammerMany(url, key string, bodies [][]byte, cts []string, concurrency int, d time.Duration) (float64, []time.Duration, error) {
	var next atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency}}
	var (
		n        atomic.Int64
		mu       sync.Mutex
		lats     []time.Duration
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				i := int(next.Add(1)) % len(bodies)
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", cts[i])
				req.Header.Set("x-api-key", key)
				t := time.Now()
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
				mine = append(mine, time.Since(t))
				n.Add(1)
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, nil, err
	}
	return float64(n.Load()) / time.Since(start).Seconds(), lats, nil
}

// once times one call.
func once(url, key string, body []byte, ct string) (time.Duration, error) {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("x-api-key", key)
	t := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		return 0, fmt.Errorf("%s answered %d", url, res.StatusCode)
	}
	return time.Since(t), nil
}

func percentile(ds []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	return s[int(q*float64(len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func run(bin, dlibraw, models string, d time.Duration, concurrency int) error {
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
	self, err := os.Executable()
	if err != nil {
		return err
	}

	// 1. Sandbox against the bare handler, alternating, twice each.
	sandboxBody, ct := formBody(small, small2)
	fmt.Printf("sandbox: POST /v3/face-match/ with two small JPEGs (%d bytes of body), %d clients, %s per run\n", len(sandboxBody), concurrency, d/2)
	data, err := os.MkdirTemp("", "apibench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	live, sandboxKey, err := seed(bin, data)
	if err != nil {
		return err
	}
	limits := []string{"--write-limit", "100000000", "--read-limit", "100000000"}
	apiArgs := append([]string{"serve", "--addr", "ADDR", "--data", data, "--models", models, "--workers", "2"}, limits...)
	if p := os.Getenv("APIBENCH_CPU_PROFILE"); p != "" {
		apiArgs = append(apiArgs, "--cpu-profile", p)
	}
	api, err := start(bin, apiArgs...)
	if err != nil {
		return err
	}
	bareSrv, err := start(self, "-bare", "ADDR")
	if err != nil {
		api.stop()
		return err
	}
	var apiRPS, bareRPS, apiCPU, bareCPU float64
	var apiLat []time.Duration
	for range 2 {
		c0 := api.cpuSeconds()
		r, lats, err := hammer(api.base+"/v3/face-match/", sandboxKey, sandboxBody, ct, concurrency, d/2)
		if err != nil {
			return err
		}
		apiCPU += (api.cpuSeconds() - c0) / (r * d.Seconds() / 2) / 2
		apiRPS += r / 2
		apiLat = append(apiLat, lats...)
		c0 = bareSrv.cpuSeconds()
		r, _, err = hammer(bareSrv.base+"/v3/face-match/", sandboxKey, sandboxBody, ct, concurrency, d/2)
		if err != nil {
			return err
		}
		bareCPU += (bareSrv.cpuSeconds() - c0) / (r * d.Seconds() / 2) / 2
		bareRPS += r / 2
	}
	bareSrv.stop()
	fmt.Printf("  facematch sandbox %.0f req/s (p50 %.2f ms, p99 %.2f ms, %.0f µs of server CPU each), bare net/http %.0f req/s (%.0f µs each)\n",
		apiRPS, ms(percentile(apiLat, .5)), ms(percentile(apiLat, .99)), apiCPU*1e6, bareRPS, bareCPU*1e6)
	if os.Getenv("APIBENCH_SANDBOX_ONLY") != "" {
		api.stop()
		return nil
	}
	fmt.Printf("RATIO sandbox / bare: %.2f (aim >= 0.5)\n", apiRPS/bareRPS)

	// 2. Live pair latency against the raw dlib pipeline on 1-3 megapixel photos.
	pairs, files, err := livePairs(dir)
	if err != nil {
		return err
	}
	var lat []time.Duration
	for range 3 {
		for _, p := range pairs {
			body, ct := formBody(p[0], p[1])
			l, err := once(api.base+"/v3/face-match/", live, body, ct)
			if err != nil {
				return err
			}
			lat = append(lat, l)
		}
	}
	rssTwo := api.peakRSSMB()
	api.stop()
	raw, err := rawPairMillis(dlibraw, models, files)
	if err != nil {
		return err
	}
	fmt.Printf("\nlive: %d pairs of 1-3 MP photos, one call at a time, 2 workers\n", len(pairs))
	fmt.Printf("  API pair latency p50 %.1f ms (p95 %.1f); raw dlib pipeline, the same two photos one after the other on one core: median %.1f ms\n",
		ms(percentile(lat, .5)), ms(percentile(lat, .95)), raw)
	fmt.Printf("RATIO live p50 / raw pair: %.2f (aim <= 0.6)\n", ms(percentile(lat, .5))/raw)

	// 3. Throughput with 2 workers against 1, through the API, every run cycling through all the
	// pairs, two calls in flight per worker; the runs alternate.
	var bodies [][]byte
	var cts []string
	for _, p := range pairs {
		b, c := formBody(p[0], p[1])
		bodies, cts = append(bodies, b), append(cts, c)
	}
	var tput [3]float64
	var rss [3]float64
	for round := range 2 {
		for _, w := range []int{1, 2} {
			s, err := start(bin, append([]string{"serve", "--addr", "ADDR", "--data", data, "--models", models, "--workers", strconv.Itoa(w)}, limits...)...)
			if err != nil {
				return err
			}
			r, _, err := hammerMany(s.base+"/v3/face-match/", live, bodies, cts, 2*w, d)
			rss[w] = max(rss[w], s.peakRSSMB())
			s.stop()
			if err != nil {
				return err
			}
			tput[w] += r / 2
			if os.Getenv("APIBENCH_VERBOSE") != "" {
				fmt.Printf("  round %d, %d worker(s): %.2f pairs/s\n", round, w, r)
			}
		}
	}
	fmt.Printf("\nlive throughput: 1 worker %.2f pairs/s, 2 workers %.2f pairs/s\n", tput[1], tput[2])
	fmt.Printf("RATIO 2 workers / 1 worker: %.2f (aim >= 1.8)\n", tput[2]/tput[1])
	fmt.Printf("server resident memory (peak): 1 worker %.0f MB, 2 workers %.0f MB (after the sandbox and latency runs: %.0f MB)\n", rss[1], rss[2], rssTwo)
	return nil
}

// livePairs pairs the 1-3 megapixel JPEGs of the fixtures two by two.
func livePairs(dir string) ([][2][]byte, [][2]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "fixtures", "faces", "*", "*.jp*g"))
	if err != nil {
		return nil, nil, err
	}
	var picked []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		h, err := imaging.ReadHeader(data)
		if err == nil && h.Width*h.Height >= 1_000_000 && h.Width*h.Height <= 3_000_000 && h.Orientation == 1 {
			picked = append(picked, f)
		}
	}
	sort.Strings(picked)
	var pairs [][2][]byte
	var names [][2]string
	for i := 0; i+1 < len(picked); i += 2 {
		a, _ := os.ReadFile(picked[i])
		b, _ := os.ReadFile(picked[i+1])
		pairs = append(pairs, [2][]byte{a, b})
		names = append(names, [2]string{picked[i], picked[i+1]})
	}
	if len(pairs) == 0 {
		return nil, nil, fmt.Errorf("no 1-3 megapixel photos in %s", dir)
	}
	return pairs, names, nil
}

// rawPairMillis runs bin/dlibraw over the pairs' photos and returns the median over pairs of
// the time the raw pipeline takes for the two photos of a pair.
func rawPairMillis(dlibraw, models string, pairs [][2]string) (float64, error) {
	var files []string
	for _, p := range pairs {
		files = append(files, p[0], p[1])
	}
	args := append([]string{"bench", "--repeat", "3", models}, files...)
	cmd := exec.CommandContext(context.Background(), dlibraw, args...)
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("%s: %w (build it with `make bin/dlibraw`)", dlibraw, err)
	}
	total := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r struct {
			File  string  `json:"file"`
			Total float64 `json:"total_ms"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return 0, err
		}
		total[r.File] = r.Total
	}
	var sums []float64
	for _, p := range pairs {
		sums = append(sums, total[p[0]]+total[p[1]])
	}
	sort.Float64s(sums)
	return sums[len(sums)/2], nil
}
