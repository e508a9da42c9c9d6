-- The decline threshold of the call that saved the session (FM-CON-3: the console shows the score
-- against it). Sessions saved before the column existed were not recorded with theirs; they
-- show the API's default.
ALTER TABLE sessions ADD COLUMN threshold DOUBLE PRECISION NOT NULL DEFAULT 30;
