package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/postgres"
	"github.com/facematch/facematch/sqlite"
)

// storeFlags are the flags every command that keeps data takes: the SQLite data folder, the
// embedded default, or a PostgreSQL database for replicas (FM-SCALE-1).
type storeFlags struct {
	data        *string
	databaseURL *string
}

// store is the common flags --data and --database-url of a command (newFlags declares them).
func (f *flags) store() storeFlags {
	return storeFlags{data: f.data, databaseURL: f.databaseURL}
}

// open opens the store the flags name; admin commands share it with running servers.
func (s storeFlags) open(ctx context.Context) (facematch.Store, error) {
	return openStore(ctx, *s.data, *s.databaseURL)
}

// openStore opens PostgreSQL at databaseURL when it is set, else the SQLite database in dataDir.
func openStore(ctx context.Context, dataDir, databaseURL string) (facematch.Store, error) {
	if databaseURL != "" {
		db, err := postgres.Open(ctx, databaseURL)
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", redactURL(databaseURL), err)
		}
		return db, nil
	}
	return sqlite.Open(ctx, dataDir)
}

// redactURL hides a password in a database URL for messages.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	creds := u[scheme+3 : at]
	if i := strings.Index(creds, ":"); i >= 0 {
		return u[:scheme+3] + creds[:i] + ":***" + u[at:]
	}
	return u
}

// openServeStore opens the store of a server. On SQLite the server must be the only one on
// its data folder (FM-SCALE-4): it holds serve.lock there while it runs, and a second serve
// fails naming the folder and the holder. Holding the lock, the server knows that whatever is
// still reserved or leased in the file belongs to a server that died, and gives it back at
// once. The returned func closes the store and frees the lock.
func openServeStore(ctx context.Context, s storeFlags, logger *slog.Logger) (facematch.Store, func(), error) {
	if *s.databaseURL != "" {
		db, err := openStore(ctx, *s.data, *s.databaseURL)
		if err != nil {
			return nil, nil, err
		}
		return db, func() { db.Close() }, nil
	}
	unlock, err := lockDataFolder(*s.data)
	if err != nil {
		return nil, nil, err
	}
	db, err := sqlite.Open(ctx, *s.data)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	done := func() { db.Close(); unlock() }
	if n, err := db.ReleaseReservationsBefore(ctx, db.Now()); err != nil {
		done()
		return nil, nil, err
	} else if n > 0 {
		logger.Info("released credits of interrupted calls", slog.Int("credits", n))
	}
	if err := db.ReleaseDeliveryLeases(ctx); err != nil {
		done()
		return nil, nil, err
	}
	return db, done, nil
}

// serveLockFile is the file in the data folder a running server holds locked.
const serveLockFile = "serve.lock"

// lockDataFolder takes the exclusive lock of a data folder for a server and writes the pid
// into the lock file, or says who holds it. The kernel frees the lock when the process ends,
// however it ends.
func lockDataFolder(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	path := filepath.Join(dir, serveLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b := make([]byte, 32)
			n, _ := f.ReadAt(b, 0)
			holder := "another process"
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n]))); err == nil {
				holder = "process " + strconv.Itoa(pid)
			}
			abs, _ := filepath.Abs(dir)
			return nil, fmt.Errorf("data folder %s is in use by a running facematch serve (%s): one server per SQLite folder; stop it first, or run replicas on PostgreSQL with --database-url", abs, holder)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Truncate(0); f.Close() }, nil
}

// holdLease takes the server's lease and keeps it (FM-SCALE-3): it renews the lease every
// third of ttl and, as often, gives back what servers whose lease lapsed held. It fails when
// the first renewal does; the returned func stops it and drops the lease, once the server's
// requests and deliveries have finished.
func holdLease(ctx context.Context, db facematch.Store, ttl time.Duration, logger *slog.Logger) (func(), error) {
	if ttl < time.Second {
		return nil, fmt.Errorf("--replica-lease %s: want at least 1s", ttl)
	}
	if err := db.RenewLease(ctx, ttl); err != nil {
		return nil, fmt.Errorf("taking the server's lease: %w", err)
	}
	reclaim := func(ctx context.Context) {
		credits, deliveries, err := db.ReclaimLapsed(ctx)
		if err != nil {
			if ctx.Err() == nil {
				logger.Error("reclaiming the work of stopped servers", slog.String("error", err.Error()))
			}
			return
		}
		if credits > 0 || deliveries > 0 {
			logger.Info("gave back the work of stopped servers", slog.Int("credits", credits), slog.Int("deliveries", deliveries))
		}
	}
	reclaim(ctx)
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-tick.C:
			}
			if err := db.RenewLease(lctx, ttl); err != nil && lctx.Err() == nil {
				logger.Error("renewing the server's lease", slog.String("error", err.Error()))
			}
			reclaim(lctx)
		}
	}()
	return func() {
		stop()
		<-stopped
		ectx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := db.EndLease(ectx); err != nil {
			logger.Error("dropping the server's lease", slog.String("error", err.Error()))
		}
	}, nil
}
