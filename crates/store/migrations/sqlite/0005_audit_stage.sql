-- Events of reads (views, listings, searches, downloads, denials) are first
-- committed to a small staging database beside the main one (SQLite only:
-- a commit to the main file would empty every reader's page cache) and
-- moved into audit_events in batches. `staged_through` is the id of the
-- last staged event moved, updated in the same transaction as the move, so
-- an event is moved exactly once whatever crashes in between.
ALTER TABLE audit_head ADD COLUMN staged_through BIGINT NOT NULL DEFAULT 0;
