// Package postgres is the Store of the service on PostgreSQL (15 or later, through jackc/pgx),
// for any number of server replicas sharing one database (spec section 7): embedded
// migrations applied in a transaction under an advisory lock, images kept in the database,
// credits and rate limits exact across replicas, deliveries claimed with SKIP LOCKED, and the
// work each replica holds recorded under its lease.
package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/facematch/facematch"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultPoolSize is the connection pool of one handle when the URL sets no pool_max_conns: a
// request holds a connection for one statement at a time, so a few more than the requests a
// replica runs at once are enough.
const DefaultPoolSize = 16

// migrationLock is the advisory lock key under which migrations run ("facematc" in ASCII).
const migrationLock int64 = 0x666163656d617463

// DB is the PostgreSQL store. Each DB is one lease owner (facematch.Leases).
type DB struct {
	pool *pgxpool.Pool
	// Now is the clock; tests replace it. Replicas compare times written by each other, so
	// their clocks must agree (NTP) to well within the rate-limit window and the lease.
	Now   func() time.Time
	owner string
}

// Open connects to the database at url (postgres://...; pool_max_conns in it sets the pool
// size) and applies pending migrations.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultPoolSize
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	db := &DB{pool: pool, Now: time.Now, owner: uuid.NewString()}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrating %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return db, nil
}

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) (err error) {
	defer wrapOp(&err, "postgres.Ping")
	return db.pool.Ping(ctx)
}

// migrate applies, in one transaction holding an advisory lock, the embedded migrations not
// applied yet: replicas starting together wait for each other and apply each migration once.
func (db *DB) migrate(ctx context.Context) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_us BIGINT NOT NULL)`); err != nil {
			return err
		}
		names, err := fs.Glob(migrations, "migrations/*.sql")
		if err != nil {
			return err
		}
		sort.Strings(names)
		for _, name := range names {
			var applied bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)`, name).Scan(&applied); err != nil {
				return err
			}
			if applied {
				continue
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name, applied_us) VALUES ($1, $2)`, name, micros(db.Now())); err != nil {
				return err
			}
		}
		return nil
	})
}

// tx runs fn in a transaction and commits when it returns nil.
func (db *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.pool, fn)
}

// Secret returns the named deployment secret, creating 32 random bytes on first use. Replicas
// asking at once agree: the first insert wins and the others read it.
func (db *DB) Secret(ctx context.Context, name string) (_ []byte, err error) {
	defer wrapOp(&err, "postgres.Secret")
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, err
	}
	var value []byte
	err = db.pool.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&value)
	return value, err
}

// Tables lists the tables of the database, for tests and operators that check what is kept.
func (db *DB) Tables(ctx context.Context) (_ []string, err error) {
	defer wrapOp(&err, "postgres.Tables")
	rows, err := db.pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func newID() string { return uuid.NewString() }

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// notFound is the ENOTFOUND error for a kind of thing.
func notFound(what string) error {
	return facematch.Errorf(facematch.ENOTFOUND, "%s not found", what)
}

// host names this process in the lease table, for an operator looking at who holds what.
func host() string {
	h, _ := os.Hostname()
	return h
}

// wrapOp records in *err, when set, the store method it came from, so that a logged internal
// error names the operation that failed beside its cause.
func wrapOp(err *error, op string) {
	*err = facematch.WrapOp(op, *err)
}
