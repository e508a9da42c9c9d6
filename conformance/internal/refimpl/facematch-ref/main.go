// Command facematch-ref runs the reference implementation of the Face Match API contract (package
// refimpl) and its admin commands. It follows the contract's command conventions (section 6), so
// that the suite's process target can run it as it runs bin/facematch:
//
//	facematch-ref serve --addr 127.0.0.1:8080 --data DIR --backend URL --backend-key KEY \
//	    [--allow-private-webhooks] [--webhook-backoff 1m,4m,16m,64m] [--media-url-ttl 1h] [--fault NAME]
//	facematch-ref [--data DIR] org create --name NAME [--credits N]
//	facematch-ref [--data DIR] credits add --org ORG --amount N
//	facematch-ref [--data DIR] app create --org ORG --name NAME [--sandbox]
//	facematch-ref [--data DIR] key create --app APP
//	facematch-ref [--data DIR] key revoke --id KEY
//
// The admin commands talk to the running server through DIR/admin.sock. Flags also come from the
// environment: FACEMATCH_DATA, REFIMPL_BACKEND, REFIMPL_BACKEND_KEY, REFIMPL_FAULT.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/facematch/facematch/conformance/internal/refimpl"
)

func main() {
	args := os.Args[1:]
	data := os.Getenv("FACEMATCH_DATA")
	if data == "" {
		data = "./data"
	}
	// --data may come before the sub-command.
	for len(args) >= 2 && (args[0] == "--data" || args[0] == "-data") {
		data, args = args[1], args[2:]
	}
	if len(args) > 0 && strings.HasPrefix(args[0], "--data=") {
		data, args = strings.TrimPrefix(args[0], "--data="), args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: facematch-ref serve|org|credits|app|key ...")
		os.Exit(2)
	}
	if args[0] == "serve" {
		os.Exit(serve(data, args[1:]))
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: facematch-ref org create|credits add|app create|key create|key revoke ...")
		os.Exit(2)
	}
	os.Exit(admin(data, args[0]+"-"+args[1], args[2:]))
}

func serve(data string, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&data, "data", data, "state folder")
	fs.String("models", "", "ignored: faces are compared by the backend")
	fs.String("workers", "", "ignored")
	backend := fs.String("backend", os.Getenv("REFIMPL_BACKEND"), "base URL of the facematch server that compares faces")
	backendKey := fs.String("backend-key", os.Getenv("REFIMPL_BACKEND_KEY"), "a live key of the backend")
	private := fs.Bool("allow-private-webhooks", false, "accept private and loopback webhook addresses")
	backoff := fs.String("webhook-backoff", "1m,4m,16m,64m", "webhook retry delays")
	ttl := fs.Duration("media-url-ttl", time.Hour, "lifetime of image URLs")
	writeLimit := fs.Int("write-limit", 300, "writes per key and minute")
	readLimit := fs.Int("read-limit", 600, "reads per key and minute")
	fault := fs.String("fault", os.Getenv("REFIMPL_FAULT"), "inject a fault (mutation self-test)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	faults, err := refimpl.ParseFaults(*fault)
	if err != nil {
		log.Error("fault", "err", err)
		return 2
	}
	var delays []time.Duration
	for _, d := range strings.Split(*backoff, ",") {
		v, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || v <= 0 {
			log.Error("--webhook-backoff: want durations such as 1m,4m", "value", *backoff)
			return 2
		}
		delays = append(delays, v)
	}
	if *backend == "" || *backendKey == "" {
		log.Error("--backend and --backend-key (or REFIMPL_BACKEND, REFIMPL_BACKEND_KEY) name the facematch server that compares faces")
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := refimpl.New(ctx, refimpl.Config{
		Data: data, Backend: strings.TrimRight(*backend, "/"), BackendKey: *backendKey, AllowPrivate: *private,
		Backoff: delays, MediaTTL: *ttl, WriteLimit: *writeLimit, ReadLimit: *readLimit, Faults: faults,
	})
	if err != nil {
		log.Error("open", "data", data, "err", err)
		return 1
	}
	if err := srv.ListenAdmin(ctx); err != nil {
		log.Error("admin socket", "err", err)
		return 1
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("listen", "addr", *addr, "err", err)
		return 1
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	log.Info("listening", "addr", ln.Addr().String(), "data", data, "backend", *backend, "fault", *fault)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	if faults[refimpl.FaultAbruptShutdown] {
		return 0
	}
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// admin runs one admin command against the running server's socket and prints its JSON.
func admin(data, command string, args []string) int {
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	in := map[string]any{}
	name := fs.String("name", "", "")
	credits := fs.Int64("credits", 0, "")
	org := fs.String("org", "", "")
	amount := fs.Int64("amount", 0, "")
	app := fs.String("app", "", "")
	sandbox := fs.Bool("sandbox", false, "")
	id := fs.String("id", "", "")
	fs.StringVar(&data, "data", data, "state folder of the running server")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	in["name"], in["credits"], in["org"], in["amount"], in["app"], in["sandbox"], in["id"] = *name, *credits, *org, *amount, *app, *sandbox, *id
	body, _ := json.Marshal(in)
	sock := filepath.Join(data, "admin.sock")
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	res, err := client.Post("http://admin/"+command, "application/json", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(os.Stderr, "facematch-ref: the server's admin socket %s: %v\n", sock, err)
		return 1
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "facematch-ref %s: %s\n", command, out)
		return 1
	}
	fmt.Println(string(out))
	return 0
}
