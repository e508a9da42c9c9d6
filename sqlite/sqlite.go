// Package sqlite is the Store of the service on SQLite (modernc.org/sqlite, pure Go): WAL,
// foreign keys, embedded migrations applied in a transaction, and a clock tests can move.
// Several processes may open the same file: the server and the operator's commands do.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/facematch/facematch"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the SQLite store. Writes go through one connection, so that a process never waits on
// its own locks; reads use a pool. Other processes are waited for up to the busy timeout.
type DB struct {
	write *sql.DB
	read  *sql.DB
	// Now is the clock; tests replace it.
	Now func() time.Time

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // read statements, prepared on first use
	hot   map[string]*sql.Stmt // write statements of the hot paths, prepared on open

	takes takeQueue // TakeRequest's group commit
	owner string    // this handle's lease owner id (facematch.Leases)
}

// hotWrites are the statements every request runs in its rate-limit transaction. They are
// prepared once when the database opens: writes go through one connection, which a transaction
// holds, so they cannot be prepared from inside one.
var hotWrites = []string{sqlRateDelete, sqlRateTake, sqlRateInsert}

// prepared returns a read statement prepared once on the read pool. The hot paths run a few
// small statements per request, and preparing them each time costs more than running them.
func (db *DB) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if st, ok := db.stmts[query]; ok {
		return st, nil
	}
	st, err := db.read.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if db.stmts == nil {
		db.stmts = map[string]*sql.Stmt{}
	}
	db.stmts[query] = st
	return st, nil
}

// txStmt binds a statement of hotWrites to tx.
func (db *DB) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	return tx.StmtContext(ctx, db.hot[query])
}

// FileName is the database file inside the data folder.
const FileName = "facematch.db"

// Open opens (creating when needed) the database in dir and applies pending migrations.
func Open(ctx context.Context, dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	path := filepath.Join(dir, FileName)
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "foreign_keys(1)", "busy_timeout(15000)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		write.Close()
		return nil, err
	}
	// Idle read connections are kept, all of them: database/sql keeps two by default and closes
	// the others as they come back, so under load every read paid for a new connection (its
	// pragmas, the schema read, the statement prepared again).
	read.SetMaxOpenConns(8)
	read.SetMaxIdleConns(8)
	db := &DB{write: write, read: read, Now: time.Now, hot: map[string]*sql.Stmt{}, owner: newID()}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating %s: %w", path, err)
	}
	for _, q := range hotWrites {
		st, err := write.PrepareContext(ctx, q)
		if err != nil {
			db.Close()
			return nil, err
		}
		db.hot[q] = st
	}
	return db, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	db.mu.Lock()
	for _, st := range db.stmts {
		st.Close()
	}
	for _, st := range db.hot {
		st.Close()
	}
	db.stmts, db.hot = nil, nil
	db.mu.Unlock()
	return errors.Join(db.write.Close(), db.read.Close())
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) (err error) {
	defer wrapOp(&err, "sqlite.Ping")
	var one int
	return db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// migrate applies, in one transaction, the embedded migrations not applied yet.
func (db *DB) migrate(ctx context.Context) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_us INTEGER NOT NULL)`); err != nil {
			return err
		}
		names, err := fs.Glob(migrations, "migrations/*.sql")
		if err != nil {
			return err
		}
		sort.Strings(names)
		for _, name := range names {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_us) VALUES (?, ?)`, name, db.Now().UnixMicro()); err != nil {
				return err
			}
		}
		return nil
	})
}

// tx runs fn in a write transaction (BEGIN IMMEDIATE) and commits when it returns nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Secret returns the named deployment secret, creating 32 random bytes on first use.
func (db *DB) Secret(ctx context.Context, name string) (_ []byte, err error) {
	defer wrapOp(&err, "sqlite.Secret")
	var value []byte
	err = db.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&value)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		value = make([]byte, 32)
		if _, err := rand.Read(value); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES (?, ?)`, name, value)
		return err
	})
	return value, err
}

func newID() string { return uuid.NewString() }

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// notFound is the ENOTFOUND error for a kind of thing.
func notFound(what string) error {
	return facematch.Errorf(facematch.ENOTFOUND, "%s not found", what)
}

// Tables lists the tables of the database, for tests and operators that check what is kept.
func (db *DB) Tables(ctx context.Context) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// wrapOp records in *err, when set, the store method it came from, so that a logged internal
// error names the operation that failed beside its cause.
func wrapOp(err *error, op string) {
	*err = facematch.WrapOp(op, *err)
}
