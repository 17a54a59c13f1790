-- (PostgreSQL twin of sqlite/0008_audit_checkpoints.sql)
CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY,
    time BIGINT NOT NULL,
    root BYTEA NOT NULL,
    note TEXT NOT NULL
);
