//! A Lambda Runtime API stand-in on loopback: serves a queue of events to a real `bootstrap`
//! binary (GET .../invocation/next), records its responses and errors with the time each event was
//! handed out and answered, and when the first /next arrived (the cold start: the time Lambda
//! reports as Init Duration). `sam local invoke` needs Docker, which is not available here.
//!
//! What it speaks (the Runtime API, 2018-06-01): `GET /runtime/invocation/next` (held open until
//! an event is queued, as Lambda does; answered with the Lambda-Runtime-Aws-Request-Id,
//! -Deadline-Ms, -Invoked-Function-Arn and -Trace-Id headers), `POST
//! /runtime/invocation/{id}/response`, `POST /runtime/invocation/{id}/error` and `POST
//! /runtime/init/error`. Anything else is a 404, recorded in `unexpected`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// What the function answered for one event.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub event: serde_json::Value,
    /// `Ok(response body)` or `Err(error body)` (errorType, errorMessage).
    pub result: Result<serde_json::Value, serde_json::Value>,
    /// When the event was handed out (the answer to a GET /next).
    pub handed_out: Instant,
    /// When the response or error arrived.
    pub answered: Instant,
}

impl Invocation {
    /// How long the function took, as Lambda would bill it.
    pub fn duration(&self) -> Duration {
        self.answered.duration_since(self.handed_out)
    }
}

#[derive(Default)]
struct State {
    queue: Vec<(String, serde_json::Value)>,
    in_flight: Vec<(String, serde_json::Value, Instant)>,
    done: Vec<Invocation>,
    first_next: Option<Instant>,
    init_error: Option<String>,
    unexpected: Vec<String>,
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    task: tokio::task::AbortHandle,
    /// When the stand-in started: with `first_next_at`, the cold start of a process started now.
    pub started: Instant,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the stand-in with `events` queued; each gets a deadline `deadline` from when it is
/// handed out.
pub async fn runtime_api(events: Vec<serde_json::Value>, deadline: Duration) -> RuntimeApi {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0 for the Runtime API stand-in");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let state = Arc::new(Mutex::new(State {
        queue: events
            .into_iter()
            .enumerate()
            .map(|(i, e)| (format!("req-{i:04}"), e))
            .rev()
            .collect(),
        ..State::default()
    }));
    let changed = Arc::new(Notify::new());
    let (s, c) = (state.clone(), changed.clone());
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (s, c) = (s.clone(), c.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    handle(req, s.clone(), c.clone(), deadline)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
    .abort_handle();
    RuntimeApi {
        addr,
        state,
        changed,
        task,
        started: Instant::now(),
    }
}

impl RuntimeApi {
    /// The value for AWS_LAMBDA_RUNTIME_API.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    pub fn first_next_at(&self) -> Option<Instant> {
        self.state.lock().unwrap().first_next
    }

    pub fn init_error(&self) -> Option<String> {
        self.state.lock().unwrap().init_error.clone()
    }

    /// Requests outside the Runtime API (`METHOD path`), answered 404.
    pub fn unexpected(&self) -> Vec<String> {
        self.state.lock().unwrap().unexpected.clone()
    }

    /// Waits until `n` invocations are answered (or `timeout` passes) and returns them in order.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Invocation> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            {
                let state = self.state.lock().unwrap();
                if state.done.len() >= n || state.init_error.is_some() {
                    let mut done = state.done.clone();
                    done.sort_by(|a, b| a.request_id.cmp(&b.request_id));
                    return done;
                }
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                let mut done = self.state.lock().unwrap().done.clone();
                done.sort_by(|a, b| a.request_id.cmp(&b.request_id));
                return done;
            }
        }
    }
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    deadline: Duration,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let parsed: serde_json::Value =
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    if method == hyper::Method::GET && path == "/2018-06-01/runtime/invocation/next" {
        loop {
            let notified = changed.notified();
            let next = {
                let mut s = state.lock().unwrap();
                s.first_next.get_or_insert_with(Instant::now);
                let next = s.queue.pop();
                if let Some((id, event)) = &next {
                    s.in_flight
                        .push((id.clone(), event.clone(), Instant::now()));
                }
                next
            };
            if let Some((id, event)) = next {
                let deadline_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as u64
                    + deadline.as_millis() as u64;
                let response = Response::builder()
                    .header("Lambda-Runtime-Aws-Request-Id", &id)
                    .header("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string())
                    .header(
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:cf-doctor",
                    )
                    .header(
                        "Lambda-Runtime-Trace-Id",
                        "Root=1-00000000-000000000000000000000000;Sampled=0",
                    )
                    .body(Full::new(Bytes::from(event.to_string())))
                    .expect("a valid response");
                return Ok(response);
            }
            // Like Lambda, hold /next until there is work (the test drops the stand-in at the end).
            notified.await;
        }
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let status = match (method.as_str(), segments.as_slice()) {
        ("POST", ["2018-06-01", "runtime", "invocation", id, kind @ ("response" | "error")]) => {
            let answered = Instant::now();
            let mut s = state.lock().unwrap();
            match s.in_flight.iter().position(|(i, _, _)| i == id) {
                Some(at) => {
                    let (request_id, event, handed_out) = s.in_flight.remove(at);
                    let result = if *kind == "response" {
                        Ok(parsed)
                    } else {
                        Err(parsed)
                    };
                    s.done.push(Invocation {
                        request_id,
                        event,
                        result,
                        handed_out,
                        answered,
                    });
                    StatusCode::ACCEPTED
                }
                // Lambda rejects an answer for an unknown or already answered request.
                None => {
                    s.unexpected
                        .push(format!("{method} {path} (no such request in flight)"));
                    StatusCode::BAD_REQUEST
                }
            }
        }
        ("POST", ["2018-06-01", "runtime", "init", "error"]) => {
            state.lock().unwrap().init_error = Some(String::from_utf8_lossy(&body).into_owned());
            StatusCode::ACCEPTED
        }
        _ => {
            state
                .lock()
                .unwrap()
                .unexpected
                .push(format!("{method} {path}"));
            StatusCode::NOT_FOUND
        }
    };
    changed.notify_waiters();
    Ok(Response::builder()
        .status(status)
        .body(Full::new(Bytes::from_static(b"{}")))
        .expect("a valid response"))
}
