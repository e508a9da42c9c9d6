package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/internal/pgtest"
	"github.com/facematch/facematch/storetest"
)

// pg is the PostgreSQL server of this package's tests; each test gets a database of its own.
var pg *pgtest.Server

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// The shared store suite on PostgreSQL: every handle has its own pool on one database, as
// replicas do.
func TestStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Open {
		url := pg.Database(t)
		return func(t *testing.T, now func() time.Time) facematch.Store {
			return open(t, url, now)
		}
	})
}

func open(t testing.TB, url string, now func() time.Time) *DB {
	t.Helper()
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	db.Now = now
	t.Cleanup(func() { db.Close() })
	return db
}

// [FM-SCALE-1] Replicas starting together on an empty database all open it: the migrations
// run once, under the advisory lock, and everyone finds the schema complete.
func TestMigrationsOnceUnderConcurrentStarts(t *testing.T) {
	url := pg.Database(t)
	errs := make(chan error, 6)
	for range cap(errs) {
		go func() {
			db, err := Open(context.Background(), url)
			if err == nil {
				_, err = db.CreateOrganization(context.Background(), "Acme", 1)
				db.Close()
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	db := open(t, url, time.Now)
	var files, applied int
	names, _ := migrations.ReadDir("migrations")
	files = len(names)
	if err := db.pool.QueryRow(context.Background(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&applied); err != nil || applied != files {
		t.Fatalf("%d migrations recorded (%v), want %d", applied, err, files)
	}
	tables, err := db.Tables(context.Background())
	if err != nil || len(tables) < 12 {
		t.Fatalf("tables %v, %v", tables, err)
	}
}
