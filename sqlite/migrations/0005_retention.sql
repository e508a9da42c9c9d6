-- Retention (session purge, serve --retention) finds old sessions by their creation time.
CREATE INDEX sessions_created ON sessions (created_us);

-- A purge empties the bodies of the purged sessions' finished deliveries.
CREATE INDEX webhook_deliveries_session ON webhook_deliveries (session_id);
