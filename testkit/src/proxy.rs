//! Owns the counting, fault-injecting HTTP/1.1 proxy that sits between cf-doctor (or an SDK
//! client) and moto: it records every AWS call (service and region from the SigV4 credential
//! scope, the operation from `X-Amz-Target`, `Action=`, or CloudFront's or Lambda's REST path) and answers the
//! next matching calls with what moto cannot produce: throttling, AccessDenied, any status, a
//! reset connection, or a delay. It can also rewrite, persistently, the successful responses
//! moto gives one operation ([`AwsProxy::rewrite`]), to add what moto does not store (see
//! [`crate::cloudfront_xml`]).
//!
//! The proxy listens on 127.0.0.1:0 and forwards to a loopback upstream only. Each forwarded
//! request uses its own upstream connection (`Connection: close`), while the client side keeps
//! its connections alive, as an AWS endpoint does. Clients must not pipeline requests (the AWS
//! SDK never does). Like the origins, the proxy runs on the current tokio runtime: do not block
//! that runtime while the code under test talks to it.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::http::{self, RequestHead};

/// One request the proxy received (every SDK attempt is one call, retries included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The SigV4 signing name from the credential scope: `acm`, `cloudfront`, `sns`,
    /// `elasticloadbalancing`, `monitoring` (CloudWatch), ...; `unknown` for unsigned requests.
    pub service: String,
    /// The region from the credential scope (`us-east-1` for CloudFront); empty when unsigned.
    pub region: String,
    /// The AWS operation, e.g. `DescribeCertificate`, `ListDistributions`; for a REST path the
    /// proxy does not know, `METHOD /path`.
    pub operation: String,
    /// When the request head arrived.
    pub at: Instant,
    /// The fault this call was answered with (`Throttle`, `AccessDenied`, `Status 500`, `Reset`,
    /// `Delay 200ms`), None when it was forwarded untouched.
    pub fault: Option<String>,
}

/// What an injected fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status, body and headers (a Content-Type is added from the body's first
    /// character when none is given: `{` JSON, `<` XML).
    Status {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    /// The service's throttling error in its protocol's shape: JSON `ThrottlingException` (400),
    /// query and REST-XML `Throttling` (400), EC2 `RequestLimitExceeded` (503).
    Throttle,
    /// The service's access-denied error in its protocol's shape: JSON `AccessDeniedException`
    /// (400), query and REST-XML `AccessDenied` (403), EC2 `UnauthorizedOperation` (403).
    AccessDenied,
    /// Read the request, then drop the connection with a TCP RST, never answering.
    Reset,
    /// Wait this long, then forward as usual.
    Delay(Duration),
}

impl FaultKind {
    /// This status with an empty body: what a failing load balancer in front of a service sends.
    pub fn status(status: u16) -> FaultKind {
        FaultKind::Status {
            status,
            body: String::new(),
            headers: Vec::new(),
        }
    }

    fn name(&self) -> String {
        match self {
            FaultKind::Status { status, .. } => format!("Status {status}"),
            FaultKind::Throttle => "Throttle".into(),
            FaultKind::AccessDenied => "AccessDenied".into(),
            FaultKind::Reset => "Reset".into(),
            FaultKind::Delay(d) => format!("Delay {d:?}"),
        }
    }
}

/// A fault applied to the next `times` requests that match `service` and `operation` (None
/// matches anything). Faults are consumed in the order they were injected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub service: Option<String>,
    pub operation: Option<String>,
    pub times: usize,
    pub kind: FaultKind,
    /// Only requests whose body contains this text (as sent: form bodies are percent-encoded);
    /// None matches any body.
    pub body_contains: Option<String>,
    /// Only requests whose query string contains this text (REST calls such as CloudFront's
    /// carry their parameters there); None matches any query.
    pub query_contains: Option<String>,
    /// Only requests signed for this region; None matches any region.
    pub region: Option<String>,
}

impl Fault {
    /// `kind` on the next `times` calls of `service`'s `operation`.
    pub fn on(service: &str, operation: &str, times: usize, kind: FaultKind) -> Fault {
        Fault {
            service: Some(service.to_string()),
            operation: Some(operation.to_string()),
            times,
            kind,
            body_contains: None,
            query_contains: None,
            region: None,
        }
    }

    /// Only for requests whose body contains `text`: e.g. the AssumeRole call for one account
    /// (`Fault::on("sts", "AssumeRole", n, FaultKind::AccessDenied).when_body_contains("444455556666")`).
    pub fn when_body_contains(mut self, text: &str) -> Fault {
        self.body_contains = Some(text.to_string());
        self
    }

