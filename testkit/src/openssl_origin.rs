//! Owns the origins served by the `openssl s_server` binary (OpenSSL 3), for what rustls cannot
//! or does not do the way most production servers do:
//! - origins that speak only TLS 1.0/1.1, or TLS 1.2 with only CBC cipher suites
//!   ([`legacy_tls_origin`]). rustls implements neither (no TLS below 1.2, only AEAD suites),
//!   yet CloudFront still connects to such origins when the distribution's OriginSslProtocols
//!   allows it, so cf-doctor must tell "cannot be tested from here" apart from a real mismatch;
//! - an origin that demands a client certificate the way OpenSSL-based servers (nginx, Apache,
//!   HAProxy) refuse a client without one ([`openssl_mtls_origin`]): in TLS 1.2 with a
//!   handshake_failure alert, where a rustls server sends certificate_required.
//!
//! Each serves a testkit certificate written to a temporary directory and answers every GET
//! with its `-www` status page (`HTTP/1.0 200 ok`). OpenSSL 3 refuses TLS 1.0/1.1 at its default
//! security level, hence `@SECLEVEL=0` for those.
//!
//! Each origin runs until its [`OpensslOrigin`] is dropped (killed and reaped), and dies with
//! the thread that started it (PR_SET_PDEATHSIG) if the test process goes first.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::moto::{die_with_spawning_thread, drain_into, keep_line, tail_text, Tail};
use crate::pki::Leaf;

/// How long `openssl s_server` may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Every CBC suite with SHA-1/SHA-2 HMAC that OpenSSL 3 offers in TLS 1.2, ECDSA and RSA
/// authentication alike (the server keeps those its certificate can use), with ECDHE or static
/// RSA key exchange. None is AEAD, so no client limited to AES-GCM and ChaCha20 shares one.
const CBC_SUITES: &str = "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384:AES128-SHA:AES256-SHA:AES128-SHA256:AES256-SHA256";

/// What a legacy origin speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyTls {
    /// TLS 1.0 and TLS 1.1 only (any suite OpenSSL has for them: all CBC). OpenSSL picks the
    /// version from the client's supported_versions extension when there is one (rustls always
    /// sends it) and, with none in common, answers the ClientHello with a protocol_version
    /// alert; a client without the extension (`openssl s_client -tls1_2`) gets a TLS 1.1
    /// ServerHello, which it refuses itself. A server older than the extension would do the
    /// latter to rustls too: rustls then reports
    /// `PeerIncompatible(ServerTlsVersionIsDisabledByOurConfig)`.
    Tls10And11,
    /// TLS 1.2 only, with CBC suites only ([`CBC_SUITES`]): a client offering only AEAD suites
    /// shares no suite, and the server answers its ClientHello with a handshake_failure alert.
    Tls12CbcOnly,
}

impl LegacyTls {
    fn s_server_args(self) -> Vec<&'static str> {
        match self {
            LegacyTls::Tls10And11 => vec![
                "-min_protocol",
                "TLSv1",
                "-max_protocol",
                "TLSv1.1",
                "-cipher",
                "DEFAULT:@SECLEVEL=0",
            ],
            LegacyTls::Tls12CbcOnly => vec!["-tls1_2", "-cipher", CBC_SUITES],
        }
    }
}

/// A running `openssl s_server` on 127.0.0.1. Dropping it kills the process.
#[derive(Debug)]
pub struct OpensslOrigin {
    pub addr: SocketAddr,
    /// What it was started as, for messages: e.g. `Tls12CbcOnly`, `mTLS`.
    pub label: String,
    child: Child,
    output: Tail,
    /// Holds the certificate and key files for the server's life.
    _files: tempfile::TempDir,
}

impl OpensslOrigin {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The last lines s_server wrote (stdout and stderr), for failure messages.
    pub fn output_tail(&self) -> String {
        tail_text(&self.output)
    }
}

