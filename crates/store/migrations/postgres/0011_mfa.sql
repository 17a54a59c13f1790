-- Second factors (issue 6): TOTP now, passkeys later in the same table.
-- A factor is pending (confirmed_at NULL) until its owner proves it with a
-- current code; only confirmed factors count. `secret` is the TOTP secret
-- sealed under the user's key; `last_step` is the last accepted time step,
-- so a code is never accepted twice (a conditional UPDATE claims it).
CREATE TABLE mfa_factors (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('totp', 'passkey')),
    name TEXT NOT NULL,
    secret BYTEA,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_used_at BIGINT,
    last_step BIGINT
);
CREATE INDEX mfa_factors_user ON mfa_factors (user_id);

-- Recovery codes, ten per set, stored as keyed hashes; used once.
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- The second step of a sign-in: issued after the right password, single
-- use, short-lived, dies after `failures` reaches 5. `password_fp` binds it
-- to the password hash of that step, so a password change kills it.
CREATE TABLE mfa_challenges (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_fp TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    failures BIGINT NOT NULL DEFAULT 0,
    used_at BIGINT
);
CREATE INDEX mfa_challenges_user ON mfa_challenges (user_id);

-- Derived from settings.require_mfa, kept in the same UPDATE, so the rule
-- checked on every request is one indexed lookup (no company could turn it
-- on before this migration, hence no backfill).
ALTER TABLE companies ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;
