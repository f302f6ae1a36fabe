//! What the proxy and custom-CA tests put between `molecule` and the emulator: an HTTP proxy
//! that records each request's first line (tunnelling `CONNECT`, forwarding absolute-form
//! requests), and a TLS front for `localhost` whose certificate is signed by a CA made in the
//! test.
#![allow(dead_code, reason = "each test uses a different subset")]
#![allow(clippy::unwrap_used, reason = "test helpers fail the test they serve")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};

/// A proxy on 127.0.0.1: `CONNECT host:port` is tunnelled, `GET http://host:port/...`
/// forwarded as it is; the first line of each connection is recorded.
pub struct Proxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Proxy {
    pub async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(proxy_one(client, sink.clone()));
            }
        });
        Proxy { addr, seen, task }
    }

    /// What to put in `HTTPS_PROXY` or `HTTP_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The first line of every connection so far (`CONNECT localhost:443 HTTP/1.1`).
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one proxy connection; a malformed one is dropped.
async fn proxy_one(mut client: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let Some(head) = read_head(&mut client).await else {
        return;
    };
    let text = String::from_utf8_lossy(&head).into_owned();
    let first = text.lines().next().unwrap_or_default().to_owned();
    seen.lock().unwrap().push(first.clone());
    let mut words = first.split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let authority = if method == "CONNECT" {
        target.to_owned()
    } else {
        // Absolute form: http://host:port/path.
        let rest = target.strip_prefix("http://").unwrap_or(target);
        rest.split('/').next().unwrap_or("").to_owned()
    };
    let Ok(mut upstream) = TcpStream::connect(&authority).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        return;
    };
    let sent = if method == "CONNECT" {
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
    } else {
        upstream.write_all(&head).await
    };
    if sent.is_ok() {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}

/// Reads a request head, up to and including the blank line (and whatever came with it).
async fn read_head(client: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = client.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 64 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Some(head)
}

/// A TLS front on 127.0.0.1 for `localhost`, forwarding the decrypted bytes to a plain TCP
/// server; its certificate is signed by a CA of its own.
pub struct TlsFront {
    port: u16,
    ca_pem: String,
    failed: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TlsFront {
    pub async fn start(backend: SocketAddr) -> TlsFront {
        let (ca_pem, config) = certificates();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let failed = Arc::new(AtomicUsize::new(0));
        let count = failed.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, count) = (acceptor.clone(), count.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        count.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    if let Ok(mut plain) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                });
            }
        });
        TlsFront {
            port,
            ca_pem,
            failed,
            task,
        }
    }

    /// `https://localhost:<port>`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// `localhost:<port>`, as a proxy is asked for it.
    pub fn authority(&self) -> String {
        format!("localhost:{}", self.port)
    }

    /// Writes the CA's certificate (PEM) into `dir`; its path.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let path = dir.join("test-ca.pem");
        std::fs::write(&path, &self.ca_pem).unwrap();
        path
    }

    /// How many TLS handshakes failed (a client that does not trust the CA).
    pub fn failed_handshakes(&self) -> usize {
        self.failed.load(Ordering::SeqCst)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A fresh CA (its PEM) and the server configuration of a leaf for `localhost` it signed.
fn certificates() -> (String, rustls::ServerConfig) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "molecule test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();

    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &ca).unwrap();

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf_cert.der().clone()],
            PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    (ca.pem(), config)
}
