-- The list of sessions (FM-SES-5) and the console (FM-CON-2, FM-CON-4) filter, count and chart
-- by the decision's status and score and by organization. Those are copied out of face_match
-- (and applications) into plain columns when a session is written, so that the indexes below
-- answer a page and its count without reading the JSON of the rows they skip.
ALTER TABLE sessions ADD COLUMN status TEXT;
ALTER TABLE sessions ADD COLUMN score REAL;
ALTER TABLE sessions ADD COLUMN org_id TEXT;
-- vendor_data in lower case, for the case-insensitive substring search.
ALTER TABLE sessions ADD COLUMN vendor_search TEXT;
UPDATE sessions SET
    status = json_extract(face_match, '$.status'),
    score  = json_extract(face_match, '$.score'),
    org_id = (SELECT a.org_id FROM applications a WHERE a.id = sessions.app_id),
    vendor_search = lower(vendor_data);
CREATE TRIGGER sessions_list_columns AFTER INSERT ON sessions
BEGIN
    UPDATE sessions SET
        status = json_extract(NEW.face_match, '$.status'),
        score  = json_extract(NEW.face_match, '$.score'),
        org_id = (SELECT a.org_id FROM applications a WHERE a.id = NEW.app_id),
        vendor_search = lower(NEW.vendor_data)
    WHERE id = NEW.id;
END;

-- An application's sessions newest first, holding every column a filter reads: a page and its
-- count come from the index alone, whatever the filters.
CREATE INDEX sessions_app_created ON sessions (app_id, created_us, id, status, score, vendor_search);
-- vendor_data exact: the provider's "filter sessions later".
CREATE INDEX sessions_app_vendor ON sessions (app_id, vendor_data, created_us, id);
-- status (Approved, Declined).
CREATE INDEX sessions_app_status ON sessions (app_id, status, created_us, id);
-- The same three for an organization across its applications (the console).
CREATE INDEX sessions_org_created ON sessions (org_id, created_us, id, status, score, vendor_search, app_id);
CREATE INDEX sessions_org_vendor ON sessions (org_id, vendor_data, created_us, id);
CREATE INDEX sessions_org_status ON sessions (org_id, status, created_us, id);
