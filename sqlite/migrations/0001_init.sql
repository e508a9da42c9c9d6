-- Tenancy: organizations hold credits, applications hold keys and sessions.
CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    credits    INTEGER NOT NULL CHECK (credits >= 0),
    created_us INTEGER NOT NULL
);

CREATE TABLE applications (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    name        TEXT NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('live', 'sandbox')),
    session_seq INTEGER NOT NULL DEFAULT 0,
    created_us  INTEGER NOT NULL
);

-- Only a hash of each key's secret is kept (FM-AUTH-2).
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES applications (id),
    secret_hash BLOB NOT NULL,
    created_us  INTEGER NOT NULL,
    revoked_us  INTEGER
);

-- One row per request counted by the sliding-window rate limit (FM-RL-1).
CREATE TABLE rate_events (
    key_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    at_us  INTEGER NOT NULL
);
CREATE INDEX rate_events_window ON rate_events (key_id, bucket, at_us);

-- Credits taken while a live call runs; gone once consumed or released (FM-BILL-1/2).
CREATE TABLE credit_reservations (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id),
    request_id TEXT NOT NULL,
    created_us INTEGER NOT NULL
);

-- Every change of a balance: grants and removals by the operator, consumption by 200s.
CREATE TABLE credit_ledger (
    id         INTEGER PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id),
    amount     INTEGER NOT NULL,
    reason     TEXT NOT NULL CHECK (reason IN ('grant', 'consume')),
    request_id TEXT,
    created_us INTEGER NOT NULL
);
CREATE UNIQUE INDEX credit_ledger_request ON credit_ledger (request_id) WHERE request_id IS NOT NULL;

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES applications (id),
    number      INTEGER NOT NULL,
    vendor_data TEXT,
    metadata    TEXT,
    face_match  TEXT NOT NULL,
    created_us  INTEGER NOT NULL,
    UNIQUE (app_id, number)
);

CREATE TABLE session_images (
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('source', 'target')),
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (session_id, kind)
);

-- Deployment-wide secrets, e.g. the key that signs image URLs.
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
