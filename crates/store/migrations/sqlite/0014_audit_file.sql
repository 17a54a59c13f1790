-- The audit log moves to a file of its own, turva-audit.db, attached to
-- every connection as the schema `audit` (see db.rs: commits to it leave
-- the readers' page caches of this file warm). Before this migration runs,
-- `migrate::adopt_audit_file` has created the tables there and copied
-- every row, in a commit of that file alone; this one drops the originals.
DROP TABLE main.audit_links;
DROP TABLE main.audit_checkpoints;
DROP TABLE main.audit_nodes;
DROP TABLE main.audit_events;
DROP TABLE main.audit_head;

-- The events of changes, committed here in the change's own transaction
-- (a commit that spanned both files would not be atomic across them) and
-- moved into the audit file like staged events of reads;
-- audit.audit_head.pending_through names the last one moved.
CREATE TABLE main.audit_pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL
);
