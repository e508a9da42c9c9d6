-- Webhook destinations of applications (FM-WH-1); the secret signs deliveries.
CREATE TABLE webhook_destinations (
    id                TEXT PRIMARY KEY,
    app_id            TEXT NOT NULL REFERENCES applications (id),
    label             TEXT NOT NULL,
    url               TEXT NOT NULL,
    subscribed_events TEXT NOT NULL, -- JSON array
    enabled           INTEGER NOT NULL,
    secret            TEXT NOT NULL,
    created_us        INTEGER NOT NULL,
    updated_us        INTEGER NOT NULL
);
CREATE INDEX webhook_destinations_app ON webhook_destinations (app_id, created_us);

-- The outbox: one row per event and destination, written in the session's transaction
-- (FM-WH-4). A worker leases a due row before attempting it.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    destination_id  TEXT NOT NULL REFERENCES webhook_destinations (id) ON DELETE CASCADE,
    session_id      TEXT NOT NULL,
    event           TEXT NOT NULL,
    body            BLOB NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_us INTEGER NOT NULL,
    lease_until_us  INTEGER NOT NULL DEFAULT 0,
    created_us      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_us);

-- Every attempt, for the destination's summary.
CREATE TABLE webhook_attempts (
    id             INTEGER PRIMARY KEY,
    delivery_id    TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    destination_id TEXT NOT NULL,
    at_us          INTEGER NOT NULL,
    status_code    INTEGER NOT NULL,
    latency_us     INTEGER NOT NULL,
    error          TEXT NOT NULL,
    ok             INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_destination ON webhook_attempts (destination_id, at_us);
