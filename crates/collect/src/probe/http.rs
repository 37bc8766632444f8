//! The direct request to the origin, bypassing CloudFront, with the Host CloudFront would send:
//! status and time to the response head. The same exchange serves the edge probe, which also
//! needs CloudFront's response headers.

use std::time::{Duration, Instant};

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::HeaderMap;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use cf_doctor_model::evidence::HttpResult;

/// What one GET returned: status, time to the response head, headers.
pub struct Answer {
    pub status: u16,
    pub time_to_first_byte_ms: u64,
    pub headers: HeaderMap,
}

pub enum Exchange {
    Answered(Answer),
    TimedOut { waited_ms: u64 },
    Failed(String),
}

/// `GET /` with `host_header`, bounded by `timeout`; the body is not read.
pub async fn exchange<S>(stream: S, host_header: &str, timeout: Duration) -> Exchange
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let started = Instant::now();
    let request = async {
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
    match tokio::time::timeout(timeout, request).await {
        Err(_) => Exchange::TimedOut {
            waited_ms: started.elapsed().as_millis() as u64,
        },
        Ok(Err(error)) => Exchange::Failed(error),
        Ok(Ok(response)) => Exchange::Answered(Answer {
            status: response.status().as_u16(),
            time_to_first_byte_ms: started.elapsed().as_millis() as u64,
            headers: response.headers().clone(),
        }),
    }
}

pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(200).collect())
}

pub async fn get<S>(
    stream: S,
    host_header: &str,
    timeout: Duration,
    over_unverified_tls: bool,
) -> HttpResult
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match exchange(stream, host_header, timeout).await {
        Exchange::TimedOut { waited_ms } => HttpResult::TimedOut {
            waited_ms,
            over_unverified_tls,
        },
        Exchange::Failed(error) => HttpResult::Failed { error },
        Exchange::Answered(answer) => HttpResult::Responded {
            status: answer.status,
            time_to_first_byte_ms: answer.time_to_first_byte_ms,
            server: header(&answer.headers, "server"),
            over_unverified_tls,
        },
    }
}
