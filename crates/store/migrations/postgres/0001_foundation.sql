-- (PostgreSQL twin of sqlite/0001_foundation.sql)
-- Foundation: accounts, companies, members, sessions, one-time tokens,
-- data keys, throttling and the audit log.
-- Times are BIGINT milliseconds since the Unix epoch (UTC); ids are UUID
-- text. Every table holding company data carries company_id.

-- People who can sign in. A row without password_hash is an invited
-- address that has not accepted yet: it cannot sign in.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    language TEXT NOT NULL,
    password_hash TEXT,
    is_operator BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    password_changed_at BIGINT,
    CONSTRAINT users_email_key UNIQUE (email)
);

-- A company: a closed operating environment.
CREATE TABLE companies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    settings TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT REFERENCES users (id),
    deletion_scheduled_at BIGINT
);

-- Membership of a user in a company: 'invited' until they accept.
CREATE TABLE memberships (
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'reader')),
    status TEXT NOT NULL CHECK (status IN ('active', 'invited')),
    language TEXT NOT NULL,
    invited_by TEXT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    joined_at BIGINT,
    PRIMARY KEY (company_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- Single-use tokens (invitations, password resets), stored as SHA-256.
CREATE TABLE one_time_tokens (
    token_hash TEXT PRIMARY KEY,
    purpose TEXT NOT NULL CHECK (purpose IN ('invite', 'password_reset')),
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    company_id TEXT REFERENCES companies (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id, purpose);

-- Server-side sessions. The token is stored as SHA-256 only.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    method TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    auth_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    revoked_at BIGINT,
    CONSTRAINT sessions_token_key UNIQUE (token_hash)
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Data keys of companies, users, periods and the platform, wrapped by a
-- master-key version. Destroying a key (crypto-shredding) clears `wrapped`.
CREATE TABLE data_keys (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('company', 'user', 'period', 'platform')),
    owner_id TEXT NOT NULL,
    kek_version BIGINT NOT NULL,
    wrapped BYTEA,
    created_at BIGINT NOT NULL,
    destroyed_at BIGINT,
    CONSTRAINT data_keys_owner_key UNIQUE (kind, owner_id)
);

-- Sliding-window counters for throttling and mail limits. `key` is an id or
-- a keyed hash, never a raw address.
CREATE TABLE throttle_events (
    id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX throttle_events_lookup ON throttle_events (bucket, key, at);

-- The audit log: one row per event, `seq` global and gap-free (assigned
-- from audit_head in the same transaction). Personal fields (email, IP,
-- user agent) are only in `personal`, sealed under the data key named by
-- personal_key_id; ip_index is a keyed hash for filtering.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    next_seq BIGINT NOT NULL
);
INSERT INTO audit_head (id, next_seq) VALUES (1, 1);

CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    time BIGINT NOT NULL,
    company_id TEXT,
    actor_id TEXT,
    credential TEXT,
    object_type TEXT,
    object_id TEXT,
    object_version BIGINT,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'denied')),
    reason TEXT,
    request_id TEXT,
    personal_key_id TEXT,
    personal BYTEA,
    ip_index TEXT
);
CREATE INDEX audit_events_company ON audit_events (company_id, seq);
CREATE INDEX audit_events_actor ON audit_events (actor_id, seq);