    /// Only for requests whose query string contains `text`: e.g. the second page of a listing
    /// (`Fault::on("cloudfront", "ListDistributions", n, kind).when_query_contains("Marker=")`).
    pub fn when_query_contains(mut self, text: &str) -> Fault {
        self.query_contains = Some(text.to_string());
        self
    }

    /// Only for requests signed for `region`: e.g. the same EC2 call answered differently in two
    /// regions.
    pub fn in_region(mut self, region: &str) -> Fault {
        self.region = Some(region.to_string());
        self
    }

    /// `kind` on the next `times` calls, whatever they are.
    pub fn any(times: usize, kind: FaultKind) -> Fault {
        Fault {
            service: None,
            operation: None,
            times,
            kind,
            body_contains: None,
            query_contains: None,
            region: None,
        }
    }

    fn matches(&self, id: &Identified) -> bool {
        self.service
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(&id.service))
            && self.operation.as_deref().is_none_or(|o| o == id.operation)
            && self
                .body_contains
                .as_deref()
                .is_none_or(|text| id.body.contains(text))
            && self
                .query_contains
                .as_deref()
                .is_none_or(|text| id.query.contains(text))
            && self.region.as_deref().is_none_or(|r| r == id.region)
    }
}

#[derive(Debug, Default)]
struct State {
    calls: Vec<Call>,
    faults: Vec<Fault>,
    rewrites: Vec<Rewrite>,
    /// Added to every call before it is answered, like the round trip to a real AWS endpoint.
    latency: Duration,
    /// Calls received and not yet answered, and the most there were at once.
    in_flight: usize,
    max_in_flight: usize,
}

type RewriteFn = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// A persistent rewrite of the 2xx bodies moto returns for one operation.
struct Rewrite {
    service: String,
    operation: String,
    apply: RewriteFn,
    applied: usize,
}

impl std::fmt::Debug for Rewrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rewrite")
            .field("service", &self.service)
            .field("operation", &self.operation)
            .field("applied", &self.applied)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Records the call and takes one use of the first fault that matches it.
    fn record(&mut self, id: &Identified, at: Instant) -> Option<FaultKind> {
        let kind = self.faults.iter().position(|f| f.matches(id)).map(|i| {
            let fault = &mut self.faults[i];
            fault.times -= 1;
            let kind = fault.kind.clone();
            if fault.times == 0 {
                self.faults.remove(i);
            }
            kind
        });
        self.calls.push(Call {
            service: id.service.clone(),
            region: id.region.clone(),
            operation: id.operation.clone(),
            at,
            fault: kind.as_ref().map(FaultKind::name),
        });
        kind
    }
}

/// Counts a call as answered when dropped (whichever way the call ends).
struct InFlight(Arc<Mutex<State>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        state.in_flight = state.in_flight.saturating_sub(1);
    }
}

/// A running proxy. Dropping it closes the listener and every open connection.
#[derive(Debug)]
pub struct AwsProxy {
    /// `http://127.0.0.1:PORT`: what cf-doctor gets as `AWS_ENDPOINT_URL`.
    pub endpoint: String,
    pub addr: SocketAddr,
    /// Where requests are forwarded (moto).
    pub upstream: SocketAddr,
    state: Arc<Mutex<State>>,
    task: AbortHandle,
}

impl Drop for AwsProxy {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection task.
        self.task.abort();
    }
}

impl AwsProxy {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every call received so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// How many calls of `service`'s `operation` were received (faulted attempts included).
    pub fn count(&self, service: &str, operation: &str) -> usize {
        self.state()
            .calls
            .iter()
            .filter(|c| c.service == service && c.operation == operation)
            .count()
    }

    /// Forgets the recorded calls and every fault not yet used.
    pub fn reset(&self) {
        let mut state = self.state();
        state.calls.clear();
        state.faults.clear();
        state.max_in_flight = state.in_flight;
    }

    /// Delays every call by `latency` before answering it (faults included), as the round trip
    /// to a real AWS endpoint would: what an on-call engineer waits for is then the number of
    /// round trips on the critical path. Zero (the default) adds nothing.
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// The most calls that were in flight at once since the proxy started (or was reset).
    pub fn max_in_flight(&self) -> usize {
        self.state().max_in_flight
    }

    /// Adds a fault after those already injected (a fault with `times == 0` does nothing).
    pub fn inject(&self, fault: Fault) {
        if fault.times > 0 {
            self.state().faults.push(fault);
        }
    }