impl Drop for OpensslOrigin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `openssl s_server` speaking `speaks` on 127.0.0.1 (a free port), serving `leaf` with
/// its chain, and returns once the port accepts connections. Panics with s_server's output when
/// it does not start. Synchronous; the server dies with the calling thread, so do not start it
/// from a short-lived thread (e.g. tokio's blocking pool).
pub fn legacy_tls_origin(speaks: LegacyTls, leaf: &Leaf) -> OpensslOrigin {
    let args = speaks
        .s_server_args()
        .into_iter()
        .map(OsString::from)
        .collect();
    start(&format!("{speaks:?}"), leaf, args, |_| Vec::new())
}

/// Starts `openssl s_server` (TLS 1.2 and 1.3, OpenSSL's default suites) on 127.0.0.1 serving
/// `leaf`, requiring a client certificate issued by `client_ca_pem` (`-Verify 1`). A client
/// without one is refused with a handshake_failure alert in TLS 1.2 and a certificate_required
/// alert in TLS 1.3. Same lifetime rules as [`legacy_tls_origin`].
pub fn openssl_mtls_origin(leaf: &Leaf, client_ca_pem: &str) -> OpensslOrigin {
    let client_ca = client_ca_pem.to_string();
    start("mTLS", leaf, Vec::new(), move |files| {
        let path = write_file(files, "client-ca.pem", &client_ca);
        vec!["-Verify".into(), "1".into(), "-CAfile".into(), path.into()]
    })
}

fn write_file(dir: &tempfile::TempDir, name: &str, pem: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, pem).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// Runs s_server with `leaf` and `args`, plus the arguments `more` makes from the temporary
/// directory (for files it needs).
fn start(
    label: &str,
    leaf: &Leaf,
    args: Vec<OsString>,
    more: impl FnOnce(&tempfile::TempDir) -> Vec<OsString>,
) -> OpensslOrigin {
    let files = tempfile::tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory for s_server's PEMs: {e}"));
    let cert = write_file(&files, "cert.pem", &leaf.cert_pem);
    let key = write_file(&files, "key.pem", &leaf.key_pem);
    let mut cmd = Command::new("openssl");
    cmd.arg("s_server")
        .args(["-accept", "127.0.0.1:0", "-www"])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .args(args)
        .args(more(&files))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !leaf.chain_pem.is_empty() {
        cmd.arg("-cert_chain")
            .arg(write_file(&files, "chain.pem", &leaf.chain_pem));
    }
    die_with_spawning_thread(&mut cmd);
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot run `openssl s_server`: {e}: these origins need the OpenSSL 3 command line tool (apt-get install openssl)")
    });
    let output: Tail = Tail::default();
    let accepting = watch_stdout(&mut child, &output);
    if let Some(stderr) = child.stderr.take() {
        drain_into(stderr, "s_server-stderr", &output);
    }
    let addr = match accepting.recv_timeout(START_TIMEOUT) {
        Ok(addr) => addr,
        Err(_) => {
            let _ = child.kill();
            let status = child.wait();
            panic!(
                "openssl s_server ({label}) did not listen within {START_TIMEOUT:?} (exit: {status:?}); its output:\n{}",
                tail_text(&output)
            );
        }
    };
    // s_server prints ACCEPT once it listens; one connect proves the port really accepts.
    if let Err(e) = TcpStream::connect_timeout(&addr, START_TIMEOUT) {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "openssl s_server ({label}) announced {addr} but a connect failed: {e}; its output:\n{}",
            tail_text(&output)
        );
    }
    OpensslOrigin {
        addr,
        label: label.to_string(),
        child,
        output,
        _files: files,
    }
}

/// Reads s_server's stdout on its own thread: the `ACCEPT 127.0.0.1:PORT` line gives the port
/// (sent on the returned channel); every line is kept in `output`.
fn watch_stdout(child: &mut Child, output: &Tail) -> mpsc::Receiver<SocketAddr> {
    let (tx, rx) = mpsc::channel();
    let Some(stdout) = child.stdout.take() else {
        return rx;
    };
    let sink = std::sync::Arc::clone(output);
    let _ = std::thread::Builder::new()
        .name("s_server-stdout".into())
        .spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line
                    .strip_prefix("ACCEPT ")
                    .and_then(|a| a.trim().parse::<SocketAddr>().ok())
                {
                    let _ = tx.send(addr);
                }
                keep_line(&sink, line);
            }
        });
    rx
}
