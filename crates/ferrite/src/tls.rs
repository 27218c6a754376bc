//! HTTPS (`--tls-cert`, `--tls-key`): the server's certificate and key from PEM
//! files, rustls on the ring provider, ALPN `h2` and `http/1.1`, and the certificate
//! reloaded on SIGHUP.
//!
//! TLS lives in the binary only: below it a request carries `ClientInfo::secure` (the
//! `aws:SecureTransport` key) and nothing else. This module owns the handshake of a
//! new connection (bounded by the connection's handshake deadline, see `conn`) and
//! the current certificate; it never sees a request. Key bytes are never logged,
//! printed or kept beyond rustls's signing key.
//!
//! Reload: new handshakes ask [`CertResolver`] for the certificate, which hands out
//! the `Arc` it holds; SIGHUP reads both files again and swaps in the new pair, or
//! logs why not and keeps the old one. Connections already open keep the certificate
//! they were made with.

mod summary;

use std::fmt;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

pub use summary::CertSummary;

use crate::metrics::TlsMetrics;

/// The files given with `--tls-cert` and `--tls-key`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificates: the server's first, then its intermediates.
    pub cert: PathBuf,
    /// A PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The most either file may hold: a certificate chain or a key is a few KiB.
const MAX_PEM_FILE: u64 = 1 << 20;
/// The first byte of a TLS handshake record (a ClientHello starts with it).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;
/// How long a plain-HTTP client on the TLS port is given to take its answer.
const PLAIN_HTTP_LINGER: Duration = Duration::from_secs(1);

/// What every new handshake is given: the current certificate and key.
pub struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    fn current(&self) -> Arc<CertifiedKey> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn replace(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = key;
    }
}

/// Says nothing of the key.
impl fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertResolver").finish_non_exhaustive()
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The server's TLS side: the acceptor new connections go through and what it
/// reloads from.
pub struct Tls {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    resolver: Arc<CertResolver>,
    acceptor: TlsAcceptor,
    metrics: TlsMetrics,
}

impl Tls {
    /// Loads the certificate and key (any problem is a start-up error that names the
    /// file) and builds the server configuration.
    pub fn new(files: TlsFiles, metrics: TlsMetrics) -> anyhow::Result<Arc<Self>> {
        // Named, not taken from the process default: tests build rustls with
        // aws-lc-rs too (the SDK's), and the server must not depend on which one wins.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let (key, summary) = load(&files, &provider)?;
        log_loaded(&files, &summary, "TLS certificate loaded");
        metrics.loaded(&summary);
        let resolver = Arc::new(CertResolver {
            current: RwLock::new(key),
        });
        let mut config = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("setting up TLS")?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(Self {
            files,
            provider,
            resolver,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            metrics,
        }))
    }

    /// Reads both files again and, if they hold a usable pair, serves it to new
    /// handshakes from now on; otherwise the current pair stays.
    pub async fn reload(&self) -> anyhow::Result<CertSummary> {
        let (files, provider) = (self.files.clone(), self.provider.clone());
        let (key, summary) = tokio::task::spawn_blocking(move || load(&files, &provider))
            .await
            .context("reading the TLS files")??;
        self.resolver.replace(key);
        Ok(summary)
    }

    /// Reloads on every SIGHUP from now on. The handler is in place when this
    /// returns, so a SIGHUP no longer ends the process.
    pub fn reload_on_sighup(self: &Arc<Self>) -> anyhow::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
        let tls = self.clone();
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                tracing::info!("received SIGHUP: reloading the TLS certificate and key");
                match tls.reload().await {
                    Ok(summary) => {
                        tls.metrics.reloaded(&summary);
                        log_loaded(&tls.files, &summary, "TLS certificate reloaded");
                    }
                    Err(e) => {
                        tls.metrics.reload_failed();
                        tracing::error!(
                            error = format!("{e:#}"),
                            "TLS reload failed; new connections keep getting the previous certificate"
                        );
                    }
                }
            }
        });
        Ok(())
    }

    /// The TLS handshake of a new connection, finished by `deadline` (the
    /// connection's handshake timeout), or `None` (the connection is closed). A client
    /// that speaks plain HTTP to this port is told so in plain HTTP.
    pub async fn accept(&self, stream: TcpStream, peer: SocketAddr, deadline: Instant) -> Option<TlsStream<TcpStream>> {
        let handshake = async {
            let mut first = [0u8; 1];
            match stream.peek(&mut first).await {
                Ok(1) => {}
                _ => return Err(Failure::Closed),
            }
            if first[0] != TLS_HANDSHAKE_RECORD {
                return Err(Failure::PlainHttp(stream));
            }
            self.acceptor.accept(stream).await.map_err(Failure::Tls)
        };
        let failure = match tokio::time::timeout_at(deadline, handshake).await {
            Ok(Ok(tls)) => return Some(tls),
            Ok(Err(failure)) => failure,
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake not finished in time; connection closed");
                self.metrics.handshake_failed();
                return None;
            }
        };
        match failure {
            Failure::Closed => tracing::debug!(%peer, "connection closed before a TLS handshake"),
            Failure::PlainHttp(mut stream) => {
                tracing::debug!(%peer, "plain HTTP on the TLS port");
                self.metrics.handshake_failed();
                answer_plain_http(&mut stream).await;
            }
            Failure::Tls(e) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                self.metrics.handshake_failed();
            }
        }
        None
    }
}

