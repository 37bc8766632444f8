//! Proves the two chain shapes that differ only in where the expired certificate sits:
//! - an old cross-signed root (X: R's subject and key, issued by an old root O, expired) sent
//!   after a healthy leaf and intermediate is not on the verified path: a client trusting R
//!   verifies the chain (rustls, and OpenSSL), while a client trusting only O meets X's expiry;
//! - an expired intermediate on the path fails every verifier.
//!
//! Certificates are inspected from the outside with the `openssl` binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use cf_doctor_testkit::{tls_origin, CrossSignedChain, LeafSpec, Origin, OriginConfig, TestCa};
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::RootCertStore;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const NAME: &str = "www.cross.test";

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn roots(ca: &CertificateDer<'static>) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).expect("a CA certificate");
    Arc::new(roots)
}

/// Handshakes with `origin` as NAME trusting only `ca`; returns the chain the server sent.
async fn handshake(
    origin: &Origin,
    ca: &CertificateDer<'static>,
) -> Result<Vec<CertificateDer<'static>>, rustls::Error> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(ca))
        .with_no_client_auth();
    let tcp = TcpStream::connect(origin.addr).await.expect("connect");
    let server_name = ServerName::try_from(NAME).unwrap();
    match TlsConnector::from(Arc::new(config))
        .connect(server_name, tcp)
        .await
    {
        Ok(tls) => Ok(tls.get_ref().1.peer_certificates().unwrap().to_vec()),
        Err(e) => Err(*e
            .into_inner()
            .expect("a TLS error")
            .downcast::<rustls::Error>()
            .expect("a rustls error")),
    }
}

/// WebPkiServerVerifier's verdict on `chain` (leaf first) for NAME, trusting only `ca`, now.
fn verify(
    chain: &[CertificateDer<'static>],
    ca: &CertificateDer<'static>,
) -> Result<(), rustls::Error> {
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(ca), provider())
        .build()
        .unwrap();
    verifier
        .verify_server_cert(
            &chain[0],
            &chain[1..],
            &ServerName::try_from(NAME).unwrap(),
            &[],
            UnixTime::now(),
        )
        .map(|_| ())
}

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run the openssl binary (OpenSSL 3)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn write(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test]
async fn an_expired_cross_signed_root_off_the_path_does_not_stop_verification() {
    let shape = CrossSignedChain::new(&[NAME]);
    let served = shape.served();
    assert_eq!(served.len(), 3, "L, I, X");
    let origin = tls_origin(OriginConfig::new(
        served.clone(),
        shape.leaf.key_der.clone_key(),
    ))
    .await;

    // rustls trusting only R: the handshake completes, and the server did send all three.
    let sent = handshake(&origin, &shape.root.cert_der())
        .await
        .expect("a client trusting R verifies L -> I -> R");
    assert_eq!(sent, served, "the server sends L, I, X in that order");
    assert_eq!(verify(&served, &shape.root.cert_der()), Ok(()));

    // Trusting only the old root, the path must go through X, and X is expired.
    let via_old = handshake(&origin, &shape.old_root.cert_der())
        .await
        .expect_err("X is expired");
    println!("trusting only O: {via_old} ({via_old:?})");
    assert!(
        matches!(
            via_old,
            rustls::Error::InvalidCertificate(rustls::CertificateError::ExpiredContext { .. })
        ),
        "trusting only O: {via_old:?}"
    );
}

#[test]
fn the_cross_certificate_is_expired_has_the_roots_subject_and_key_and_was_issued_by_the_old_root() {
    let shape = CrossSignedChain::new(&[NAME]);
    let dir = tempfile::tempdir().unwrap();
    let root = write(dir.path(), "r.pem", &shape.root.cert_pem());
    let old = write(dir.path(), "o.pem", &shape.old_root.cert_pem());
    let cross = write(dir.path(), "x.pem", &shape.cross_pem);
    let leaf = write(dir.path(), "l.pem", &shape.leaf.cert_pem);
    let untrusted = write(
        dir.path(),
        "ix.pem",
        &format!("{}{}", shape.leaf.chain_pem, shape.cross_pem),
    );

    let field = |cert: &Path, flag: &str| {
        let (ok, text) = openssl(&["x509", "-in", s(cert), "-noout", flag]);
        assert!(ok, "openssl x509 {flag}: {text}");
        text
    };
    assert_eq!(field(&cross, "-subject"), field(&root, "-subject"));
    assert_eq!(field(&cross, "-pubkey"), field(&root, "-pubkey"));
    assert_eq!(
        field(&cross, "-issuer"),
        field(&old, "-subject").replace("subject=", "issuer=")
    );

    let (valid_now, text) = openssl(&["x509", "-in", s(&cross), "-noout", "-checkend", "0"]);
    assert!(!valid_now, "X must be expired: {text}");
    assert!(text.contains("Certificate will expire"), "{text}");

    // Genuinely signed by O (ignoring time), and refused by O only for its expiry.
    let (signed, text) = openssl(&["verify", "-no_check_time", "-CAfile", s(&old), s(&cross)]);
    assert!(signed, "{text}");
    let (ok, text) = openssl(&["verify", "-CAfile", s(&old), s(&cross)]);
    assert!(!ok && text.contains("certificate has expired"), "{text}");

    // OpenSSL, like rustls, verifies the served chain against R.
    let (ok, text) = openssl(&[
        "verify",
        "-CAfile",
        s(&root),
        "-untrusted",
        s(&untrusted),
        s(&leaf),
    ]);
    assert!(ok, "openssl verify with L, I, X against R: {text}");
}

#[tokio::test]
async fn an_expired_intermediate_on_the_path_fails() {
    let root = TestCa::new("expired-path root");
    let expired = root.expired_intermediate("expired-path intermediate", 30);
    let leaf = expired.leaf(&LeafSpec::valid_for(&[NAME]));
    let chain = leaf.full_chain();
    assert_eq!(chain.len(), 2, "L, expired I");
    let origin = tls_origin(OriginConfig::new(chain.clone(), leaf.key_der.clone_key())).await;

    let error = handshake(&origin, &root.cert_der())
        .await
        .expect_err("an expired intermediate on the path");
    println!("expired intermediate: {error} ({error:?})");
    assert!(
        matches!(
            error,
            rustls::Error::InvalidCertificate(rustls::CertificateError::ExpiredContext { .. })
        ),
        "rustls: {error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("invalid peer certificate: certificate expired"),
        "rustls says: {error}"
    );
    assert_eq!(verify(&chain, &root.cert_der()), Err(error));

    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "r.pem", &root.cert_pem());
    let inter = write(dir.path(), "i.pem", &leaf.chain_pem);
    let l = write(dir.path(), "l.pem", &leaf.cert_pem);
    let (ok, text) = openssl(&["verify", "-CAfile", s(&ca), "-untrusted", s(&inter), s(&l)]);
    assert!(!ok, "{text}");
    println!("openssl verify: {text}");
    assert!(
        text.contains("error 10 at 1 depth lookup: certificate has expired"),
        "OpenSSL names the intermediate (depth 1): {text}"
    );
}
