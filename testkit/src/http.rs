//! Owns the minimal HTTP/1.1 parsing and writing shared by the loopback origins and the Slack sink.
//!
//! Hand-written rather than hyper's server: the fake servers must be able to misbehave (hang
//! before the head, answer with any status), which is simpler to express over raw sockets.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bounds what a fake server will buffer, so a broken client cannot make a test eat memory.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct RequestHead {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// Case-insensitive header lookup (HTTP header names are case-insensitive).
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads up to the end of the request head. Returns the head and whatever body bytes arrived in
/// the same reads (they belong to the body, not to the next request).
pub(crate) async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> io::Result<(RequestHead, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return Err(invalid("request head larger than 64 KiB"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the end of the request head",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let rest = buf.split_off(end + 4);
    let text = String::from_utf8_lossy(&buf[..end]);
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    if method.is_empty() || path.is_empty() {
        return Err(invalid(format!("bad request line {request_line:?}")));
    }
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok((
        RequestHead {
            method,
            path,
            headers,
        },
        rest,
    ))
}

/// Reads the request body (Content-Length or chunked; no body otherwise).
pub(crate) async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    head: &RequestHead,
    mut already: Vec<u8>,
) -> io::Result<Vec<u8>> {
    let chunked = head
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked(stream, already).await;
    }
    let len: usize = match head.header("content-length") {
        Some(v) => v
            .parse()
            .map_err(|_| invalid(format!("bad Content-Length {v:?}")))?,
        None => 0,
    };
    if len > MAX_BODY {
        return Err(invalid("request body larger than 1 MiB"));
    }
    let mut chunk = [0u8; 8192];
    while already.len() < len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the middle of the body",
            ));
        }
        already.extend_from_slice(&chunk[..n]);
    }
    already.truncate(len);
    Ok(already)
}

// Chunked bodies are accepted because an HTTP client may stream a body of unknown length; the
// sink must record what was sent rather than fail on framing.
async fn read_chunked<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut buf: Vec<u8>,
) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut pos = 0;
    let mut chunk = [0u8; 8192];
    loop {
        // Need a full size line.
        let line_end = loop {
            if let Some(i) = find(&buf[pos..], b"\r\n") {
                break pos + i;
            }
            fill(stream, &mut buf, &mut chunk).await?;
        };
        let size_text = String::from_utf8_lossy(&buf[pos..line_end]);
        let size_hex = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| invalid(format!("bad chunk size {size_hex:?}")))?;
        pos = line_end + 2;
        if size == 0 {
            // Trailers are not expected from the clients under test; stop at the last chunk.
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(invalid("request body larger than 1 MiB"));
        }
        while buf.len() < pos + size + 2 {
            fill(stream, &mut buf, &mut chunk).await?;
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        pos += size + 2;
    }
}

async fn fill<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    chunk: &mut [u8],
) -> io::Result<()> {
    let n = stream.read(chunk).await?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed in the middle of a chunked body",
        ));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        421 => "Misdirected Request",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Writes a complete `Connection: close` response and flushes it. `body` is omitted on the wire
/// for HEAD requests (Content-Length still announces its size, as HTTP requires).
pub(crate) async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    extra_headers: &[(&str, String)],
    body: &[u8],
    send_body: bool,
) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in extra_headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if send_body {
        bytes.extend_from_slice(body);
    }
    stream.write_all(&bytes).await?;
    stream.flush().await?;
    // Best effort: a TLS close_notify / FIN tells the client the response is complete.
    let _ = stream.shutdown().await;
    Ok(())
}