enum Failure {
    Closed,
    PlainHttp(TcpStream),
    Tls(std::io::Error),
}

/// `400` in plain HTTP, as a client that forgot `https://` can read it; then the
/// request is read and dropped for a moment, so that closing does not reset the
/// connection before the client has read the answer.
async fn answer_plain_http(stream: &mut TcpStream) {
    const BODY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>BadRequest</Code>\
<Message>This port speaks HTTPS: the request was sent as plain HTTP.</Message></Error>";
    let resp = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/xml\r\nconnection: close\r\n\
content-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(PLAIN_HTTP_LINGER, async {
        stream.write_all(resp.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        let mut left = 64 * 1024usize;
        while left > 0 {
            match stream.read(&mut sink).await? {
                0 => break,
                n => left = left.saturating_sub(n),
            }
        }
        Ok::<(), std::io::Error>(())
    })
    .await;
}

fn log_loaded(files: &TlsFiles, s: &CertSummary, message: &str) {
    tracing::info!(
        cert = %files.cert.display(),
        subject = %s.subject,
        serial = %s.serial,
        not_after = %s.not_after_text(),
        sha256 = %s.sha256,
        chain = s.chain_len,
        "{message}"
    );
    if s.not_after.is_some_and(|t| t <= time::OffsetDateTime::now_utc()) {
        tracing::warn!(cert = %files.cert.display(), not_after = %s.not_after_text(), "the TLS certificate has expired");
    }
}

/// Reads and checks the pair: certificates and a key that parse, and a key that
/// belongs to the first certificate.
fn load(files: &TlsFiles, provider: &CryptoProvider) -> anyhow::Result<(Arc<CertifiedKey>, CertSummary)> {
    let cert_pem =
        read_bounded(&files.cert).with_context(|| format!("reading the TLS certificate {}", files.cert.display()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing the TLS certificate {}", files.cert.display()))?;
    let Some(end_entity) = chain.first() else {
        anyhow::bail!("no PEM certificate (BEGIN CERTIFICATE) in {}", files.cert.display());
    };
    let summary = CertSummary::of(end_entity, chain.len());
    warn_if_readable_by_all(&files.key);
    let key_pem = zeroize::Zeroizing::new(
        read_bounded(&files.key).with_context(|| format!("reading the TLS key {}", files.key.display()))?,
    );
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            anyhow::anyhow!("no PEM private key (PKCS#8, PKCS#1 or SEC1) in {}", files.key.display())
        }
        e => anyhow::anyhow!("parsing the TLS key {}: {e}", files.key.display()),
    })?;
    let certified = CertifiedKey::from_der(chain, key, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => anyhow::anyhow!(
            "the TLS key {} does not belong to the certificate {}",
            files.key.display(),
            files.cert.display()
        ),
        rustls::Error::InvalidCertificate(e) => anyhow::anyhow!(
            "the TLS certificate {} is not a usable X.509 certificate ({e:?})",
            files.cert.display()
        ),
        e => anyhow::anyhow!(
            "cannot use the TLS key {} with the certificate {}: {e}",
            files.key.display(),
            files.cert.display()
        ),
    })?;
    Ok((Arc::new(certified), summary))
}

fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_PEM_FILE + 1)
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_PEM_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_PEM_FILE} bytes"),
        ));
    }
    Ok(buf)
}

fn warn_if_readable_by_all(key: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(key)
        && meta.permissions().mode() & 0o004 != 0
    {
        tracing::warn!(key = %key.display(), "the TLS key file is readable by every user of this machine");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pair {
        cert: String,
        key: String,
    }

    fn pair(cn: &str) -> Pair {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        Pair {
            cert: params.self_signed(&key).unwrap().pem(),
            key: key.serialize_pem(),
        }
    }

    fn files(dir: &Path, cert: &str, key: &str) -> TlsFiles {
        let f = TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&f.cert, cert).unwrap();
        std::fs::write(&f.key, key).unwrap();
        f
    }

    fn load_err(f: &TlsFiles) -> String {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        match load(f, &provider) {
            Ok(_) => panic!("loaded"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn a_matching_pair_loads() {
        let dir = tempfile::tempdir().unwrap();
        let p = pair("one");
        let f = files(dir.path(), &p.cert, &p.key);
        let (key, summary) = load(&f, &rustls::crypto::aws_lc_rs::default_provider()).unwrap();
        assert_eq!(key.cert.len(), 1);
        assert_eq!(summary.subject, "CN=one");
    }

    #[test]
    fn problems_are_named_with_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (pair("a"), pair("b"));
        let e = load_err(&files(dir.path(), &a.cert, &b.key));
        assert!(e.contains("does not belong to the certificate"), "{e}");
        let e = load_err(&files(dir.path(), &a.key, &a.key));
        assert!(e.contains("no PEM certificate") && e.contains("cert.pem"), "{e}");
        let e = load_err(&files(dir.path(), &a.cert, &a.cert));
        assert!(e.contains("no PEM private key") && e.contains("key.pem"), "{e}");
        let e = load_err(&files(
            dir.path(),
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            &a.key,
        ));
        assert!(e.contains("parsing the TLS certificate"), "{e}");
        let not_x509 = "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n";
        let e = load_err(&files(dir.path(), not_x509, &a.key));
        assert!(e.contains("cert.pem is not a usable X.509 certificate"), "{e}");
        let mut f = files(dir.path(), &a.cert, &a.key);
        f.key = dir.path().join("missing.pem");
        let e = load_err(&f);
        assert!(e.contains("reading the TLS key") && e.contains("missing.pem"), "{e}");
    }

    /// No error or Debug output carries key material.
    #[test]
    fn key_bytes_never_reach_an_error_or_debug() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (pair("a"), pair("b"));
        let body = |pem: &str| pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>();
        let e = load_err(&files(dir.path(), &a.cert, &b.key));
        assert!(!e.contains(&body(&b.key)[..40]), "{e}");
        let f = files(dir.path(), &a.cert, &a.key);
        let (key, _) = load(&f, &rustls::crypto::aws_lc_rs::default_provider()).unwrap();
        let resolver = CertResolver {
            current: RwLock::new(key),
        };
        assert_eq!(format!("{resolver:?}"), "CertResolver { .. }");
    }

    #[tokio::test]
    async fn reload_swaps_the_pair_or_keeps_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (pair("a"), pair("b"));
        let f = files(dir.path(), &a.cert, &a.key);
        let tls = Tls::new(f.clone(), TlsMetrics::default()).unwrap();
        let served = |tls: &Tls| CertSummary::of(&tls.resolver.current().cert[0], 1).subject;
        assert_eq!(served(&tls), "CN=a");
        std::fs::write(&f.cert, &b.cert).unwrap();
        std::fs::write(&f.key, &b.key).unwrap();
        assert_eq!(tls.reload().await.unwrap().subject, "CN=b");
        assert_eq!(served(&tls), "CN=b");
        // Half a rotation (a new certificate, the old key) is refused whole.
        std::fs::write(&f.cert, &a.cert).unwrap();
        assert!(tls.reload().await.is_err());
        assert_eq!(served(&tls), "CN=b");
    }
}
