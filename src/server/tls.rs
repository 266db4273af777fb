//! TLS on the server's own listener: HTTPS for polling, WSS for WebSocket.
//!
//! rustls with its `ring` crypto provider, with rustls's defaults: TLS 1.3
//! and 1.2, their modern cipher suites only, no renegotiation, no client
//! certificates. ALPN offers `http/1.1` alone (the server speaks HTTP/1.1;
//! WebSocket over HTTP/2 is not served).
//!
//! The handshake runs on the connection's [`TimedIo`](super::timed_io::TimedIo),
//! so its writes are bounded by `write_timeout` like every other write, and
//! it must complete within [`ServerConfig::tls_handshake_timeout`](super::ServerConfig::tls_handshake_timeout).
//! After it, the HTTP timeouts apply to the decrypted stream as without TLS.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A TLS setting for [`ServerConfig::tls`](super::ServerConfig::tls): the
/// certificate chain and key the server presents. Cheap to clone.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
}

/// Why a certificate or key could not be used; the message names the file
/// and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

impl Tls {
    /// Reads a PEM certificate chain (the server's certificate first, then
    /// its intermediates) and a PEM private key (PKCS#8, PKCS#1 RSA or SEC1
    /// EC) from these files.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let read = |path: &Path, what: &str| {
            std::fs::read(path).map_err(|e| TlsError(format!("{what} {}: {e}", path.display())))
        };
        let cert_pem = read(cert, "TLS certificate file")?;
        let key_pem = read(key, "TLS key file")?;
        Tls::from_pem(&cert_pem, &key_pem).map_err(|TlsError(e)| {
            TlsError(format!(
                "{e} (certificate {}, key {})",
                cert.display(),
                key.display()
            ))
        })
    }

    /// The same from PEM text in memory.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Tls, TlsError> {
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError(format!("the certificate file is not valid PEM: {e}")))?;
        if chain.is_empty() {
            return Err(TlsError(
                "the certificate file holds no PEM CERTIFICATE section".into(),
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
            TlsError(format!(
                "the key file holds no usable PEM private key (PKCS#8, RSA or EC): {e}"
            ))
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError(format!("TLS setup: {e}")))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsError(format!("the certificate and key do not go together: {e}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls::from_rustls(Arc::new(config)))
    }

    /// A rustls configuration made by the application (client
    /// certificates, certificate resolvers, another crypto provider). Its
    /// ALPN list should offer only `http/1.1`, or nothing.
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> Tls {
        Tls {
            acceptor: TlsAcceptor::from(config),
        }
    }

    pub(super) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_certificate_or_a_key() {
        let not_pem = b"hello";
        let error = Tls::from_pem(not_pem, not_pem).unwrap_err();
        assert!(error.0.contains("no PEM CERTIFICATE"), "{error}");
        let missing = Tls::from_pem_files(
            Path::new("/nonexistent/cert.pem"),
            Path::new("/nonexistent/key.pem"),
        )
        .unwrap_err();
        assert!(
            missing
                .0
                .starts_with("TLS certificate file /nonexistent/cert.pem"),
            "{missing}"
        );
    }
}
