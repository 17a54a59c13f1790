//! The audit log's public verification material.

use axum::extract::State;
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Serialize;
use turva_app::App;
use utoipa::ToSchema;

/// The key that signs the audit log's checkpoints.
#[derive(Serialize, ToSchema)]
pub struct PublicKey {
    /// The log's name: the origin line of every checkpoint and the key's
    /// name in its signature line.
    pub name: String,
    /// Always `Ed25519`.
    pub algorithm: &'static str,
    /// The raw 32-byte public key, base64.
    pub public_key: String,
    /// The C2SP signed-note verifier key (`<name>+<key id>+<base64(0x01 ‖ key)>`),
    /// for standard tools that read `tlog-checkpoint` notes.
    pub verifier_key: String,
}

/// The checkpoint signing key (anyone may fetch it: checkpoints and proofs
/// are verifiable with it alone).
#[utoipa::path(get, path = "/api/v1/audit/public-key", tag = "audit", responses(
    (status = 200, description = "the signing key", body = PublicKey)))]
pub async fn public_key(State(app): State<App>) -> Json<PublicKey> {
    let s = app.signer();
    Json(PublicKey {
        name: s.name().to_string(),
        algorithm: "Ed25519",
        public_key: B64.encode(s.public_key()),
        verifier_key: s.verifier_key(),
    })
}