    /// How many injected fault uses are still waiting for a matching request.
    pub fn faults_left(&self) -> usize {
        self.state().faults.iter().map(|f| f.times).sum()
    }

    /// From now on, every 2xx response body forwarded from upstream for `service`'s
    /// `operation` is replaced by `f(body)` (rewrites of the same call apply in the order they
    /// were added). Faulted calls are not rewritten. Persistent: [`AwsProxy::reset`] keeps it;
    /// [`AwsProxy::clear_rewrites`] removes it. E.g. `proxy.rewrite("cloudfront",
    /// "GetDistribution", cloudfront_xml::dualstack_origins)`.
    pub fn rewrite(
        &self,
        service: &str,
        operation: &str,
        f: impl Fn(&str) -> String + Send + Sync + 'static,
    ) {
        self.state().rewrites.push(Rewrite {
            service: service.to_string(),
            operation: operation.to_string(),
            apply: Arc::new(f),
            applied: 0,
        });
    }

    /// How many responses of `service`'s `operation` were rewritten so far.
    pub fn rewrites_applied(&self, service: &str, operation: &str) -> usize {
        self.state()
            .rewrites
            .iter()
            .filter(|r| r.service.eq_ignore_ascii_case(service) && r.operation == operation)
            .map(|r| r.applied)
            .max()
            .unwrap_or(0)
    }

    /// Removes every rewrite.
    pub fn clear_rewrites(&self) {
        self.state().rewrites.clear();
    }

    /// From now on, DescribeCertificate describes `arn` as ACM describes a certificate that
    /// expired `days_ago` (status EXPIRED, NotAfter in the past): ACM, and moto, refuse to import
    /// an expired certificate, so one can only be made to look like it.
    pub fn expired_in_acm(&self, arn: &str, days_ago: i64) {
        let arn = arn.to_string();
        self.rewrite("acm", "DescribeCertificate", move |body| {
            let Ok(mut json) = serde_json::from_str::<serde_json::Value>(body) else {
                return body.to_string();
            };
            if json["Certificate"]["CertificateArn"] != arn.as_str() {
                return body.to_string();
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default();
            let expired = now - days_ago * 86_400;
            json["Certificate"]["NotAfter"] = serde_json::json!(expired as f64);
            json["Certificate"]["Status"] = serde_json::json!("EXPIRED");
            json.to_string()
        });
    }
}

/// `response` with the rewrites registered for `id` applied, when it is a 2xx with a UTF-8 body
/// (CloudFront's XML always is).
fn rewritten(state: &Mutex<State>, id: &Identified, mut response: Response) -> Response {
    if !(200..300).contains(&response.status) {
        return response;
    }
    let rewrites: Vec<RewriteFn> = {
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .rewrites
            .iter_mut()
            .filter(|r| r.service.eq_ignore_ascii_case(&id.service) && r.operation == id.operation)
            .map(|r| {
                r.applied += 1;
                Arc::clone(&r.apply)
            })
            .collect()
    };
    if rewrites.is_empty() {
        return response;
    }
    let Ok(mut body) = String::from_utf8(std::mem::take(&mut response.body)) else {
        panic!(
            "the proxy cannot rewrite {} {}: the upstream body is not UTF-8",
            id.service, id.operation
        );
    };
    for apply in rewrites {
        body = apply(&body);
    }
    response.body = body.into_bytes();
    response
}

/// Starts a proxy on 127.0.0.1:0 forwarding to `upstream` (`http://127.0.0.1:PORT`, e.g.
/// [`crate::Moto::endpoint`]).
pub async fn aws_proxy(upstream: &str) -> AwsProxy {
    let upstream_addr: SocketAddr = upstream
        .strip_prefix("http://")
        .and_then(|rest| rest.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("proxy upstream {upstream:?} is not http://IP:PORT"));
    assert!(
        upstream_addr.ip().is_loopback(),
        "the proxy forwards to loopback only, not {upstream_addr}"
    );
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("cannot bind 127.0.0.1:0 for the AWS proxy: is loopback networking available?");
    let addr = listener
        .local_addr()
        .expect("a bound loopback listener has no local address (getsockname failed)");
    let state: Arc<Mutex<State>> = Arc::default();
    let shared = Arc::clone(&state);
    let task = crate::serve::accept_loop(listener, move |stream| {
        serve_connection(stream, upstream_addr, Arc::clone(&shared))
    });
    AwsProxy {
        endpoint: format!("http://{addr}"),
        addr,
        upstream: upstream_addr,
        state,
        task,
    }
}

/// Serves one client connection: request after request until the client closes it.
async fn serve_connection(mut client: TcpStream, upstream: SocketAddr, state: Arc<Mutex<State>>) {
    loop {
        // An error here is usually the client closing an idle keep-alive connection.
        let Ok((head, early_body)) = http::read_head(&mut client).await else {
            return;
        };
        let at = Instant::now();
        if head
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
            && client
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return;
        }
        let Ok(body) = http::read_body(&mut client, &head, early_body).await else {
            return;
        };
        let id = identify(&head, &body);
        let (fault, latency) = {
            let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
            state.in_flight += 1;
            state.max_in_flight = state.max_in_flight.max(state.in_flight);
            (state.record(&id, at), state.latency)
        };
        let _answered = InFlight(Arc::clone(&state));
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let response = match fault {
            None => rewritten(&state, &id, forward(upstream, &head, &body).await),
            Some(FaultKind::Delay(delay)) => {
                tokio::time::sleep(delay).await;
                rewritten(&state, &id, forward(upstream, &head, &body).await)
            }
            Some(FaultKind::Reset) => {
                // SO_LINGER 0: closing sends RST instead of FIN, and nothing was answered.
                let _ = client.set_zero_linger();
                return;
            }
            Some(FaultKind::Status {
                status,
                body,
                headers,
            }) => Response::new(status, headers, body.into_bytes()),
            Some(kind @ (FaultKind::Throttle | FaultKind::AccessDenied)) => {
                error_response(&id, kind == FaultKind::Throttle)
            }
        };
        let close = head
            .header("connection")
            .is_some_and(|c| c.to_ascii_lowercase().contains("close"));
        if response
            .write(&mut client, head.method != "HEAD", close)
            .await
            .is_err()
            || close
        {
            let _ = client.shutdown().await;
            return;
        }
    }
}

