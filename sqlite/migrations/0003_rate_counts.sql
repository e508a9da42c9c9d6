-- The number of requests each key and bucket has in its window, kept with the events so that
-- taking a request costs the same whatever the limit (FM-RL-1).
CREATE TABLE rate_counts (
    key_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    count  INTEGER NOT NULL CHECK (count >= 0),
    taken  INTEGER NOT NULL DEFAULT 0, -- whether the last request counted was let in
    PRIMARY KEY (key_id, bucket)
) WITHOUT ROWID;
INSERT INTO rate_counts (key_id, bucket, count)
    SELECT key_id, bucket, COUNT(*) FROM rate_events GROUP BY key_id, bucket;
