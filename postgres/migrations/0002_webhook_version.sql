-- The payload version a destination asked for (FM-WH-1): v1, v2 or v3, echoed by the API.
-- Destinations made before it existed were made for v3, the only version then.
ALTER TABLE webhook_destinations ADD COLUMN webhook_version TEXT NOT NULL DEFAULT 'v3';
