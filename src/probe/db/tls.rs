//! Step 3, TLS: PostgreSQL's SSLRequest, then a rustls handshake verified against the
//! configured CA bundle (the RDS global bundle in production).
//!
//! The server's one-byte answer to SSLRequest is read alone (reading more would let a
//! man in the middle inject plaintext before the handshake, CVE-2021-23222). `N` means
//! the server does not do TLS (`ssl = off`). Certificate problems arrive as
//! `rustls::Error::InvalidCertificate` (unknown issuer, expired, wrong name) and are
//! reported as such. The leaf certificate's expiry is reported on every run and warned
//! about [`EXPIRY_WARNING_DAYS`] ahead.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::cert;
use super::target::SslMode;

/// Days before expiry from which the TLS step warns.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// The SSLRequest message: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA bundle could not be read or holds no certificate.
    #[error("CA bundle {path}: {reason}")]
    CaBundle {
        /// The configured file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The server answered `N` to SSLRequest: it does not accept TLS.
    #[error(
        "server does not accept TLS (answered N to SSLRequest; ssl = off?), but sslmode {0} requires it"
    )]
    NotOffered(&'static str),
    /// The server answered something other than `S` or `N`: not PostgreSQL, or an old
    /// server rejecting the request with an error message.
    #[error(
        "unexpected answer 0x{0:02x} to SSLRequest: not a PostgreSQL server, or it rejected the request"
    )]
    UnexpectedReply(u8),
    /// Writing the request or reading the answer failed (connection reset or closed).
    #[error("SSLRequest failed: {0}")]
    Io(std::io::Error),
    /// The handshake failed; certificate problems are the usual cause.
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    /// The host cannot be used as a TLS server name.
    #[error("{0} is not a valid TLS server name")]
    ServerName(String),
    /// Nothing happened within the step's timeout (something accepts TCP but does not
    /// speak PostgreSQL, or the server hangs).
    #[error(
        "no answer within {limit:?} while {phase}: something accepts TCP but does not answer like PostgreSQL (hung server, proxy, wrong port)"
    )]
    Timeout {
        /// The step's timeout.
        limit: Duration,
        /// What the step was waiting for.
        phase: &'static str,
    },
}

/// A stream the PostgreSQL protocol can run over: TLS or plain TCP.
pub trait PgStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> PgStream for T {}

/// The stream for the auth step and what the TLS step found.
pub struct Negotiated {
    /// TLS (or, for `disable` / `prefer` without server TLS, plain TCP).
    pub stream: Box<dyn PgStream>,
    /// The step detail: version, cipher suite, verification, leaf expiry.
    pub detail: String,
    /// Leaf certificate expiry, when TLS is on.
    pub not_after: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Negotiated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Negotiated")
            .field("detail", &self.detail)
            .finish()
    }
}

