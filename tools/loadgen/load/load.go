// Package load is the engine of tools/loadgen: it drives a running Face Match server with a mix
// of sandbox face-match calls, live face-match calls and GET decision calls on the sessions the
// live calls saved, at a fixed concurrency, until a duration or a request count is reached, and
// reports latency percentiles, throughput and status counts per route. It only targets loopback
// addresses unless told otherwise, and always stops by itself. The crash test and the benchmarks
// use it as a library; tools/loadgen is its command line.
package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// The routes of the mix.
const (
	Sandbox  = "sandbox"  // POST /v3/face-match/ with the sandbox key
	Live     = "live"     // POST /v3/face-match/ with the live key, save_api_request=true
	Decision = "decision" // GET /v3/session/{id}/decision/ of a session a live call saved
)

// Routes lists the routes in the order reports show them.
var Routes = []string{Sandbox, Live, Decision}

// Mix weighs the routes: a route is chosen for each request with probability weight/sum.
type Mix map[string]int

// ParseMix reads "sandbox=60,live=20,decision=20".
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		var w int
		if _, err := fmt.Sscanf(v, "%d", &w); !ok || err != nil || w < 0 || !slices.Contains(Routes, k) {
			return nil, fmt.Errorf("mix %q: want route=weight pairs, routes %s, weights >= 0", s, strings.Join(Routes, ", "))
		}
		m[k] = w
	}
	return m, nil
}

// Image is a photo the live and sandbox calls send.
type Image struct {
	Name string
	Data []byte
}

// Config is one load run.
type Config struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8080. It must be a loopback address
	// unless AllowRemote is set.
	URL         string
	AllowRemote bool
	// LiveKey and SandboxKey are the API keys of the live and sandbox calls; a route whose key
	// is missing must have weight 0.
	LiveKey, SandboxKey string
	// Concurrency is the number of requests in flight at once.
	Concurrency int
	// Duration and Requests bound the run: it stops at whichever comes first. At least one must
	// be set.
	Duration time.Duration
	Requests int
	Mix      Mix
	// Images are the photos sent, in pairs; see LoadImages.
	Images []Image
	// Timeout bounds one request (default 2 minutes).
	Timeout time.Duration
	// Client sends the requests; nil means one made for the run.
	Client *http.Client
	// OnResult, when set, is called after every request, from the worker that made it.
	OnResult func(Result)
	// Seed makes the choice of routes and images repeatable.
	Seed uint64
}

// Result is one request's outcome.
type Result struct {
	Route   string
	Status  int // 0 when the request failed without an answer
	Latency time.Duration
	// SessionID is the request_id of a live 200 (a saved session), or the session a decision
	// asked for.
	SessionID string
	// RetryAfter is the wait a 503 asked for (the server's admission control refused the call);
	// the client that made the request waits that long before its next one.
	RetryAfter time.Duration
	Err        error
}

// RouteStats is what one route did.
type RouteStats struct {
	Requests  int
	Statuses  map[int]int
	Errors    int // requests without an answer
	latencies []time.Duration
	// P50, P95 and P99 are latency percentiles of the answered requests.
	P50, P95, P99 time.Duration
	// PerSecond is the route's throughput over the run.
	PerSecond float64
}

// Report is the outcome of a run.
type Report struct {
	Elapsed     time.Duration
	Concurrency int
	Routes      map[string]*RouteStats
	// Total sums the routes.
	Total *RouteStats
	// Substituted counts decision requests sent as live calls because no session existed yet.
	Substituted int
	// Refused counts the 503 answers with Retry-After: calls the server turned away at once
	// because its workers and their queue were full (serve --live-queue), billing nothing.
	Refused int
}

// ServerErrors counts the 5xx answers of the run, but for the refusals with Retry-After, which
// are the server shedding load as designed, not failing.
func (r Report) ServerErrors() int {
	n := 0
	for code, c := range r.Total.Statuses {
		if code >= 500 {
			n += c
		}
	}
	return n - r.Refused
}

// Failed tells whether the run saw a 5xx or a request without an answer.
func (r Report) Failed() bool { return r.ServerErrors() > 0 || r.Total.Errors > 0 }

