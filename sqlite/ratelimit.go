package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/facematch/facematch"
)

// The statements of TakeRequest, prepared once (hotWrites). The second runs right after the
// first, so changes() is the number of events that left the window; it takes a slot when there
// is one left and returns the count before, whether it took one, and the oldest event left.
const (
	sqlRateDelete = `DELETE FROM rate_events WHERE key_id = ? AND bucket = ? AND at_us <= ?`
	sqlRateTake   = `INSERT INTO rate_counts (key_id, bucket, count, taken) VALUES (?1, ?2, ?3 > 0, ?3 > 0)
		ON CONFLICT (key_id, bucket) DO UPDATE SET
			count = MAX(0, count - changes()) + (MAX(0, count - changes()) < ?3),
			taken = MAX(0, count - changes()) < ?3
		RETURNING count, taken, (SELECT MIN(at_us) FROM rate_events WHERE key_id = ?1 AND bucket = ?2)`
	sqlRateInsert = `INSERT INTO rate_events (key_id, bucket, at_us) VALUES (?, ?, ?)`
)

// TakeRequest counts one request of keyID in bucket if the sliding window of the last window
// still has room under limit. Everything happens in one write transaction, so concurrent
// requests, from this process or another sharing the file, are counted exactly. The events in
// the window are kept (at most limit of them) and counted in rate_counts, so a request costs
// three small statements whatever the limit.
func (db *DB) TakeRequest(ctx context.Context, keyID, bucket string, limit int, window time.Duration) (facematch.RateDecision, error) {
	d := facematch.RateDecision{Limit: limit}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := micros(db.Now())
		if _, err := db.txStmt(ctx, tx, sqlRateDelete).ExecContext(ctx, keyID, bucket, now-window.Microseconds()); err != nil {
			return err
		}
		var (
			count  int
			taken  bool
			oldest sql.NullInt64
		)
		if err := db.txStmt(ctx, tx, sqlRateTake).QueryRowContext(ctx, keyID, bucket, limit).Scan(&count, &taken, &oldest); err != nil {
			return err
		}
		if !taken {
			d.Reset = fromMicros(oldest.Int64 + window.Microseconds())
			return nil
		}
		if _, err := db.txStmt(ctx, tx, sqlRateInsert).ExecContext(ctx, keyID, bucket, now); err != nil {
			return err
		}
		d.Allowed = true
		d.Remaining = limit - count
		first := now
		if oldest.Valid {
			first = oldest.Int64
		}
		d.Reset = fromMicros(first + window.Microseconds())
		return nil
	})
	return d, err
}
