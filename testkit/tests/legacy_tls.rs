//! Proves the legacy origins speak exactly what they claim, checked with OpenSSL's own client
//! (which can speak it) and with rustls (which cannot): a TLS 1.0/1.1-only origin completes TLS
//! 1.1 and refuses TLS 1.2; a CBC-only TLS 1.2 origin completes TLS 1.2 with a CBC suite. Against
//! rustls, the first answers the ClientHello with a protocol_version alert (no version in
//! common), the second with handshake_failure (no suite in common). cf-doctor's classifier tells
//! these two apart by these exact errors.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use cf_doctor_testkit::{legacy_tls_origin, LeafSpec, LegacyTls, OpensslOrigin, TestCa};
use rustls::pki_types::ServerName;
use rustls::{AlertDescription, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const NAME: &str = "legacy.tls.test";

fn origin(ca: &TestCa, speaks: LegacyTls) -> OpensslOrigin {
    legacy_tls_origin(speaks, &ca.leaf(&LeafSpec::valid_for(&[NAME])))
}

/// `openssl s_client` with these protocol/cipher flags, sending a GET; (succeeded, output).
fn s_client(origin: &OpensslOrigin, flags: &[&str]) -> (bool, String) {
    let mut child = Command::new("openssl")
        .arg("s_client")
        .args([
            "-connect",
            &origin.addr.to_string(),
            "-servername",
            NAME,
            "-ign_eof",
        ])
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl s_client");
    // -ign_eof: after our request, wait for the server to close (s_server -www does).
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET / HTTP/1.0\r\n\r\n");
    let out = child.wait_with_output().expect("s_client finishes");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A rustls handshake (aws-lc-rs, its default suites: AES-GCM and ChaCha20 only) trusting `ca`.
async fn rustls_handshake(
    origin: &OpensslOrigin,
    ca: &TestCa,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<String, Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(ca.root_store())
        .with_no_client_auth();
    let tcp = TcpStream::connect(origin.addr).await.expect("connect");
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(NAME).unwrap(), tcp)
        .await
        .map_err(|e| {
            *e.into_inner()
                .expect("a TLS error")
                .downcast::<Error>()
                .expect("a rustls error")
        })?;
    tls.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut page = String::new();
    let _ = tls.read_to_string(&mut page).await;
    Ok(page)
}

const TLS12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
const TLS12_13: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS12, &rustls::version::TLS13];

#[test]
fn the_tls11_origin_completes_tls11_and_answers_http_but_refuses_tls12() {
    let ca = TestCa::new("legacy root");
    let origin = origin(&ca, LegacyTls::Tls10And11);

    let (ok, out) = s_client(&origin, &["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]);
    assert!(ok, "TLS 1.1 must complete: {out}");
    assert!(out.contains("Protocol  : TLSv1.1"), "{out}");
    assert!(out.contains("HTTP/1.0 200 ok"), "the -www page: {out}");

    let (ok, out) = s_client(&origin, &["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"]);
    assert!(
        ok && out.contains("Protocol  : TLSv1\n"),
        "TLS 1.0 too: {out}"
    );

    let (ok, out) = s_client(&origin, &["-tls1_2"]);
    assert!(!ok, "TLS 1.2 must fail: {out}");
    assert!(out.contains("unsupported protocol"), "{out}");
}

#[test]
fn the_cbc_origin_completes_tls12_with_a_cbc_suite_only() {
    let ca = TestCa::new("legacy root");
    let origin = origin(&ca, LegacyTls::Tls12CbcOnly);

    let (ok, out) = s_client(&origin, &["-tls1_2"]);
    assert!(ok, "TLS 1.2 must complete: {out}");
    assert!(out.contains("Protocol  : TLSv1.2"), "{out}");
    let cipher = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Cipher    : "))
        .unwrap_or_else(|| panic!("no cipher in {out}"));
    assert!(
        !cipher.contains("GCM") && !cipher.contains("CHACHA") && cipher.contains("AES"),
        "a CBC suite, got {cipher}"
    );
    assert!(out.contains("HTTP/1.0 200 ok"), "{out}");

    let (ok, out) = s_client(
        &origin,
        &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"],
    );
    assert!(!ok, "an AEAD-only client shares no suite: {out}");
    assert!(out.contains("alert handshake failure"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rustls_fails_each_with_its_own_error() {
    let ca = TestCa::new("legacy root");
    let tls11 = origin(&ca, LegacyTls::Tls10And11);
    let cbc = origin(&ca, LegacyTls::Tls12CbcOnly);

    for versions in [TLS12, TLS12_13] {
        // OpenSSL finds no version in common and answers the ClientHello with a
        // protocol_version alert (alert 70).
        let e = rustls_handshake(&tls11, &ca, versions)
            .await
            .expect_err("rustls cannot speak TLS 1.1");
        println!("TLS 1.0/1.1 origin, rustls offering {versions:?}: {e} ({e:?})");
        assert_eq!(
            e,
            Error::AlertReceived(AlertDescription::ProtocolVersion),
            "{e}"
        );
        assert_eq!(e.to_string(), "received fatal alert: ProtocolVersion");

        // No suite in common: OpenSSL sends handshake_failure (alert 40).
        let e = rustls_handshake(&cbc, &ca, versions)
            .await
            .expect_err("rustls has no CBC suite");
        println!("CBC-only origin, rustls offering {versions:?}: {e} ({e:?})");
        assert_eq!(
            e,
            Error::AlertReceived(AlertDescription::HandshakeFailure),
            "{e}"
        );
        assert_eq!(e.to_string(), "received fatal alert: HandshakeFailure");
    }
}

#[test]
fn a_legacy_origin_is_killed_on_drop() {
    let ca = TestCa::new("legacy root");
    let origin = origin(&ca, LegacyTls::Tls12CbcOnly);
    let addr = origin.addr;
    std::net::TcpStream::connect(addr).expect("listening while alive");
    drop(origin);
    let e = std::net::TcpStream::connect(addr).expect_err("closed after drop");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
}