/// How a service speaks on the wire, which decides the shape of an injected error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// awsJson 1.0/1.1 (`X-Amz-Target`): ACM, SSM, Secrets Manager, SQS (JSON).
    Json,
    /// awsQuery (`Action=` in a form body): SNS, ELBv2, CloudWatch (query), SQS (query).
    Query,
    /// ec2Query: EC2's own error envelope.
    Ec2,
    /// restXml: CloudFront.
    RestXml,
    /// restJson: Lambda (errors named by the `x-amzn-ErrorType` header).
    RestJson,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Identified {
    service: String,
    region: String,
    operation: String,
    protocol: Protocol,
    /// The request body as text, for faults that match on it.
    body: String,
    /// The query string, for faults that match on it.
    query: String,
}

/// Names the AWS call a request makes.
fn identify(head: &RequestHead, body: &[u8]) -> Identified {
    let (region, service) = head
        .header("authorization")
        .and_then(credential_scope)
        .map(|(r, s)| (r.to_string(), s.to_string()))
        .unwrap_or_else(|| (String::new(), "unknown".to_string()));
    let (path, query) = head.path.split_once('?').unwrap_or((&head.path, ""));
    let (operation, protocol) = if let Some(target) = head.header("x-amz-target") {
        let op = target.rsplit('.').next().unwrap_or(target);
        (op.to_string(), Protocol::Json)
    } else if let Some(action) =
        form_value(&String::from_utf8_lossy(body), "Action").or_else(|| form_value(query, "Action"))
    {
        let protocol = if service == "ec2" {
            Protocol::Ec2
        } else {
            Protocol::Query
        };
        (action, protocol)
    } else if let Some((_, op)) = path.rsplit_once("/operation/") {
        // Smithy RPC v2 (CBOR): /service/NAME/operation/OP. Errors are injected as JSON, which
        // such a client cannot parse; cf-doctor does not use this protocol.
        (op.to_string(), Protocol::Json)
    } else if service == "lambda" {
        let op = lambda_operation(&head.method, path)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{} {path}", head.method));
        (op, Protocol::RestJson)
    } else {
        let op = cloudfront_operation(&head.method, path, query)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{} {path}", head.method));
        (op, Protocol::RestXml)
    };
    Identified {
        service,
        region,
        operation,
        protocol,
        body: String::from_utf8_lossy(body).into_owned(),
        query: query.to_string(),
    }
}

