-- Signed checkpoints of the audit log's Merkle tree: the tree size, its
-- root, when, and the signed note (C2SP tlog-checkpoint) as published.
-- Each is also appended to DIR/audit-checkpoints.log, outside the database.
CREATE TABLE audit_checkpoints (
    size INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL
);
