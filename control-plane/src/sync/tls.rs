//! Cluster listener → mutual TLS: with `--cluster-cert` every DP connection is a TLS handshake
//! in which the DP must present Kong's `shared` certificate (the CP's own) or, in `pki` mode, one
//! signed by `--cluster-ca-cert`. Refused handshakes are logged here with the peer's address and
//! the subject of the certificate it presented; accepted connections go on to the gRPC server.

use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::crypto::{ring, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DistinguishedName, RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

use proto::tls_files::{self, TlsFilesError};

use crate::settings::MtlsMode;

mod names;
mod presented;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Files(#[from] TlsFilesError),
    #[error("--cluster-allowed-common-names applies to --cluster-mtls pki only")]
    NamesWithoutPki,
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// The server side of the cluster link; `None` (plaintext) when no certificate is set.
/// In `pki` mode, `allowed_names` (when not empty) are the only subject common names accepted.
pub fn server_config(
    cert: Option<&Path>,
    key_path: Option<&Path>,
    mode: MtlsMode,
    ca: Option<&Path>,
    allowed_names: &[String],
) -> Result<Option<Arc<ServerConfig>>, TlsError> {
    let Some(me) = tls_files::identity(cert, key_path)? else {
        return Ok(None);
    };
    if mode != MtlsMode::Pki && !allowed_names.is_empty() {
        return Err(TlsError::NamesWithoutPki);
    }
    if let Some(w) = &me.expiry_warning {
        tracing::warn!("{w}");
    }
    let provider = Arc::new(ring::default_provider());
    let verifier: Arc<dyn ClientCertVerifier> = match mode {
        MtlsMode::Shared => Arc::new(SameCert {
            cert: me.cert().clone(),
            algs: provider.signature_verification_algorithms,
        }),
        MtlsMode::Pki => {
            let mut roots = RootCertStore::empty();
            for c in tls_files::ca_certs(ca)? {
                roots.add(c)?;
            }
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()?
        }
    };
    let names = names::AllowedNames::new(allowed_names);
    let verifier = Arc::new(presented::Presented::new(verifier, names));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(me.chain, me.key)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Some(Arc::new(config)))
}

/// `shared` mode: the DP must present exactly the CP's own certificate.
#[derive(Debug)]
struct SameCert {
    cert: CertificateDer<'static>,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for SameCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "data plane certificate does not match the control plane certificate (shared mode)"
                    .into(),
            ))
        }
    }

    proto::signature_checks!(algs: algs);
}

/// Accepts TCP connections, completes each TLS handshake on its own task, and yields the ones
/// that pass; a refused one is logged with who tried.
pub fn incoming(
    listener: TcpListener,
    config: Arc<ServerConfig>,
) -> ReceiverStream<Result<TlsConn, std::io::Error>> {
    let (tx, rx) = mpsc::channel(16);
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        while !tx.is_closed() {
            let (tcp, peer) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("cluster listener: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
                match presented::noting(handshake).await {
                    (Ok(Ok(tls)), _) => {
                        let _ = tx.send(Ok(TlsConn(tls))).await;
                    }
                    (Ok(Err(e)), cert) => refused(peer, cert, &e.to_string()),
                    (Err(_), cert) => refused(peer, cert, "TLS handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

/// Logs a refused handshake: the peer's address, the subject of the certificate it presented
/// (none when it gave up first, e.g. not trusting the CP's), and why.
fn refused(peer: SocketAddr, cert: Option<String>, why: &str) {
    let hint = if why.contains("fatal alert") {
        " (the peer does not trust this control plane's certificate: in shared mode, its own certificate differs)"
    } else if why.contains("InvalidContentType") || why.contains("corrupt message") {
        " (not TLS: a data plane without --cluster-cert?)"
    } else {
        ""
    };
    let cert = cert.as_deref().unwrap_or("none presented");
    tracing::warn!(%peer, cert, "refused data plane connection from {peer} (certificate {cert}): {why}{hint}");
}

/// One accepted TLS connection, as the gRPC server sees it.
pub struct TlsConn(TlsStream<TcpStream>);

impl Connected for TlsConn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        let tcp = self.0.get_ref().0;
        TcpConnectInfo {
            local_addr: tcp.local_addr().ok(),
            remote_addr: tcp.peer_addr().ok(),
        }
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::CertArgs;
    use proto::cert;

    fn pair(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let args = CertArgs {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
            days: 1,
            common_name: "kong_clustering".into(),
        };
        crate::cli::cert::generate(&args).unwrap();
        (args.cert, args.key)
    }

    #[test]
    fn a_generated_certificate_shows_its_common_name_and_expiry() {
        let dir = std::env::temp_dir().join(format!("cp-tls-cn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, _) = pair(&dir, "cn");
        let der = cert::read_certs(&cert).unwrap().remove(0);
        let info = cert::inspect(&der).unwrap();
        assert_eq!(info.common_name.as_deref(), Some("kong_clustering"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        // `pair` makes a 1-day certificate: valid now, and close enough to expiry to warn.
        assert!(info.not_after > now && info.not_after <= now + 2 * 86_400);
        assert!(info
            .expiry_warning("c", now)
            .unwrap()
            .contains("expires in"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn configs_follow_the_flags() {
        let dir = std::env::temp_dir().join(format!("cp-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = pair(&dir, "a");
        let shared = MtlsMode::Shared;
        let none: &[String] = &[];
        assert!(server_config(None, None, shared, None, none)
            .unwrap()
            .is_none());
        assert!(matches!(
            server_config(Some(&cert), None, shared, None, none),
            Err(TlsError::Files(TlsFilesError::Half))
        ));
        let config = server_config(Some(&cert), Some(&key), shared, None, none)
            .unwrap()
            .unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
        assert!(matches!(
            server_config(Some(&cert), Some(&key), MtlsMode::Pki, None, none),
            Err(TlsError::Files(TlsFilesError::NoCa))
        ));
        // pki: any CA file works as the trust root, here the self-signed certificate itself.
        let pki = MtlsMode::Pki;
        assert!(server_config(Some(&cert), Some(&key), pki, Some(&cert), none).is_ok());
        let names = ["dp-1".to_string()];
        assert!(server_config(Some(&cert), Some(&key), pki, Some(&cert), &names).is_ok());
        assert!(matches!(
            server_config(Some(&cert), Some(&key), shared, None, &names),
            Err(TlsError::NamesWithoutPki)
        ));
        let err = server_config(Some(&key), Some(&key), shared, None, none).unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