/// (region, service) from `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`.
fn credential_scope(authorization: &str) -> Option<(&str, &str)> {
    let credential = authorization.split("Credential=").nth(1)?;
    let credential = credential.split([',', ' ']).next()?;
    let mut parts = credential.rsplit('/');
    let terminator = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    (terminator == "aws4_request").then_some((region, service))
}

/// A value from `a=b&c=d` (form bodies and query strings), percent-decoded.
fn form_value(form: &str, key: &str) -> Option<String> {
    form.split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
        .map(percent_decode)
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| Some(hex(bytes[i + 1])? * 16 + hex(bytes[i + 2])?))
            .flatten();
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// CloudFront's REST operations by method and path (`/2020-05-31/...`).
fn cloudfront_operation(method: &str, path: &str, query: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (version, rest) = segments.split_first()?;
    if !version.starts_with("20") {
        return None;
    }
    let with = |name: &str| {
        query
            .split('&')
            .any(|p| p == name || p.starts_with(&format!("{name}=")))
    };
    let operation = match (method, rest) {
        ("GET", ["distribution"]) => "ListDistributions",
        ("POST", ["distribution"]) if with("WithTags") => "CreateDistributionWithTags",
        ("POST", ["distribution"]) => "CreateDistribution",
        ("GET", ["distribution", _]) => "GetDistribution",
        ("DELETE", ["distribution", _]) => "DeleteDistribution",
        ("GET", ["distribution", _, "config"]) => "GetDistributionConfig",
        ("PUT", ["distribution", _, "config"]) => "UpdateDistribution",
        ("POST", ["distribution", _, "invalidation"]) => "CreateInvalidation",
        ("GET", ["distribution", _, "invalidation"]) => "ListInvalidations",
        ("GET", ["distribution", _, "invalidation", _]) => "GetInvalidation",
        ("GET", ["distributionsByWebACLId", _]) => "ListDistributionsByWebACLId",
        ("GET", ["tagging"]) => "ListTagsForResource",
        ("POST", ["tagging"]) => match form_value(query, "Operation").as_deref() {
            Some("Untag") => "UntagResource",
            _ => "TagResource",
        },
        ("GET", ["origin-access-control"]) => "ListOriginAccessControls",
        ("GET", ["origin-access-control", _]) => "GetOriginAccessControl",
        ("POST", ["origin-access-control"]) => "CreateOriginAccessControl",
        ("GET", ["cache-policy"]) => "ListCachePolicies",
        ("GET", ["cache-policy", _]) => "GetCachePolicy",
        ("GET", ["origin-request-policy"]) => "ListOriginRequestPolicies",
        ("GET", ["origin-request-policy", _]) => "GetOriginRequestPolicy",
        ("GET", ["vpc-origin"]) => "ListVpcOrigins",
        ("GET", ["vpc-origin", _]) => "GetVpcOrigin",
        ("GET", ["function"]) => "ListFunctions",
        ("POST", ["function"]) => "CreateFunction",
        ("GET", ["function", _]) => "GetFunction",
        ("GET", ["function", _, "describe"]) => "DescribeFunction",
        ("POST", ["function", _, "publish"]) => "PublishFunction",
        ("POST", ["get-realtime-log-config"]) => "GetRealtimeLogConfig",
        ("GET", ["distributions", _, "monitoring-subscription"]) => "GetMonitoringSubscription",
        _ => return None,
    };
    Some(operation)
}

/// Lambda's REST operations cf-doctor and its tests call, by method and path
/// (`/2015-03-31/functions/...`).
fn lambda_operation(method: &str, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let operation = match (method, segments.as_slice()) {
        ("GET", [_, "functions", _, "configuration"]) => "GetFunctionConfiguration",
        ("POST", [_, "functions"]) => "CreateFunction",
        ("POST", [_, "functions", _, "versions"]) => "PublishVersion",
        ("GET", [_, "functions", _]) => "GetFunction",
        _ => return None,
    };
    Some(operation)
}

/// What IAM calls a signing name's actions (`monitoring` signs CloudWatch's `cloudwatch:*`).
fn iam_prefix(service: &str) -> &str {
    match service {
        "monitoring" => "cloudwatch",
        other => other,
    }
}

fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "cfdoctor-proxy-{:012}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Throttling or access denied, in the shape `id`'s protocol parses.
fn error_response(id: &Identified, throttle: bool) -> Response {
    let request_id = request_id();
    let message = if throttle {
        "Rate exceeded".to_string()
    } else {
        format!(
            "User: arn:aws:sts::123456789012:assumed-role/cf-doctor/cf-doctor is not authorized to perform: {}:{}",
            iam_prefix(&id.service),
            id.operation
        )
    };
    let (status, code, content_type, body) = match (id.protocol, throttle) {
        (Protocol::RestJson, _) => {
            let (status, code) = if throttle {
                (429, "TooManyRequestsException")
            } else {
                (403, "AccessDeniedException")
            };
            let body = serde_json::json!({"Type": "User", "message": message}).to_string();
            (status, code, "application/json", body)
        }
        (Protocol::Json, _) => {
            let code = if throttle {
                "ThrottlingException"
            } else {
                "AccessDeniedException"
            };
            let body = serde_json::json!({"__type": code, "message": message}).to_string();
            (400, code, "application/x-amz-json-1.1", body)
        }
        (Protocol::Ec2, _) => {
            let (status, code) = if throttle {
                (503, "RequestLimitExceeded")
            } else {
                (403, "UnauthorizedOperation")
            };
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
            );
            (status, code, "text/xml", body)
        }
        (Protocol::Query | Protocol::RestXml, _) => {
            let (status, code) = if throttle {
                (400, "Throttling")
            } else {
                (403, "AccessDenied")
            };
            let body = format!(
                "<?xml version=\"1.0\"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
            );
            (status, code, "text/xml", body)
        }
    };
    let mut headers = vec![
        ("Content-Type".to_string(), content_type.to_string()),
        ("x-amzn-RequestId".to_string(), request_id),
    ];
    if matches!(id.protocol, Protocol::Json | Protocol::RestJson) {
        headers.push(("x-amzn-ErrorType".to_string(), code.to_string()));
    }
    Response::new(status, headers, body.into_bytes())
}

/// A complete response, as read from upstream or made up by a fault.
#[derive(Debug)]
struct Response {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Headers that describe one connection, not the message; the proxy re-frames every message.
fn hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "content-length",
        "expect",
        "te",
        "trailer",
        "upgrade",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

impl Response {
    fn new(status: u16, mut headers: Vec<(String, String)>, body: Vec<u8>) -> Response {
        if http::header(&headers, "content-type").is_none() {
            let guess = match body.first() {
                Some(b'{') => Some("application/x-amz-json-1.1"),
                Some(b'<') => Some("text/xml"),
                _ => None,
            };
            headers.extend(guess.map(|t| ("Content-Type".to_string(), t.to_string())));
        }
        Response {
            status,
            reason: http::reason(status).to_string(),
            headers,
            body,
        }
    }

    fn bad_gateway(upstream: SocketAddr, error: &io::Error) -> Response {
        let body = format!("cf-doctor-testkit proxy: upstream {upstream} failed: {error}\n");
        Response::new(
            502,
            vec![("Content-Type".into(), "text/plain".into())],
            body.into_bytes(),
        )
    }

    async fn write(&self, client: &mut TcpStream, send_body: bool, close: bool) -> io::Result<()> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, self.reason);
        for (k, v) in self.headers.iter().filter(|(k, _)| !hop_by_hop(k)) {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        if close {
            out.push_str("Connection: close\r\n");
        }
        out.push_str("\r\n");
        client.write_all(out.as_bytes()).await?;
        if send_body {
            client.write_all(&self.body).await?;
        }
        client.flush().await
    }
}

async fn forward(upstream: SocketAddr, head: &RequestHead, body: &[u8]) -> Response {
    match forward_once(upstream, head, body).await {
        Ok(response) => response,
        Err(e) => Response::bad_gateway(upstream, &e),
    }
}

