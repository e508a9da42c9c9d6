-- Console accounts (FM-CON-1): only a slow hash of each password is kept.
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    email         TEXT NOT NULL UNIQUE, -- stored lower-case
    admin         INTEGER NOT NULL,
    password_hash BLOB NOT NULL,
    created_us    INTEGER NOT NULL
);

-- Console sessions on the server: a hash of the cookie's token; logging out deletes the row.
CREATE TABLE console_logins (
    token_hash BLOB PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL
);
CREATE INDEX console_logins_expiry ON console_logins (expires_us);

-- Failed logins per email, and the locks they caused (5 in 15 minutes lock for 15 minutes).
CREATE TABLE login_failures (
    email TEXT NOT NULL,
    at_us INTEGER NOT NULL
);
CREATE INDEX login_failures_email ON login_failures (email, at_us);
CREATE TABLE login_locks (
    email    TEXT PRIMARY KEY,
    until_us INTEGER NOT NULL
);

CREATE INDEX api_keys_app ON api_keys (app_id, created_us);
CREATE INDEX applications_org ON applications (org_id, created_us);

-- Who did what and when: key creation and revocation, credit changes, deletes (FM-CON-5).
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at_us  INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    org_id TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_org ON audit_log (org_id, at_us);
CREATE INDEX audit_log_at ON audit_log (at_us);

-- A destination's deliveries, newest first, for its page in the console (FM-CON-4); a session's
-- use webhook_deliveries_session (0005_retention.sql).
CREATE INDEX webhook_deliveries_destination ON webhook_deliveries (destination_id, created_us);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, at_us);
