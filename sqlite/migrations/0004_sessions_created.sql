-- Retention (session purge, serve --retention) finds old sessions by their creation time.
CREATE INDEX sessions_created ON sessions (created_us);