/// One request on a fresh upstream connection, read back whole.
async fn forward_once(
    upstream: SocketAddr,
    head: &RequestHead,
    body: &[u8],
) -> io::Result<Response> {
    let mut stream = TcpStream::connect(upstream).await?;
    stream.set_nodelay(true)?;
    let mut out = format!("{} {} HTTP/1.1\r\n", head.method, head.path);
    for (k, v) in head.headers.iter().filter(|(k, _)| !hop_by_hop(k)) {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).await?;
    read_response(&mut stream, head.method == "HEAD").await
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Bytes read from a stream, consumed from the front.
struct Reader<'a> {
    stream: &'a mut TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

impl Reader<'_> {
    /// Reads more; false at end of stream.
    async fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    async fn fill_or_eof(&mut self, what: &str) -> io::Result<()> {
        if self.fill().await? {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("upstream closed the connection in the middle of {what}"),
            ))
        }
    }

    /// Up to the next CRLF (consumed, not returned).
    async fn line(&mut self, what: &str) -> io::Result<String> {
        let mut searched = self.pos;
        loop {
            if let Some(i) = find(&self.buf[searched..], b"\r\n") {
                let end = searched + i;
                let line = String::from_utf8_lossy(&self.buf[self.pos..end]).into_owned();
                self.pos = end + 2;
                return Ok(line);
            }
            searched = self.buf.len().saturating_sub(1).max(self.pos);
            if self.buf.len() - self.pos > http::MAX_HEAD {
                return Err(invalid(format!("{what}: line longer than 64 KiB")));
            }
            self.fill_or_eof(what).await?;
        }
    }

    async fn exactly(&mut self, n: usize, what: &str) -> io::Result<Vec<u8>> {
        while self.buf.len() - self.pos < n {
            self.fill_or_eof(what).await?;
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(out)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads a whole HTTP/1.x response: Content-Length, chunked, or delimited by the close.
async fn read_response(stream: &mut TcpStream, head_request: bool) -> io::Result<Response> {
    let mut r = Reader {
        stream,
        buf: Vec::with_capacity(16 * 1024),
        pos: 0,
    };
    let (status, reason, headers) = loop {
        let status_line = r.line("the response head").await?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .filter(|_| version.starts_with("HTTP/1."))
            .ok_or_else(|| invalid(format!("bad status line from upstream: {status_line:?}")))?;
        let reason = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        loop {
            let line = r.line("the response head").await?;
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        // Interim answers (100 Continue) precede the real one.
        if !(100..200).contains(&status) {
            break (status, reason, headers);
        }
    };
    let chunked = http::header(&headers, "transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let body = if head_request || status == 204 || status == 304 {
        Vec::new()
    } else if chunked {
        let mut body = Vec::new();
        loop {
            let size_line = r.line("a chunk size").await?;
            let hex = size_line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(hex, 16)
                .map_err(|_| invalid(format!("bad chunk size from upstream: {hex:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !r.line("the trailers").await?.is_empty() {}
                break;
            }
            body.extend(r.exactly(size, "a chunk").await?);
            r.exactly(2, "a chunk").await?;
        }
        body
    } else if let Some(len) = http::header(&headers, "content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| invalid(format!("bad Content-Length from upstream: {len:?}")))?;
        r.exactly(len, "the response body").await?
    } else {
        while r.fill().await? {}
        r.buf[r.pos..].to_vec()
    };
    Ok(Response {
        status,
        reason: if reason.is_empty() {
            http::reason(status).to_string()
        } else {
            reason
        },
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(method: &str, path: &str, headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: method.into(),
            path: path.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    const ACM_AUTH: &str = "AWS4-HMAC-SHA256 Credential=testing/20261125/eu-west-1/acm/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
    const CF_AUTH: &str = "AWS4-HMAC-SHA256 Credential=testing/20261125/us-east-1/cloudfront/aws4_request, SignedHeaders=host, Signature=abc";

    #[test]
    fn a_json_call_is_named_by_its_target_and_credential_scope() {
        let id = identify(
            &head(
                "POST",
                "/",
                &[
                    ("Authorization", ACM_AUTH),
                    ("X-Amz-Target", "CertificateManager.DescribeCertificate"),
                ],
            ),
            b"{}",
        );
        assert_eq!(
            (
                id.service.as_str(),
                id.region.as_str(),
                id.operation.as_str()
            ),
            ("acm", "eu-west-1", "DescribeCertificate")
        );
        assert_eq!(id.protocol, Protocol::Json);
    }

    #[test]
    fn a_query_call_is_named_by_its_action_and_ec2_has_its_own_protocol() {
        let sns = identify(
            &head(
                "POST",
                "/",
                &[(
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=testing/20261125/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=abc",
                )],
            ),
            b"Action=Publish&Version=2010-03-31&Message=a%26b",
        );
        assert_eq!(
            (sns.operation.as_str(), sns.protocol),
            ("Publish", Protocol::Query)
        );
        let ec2 = identify(
            &head(
                "POST",
                "/",
                &[(
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=testing/20261125/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=abc",
                )],
            ),
            b"Action=DescribeSecurityGroups&Version=2016-11-15",
        );
        assert_eq!(
            (ec2.operation.as_str(), ec2.protocol),
            ("DescribeSecurityGroups", Protocol::Ec2)
        );
    }

    #[test]
    fn cloudfront_calls_are_named_by_method_and_path() {
        let name = |method: &str, path: &str| {
            identify(&head(method, path, &[("Authorization", CF_AUTH)]), b"").operation
        };
        assert_eq!(name("GET", "/2020-05-31/distribution"), "ListDistributions");
        assert_eq!(
            name("GET", "/2020-05-31/distribution?Marker=E1&MaxItems=100"),
            "ListDistributions"
        );
        assert_eq!(
            name("GET", "/2020-05-31/distribution/E2EXAMPLE"),
            "GetDistribution"
        );
        assert_eq!(
            name("POST", "/2020-05-31/distribution"),
            "CreateDistribution"
        );
        assert_eq!(
            name("GET", "/2020-05-31/distribution/E2EXAMPLE/config"),
            "GetDistributionConfig"
        );
        assert_eq!(
            name("GET", "/2020-05-31/vpc-origin/vo_1234"),
            "GetVpcOrigin"
        );
        assert_eq!(
            name(
                "GET",
                "/2020-05-31/function/url-rewrite/describe?Stage=LIVE"
            ),
            "DescribeFunction"
        );
        assert_eq!(
            name("GET", "/2020-05-31/streaming-distribution"),
            "GET /2020-05-31/streaming-distribution"
        );
        let id = identify(
            &head(
                "GET",
                "/2020-05-31/distribution",
                &[("Authorization", CF_AUTH)],
            ),
            b"",
        );
        assert_eq!(
            (id.service.as_str(), id.region.as_str(), id.protocol),
            ("cloudfront", "us-east-1", Protocol::RestXml)
        );
    }

    #[test]
    fn lambda_calls_are_named_by_method_and_path() {
        let auth = "AWS4-HMAC-SHA256 Credential=testing/20261125/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=abc";
        let id = identify(
            &head(
                "GET",
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aedge%3A3/configuration",
                &[("Authorization", auth)],
            ),
            b"",
        );
        assert_eq!(
            (id.operation.as_str(), id.protocol),
            ("GetFunctionConfiguration", Protocol::RestJson)
        );
    }

    #[test]
    fn an_unsigned_request_is_still_recorded() {
        let id = identify(&head("GET", "/moto-api/", &[]), b"");
        assert_eq!((id.service.as_str(), id.region.as_str()), ("unknown", ""));
        assert_eq!(id.operation, "GET /moto-api/");
    }

    #[test]
    fn faults_are_taken_in_injection_order_and_only_by_matching_calls() {
        let mut state = State::default();
        state.faults.push(Fault::on(
            "acm",
            "DescribeCertificate",
            1,
            FaultKind::Throttle,
        ));
        state.faults.push(Fault::any(1, FaultKind::AccessDenied));
        let call = |op: &str| Identified {
            service: "acm".into(),
            region: "us-east-1".into(),
            operation: op.into(),
            protocol: Protocol::Json,
            body: String::new(),
            query: String::new(),
        };
        let now = Instant::now();
        assert_eq!(
            state.record(&call("ListCertificates"), now),
            Some(FaultKind::AccessDenied)
        );
        assert_eq!(
            state.record(&call("DescribeCertificate"), now),
            Some(FaultKind::Throttle)
        );
        assert_eq!(state.record(&call("DescribeCertificate"), now), None);
        assert_eq!(state.calls.len(), 3);
        assert_eq!(state.calls[0].fault.as_deref(), Some("AccessDenied"));
        assert_eq!(state.calls[2].fault, None);
    }

    #[test]
    fn a_fault_can_be_kept_for_requests_whose_body_names_something() {
        let mut state = State::default();
        state.faults.push(
            Fault::on("sts", "AssumeRole", 5, FaultKind::AccessDenied)
                .when_body_contains("444455556666"),
        );
        let assume = |account: &str| Identified {
            service: "sts".into(),
            region: "us-east-1".into(),
            operation: "AssumeRole".into(),
            protocol: Protocol::Query,
            body: format!("Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A{account}%3Arole%2Fr"),
            query: String::new(),
        };
        let now = Instant::now();
        assert_eq!(state.record(&assume("111122223333"), now), None);
        assert_eq!(
            state.record(&assume("444455556666"), now),
            Some(FaultKind::AccessDenied)
        );
        assert_eq!(state.faults[0].times, 4);
    }

    #[test]
    fn form_values_are_percent_decoded() {
        assert_eq!(
            form_value("a=1&Action=List%54opics", "Action").as_deref(),
            Some("ListTopics")
        );
        assert_eq!(form_value("Actions=x", "Action"), None);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }
}
