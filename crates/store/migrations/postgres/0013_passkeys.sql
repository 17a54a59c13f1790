-- Passkeys (issue 6). A passkey is a factor of kind 'passkey': `secret`
-- holds the credential (public key, signature counter, flags) sealed under
-- the user's key, and `credential_id` a keyed hash of its WebAuthn
-- credential id, unique, so a passwordless sign-in finds it and no
-- credential is registered twice.
ALTER TABLE mfa_factors ADD COLUMN credential_id TEXT;
CREATE UNIQUE INDEX mfa_factors_credential ON mfa_factors (credential_id);

-- A WebAuthn ceremony in progress (a registration, a passwordless sign-in,
-- a re-authentication): its server-side state, found by the hash of the
-- challenge the browser signs, and taken (deleted) by the one request that
-- finishes it. A registration or re-authentication is bound to the session
-- that started it.
CREATE TABLE webauthn_ceremonies (
    challenge_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('register', 'login', 'reauth')),
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT,
    name TEXT,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);

-- The second step of a sign-in may be a passkey: the state of that
-- WebAuthn ceremony, kept with the challenge it belongs to.
ALTER TABLE mfa_challenges ADD COLUMN passkey_state TEXT;
