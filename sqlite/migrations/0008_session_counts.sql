-- Counts kept as sessions come and go, so that the unfiltered list's count (FM-SES-5, FM-CON-2)
-- and the overview's calls per day (FM-CON-4) read a few rows instead of every session.
-- session_counts: sessions per application and per organization (scope is either id).
CREATE TABLE session_counts (
    scope TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
);
-- session_days: an organization's saved calls per UTC day (day = created_us / 86400000000).
CREATE TABLE session_days (
    org_id   TEXT NOT NULL,
    day      INTEGER NOT NULL,
    approved INTEGER NOT NULL DEFAULT 0,
    declined INTEGER NOT NULL DEFAULT 0,
    noface   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day)
);

INSERT INTO session_counts (scope, n) SELECT app_id, COUNT(*) FROM sessions GROUP BY app_id;
INSERT INTO session_counts (scope, n) SELECT org_id, COUNT(*) FROM sessions GROUP BY org_id;
INSERT INTO session_days (org_id, day, approved, declined, noface)
    SELECT org_id, created_us / 86400000000,
           SUM(score IS NOT NULL AND status = 'Approved'), SUM(score IS NOT NULL AND status = 'Declined'), SUM(score IS NULL)
    FROM sessions GROUP BY org_id, created_us / 86400000000;

CREATE TRIGGER sessions_count_insert AFTER INSERT ON sessions
BEGIN
    INSERT OR IGNORE INTO session_counts (scope, n) VALUES (NEW.app_id, 0);
    UPDATE session_counts SET n = n + 1 WHERE scope = NEW.app_id;
    INSERT OR IGNORE INTO session_counts (scope, n) SELECT org_id, 0 FROM applications WHERE id = NEW.app_id;
    UPDATE session_counts SET n = n + 1 WHERE scope = (SELECT org_id FROM applications WHERE id = NEW.app_id);
    INSERT OR IGNORE INTO session_days (org_id, day) SELECT org_id, NEW.created_us / 86400000000 FROM applications WHERE id = NEW.app_id;
    UPDATE session_days SET
        approved = approved + (json_type(NEW.face_match, '$.score') IN ('real', 'integer') AND json_extract(NEW.face_match, '$.status') = 'Approved'),
        declined = declined + (json_type(NEW.face_match, '$.score') IN ('real', 'integer') AND json_extract(NEW.face_match, '$.status') = 'Declined'),
        noface   = noface + (json_type(NEW.face_match, '$.score') IS NOT 'real' AND json_type(NEW.face_match, '$.score') IS NOT 'integer')
    WHERE org_id = (SELECT org_id FROM applications WHERE id = NEW.app_id) AND day = NEW.created_us / 86400000000;
END;

CREATE TRIGGER sessions_count_delete AFTER DELETE ON sessions
BEGIN
    UPDATE session_counts SET n = n - 1 WHERE scope IN (OLD.app_id, OLD.org_id);
    UPDATE session_days SET
        approved = approved - (OLD.score IS NOT NULL AND OLD.status = 'Approved'),
        declined = declined - (OLD.score IS NOT NULL AND OLD.status = 'Declined'),
        noface   = noface - (OLD.score IS NULL)
    WHERE org_id = OLD.org_id AND day = OLD.created_us / 86400000000;
END;
