//! The direct request to the origin, bypassing CloudFront, with the Host CloudFront would send:
//! status and time to the response head.

use std::time::{Duration, Instant};

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::evidence::HttpResult;

pub async fn get<S>(
    stream: S,
    host_header: &str,
    timeout: Duration,
    over_unverified_tls: bool,
) -> HttpResult
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let started = Instant::now();
    let exchange = async {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        let driver = tokio::spawn(connection);
        let request = hyper::Request::get("/")
            .header(hyper::header::HOST, host_header)
            .header(
                hyper::header::USER_AGENT,
                concat!("cf-doctor/", env!("CARGO_PKG_VERSION")),
            )
            .header(hyper::header::CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender.send_request(request).await;
        driver.abort();
        response.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => HttpResult::TimedOut {
            waited_ms: started.elapsed().as_millis() as u64,
            over_unverified_tls,
        },
        Ok(Err(error)) => HttpResult::Failed { error },
        Ok(Ok(response)) => HttpResult::Responded {
            status: response.status().as_u16(),
            time_to_first_byte_ms: started.elapsed().as_millis() as u64,
            server: response
                .headers()
                .get(hyper::header::SERVER)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(100).collect()),
            over_unverified_tls,
        },
    }
}