// Print writes the report as a table.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "%d requests in %.1f s at concurrency %d: %.1f req/s\n", r.Total.Requests, r.Elapsed.Seconds(), r.Concurrency, r.Total.PerSecond)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "route\trequests\treq/s\tp50 ms\tp95 ms\tp99 ms\tno answer\tstatuses\t")
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
	for _, name := range append(slices.Clone(Routes), "all") {
		s := r.Total
		if name != "all" {
			s = r.Routes[name]
		}
		if s.Requests == 0 {
			continue
		}
		codes := make([]int, 0, len(s.Statuses))
		for c := range s.Statuses {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		var parts []string
		for _, c := range codes {
			parts = append(parts, fmt.Sprintf("%d:%d", c, s.Statuses[c]))
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%s\t%s\t%d\t%s\t\n", name, s.Requests, s.PerSecond, ms(s.P50), ms(s.P95), ms(s.P99), s.Errors, strings.Join(parts, " "))
	}
	tw.Flush()
	if r.Substituted > 0 {
		fmt.Fprintf(w, "%d decision requests were sent as live calls: no session existed yet\n", r.Substituted)
	}
	if r.Refused > 0 {
		fmt.Fprintf(w, "%d calls were refused with 503 and Retry-After (the server's queue was full); their clients waited as told\n", r.Refused)
	}
	fmt.Fprintf(w, "5xx: %d\n", r.ServerErrors())
}

// PeakRSS is the peak resident memory of process pid (VmHWM of /proc/<pid>/status, Linux), in
// bytes.
func PeakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("VmHWM of pid %d: %q", pid, line)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// CheckLoopback refuses a URL whose host is not a loopback address (by name, the host must
// resolve only to loopback addresses).
func CheckLoopback(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("url %q: want http(s)://host:port", raw)
	}
	host := u.Hostname()
	var addrs []net.IP
	if ip := net.ParseIP(host); ip != nil {
		addrs = []net.IP{ip}
	} else {
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
		if err != nil {
			return fmt.Errorf("url %q: %w", raw, err)
		}
		addrs = ips
	}
	for _, ip := range addrs {
		if !ip.IsLoopback() {
			return fmt.Errorf("url %q: %s is not a loopback address; load goes to loopback only (allow-remote to override)", raw, ip)
		}
	}
	return nil
}

// LoadImages reads the photos of dir and its folders (jpg, jpeg, png, webp, tiff) of at most
// maxBytes each, in a stable order.
func LoadImages(dir string, maxBytes int64) ([]Image, error) {
	var out []Image
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".jpg", ".jpeg", ".png", ".webp", ".tiff":
		default:
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > maxBytes {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out = append(out, Image{Name: filepath.Base(p), Data: data})
		return nil
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("no image of at most %d bytes under %s", maxBytes, dir)
	}
	return out, err
}

// body is a prepared face-match form.
type body struct {
	data        []byte
	contentType string
}

// forms prepares up to n forms from random pairs of images, so that the run spends its time on
// sending them rather than making them.
func forms(images []Image, n int, rng *rand.Rand) ([]body, error) {
	out := make([]body, 0, n)
	for i := range n {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		user, ref := images[rng.IntN(len(images))], images[rng.IntN(len(images))]
		for _, f := range []struct {
			field string
			img   Image
		}{{"user_image", user}, {"ref_image", ref}} {
			p, err := w.CreateFormFile(f.field, f.img.Name)
			if err != nil {
				return nil, err
			}
			p.Write(f.img.Data)
		}
		w.WriteField("save_api_request", "true")
		w.WriteField("vendor_data", fmt.Sprintf("loadgen-%d", i))
		w.WriteField("metadata", `{"source":"loadgen"}`)
		if err := w.Close(); err != nil {
			return nil, err
		}
		out = append(out, body{buf.Bytes(), w.FormDataContentType()})
	}
	return out, nil
}

