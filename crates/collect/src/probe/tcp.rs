//! TCP connect to the origin port: refused (502 at CloudFront) and timed out (504) are told apart.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use cf_doctor_model::evidence::TcpResult;

pub async fn connect(
    address: IpAddr,
    port: u16,
    timeout: Duration,
) -> (TcpResult, Option<TcpStream>) {
    let started = Instant::now();
    let elapsed = || started.elapsed().as_millis() as u64;
    match tokio::time::timeout(timeout, TcpStream::connect(SocketAddr::new(address, port))).await {
        Err(_) => (
            TcpResult::TimedOut {
                duration_ms: elapsed(),
            },
            None,
        ),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => (
            TcpResult::Refused {
                duration_ms: elapsed(),
            },
            None,
        ),
        Ok(Err(e)) => (
            TcpResult::Failed {
                error: e.to_string(),
                duration_ms: elapsed(),
            },
            None,
        ),
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            (
                TcpResult::Connected {
                    duration_ms: elapsed(),
                },
                Some(stream),
            )
        }
    }
}
