package postgres

import (
	"context"
	"time"

	"github.com/facematch/facematch"
)

// takeTimeout bounds one rate-limit take.
const takeTimeout = 15 * time.Second

// TakeRequest counts one request of keyID in bucket if the sliding window of the last window
// still has room under limit (FM-RL-1). It is one statement, the take_request function of the
// schema: the row lock of the key's count orders concurrent takes of one key, from every
// replica, so there is one exact window per key however many replicas serve it.
func (db *DB) TakeRequest(ctx context.Context, keyID, bucket string, limit int, window time.Duration) (_ facematch.RateDecision, err error) {
	defer wrapOp(&err, "postgres.TakeRequest")
	d := facematch.RateDecision{Limit: limit}
	var resetUS int64
	// The take outlives a canceled caller (once sent, it is counted, and the caller is told
	// so), but not a database that stopped answering.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), takeTimeout)
	defer cancel()
	err = db.pool.QueryRow(ctx, `SELECT allowed, remaining, reset_us FROM take_request($1, $2, $3, $4, $5)`,
		keyID, bucket, limit, micros(db.Now()), window.Microseconds()).Scan(&d.Allowed, &d.Remaining, &resetUS)
	if err != nil {
		return facematch.RateDecision{Limit: limit}, err
	}
	d.Reset = fromMicros(resetUS)
	return d, nil
}