// Run drives the server as cfg says and reports what it answered. It returns an error only when
// the run could not start; the answers, 5xx included, are in the report.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.Duration <= 0 && cfg.Requests <= 0 {
		return Report{}, errors.New("load: set a duration or a number of requests: a run must stop by itself")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if !cfg.AllowRemote {
		if err := CheckLoopback(ctx, cfg.URL); err != nil {
			return Report{}, err
		}
	}
	base := strings.TrimRight(cfg.URL, "/")
	total := 0
	for _, r := range Routes {
		w := cfg.Mix[r]
		total += w
		if w > 0 && r == Sandbox && cfg.SandboxKey == "" {
			return Report{}, errors.New("load: the mix has sandbox calls but no sandbox key")
		}
		if w > 0 && r != Sandbox && cfg.LiveKey == "" {
			return Report{}, fmt.Errorf("load: the mix has %s calls but no live key", r)
		}
	}
	if total == 0 {
		return Report{}, errors.New("load: the mix is empty")
	}
	if (cfg.Mix[Sandbox] > 0 || cfg.Mix[Live] > 0) && len(cfg.Images) == 0 {
		return Report{}, errors.New("load: no images to send")
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed))
	var prepared []body
	if len(cfg.Images) > 0 {
		var err error
		if prepared, err = forms(cfg.Images, 32, rng); err != nil {
			return Report{}, err
		}
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: cfg.Concurrency, MaxConnsPerHost: cfg.Concurrency, DisableCompression: true,
		}}
		defer client.CloseIdleConnections()
	}

	runCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	var (
		mu       sync.Mutex
		stats    = map[string]*RouteStats{}
		sessions []string
		sent     int
		subs     int
		refused  int
	)
	for _, r := range Routes {
		stats[r] = &RouteStats{Statuses: map[int]int{}}
	}
	// next reserves a request and chooses its route, or reports the run is over.
	next := func() (route string, form body, session string, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		if runCtx.Err() != nil || (cfg.Requests > 0 && sent >= cfg.Requests) {
			return "", body{}, "", false
		}
		sent++
		pick := rng.IntN(total)
		for _, r := range Routes {
			if pick < cfg.Mix[r] {
				route = r
				break
			}
			pick -= cfg.Mix[r]
		}
		if route == Decision {
			if len(sessions) == 0 {
				route = Live
				subs++
			} else {
				session = sessions[rng.IntN(len(sessions))]
			}
		}
		if len(prepared) > 0 {
			form = prepared[rng.IntN(len(prepared))]
		}
		return route, form, session, true
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				route, form, session, ok := next()
				if !ok {
					return
				}
				// A request started before the end of the run finishes (the run is cut between
				// requests, not in their middle); the caller's ctx cuts it.
				rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
				res := do(rctx, client, base, cfg, route, form, session)
				cancel()
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				s := stats[res.Route]
				s.Requests++
				if res.Err != nil {
					s.Errors++
				} else {
					s.Statuses[res.Status]++
					s.latencies = append(s.latencies, res.Latency)
				}
				if res.Route == Live && res.Status == http.StatusOK && res.SessionID != "" {
					sessions = append(sessions, res.SessionID)
				}
				if res.RetryAfter > 0 {
					refused++
				}
				mu.Unlock()
				if cfg.OnResult != nil {
					cfg.OnResult(res)
				}
				if res.RetryAfter > 0 {
					// A client told to come back later does so, as a real one would; the end
					// of the run cuts the wait.
					t := time.NewTimer(res.RetryAfter)
					select {
					case <-t.C:
					case <-runCtx.Done():
						t.Stop()
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	rep := Report{Elapsed: elapsed, Concurrency: cfg.Concurrency, Routes: stats, Substituted: subs, Refused: refused, Total: &RouteStats{Statuses: map[int]int{}}}
	for _, r := range Routes {
		s := stats[r]
		s.summarize(elapsed)
		rep.Total.Requests += s.Requests
		rep.Total.Errors += s.Errors
		for c, n := range s.Statuses {
			rep.Total.Statuses[c] += n
		}
		rep.Total.latencies = append(rep.Total.latencies, s.latencies...)
	}
	rep.Total.summarize(elapsed)
	return rep, nil
}

func (s *RouteStats) summarize(elapsed time.Duration) {
	slices.Sort(s.latencies)
	s.P50, s.P95, s.P99 = percentile(s.latencies, 50), percentile(s.latencies, 95), percentile(s.latencies, 99)
	if elapsed > 0 {
		s.PerSecond = float64(s.Requests) / elapsed.Seconds()
	}
}

// percentile is the nearest-rank percentile of sorted latencies.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// do sends one request of route and reads its whole answer.
func do(ctx context.Context, client *http.Client, base string, cfg Config, route string, form body, session string) Result {
	res := Result{Route: route, SessionID: session}
	var req *http.Request
	var err error
	switch route {
	case Decision:
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/v3/session/"+session+"/decision/", nil)
		if err == nil {
			req.Header.Set("x-api-key", cfg.LiveKey)
		}
	default:
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/v3/face-match/", bytes.NewReader(form.data))
		if err == nil {
			req.Header.Set("Content-Type", form.contentType)
			key := cfg.LiveKey
			if route == Sandbox {
				key = cfg.SandboxKey
			}
			req.Header.Set("x-api-key", key)
		}
	}
	if err != nil {
		res.Err = err
		return res
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		res.Err, res.Latency = err, time.Since(start)
		return res
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	res.Latency = time.Since(start)
	if err != nil {
		res.Err = err
		return res
	}
	res.Status = resp.StatusCode
	if resp.StatusCode == http.StatusServiceUnavailable {
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			res.RetryAfter = time.Duration(s) * time.Second
		}
	}
	if route == Live && resp.StatusCode == http.StatusOK {
		var v struct {
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal(data, &v) == nil {
			res.SessionID = v.RequestID
		}
	}
	return res
}
