package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/storetest"
)

// The shared store suite on SQLite: every handle opens the same file, as the server and the
// operator's commands do.
func TestStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Open {
		dir := t.TempDir()
		return func(t *testing.T, now func() time.Time) facematch.Store {
			db, err := Open(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			db.Now = now
			t.Cleanup(func() { db.Close() })
			return db
		}
	})
}
