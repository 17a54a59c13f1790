//! TLS: rustls with TLS 1.3 and 1.2 only (rustls speaks nothing older),
//! from configured PEM files or a self-signed certificate for localhost
//! that is created once in the data directory and kept.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// Where the certificate and key come from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Installs aws-lc-rs as rustls' process-wide provider (idempotent).
pub fn install_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The configured pair, or the self-signed pair in `data_dir` (created on
/// first use; the key file is 0600).
pub fn files(
    cert: Option<&Path>,
    key: Option<&Path>,
    data_dir: &Path,
) -> Result<(TlsFiles, bool), String> {
    if let (Some(c), Some(k)) = (cert, key) {
        return Ok((
            TlsFiles {
                cert: c.to_path_buf(),
                key: k.to_path_buf(),
            },
            false,
        ));
    }
    let files = TlsFiles {
        cert: data_dir.join("tls-cert.pem"),
        key: data_dir.join("tls-key.pem"),
    };
    if files.cert.exists() && files.key.exists() {
        return Ok((files, false));
    }
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("self-signed certificate: {e}"))?;
    turva_app::write_private_file(&files.key, generated.signing_key.serialize_pem().as_bytes())
        .map_err(|e| e.to_string())?;
    std::fs::write(&files.cert, generated.cert.pem())
        .map_err(|e| format!("{}: {e}", files.cert.display()))?;
    Ok((files, true))
}

/// Builds the rustls server config: TLS 1.3 and 1.2, HTTP/2 and 1.1.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, String> {
    install_provider();
    let cert_pem =
        std::fs::read(&files.cert).map_err(|e| format!("{}: {e}", files.cert.display()))?;
    let key_pem = std::fs::read(&files.key).map_err(|e| format!("{}: {e}", files.key.display()))?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", files.cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no certificate", files.cert.display()));
    }
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| format!("{}: {e}", files.key.display()))?
        .ok_or_else(|| format!("{} holds no private key", files.key.display()))?;
    let mut cfg = ServerConfig::builder_with_protocol_versions(&[
        &rustls::version::TLS13,
        &rustls::version::TLS12,
    ])
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| format!("TLS certificate and key: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
