//! Owns the fake Slack incoming webhook: a loopback HTTP server that records every request and
//! answers from a script (success, errors, rate limiting, hanging).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::task::AbortHandle;

use crate::http;

/// One request received by the sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    /// e.g. `/services/T000/B000/XXXX`
    pub path: String,
    /// As sent (names keep their case); use [`Recorded::header`] for lookups.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    /// Case-insensitive header lookup.
    pub fn header(&self, name: &str) -> Option<&str> {
        http::header(&self.headers, name)
    }

    /// The body parsed as JSON (Slack payloads are JSON); panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "the Slack sink received a non-JSON body ({e}): fix the payload builder; body was:\n{}",
                self.body
            )
        })
    }
}

/// How the sink answers one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// 200 "ok", like Slack.
    Ok,
    /// This status with a Slack-like error body (e.g. 404 "no_service").
    Status(u16),
    /// 429 with `Retry-After: retry_after_s`.
    RateLimited { retry_after_s: u64 },
    /// Read the request, then never answer (until the sink is dropped).
    Hang,
}

#[derive(Debug, Default)]
struct State {
    requests: Vec<Recorded>,
    script: VecDeque<Reply>,
}

/// A running fake webhook; dropping it stops the server and every open connection.
#[derive(Debug)]
pub struct SlackSink {
    /// `http://127.0.0.1:PORT/services/T000/B000/XXXX`
    pub url: String,
    state: Arc<Mutex<State>>,
    task: AbortHandle,
}

impl Drop for SlackSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SlackSink {
    /// Every POST received so far, in arrival order.
    pub fn posts(&self) -> Vec<Recorded> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.method == "POST")
            .cloned()
            .collect()
    }

    /// Every request received so far, whatever the method.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Replaces the reply script: the next requests get these replies in order, then 200 "ok".
    pub fn reply_with(&self, replies: Vec<Reply>) {
        self.lock().script = replies.into();
    }

    /// Waits (polling, bounded by `timeout`) until at least `n` POSTs arrived; returns all posts
    /// at that point, possibly fewer than `n` when the timeout expires.
    pub async fn wait_for_posts(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            let posts = self.posts();
            if posts.len() >= n || Instant::now() >= deadline {
                return posts;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Starts a fake Slack webhook on 127.0.0.1 (on the current tokio runtime).
pub async fn slack_sink() -> SlackSink {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("cannot bind 127.0.0.1:0 for the Slack sink: is loopback networking available?");
    let addr = listener
        .local_addr()
        .expect("a bound loopback listener has no local address (getsockname failed): rerun; if it persists, check the sandbox network namespace");
    let state: Arc<Mutex<State>> = Arc::default();
    let shared = Arc::clone(&state);
    let task =
        crate::serve::accept_loop(listener, move |stream| handle(stream, Arc::clone(&shared)));
    SlackSink {
        url: format!("http://{addr}/services/T000/B000/XXXX"),
        state,
        task,
    }
}

async fn handle(mut stream: tokio::net::TcpStream, state: Arc<Mutex<State>>) {
    // A client hanging up mid-request is the client's problem, not the sink's: ignore errors.
    let Ok((head, rest)) = http::read_head(&mut stream).await else {
        return;
    };
    let Ok(body) = http::read_body(&mut stream, &head, rest).await else {
        return;
    };
    let reply = {
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        state.requests.push(Recorded {
            method: head.method.clone(),
            path: head.path.clone(),
            headers: head.headers.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        state.script.pop_front().unwrap_or(Reply::Ok)
    };
    let text = ("Content-Type", "text/plain".to_string());
    let _ = match reply {
        Reply::Ok => http::write_response(&mut stream, 200, &[text], b"ok", true).await,
        Reply::Status(status) => {
            let body = slack_error_body(status);
            http::write_response(&mut stream, status, &[text], body.as_bytes(), true).await
        }
        Reply::RateLimited { retry_after_s } => {
            let headers = [text, ("Retry-After", retry_after_s.to_string())];
            http::write_response(&mut stream, 429, &headers, b"rate_limited", true).await
        }
        Reply::Hang => {
            // Keep the connection open and silent until the sink is dropped.
            let _keep_open = stream;
            std::future::pending::<()>().await;
            Ok(())
        }
    };
}

/// The plain-text bodies Slack's webhook endpoint returns for its common errors.
fn slack_error_body(status: u16) -> &'static str {
    match status {
        200 => "ok",
        400 => "invalid_payload",
        403 => "invalid_token",
        404 => "no_service",
        410 => "channel_is_archived",
        429 => "rate_limited",
        500 => "internal_error",
        _ => "error",
    }
}
