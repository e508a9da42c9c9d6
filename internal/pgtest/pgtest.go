// Package pgtest runs a real, throw-away PostgreSQL server for tests and benchmarks: Debian's
// postgresql binaries, initdb and postgres as an unprivileged user in a temporary folder, on a
// free loopback port with its unix socket in that folder. A watchdog shell holds the server:
// when the process that started it ends, however it ends (a panicking test, a kill), the
// watchdog sees its stdin close, stops the server and removes the folder.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options tunes the server. The zero value is a test server: durable writes off (fsync,
// synchronous commit), which a test run that throws the data away does not need.
type Options struct {
	// Durable keeps PostgreSQL's defaults for fsync and synchronous commit, for measurements.
	Durable bool
	// MaxConnections is max_connections; 0 means 300.
	MaxConnections int
	// Settings are more "name=value" server settings.
	Settings []string
}

// Server is a running PostgreSQL.
type Server struct {
	Dir  string // the temporary folder: data/, the socket, the logs
	Port int

	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
	seq   atomic.Int64
}

// BinDir returns the folder of the PostgreSQL server binaries: $FACEMATCH_PGBIN, or the newest
// /usr/lib/postgresql/N/bin holding initdb.
func BinDir() (string, error) {
	if d := os.Getenv("FACEMATCH_PGBIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[j]))))
		return vi > vj
	})
	if len(dirs) == 0 {
		return "", errors.New("PostgreSQL server binaries not found under /usr/lib/postgresql (install Debian's postgresql package: make deps)")
	}
	return filepath.Dir(dirs[0]), nil
}

// watchdog runs initdb, starts postgres in the background, and stops it and removes the folder
// once its stdin closes: $1 bin dir, $2 folder, $3 port, the rest postgres's -c settings.
const watchdog = `set -e
bin=$1 dir=$2 port=$3
shift 3
"$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1
settings=""
for s in "$@"; do settings="$settings -c $s"; done
"$bin/postgres" -D "$dir/data" -k "$dir" -p "$port" -h 127.0.0.1 $settings >"$dir/postgres.log" 2>&1 &
pg=$!
set +e
cat >/dev/null
kill -INT "$pg" 2>/dev/null
wait "$pg"
rm -rf "$dir"
`

// Start initializes and starts a server, and waits until it accepts connections.
func Start(o Options) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	maxConns := o.MaxConnections
	if maxConns == 0 {
		maxConns = 300
	}
	settings := []string{"max_connections=" + strconv.Itoa(maxConns), "listen_addresses=127.0.0.1"}
	if !o.Durable {
		settings = append(settings, "fsync=off", "synchronous_commit=off", "full_page_writes=off")
	}
	settings = append(settings, o.Settings...)
	cmd := exec.Command("/bin/sh", append([]string{"-c", watchdog, "pgtest", bin, dir, strconv.Itoa(port)}, settings...)...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C", "HOME=" + dir}
	// Its own process group, so that Stop can end the shell and the server together.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: run as nobody, in a folder nobody owns.
		uid, gid, err := unprivileged()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{Dir: dir, Port: port, cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	if err := s.waitReady(60 * time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// unprivileged returns the uid and gid of the user "nobody".
func unprivileged() (int, int, error) {
	u, err := user.Lookup("nobody")
	if err != nil {
		return 0, 0, fmt.Errorf("running PostgreSQL as root is refused and there is no user nobody: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady connects until the server answers, the watchdog ends, or the time is up.
func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		select {
		case werr := <-s.done:
			s.done <- werr
			return fmt.Errorf("PostgreSQL did not start (%v): %s%s", werr, s.log("initdb.log"), s.log("postgres.log"))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("PostgreSQL did not accept connections within %s: %v\n%s", limit, err, s.log("postgres.log"))
		}
	}
}

func (s *Server) log(name string) string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, name))
	return string(b)
}

// PostmasterPID is the pid of the server's main process, whose children are its backends,
// for tools that measure them.
func (s *Server) PostmasterPID() int {
	var pid int
	fmt.Sscan(s.log("data/postmaster.pid"), &pid)
	return pid
}

// URL is the connection URL of a database of the server, over its unix socket, as superuser.
func (s *Server) URL(database string) string {
	q := url.Values{"host": {s.Dir}, "port": {strconv.Itoa(s.Port)}, "user": {"postgres"}, "sslmode": {"disable"}}
	return "postgres:///" + database + "?" + q.Encode()
}

// TCPURL is the connection URL of a database over TCP on 127.0.0.1, as a remote replica would
// connect.
func (s *Server) TCPURL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, database)
}

// CreateDatabase creates an empty database with a fresh name and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("fm_%d_%d", os.Getpid(), s.seq.Add(1))
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return s.URL(name), nil
}

// Database creates an empty database for a test and returns its URL.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	u, err := s.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Stop stops the server and removes its folder: the watchdog does both once its stdin closes.
// Should it not end in 30 seconds, the whole process group is killed.
func (s *Server) Stop() error {
	s.stdin.Close()
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(30 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		os.RemoveAll(s.Dir)
		return errors.New("PostgreSQL did not stop in 30s: killed")
	}
	return nil
}

// Main is a TestMain for packages that test against PostgreSQL: it starts a server into *srv,
// runs the tests, and stops the server. A test that panics ends the process before Stop, and
// the watchdog then stops the server itself.
func Main(m *testing.M, srv **Server) {
	s, err := Start(Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		os.Exit(1)
	}
	*srv = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
	}
	os.Exit(code)
}