/// Load a PEM CA bundle into a root store.
pub fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let bad = |reason: String| TlsError::CaBundle {
        path: path.to_path_buf(),
        reason,
    };
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in iter {
        let cert = cert.map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| bad(format!("unusable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(bad("contains no certificate".into()));
    }
    Ok(roots)
}

/// Run the TLS step over `tcp` within `limit`, as `mode` asks.
pub async fn negotiate(
    mut tcp: TcpStream,
    host: &str,
    mode: SslMode,
    ca_bundle: Option<&Path>,
    limit: Duration,
) -> Result<Negotiated, TlsError> {
    if mode == SslMode::Disable {
        return Ok(Negotiated {
            stream: Box::new(tcp),
            detail: "skipped: sslmode disable (plaintext)".into(),
            not_after: None,
        });
    }
    // Read the bundle before talking to the server, so a bad bundle is reported as such.
    let roots = match (mode.verifies(), ca_bundle) {
        (true, Some(p)) => Some(load_roots(p)?),
        (true, None) => {
            return Err(TlsError::CaBundle {
                path: PathBuf::new(),
                reason: format!("sslmode {} needs a CA bundle", mode.as_str()),
            });
        }
        (false, _) => None,
    };
    let deadline = tokio::time::Instant::now() + limit;
    let answer = tokio::time::timeout_at(deadline, async {
        tcp.write_all(&SSL_REQUEST).await?;
        tcp.read_u8().await
    })
    .await
    .map_err(|_| TlsError::Timeout {
        limit,
        phase: "waiting for the answer to SSLRequest",
    })?
    .map_err(TlsError::Io)?;
    match answer {
        b'S' => {}
        b'N' if mode == SslMode::Prefer => {
            return Ok(Negotiated {
                stream: Box::new(tcp),
                detail: "server does not accept TLS; continuing in plaintext (sslmode prefer)"
                    .into(),
                not_after: None,
            });
        }
        b'N' => return Err(TlsError::NotOffered(mode.as_str())),
        other => return Err(TlsError::UnexpectedReply(other)),
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match roots {
        Some(roots) => {
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| TlsError::Handshake(format!("cannot build the verifier: {e}")))?;
            if mode == SslMode::VerifyFull {
                webpki
            } else {
                Arc::new(ChainOnly(webpki))
            }
        }
        None => Arc::new(NoVerification(provider.clone())),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Handshake(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| TlsError::ServerName(host.to_string()))?;
    let connector = TlsConnector::from(Arc::new(config));
    let tls: TlsStream<TcpStream> = tokio::time::timeout_at(deadline, connector.connect(name, tcp))
        .await
        .map_err(|_| TlsError::Timeout {
            limit,
            phase: "in the TLS handshake",
        })?
        .map_err(|e| TlsError::Handshake(handshake_error(&e)))?;
    let (_, conn) = tls.get_ref();
    // rustls spells versions `TLSv1_3`; operators know `TLSv1.3` (as openssl prints it).
    let version = conn
        .protocol_version()
        .and_then(|v| v.as_str())
        .map_or_else(|| "unknown version".to_string(), |v| v.replace('_', "."));
    let suite = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("unknown cipher");
    let not_after = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|leaf| cert::not_after(leaf));
    let verification = match mode {
        SslMode::VerifyFull => "certificate and host name verified",
        SslMode::VerifyCa => "certificate chain verified (host name not checked: verify-ca)",
        _ => "certificate NOT verified (sslmode require/prefer)",
    };
    let mut detail = format!("{version} {suite}; {verification}");
    detail.push_str(&expiry_note(not_after, Utc::now()));
    Ok(Negotiated {
        stream: Box::new(tls),
        detail,
        not_after,
    })
}

/// `; certificate expires 2027-01-01T00:00:00Z (in 40 days)`, with a warning inside
/// [`EXPIRY_WARNING_DAYS`] and when already expired.
pub fn expiry_note(not_after: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(t) = not_after else {
        return "; certificate expiry unknown".into();
    };
    let days = (t - now).num_days();
    let when = t.format("%Y-%m-%dT%H:%M:%SZ");
    if t <= now {
        format!("; WARNING: server certificate EXPIRED at {when}")
    } else if days < EXPIRY_WARNING_DAYS {
        format!(
            "; WARNING: server certificate expires {when} (in {days} days, renew or rotate the CA now)"
        )
    } else {
        format!("; certificate expires {when} (in {days} days)")
    }
}

/// Describe a handshake error, naming certificate problems in on-call words.
fn handshake_error(e: &std::io::Error) -> String {
    let Some(rustls_err) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return e.to_string();
    };
    match rustls_err {
        rustls::Error::InvalidCertificate(c) => {
            let what = match c {
                CertificateError::UnknownIssuer => {
                    "server certificate is not signed by a CA in the bundle (unknown issuer): wrong or outdated CA bundle"
                        .to_string()
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "server certificate has expired".to_string()
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "server certificate is not valid yet (clock skew?)".to_string()
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "server certificate is not valid for this host name (connect by the name in the certificate, or use verify-ca)"
                        .to_string()
                }
                other => format!("invalid server certificate: {other:?}"),
            };
            format!("{what} ({rustls_err})")
        }
        other => other.to_string(),
    }
}

/// `verify-ca`: the chain must verify, the host name need not match.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain (issuer, validity) before the name, so a name error
        // means the chain itself verified.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `require` / `prefer`: encryption without authentication of the server, as libpq does
/// in these modes. Handshake signatures are still checked.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn expiry_notes() {
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
        let note = |d: i64| expiry_note(Some(now + chrono::Duration::days(d)), now);
        assert!(
            note(90).starts_with("; certificate expires 2027-02-18"),
            "{}",
            note(90)
        );
        assert!(
            note(29).contains("WARNING") && note(29).contains("in 29 days"),
            "{}",
            note(29)
        );
        assert!(!note(30).contains("WARNING"), "{}", note(30));
        assert!(note(-1).contains("EXPIRED"), "{}", note(-1));
        assert_eq!(expiry_note(None, now), "; certificate expiry unknown");
    }

    #[test]
    fn bad_bundles_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = load_roots(&empty).unwrap_err();
        assert!(err.to_string().contains("contains no certificate"), "{err}");
        let err = load_roots(&dir.path().join("missing.pem")).unwrap_err();
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }
}
