-- (PostgreSQL twin of sqlite/0002_email_change.sql)
-- Email address changes waiting for confirmation: the new address gets a
-- link with a single-use token (stored as SHA-256); the change happens
-- only when it is used.
CREATE TABLE email_changes (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    new_email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX email_changes_user ON email_changes (user_id);
