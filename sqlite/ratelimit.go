package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/facematch/facematch"
)

// The statements of one take, prepared once (hotWrites). The second runs right after the first,
// so changes() is the number of events that left the window; it takes a slot when there is one
// left and returns the count before, whether it took one, and the oldest event left.
const (
	sqlRateDelete = `DELETE FROM rate_events WHERE key_id = ? AND bucket = ? AND at_us <= ?`
	sqlRateTake   = `INSERT INTO rate_counts (key_id, bucket, count, taken) VALUES (?1, ?2, ?3 > 0, ?3 > 0)
		ON CONFLICT (key_id, bucket) DO UPDATE SET
			count = MAX(0, count - changes()) + (MAX(0, count - changes()) < ?3),
			taken = MAX(0, count - changes()) < ?3
		RETURNING count, taken, (SELECT MIN(at_us) FROM rate_events WHERE key_id = ?1 AND bucket = ?2)`
	sqlRateInsert = `INSERT INTO rate_events (key_id, bucket, at_us) VALUES (?, ?, ?)`
)

// maxTakeBatch bounds how many waiting takes one transaction carries.
const maxTakeBatch = 64

// take is one TakeRequest call: its arguments, and its outcome once a transaction ran it.
type take struct {
	keyID, bucket string
	limit         int
	window        time.Duration

	d   facematch.RateDecision
	err error
	// wake says true when the take has run, false when its caller is to lead the next batch.
	wake chan bool
}

// takeQueue is the group commit of TakeRequest: calls that arrive while a transaction runs wait
// in the queue, and the first of them then runs all of them in one transaction. Every request
// of every key costs a write transaction, and BEGIN and COMMIT (with the WAL frames it writes)
// are half of it; under concurrent load they are shared. The queue holds calls in flight only:
// the counts stay in the database, exact for every process that shares it.
type takeQueue struct {
	mu      sync.Mutex
	waiting []*take
	leading bool // a caller is running a batch or about to
}

// TakeRequest counts one request of keyID in bucket if the sliding window of the last window
// still has room under limit. Each take runs in a write transaction, so concurrent requests,
// from this process or another sharing the file, are counted exactly; takes that arrive together
// share one transaction, run one after the other in the order they came. The events in the
// window are kept (at most limit of them) and counted in rate_counts, so a take costs three
// small statements whatever the limit.
func (db *DB) TakeRequest(ctx context.Context, keyID, bucket string, limit int, window time.Duration) (_ facematch.RateDecision, err error) {
	defer wrapOp(&err, "sqlite.TakeRequest")
	t := &take{keyID: keyID, bucket: bucket, limit: limit, window: window, wake: make(chan bool, 1)}
	q := &db.takes
	q.mu.Lock()
	q.waiting = append(q.waiting, t)
	lead := !q.leading
	q.leading = true
	q.mu.Unlock()
	if !lead && <-t.wake {
		return t.d, t.err
	}

	// This caller leads: it runs the waiting takes, its own among them, then hands the lead to
	// the first take that came meanwhile. The batch's transaction outlives a canceled caller,
	// since the others wait on it.
	q.mu.Lock()
	n := min(len(q.waiting), maxTakeBatch)
	batch := q.waiting[:n:n]
	q.waiting = q.waiting[n:]
	q.mu.Unlock()
	defer q.handOff(batch, t) // even if the batch panics: no caller is left waiting
	db.runTakes(context.WithoutCancel(ctx), batch)
	return t.d, t.err
}

// handOff ends a batch: the first take that came meanwhile leads the next one, and the other
// callers of the batch get their outcomes.
func (q *takeQueue) handOff(batch []*take, leader *take) {
	q.mu.Lock()
	if len(q.waiting) > 0 {
		q.waiting[0].wake <- false
	} else {
		q.leading = false
		q.waiting = nil
	}
	q.mu.Unlock()
	for _, o := range batch {
		if o != leader {
			o.wake <- true
		}
	}
}

// errNotTaken is the outcome of a take whose batch stopped before it ran.
var errNotTaken = errors.New("rate limit: the request was not counted")

// runTakes runs a batch of takes in one write transaction. Should it fail, every take of the
// batch fails with it and none is counted.
func (db *DB) runTakes(ctx context.Context, batch []*take) {
	for _, t := range batch {
		t.d, t.err = facematch.RateDecision{Limit: t.limit}, errNotTaken
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		del, upsert, ins := db.txStmt(ctx, tx, sqlRateDelete), db.txStmt(ctx, tx, sqlRateTake), db.txStmt(ctx, tx, sqlRateInsert)
		for _, t := range batch {
			d, err := takeOne(ctx, del, upsert, ins, micros(db.Now()), t)
			if err != nil {
				return err
			}
			t.d = d
		}
		return nil
	})
	for _, t := range batch {
		if err != nil {
			t.d, t.err = facematch.RateDecision{Limit: t.limit}, err
		} else {
			t.err = nil
		}
	}
}

// takeOne takes one slot of t's window at now, inside the batch's transaction.
func takeOne(ctx context.Context, del, upsert, ins *sql.Stmt, now int64, t *take) (facematch.RateDecision, error) {
	d := facematch.RateDecision{Limit: t.limit}
	window := t.window.Microseconds()
	if _, err := del.ExecContext(ctx, t.keyID, t.bucket, now-window); err != nil {
		return d, err
	}
	var (
		count  int
		taken  bool
		oldest sql.NullInt64
	)
	if err := upsert.QueryRowContext(ctx, t.keyID, t.bucket, t.limit).Scan(&count, &taken, &oldest); err != nil {
		return d, err
	}
	if !taken {
		d.Reset = fromMicros(oldest.Int64 + window)
		return d, nil
	}
	if _, err := ins.ExecContext(ctx, t.keyID, t.bucket, now); err != nil {
		return d, err
	}
	d.Allowed = true
	d.Remaining = t.limit - count
	first := now
	if oldest.Valid {
		first = oldest.Int64
	}
	d.Reset = fromMicros(first + window)
	return d, nil
}
