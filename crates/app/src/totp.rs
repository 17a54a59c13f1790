//! TOTP second factors (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps).
//!
//! Threats: a stolen password alone (the code is the second factor), a
//! code seen over a shoulder or phished and replayed (each time step is
//! accepted once per factor, claimed by one conditional UPDATE, so two
//! concurrent requests with the same code cannot both pass, and no step
//! older than an accepted one passes either), guessing (six digits, ±1
//! step, so 3 in 10^6 per try; every try is throttled like a password and
//! a sign-in challenge dies after 5 wrong codes), and a stolen database
//! (the secret is stored only sealed under the user's key, so erasing the
//! user also destroys it).
//!
//! States of a factor: started (secret shown once, `confirmed_at` empty;
//! it counts for nothing and is dropped if not confirmed within 10
//! minutes) → confirmed (a current code was given; it now guards sign-in
//! and re-auth) → removed (deleted; needs recent auth or an MFA reset).
//! The code arithmetic is `totp-rs`'s; this module holds the parameters,
//! the sealing and the replay rule.

use totp_rs::{Builder, Secret, Totp};
use turva_store::keys::DataKey;

use crate::AppError;

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Bytes of a new secret (160 bits, RFC 4226's recommendation).
const SECRET_BYTES: usize = 20;
/// Who the authenticator app names as the issuer.
pub const ISSUER: &str = "Turva";

/// A fresh random secret.
pub fn new_secret() -> Vec<u8> {
    use rand::RngCore;
    let mut s = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut s);
    s
}

fn totp(secret: &[u8], account: &str) -> Result<Totp, AppError> {
    // The label may not contain ':' (it separates issuer and account).
    let account: String = account
        .chars()
        .map(|c| if c == ':' { '_' } else { c })
        .collect();
    Builder::new()
        .with_secret(Secret::from(secret.to_vec()))
        .with_digits(6)
        .with_step_duration(STEP_SECONDS)
        .with_skew(1)
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| AppError::Internal(format!("TOTP parameters: {e}")))
}

/// The secret in base32 (what a user types into an app by hand).
pub fn secret_base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// The `otpauth://totp/…` URL an authenticator app scans.
pub fn otpauth_url(secret: &[u8], account: &str) -> Result<String, AppError> {
    totp(secret, account)?
        .to_url()
        .map_err(|e| AppError::Internal(format!("TOTP URL: {e}")))
}

/// The URL as a QR code, an SVG `data:` URL.
pub fn qr_data_url(url: &str) -> Result<String, AppError> {
    use base64::Engine;
    let code = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| AppError::Internal(format!("QR code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

/// Whether `code` looks like a TOTP code (six digits, spaces allowed).
pub fn looks_like_code(code: &str) -> bool {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The time step whose code `code` is, within ±1 step of `now_ms`, if any.
pub fn matching_step(secret: &[u8], code: &str, now_ms: i64) -> Result<Option<i64>, AppError> {
    if !looks_like_code(code) {
        return Ok(None);
    }
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let now = u64::try_from(now_ms / 1000).unwrap_or(0);
    let step = totp(secret, "")?.check(&code, now);
    Ok(step.and_then(|s| i64::try_from(s).ok()))
}

/// The associated data sealing a factor's secret.
pub fn aad(factor_id: &str) -> String {
    format!("turva/mfa/{factor_id}/totp")
}

/// Seals a secret under the user's key.
pub fn seal(key: &DataKey, factor_id: &str, secret: &[u8]) -> Vec<u8> {
    turva_store::crypt::seal(key, &aad(factor_id), secret)
}

/// Opens a sealed secret.
pub fn open(key: &DataKey, factor_id: &str, sealed: &[u8]) -> Result<Vec<u8>, AppError> {
    turva_store::crypt::open(key, &aad(factor_id), sealed)
        .map_err(|_| AppError::Internal(format!("TOTP secret of factor {factor_id} is unreadable")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8 digits there).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        let t = Builder::new()
            .with_secret(Secret::from(secret.to_vec()))
            .with_digits(8)
            .with_step_duration(30)
            .build()
            .unwrap();
        for (time, want) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(t.generate(time).to_string(), want, "time {time}");
        }
    }

    #[test]
    fn six_digit_codes_match_within_one_step() {
        let secret = b"12345678901234567890";
        // The RFC's 8-digit code at 59 s ends in these six digits.
        let at = 59_000;
        assert_eq!(matching_step(secret, "287082", at).unwrap(), Some(1));
        assert_eq!(matching_step(secret, "287 082", at).unwrap(), Some(1));
        // One step later (89 s) it still passes, two steps later not.
        assert_eq!(matching_step(secret, "287082", 89_000).unwrap(), Some(1));
        assert_eq!(matching_step(secret, "287082", 119_000).unwrap(), None);
        assert_eq!(matching_step(secret, "287083", at).unwrap(), None);
        assert_eq!(matching_step(secret, "28708", at).unwrap(), None);
        assert_eq!(matching_step(secret, "abcdef", at).unwrap(), None);
    }

    #[test]
    fn url_and_qr() {
        let secret = new_secret();
        assert_eq!(secret.len(), 20);
        let url = otpauth_url(&secret, "aija:x@example.test").unwrap();
        assert!(
            url.starts_with("otpauth://totp/Turva:aija_x%40example.test?"),
            "{url}"
        );
        assert!(url.contains(&format!("secret={}", secret_base32(&secret))));
        let qr = qr_data_url(&url).unwrap();
        assert!(qr.starts_with("data:image/svg+xml;base64,"));
    }

    #[test]
    fn sealed_secrets_open_only_for_their_factor() {
        let key = DataKey::random();
        let sealed = seal(&key, "f1", b"secret-bytes-1234567");
        assert_eq!(open(&key, "f1", &sealed).unwrap(), b"secret-bytes-1234567");
        assert!(open(&key, "f2", &sealed).is_err());
    }
}
