-- The schema of the PostgreSQL store: the same tables as the SQLite store, times in
-- microseconds since the epoch, so that both read the same and tests can move the clock.

-- Tenancy: organizations hold credits, applications hold keys and sessions.
CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    credits    BIGINT NOT NULL CHECK (credits >= 0),
    created_us BIGINT NOT NULL
);

CREATE TABLE applications (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    name        TEXT NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('live', 'sandbox')),
    session_seq BIGINT NOT NULL DEFAULT 0,
    created_us  BIGINT NOT NULL
);

-- Only a hash of each key's secret is kept (FM-AUTH-2).
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES applications (id),
    secret_hash BYTEA NOT NULL,
    created_us  BIGINT NOT NULL,
    revoked_us  BIGINT
);

-- The sliding-window rate limit (FM-RL-1): one row per request in the window, and per key and
-- bucket the count of them, whose row lock orders the takes of one key across replicas.
CREATE TABLE rate_events (
    key_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    at_us  BIGINT NOT NULL
);
CREATE INDEX rate_events_window ON rate_events (key_id, bucket, at_us);

CREATE TABLE rate_counts (
    key_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    count  INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (key_id, bucket)
);

-- take_request takes one slot of a key's window at now_us, if there is one, in one statement:
-- the row lock on rate_counts makes concurrent takes of a key, from any replica, run one
-- after the other. It returns whether the slot was taken, the requests left, and when the
-- window has room again. Its transaction commits without waiting for the WAL flush: the row
-- lock is held until the commit, so a flush per take would bound a hot key at one take per
-- disk flush; a database crash can forget the last fraction of a second of takes, which only
-- lets as many more requests in.
CREATE FUNCTION take_request(p_key TEXT, p_bucket TEXT, p_limit INTEGER, p_now BIGINT, p_window BIGINT,
                             OUT allowed BOOLEAN, OUT remaining INTEGER, OUT reset_us BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    n       INTEGER;
    removed INTEGER;
    oldest  BIGINT;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    INSERT INTO rate_counts (key_id, bucket, count) VALUES (p_key, p_bucket, 0) ON CONFLICT DO NOTHING;
    SELECT count INTO n FROM rate_counts WHERE key_id = p_key AND bucket = p_bucket FOR UPDATE;
    DELETE FROM rate_events WHERE key_id = p_key AND bucket = p_bucket AND at_us <= p_now - p_window;
    GET DIAGNOSTICS removed = ROW_COUNT;
    n := GREATEST(0, n - removed);
    SELECT MIN(at_us) INTO oldest FROM rate_events WHERE key_id = p_key AND bucket = p_bucket;
    IF n < p_limit THEN
        INSERT INTO rate_events (key_id, bucket, at_us) VALUES (p_key, p_bucket, p_now);
        n := n + 1;
        allowed := TRUE;
        remaining := p_limit - n;
        reset_us := COALESCE(oldest, p_now) + p_window;
    ELSE
        allowed := FALSE;
        remaining := 0;
        reset_us := oldest + p_window;
    END IF;
    UPDATE rate_counts SET count = n WHERE key_id = p_key AND bucket = p_bucket;
END
$$;

-- The leases of running servers (FM-SCALE-3): what a server reserves or claims is recorded
-- under its owner id, and given back by the others once its lease lapsed.
CREATE TABLE replica_leases (
    owner      TEXT PRIMARY KEY,
    expires_us BIGINT NOT NULL,
    started_us BIGINT NOT NULL,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL
);

-- Credits taken while a live call runs; gone once consumed or released (FM-BILL-1/2).
CREATE TABLE credit_reservations (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id),
    request_id TEXT NOT NULL,
    owner      TEXT NOT NULL,
    created_us BIGINT NOT NULL
);
CREATE INDEX credit_reservations_owner ON credit_reservations (owner);

-- Every change of a balance: grants and removals by the operator, consumption by 200s.
CREATE TABLE credit_ledger (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id),
    amount     BIGINT NOT NULL,
    reason     TEXT NOT NULL CHECK (reason IN ('grant', 'consume')),
    request_id TEXT,
    created_us BIGINT NOT NULL
);
CREATE UNIQUE INDEX credit_ledger_request ON credit_ledger (request_id) WHERE request_id IS NOT NULL;

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES applications (id),
    number      BIGINT NOT NULL,
    vendor_data TEXT,
    metadata    TEXT,
    face_match  TEXT NOT NULL,
    created_us  BIGINT NOT NULL,
    UNIQUE (app_id, number)
);

-- Images live in the database, so that replicas need no shared file system (FM-SCALE-1).
CREATE TABLE session_images (
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('source', 'target')),
    content_type TEXT NOT NULL,
    data         BYTEA NOT NULL,
    PRIMARY KEY (session_id, kind)
);
-- Images are already compressed: stored as they are, out of line.
ALTER TABLE session_images ALTER COLUMN data SET STORAGE EXTERNAL;

-- Deployment-wide secrets, e.g. the key that signs image URLs, shared by every replica.
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

-- Webhook destinations of applications (FM-WH-1); the secret signs deliveries.
CREATE TABLE webhook_destinations (
    id                TEXT PRIMARY KEY,
    app_id            TEXT NOT NULL REFERENCES applications (id),
    label             TEXT NOT NULL,
    url               TEXT NOT NULL,
    subscribed_events TEXT[] NOT NULL,
    enabled           BOOLEAN NOT NULL,
    secret            TEXT NOT NULL,
    created_us        BIGINT NOT NULL,
    updated_us        BIGINT NOT NULL
);
CREATE INDEX webhook_destinations_app ON webhook_destinations (app_id, created_us);

-- The outbox: one row per event and destination, written in the session's transaction
-- (FM-WH-4). A server leases a due row, under its owner id, before attempting it.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    destination_id  TEXT NOT NULL REFERENCES webhook_destinations (id) ON DELETE CASCADE,
    session_id      TEXT NOT NULL,
    event           TEXT NOT NULL,
    body            BYTEA NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_us BIGINT NOT NULL,
    lease_until_us  BIGINT NOT NULL DEFAULT 0,
    lease_owner     TEXT NOT NULL DEFAULT '',
    created_us      BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_us) WHERE state = 'pending';

-- Every attempt, for the destination's summary.
CREATE TABLE webhook_attempts (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id    TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    destination_id TEXT NOT NULL,
    at_us          BIGINT NOT NULL,
    status_code    INTEGER NOT NULL,
    latency_us     BIGINT NOT NULL,
    error          TEXT NOT NULL,
    ok             BOOLEAN NOT NULL
);
CREATE INDEX webhook_attempts_destination ON webhook_attempts (destination_id, at_us);
