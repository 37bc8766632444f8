//! Checks the fake Slack webhook records requests and follows its reply script.

use std::time::Duration;

use cf_doctor_testkit::{slack_sink, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Posts `body` to the sink URL's path; returns the raw response (None if it timed out).
async fn post(url: &str, body: &str, chunked: bool) -> Option<String> {
    let rest = url.strip_prefix("http://").expect("http url");
    let (authority, path) = rest.split_at(rest.find('/').expect("path"));
    let mut tcp = TcpStream::connect(authority)
        .await
        .expect("connect to sink");
    let framing = if chunked {
        format!(
            "Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        )
    } else {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    };
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n{framing}"
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_millis(500),
        tcp.read_to_string(&mut response),
    )
    .await
    .ok()
    .map(|r| r.map(|_| response).expect("read"))
}

#[tokio::test]
async fn records_posts_and_follows_the_script() {
    let sink = slack_sink().await;
    assert!(sink.url.starts_with("http://127.0.0.1:"));
    assert!(sink.url.ends_with("/services/T000/B000/XXXX"));
    sink.reply_with(vec![
        Reply::RateLimited { retry_after_s: 7 },
        Reply::Status(404),
        Reply::Hang,
    ]);

    let r = post(&sink.url, r#"{"text":"one"}"#, false)
        .await
        .expect("429 reply");
    assert!(r.starts_with("HTTP/1.1 429 Too Many Requests\r\n"), "{r}");
    assert!(r.contains("Retry-After: 7\r\n"), "{r}");
    let r = post(&sink.url, r#"{"text":"two"}"#, true)
        .await
        .expect("404 reply");
    assert!(
        r.starts_with("HTTP/1.1 404 Not Found\r\n") && r.ends_with("no_service"),
        "{r}"
    );
    assert!(
        post(&sink.url, r#"{"text":"three"}"#, false)
            .await
            .is_none(),
        "Hang must not answer"
    );
    let r = post(&sink.url, r#"{"text":"four"}"#, false)
        .await
        .expect("after the script");
    assert!(
        r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("ok"),
        "{r}"
    );

    let posts = sink.wait_for_posts(4, Duration::from_secs(2)).await;
    let texts: Vec<_> = posts
        .iter()
        .map(|p| p.json()["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(texts, ["one", "two", "three", "four"]);
    assert_eq!(posts[0].path, "/services/T000/B000/XXXX");
    assert_eq!(posts[0].header("content-type"), Some("application/json"));
}
