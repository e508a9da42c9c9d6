package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/facematch/facematch"
)

// TakeRequest counts one request of keyID in bucket if the sliding window of the last window
// still has room under limit. Everything happens in one write transaction, so concurrent
// requests, from this process or another sharing the file, are counted exactly.
func (db *DB) TakeRequest(ctx context.Context, keyID, bucket string, limit int, window time.Duration) (facematch.RateDecision, error) {
	d := facematch.RateDecision{Limit: limit}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := micros(db.Now())
		start := now - window.Microseconds()
		if _, err := tx.ExecContext(ctx, `DELETE FROM rate_events WHERE key_id = ? AND bucket = ? AND at_us <= ?`, keyID, bucket, start); err != nil {
			return err
		}
		var (
			count  int
			oldest sql.NullInt64
		)
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), MIN(at_us) FROM rate_events WHERE key_id = ? AND bucket = ?`, keyID, bucket).
			Scan(&count, &oldest); err != nil {
			return err
		}
		if count >= limit {
			d.Remaining = 0
			d.Reset = fromMicros(oldest.Int64 + window.Microseconds())
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO rate_events (key_id, bucket, at_us) VALUES (?, ?, ?)`, keyID, bucket, now); err != nil {
			return err
		}
		d.Allowed = true
		d.Remaining = limit - count - 1
		first := now
		if oldest.Valid {
			first = oldest.Int64
		}
		d.Reset = fromMicros(first + window.Microseconds())
		return nil
	})
	return d, err
}
