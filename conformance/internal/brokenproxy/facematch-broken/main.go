// Command facematch-broken stands in for the facematch binary in the conformance self-test: its
// serve sub-command runs the real server (`facematch serve`) on a loopback port of its own and
// puts a brokenproxy in front of it, on the address the caller asked for, with the faults the
// -ldflags or BROKENPROXY_FAULTS name; every other sub-command (the admin CLI) is the real binary.
//
//	go build -ldflags "-X main.server=/abs/bin/facematch -X main.faults=missing-key-401" \
//	    -o facematch-broken ./internal/brokenproxy/facematch-broken
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/facematch/facematch/conformance/internal/brokenproxy"
)

// server and faults are set at build time (-ldflags -X); BROKENPROXY_SERVER and
// BROKENPROXY_FAULTS override them (the process target passes no FACEMATCH_* variable on).
var (
	server string
	faults = string(brokenproxy.MissingKey401) + "," + string(brokenproxy.ApproveAtThreshold)
)

func main() {
	if v := os.Getenv("BROKENPROXY_SERVER"); v != "" {
		server = v
	}
	if v := os.Getenv("BROKENPROXY_FAULTS"); v != "" {
		faults = v
	}
	if server == "" {
		fmt.Fprintln(os.Stderr, "facematch-broken: no real server binary: build with -ldflags '-X main.server=PATH' or set BROKENPROXY_SERVER")
		os.Exit(2)
	}
	if len(os.Args) < 2 || os.Args[1] != "serve" {
		err := syscall.Exec(server, append([]string{server}, os.Args[1:]...), os.Environ())
		fmt.Fprintf(os.Stderr, "facematch-broken: exec %s: %v\n", server, err)
		os.Exit(2)
	}
	fs, err := brokenproxy.ParseFaults(faults)
	if err != nil {
		fmt.Fprintln(os.Stderr, "facematch-broken:", err)
		os.Exit(2)
	}
	os.Exit(serve(os.Args[2:], fs))
}

// serve runs the real server on 127.0.0.1:0 and the proxy on the --addr the caller gave, and
// returns the real server's exit code.
func serve(args []string, fs []brokenproxy.Fault) int {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	addr, rest := "127.0.0.1:8080", []string{}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--addr" && i+1 < len(args):
			addr = args[i+1]
			i++
		case strings.HasPrefix(a, "--addr="):
			addr = strings.TrimPrefix(a, "--addr=")
		default:
			rest = append(rest, a)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("listen", "addr", addr, "err", err)
		return 1
	}
	// The real server dies with this process, also when this process is killed (the suite's
	// crash specs send SIGKILL): Pdeathsig follows the thread that started it, kept locked.
	runtime.LockOSThread()
	cmd := exec.Command(server, append([]string{"serve", "--addr", "127.0.0.1:0"}, rest...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout = os.Stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		log.Error("pipe", "err", err)
		return 1
	}
	if err := cmd.Start(); err != nil {
		log.Error("start the real server", "bin", server, "err", err)
		return 1
	}
	upstream := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				select {
				case upstream <- rec.Addr:
				default:
				}
				continue // the caller must see the proxy's address, not the real server's
			}
			os.Stderr.Write(append(sc.Bytes(), '\n'))
		}
	}()
	exited := make(chan int, 1)
	go func() {
		cmd.Wait()
		exited <- cmd.ProcessState.ExitCode()
	}()
	var up string
	select {
	case up = <-upstream:
	case code := <-exited:
		log.Error("the real server exited before listening", "code", code)
		return max(code, 1)
	}
	target, _ := url.Parse("http://" + up)
	srv := &http.Server{Handler: brokenproxy.New(target, fs...), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("listening", "addr", ln.Addr().String(), "upstream", up, "faults", faults)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		if slices.Contains(fs, brokenproxy.AbruptShutdown) {
			cmd.Process.Kill()
			srv.Close()
			return 0
		}
		cmd.Process.Signal(s)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		return <-exited
	case code := <-exited:
		log.Error("the real server exited", "code", code)
		srv.Close()
		return max(code, 1)
	}
}
