-- The leases of running servers (FM-SCALE-3): what a server reserves or claims is recorded
-- under its owner id, and given back by the others once its lease lapsed. Work recorded
-- before leases existed has no owner ('') and is given back by the next reclaim.
CREATE TABLE replica_leases (
    owner      TEXT PRIMARY KEY,
    expires_us INTEGER NOT NULL,
    started_us INTEGER NOT NULL,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL
);
ALTER TABLE credit_reservations ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX credit_reservations_owner ON credit_reservations (owner);
ALTER TABLE webhook_deliveries ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
