//! Origins that misbehave on purpose: each costs at most the probe timeout per step and ends as a
//! finding, never a hang. The servers here are hand-written because their misbehaviour is the
//! point (no real server drips one byte a second on purpose). A generous outer timeout guards
//! against a hang; it measures nothing.

mod common;

use std::time::Duration;

use cf_doctor_model::{Code, Diagnosis};
use cf_doctor_testkit::{tls_origin, DistributionSpec, OriginConfig};
use common::{alarm, lab};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const HANG_GUARD: Duration = Duration::from_secs(60);

/// A loopback server that runs `behave` on every connection.
async fn server<F, Fut>(behave: F) -> u16
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let behave = std::sync::Arc::new(behave);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let behave = behave.clone();
            tokio::spawn(async move { behave(stream).await });
        }
    });
    port
}

async fn diagnose(host: &str, port: u16, extra_resolve: &[String]) -> Diagnosis {
    let lab = lab().await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(host, port))
        .await;
    let mut config = lab.config(host);
    config.probe_timeout = Duration::from_millis(1000);
    for entry in extra_resolve {
        config.add_resolve(entry).unwrap();
    }
    let app = lab.app(config);
    tokio::time::timeout(HANG_GUARD, app.diagnose(&id, alarm(&id, None)))
        .await
        .expect("the diagnosis finished: no hang")
        .expect("the inspection completes")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_origin_dripping_one_byte_a_second_is_a_timeout() {
    let port = server(|mut s| async move {
        for byte in b"\x16\x03\x03\x00\x40garbage-garbage" {
            if s.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
    .await;
    let d = diagnose("drip.origin.test", port, &[]).await;
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginConnectionTimeout),
        "{:#?}",
        d.findings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_origin_answering_plain_http_on_the_tls_port_fails_the_handshake() {
    let port = server(|mut s| async move {
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf).await;
        let _ = s
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
    })
    .await;
    let d = diagnose("plaintext.origin.test", port, &[]).await;
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginTlsHandshakeFailed),
        "{:#?}",
        d.findings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_origin_hanging_up_mid_handshake_fails_the_handshake() {
    let port = server(|mut s| async move {
        let mut buf = [0u8; 16];
        let _ = s.read(&mut buf).await;
        drop(s);
    })
    .await;
    let d = diagnose("hangup.origin.test", port, &[]).await;
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginTlsHandshakeFailed),
        "{:#?}",
        d.findings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_10_mb_certificate_chain_is_refused_not_buffered() {
    let lab = lab().await;
    let leaf = lab.ca.leaf(&cf_doctor_testkit::LeafSpec::valid_for(&[
        "huge.origin.test",
    ]));
    // An "intermediate" carrying a 10 MB private extension.
    let mut params = rcgen::CertificateParams::new(vec!["filler.example".to_string()]).unwrap();
    params
        .custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 99999, 1],
            vec![0x5a; 10 << 20],
        ));
    let key = rcgen::KeyPair::generate().unwrap();
    let filler = params.self_signed(&key).unwrap();
    let mut chain = leaf.full_chain();
    chain.push(filler.der().clone());
    let origin = tls_origin(OriginConfig::new(chain, leaf.key_der.clone_key())).await;
    let d = diagnose("huge.origin.test", origin.port(), &[]).await;
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginTlsHandshakeFailed),
        "{:#?}",
        d.findings
    );
    let error = d.findings[0].evidence["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.to_lowercase().contains("large")
            || error.to_lowercase().contains("oversized")
            || error.contains("HandshakePayloadTooLarge"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_resolving_to_50_addresses_is_probed_on_each_within_bounds() {
    let port = server(|mut s| async move {
        let mut buf = [0u8; 16];
        let _ = s.read(&mut buf).await;
    })
    .await;
    // 127.0.0.1 has the server; 127.0.0.2..=50 refuse (nothing listens there).
    let extra: Vec<String> = (2..=50)
        .map(|i| format!("fifty.origin.test=127.0.0.{i}"))
        .collect();
    let d = diagnose("fifty.origin.test", port, &extra).await;
    assert_eq!(
        d.checks.iter().filter(|c| c.name == "origin-tcp").count(),
        50,
        "every address was tried"
    );
    let refused = d
        .findings
        .iter()
        .find(|f| f.code == Code::OriginConnectionRefused)
        .expect("the refusing addresses are named");
    assert!(
        refused.title.ends_with("(on 49 of 50 addresses)"),
        "{}",
        refused.title
    );
}
