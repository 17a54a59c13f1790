//! A software WebAuthn authenticator (and the browser around it) for tests.
//!
//! It answers the options Turva gives as a browser's
//! `PublicKeyCredential.toJSON()` would: ES256 (P-256) keys made with
//! aws-lc-rs, "none" attestation, user presence and user verification, a
//! signature counter that grows with every use, and client data naming the
//! origin it was created for. Every credential is discoverable. Tests
//! tamper with it (another origin, a counter put back, a wrong key) to see
//! the server refuse.

use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

/// One credential the authenticator holds.
pub struct SoftCredential {
    pub id: Vec<u8>,
    pub rp_id: String,
    pub user_handle: Vec<u8>,
    /// The signature counter; the next use signs `counter + 1`.
    pub counter: u32,
    key: EcdsaKeyPair,
}

/// A software authenticator used from one origin.
pub struct SoftAuthenticator {
    /// The origin the "browser" reports in client data.
    pub origin: String,
    pub credentials: Vec<SoftCredential>,
}

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    B64.decode(text.trim_end_matches('=')).unwrap_or_default()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    digest(&SHA256, data).as_ref().to_vec()
}

/// Minimal CBOR (RFC 8949) writing: just the types WebAuthn needs.
fn cbor_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n < 0x100 {
        out.push(m | 24);
        out.push(n as u8);
    } else if n < 0x1_0000 {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn cbor_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        cbor_head(out, 0, n as u64);
    } else {
        cbor_head(out, 1, (-1 - n) as u64);
    }
}

fn cbor_bytes(out: &mut Vec<u8>, b: &[u8]) {
    cbor_head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    cbor_head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

impl SoftCredential {
    /// The credential's public key as a COSE_Key (EC2, ES256, P-256).
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        let (x, y) = (&point[1..33], &point[33..65]);
        let mut out = Vec::new();
        cbor_head(&mut out, 5, 5);
        cbor_int(&mut out, 1);
        cbor_int(&mut out, 2); // kty: EC2
        cbor_int(&mut out, 3);
        cbor_int(&mut out, -7); // alg: ES256
        cbor_int(&mut out, -1);
        cbor_int(&mut out, 1); // crv: P-256
        cbor_int(&mut out, -2);
        cbor_bytes(&mut out, x);
        cbor_int(&mut out, -3);
        cbor_bytes(&mut out, y);
        out
    }
}

impl SoftAuthenticator {
    pub fn new(origin: &str) -> Self {
        SoftAuthenticator {
            origin: origin.trim_end_matches('/').to_string(),
            credentials: Vec::new(),
        }
    }

    fn client_data(&self, kind: &str, options: &Value) -> Vec<u8> {
        let challenge = options["publicKey"]["challenge"].as_str().unwrap_or("");
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        }))
        .unwrap_or_default()
    }

    /// Answers `navigator.credentials.create(options)` with a new
    /// credential (the options' `excludeCredentials` are ignored, like a
    /// client that does not care).
    pub fn register(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        let key = match EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING) {
            Ok(k) => k,
            Err(_) => return Value::Null,
        };
        let mut id = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut id).unwrap_or_default();
        self.credentials.push(SoftCredential {
            id,
            rp_id: pk["rp"]["id"].as_str().unwrap_or("").to_string(),
            user_handle: unb64(pk["user"]["id"].as_str().unwrap_or("")),
            counter: 0,
            key,
        });
        self.attest(options, self.credentials.len() - 1)
    }

    /// A registration answer for credential `index` (held already) to
    /// `options`: registering the same credential twice.
    pub fn attest(&mut self, options: &Value, index: usize) -> Value {
        let client_data = self.client_data("webauthn.create", options);
        let Some(cred) = self.credentials.get_mut(index) else {
            return Value::Null;
        };
        cred.counter += 1;
        let mut auth_data = sha256(cred.rp_id.as_bytes());
        auth_data.push(0x01 | 0x04 | 0x40); // user present, verified, attested data
        auth_data.extend_from_slice(&cred.counter.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        auth_data.extend_from_slice(&(cred.id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&cred.id);
        auth_data.extend_from_slice(&cred.cose_key());
        let mut att = Vec::new();
        cbor_head(&mut att, 5, 3);
        cbor_text(&mut att, "fmt");
        cbor_text(&mut att, "none");
        cbor_text(&mut att, "attStmt");
        cbor_head(&mut att, 5, 0);
        cbor_text(&mut att, "authData");
        cbor_bytes(&mut att, &auth_data);
        json!({
            "id": b64(&cred.id),
            "rawId": b64(&cred.id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&att),
                "clientDataJSON": b64(&client_data),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    /// Answers `navigator.credentials.get(options)`: with the first held
    /// credential the options allow (any, when they list none).
    pub fn assert(&mut self, options: &Value) -> Value {
        let allowed: Vec<Vec<u8>> = options["publicKey"]["allowCredentials"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| unb64(c["id"].as_str().unwrap_or("")))
                    .collect()
            })
            .unwrap_or_default();
        let index = self
            .credentials
            .iter()
            .position(|c| allowed.is_empty() || allowed.contains(&c.id));
        match index {
            Some(i) => self.assert_with(options, i),
            None => Value::Null,
        }
    }

    /// Answers `navigator.credentials.get(options)` with credential `index`.
    pub fn assert_with(&mut self, options: &Value, index: usize) -> Value {
        let client_data = self.client_data("webauthn.get", options);
        let Some(cred) = self.credentials.get_mut(index) else {
            return Value::Null;
        };
        cred.counter += 1;
        let mut auth_data = sha256(cred.rp_id.as_bytes());
        auth_data.push(0x01 | 0x04); // user present, verified
        auth_data.extend_from_slice(&cred.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&sha256(&client_data));
        let signature = cred
            .key
            .sign(&SystemRandom::new(), &signed)
            .map(|s| s.as_ref().to_vec())
            .unwrap_or_default();
        json!({
            "id": b64(&cred.id),
            "rawId": b64(&cred.id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(&signature),
                "userHandle": b64(&cred.user_handle),
            },
            "clientExtensionResults": {},
        })
    }
}
