//! The fault-injecting proxy in front of moto, driven by real SDK clients: calls are counted by
//! service and operation, and each injected fault reaches the SDK as the error it stands for
//! (throttling retried, AccessDenied surfaced with its code, a reset as a transport error).
//! Every test has its own proxy in front of the process's shared moto.

use std::io::{Read, Write};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_acm::error::{ProvideErrorMetadata, SdkError};
use cf_doctor_testkit::{
    aws_proxy, create_distribution, import_certificate, moto, sdk_config, AwsProxy,
    DistributionSpec, Fault, FaultKind, LeafSpec, TestCa,
};

/// SDK configuration through the proxy: standard retry mode, 3 attempts, short backoff.
async fn through(proxy: &AwsProxy) -> aws_config::SdkConfig {
    sdk_config(&proxy.endpoint)
        .await
        .to_builder()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .build()
}

struct Clients {
    acm: aws_sdk_acm::Client,
    cf: aws_sdk_cloudfront::Client,
    sns: aws_sdk_sns::Client,
}

async fn clients(proxy: &AwsProxy) -> Clients {
    let sdk = through(proxy).await;
    Clients {
        acm: aws_sdk_acm::Client::new(&sdk),
        cf: aws_sdk_cloudfront::Client::new(&sdk),
        sns: aws_sdk_sns::Client::new(&sdk),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_call_is_counted_by_service_operation_and_region() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let c = clients(&proxy).await;
    let ca = TestCa::new("proxy test root");
    let leaf = ca.leaf(&LeafSpec::valid_for(&["count.proxy.test"]));
    let arn = import_certificate(&c.acm, &leaf, &ca.cert_pem()).await;
    c.acm
        .describe_certificate()
        .certificate_arn(&arn)
        .send()
        .await
        .unwrap();
    c.acm.list_certificates().send().await.unwrap();
    let id = create_distribution(
        &c.cf,
        &DistributionSpec::https_origin("count.proxy.test", 443),
    )
    .await;
    c.cf.get_distribution().id(&id).send().await.unwrap();
    c.cf.get_distribution().id(&id).send().await.unwrap();
    c.cf.list_distributions().send().await.unwrap();
    c.sns.list_topics().send().await.unwrap();

    for (service, operation, expected) in [
        ("acm", "ImportCertificate", 1),
        ("acm", "DescribeCertificate", 1),
        ("acm", "ListCertificates", 1),
        ("cloudfront", "CreateDistribution", 1),
        ("cloudfront", "GetDistribution", 2),
        ("cloudfront", "ListDistributions", 1),
        ("sns", "ListTopics", 1),
    ] {
        assert_eq!(
            proxy.count(service, operation),
            expected,
            "{service} {operation}: {:#?}",
            proxy.calls()
        );
    }
    let calls = proxy.calls();
    assert_eq!(calls.len(), 8, "{calls:#?}");
    assert!(calls
        .iter()
        .all(|c| c.region == "us-east-1" && c.fault.is_none()));
    assert!(
        calls.windows(2).all(|w| w[0].at <= w[1].at),
        "arrival order"
    );

    proxy.reset();
    assert!(proxy.calls().is_empty());
    c.sns.list_topics().send().await.unwrap();
    assert_eq!(proxy.count("sns", "ListTopics"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_retried_by_the_sdk_and_then_succeeds_in_every_protocol() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let c = clients(&proxy).await;
    proxy.inject(Fault::on("acm", "ListCertificates", 2, FaultKind::Throttle));
    proxy.inject(Fault::on(
        "cloudfront",
        "ListDistributions",
        2,
        FaultKind::Throttle,
    ));
    proxy.inject(Fault::on("sns", "ListTopics", 2, FaultKind::Throttle));

    c.acm
        .list_certificates()
        .send()
        .await
        .expect("JSON ThrottlingException is retried");
    c.cf.list_distributions()
        .send()
        .await
        .expect("REST-XML Throttling is retried");
    c.sns
        .list_topics()
        .send()
        .await
        .expect("query Throttling is retried");

    assert_eq!(proxy.count("acm", "ListCertificates"), 3);
    assert_eq!(proxy.count("cloudfront", "ListDistributions"), 3);
    assert_eq!(proxy.count("sns", "ListTopics"), 3);
    assert_eq!(proxy.faults_left(), 0);
    let faulted: Vec<_> = proxy.calls().into_iter().map(|c| c.fault).collect();
    assert_eq!(
        faulted
            .iter()
            .filter(|f| f.as_deref() == Some("Throttle"))
            .count(),
        6
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_beyond_the_attempts_surfaces_as_a_throttling_error() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let c = clients(&proxy).await;
    proxy.inject(Fault::on("acm", "ListCertificates", 3, FaultKind::Throttle));
    let err = c.acm.list_certificates().send().await.unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"), "{err:?}");
    assert_eq!(err.message(), Some("Rate exceeded"));
    assert_eq!(proxy.count("acm", "ListCertificates"), 3, "3 attempts");
}

#[tokio::test(flavor = "multi_thread")]
async fn access_denied_surfaces_as_a_service_error_with_its_code_and_is_not_retried() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let c = clients(&proxy).await;
    proxy.inject(Fault::on(
        "acm",
        "ListCertificates",
        1,
        FaultKind::AccessDenied,
    ));
    proxy.inject(Fault::on(
        "cloudfront",
        "ListDistributions",
        1,
        FaultKind::AccessDenied,
    ));
    proxy.inject(Fault::on("sns", "ListTopics", 1, FaultKind::AccessDenied));

    let acm = c.acm.list_certificates().send().await.unwrap_err();
    assert!(matches!(acm, SdkError::ServiceError(_)), "{acm:?}");
    assert_eq!(acm.code(), Some("AccessDeniedException"));
    assert!(
        acm.message()
            .is_some_and(|m| m.contains("not authorized to perform: acm:ListCertificates")),
        "{acm:?}"
    );
    let cf = c.cf.list_distributions().send().await.unwrap_err();
    assert!(matches!(cf, SdkError::ServiceError(_)), "{cf:?}");
    assert_eq!(cf.code(), Some("AccessDenied"));
    assert_eq!(
        cf.raw_response().map(|r| r.status().as_u16()),
        Some(403),
        "{cf:?}"
    );
    let sns = c.sns.list_topics().send().await.unwrap_err();
    assert!(matches!(sns, SdkError::ServiceError(_)), "{sns:?}");
    assert_eq!(sns.code(), Some("AccessDenied"));

    for (service, operation) in [
        ("acm", "ListCertificates"),
        ("cloudfront", "ListDistributions"),
        ("sns", "ListTopics"),
    ] {
        assert_eq!(proxy.count(service, operation), 1, "{service} {operation}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_surfaces_as_a_transport_error_after_the_sdk_retried_it() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let c = clients(&proxy).await;
    proxy.inject(Fault::on("acm", "ListCertificates", 3, FaultKind::Reset));
    let err = c.acm.list_certificates().send().await.unwrap_err();
    assert!(
        matches!(
            err,
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
        ),
        "{err:?}"
    );
    assert_eq!(
        proxy.count("acm", "ListCertificates"),
        3,
        "a reset is transient: retried"
    );

    // One reset, then the retry goes through.
    proxy.inject(Fault::on("sns", "ListTopics", 1, FaultKind::Reset));
    c.sns
        .list_topics()
        .send()
        .await
        .expect("retried after one reset");
    assert_eq!(proxy.count("sns", "ListTopics"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_faults_apply_in_order_and_a_server_error_is_retried() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let c = clients(&proxy).await;
    proxy.inject(Fault::on(
        "acm",
        "ListCertificates",
        1,
        FaultKind::Status {
            status: 500,
            body: String::new(),
            headers: Vec::new(),
        },
    ));
    proxy.inject(Fault::on(
        "acm",
        "ListCertificates",
        1,
        FaultKind::Status {
            status: 400,
            body: r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into(),
            headers: Vec::new(),
        },
    ));
    c.acm
        .list_certificates()
        .send()
        .await
        .expect("500 then a JSON throttle, then moto's answer");
    let faults: Vec<_> = proxy.calls().into_iter().map(|c| c.fault).collect();
    assert_eq!(
        faults,
        [
            Some("Status 500".to_string()),
            Some("Status 400".into()),
            None
        ]
    );

    // Faults for another operation leave this one alone; a later fault is used after earlier ones.
    proxy.reset();
    proxy.inject(Fault::on(
        "acm",
        "DescribeCertificate",
        1,
        FaultKind::AccessDenied,
    ));
    proxy.inject(Fault::any(1, FaultKind::AccessDenied));
    let err = c.sns.list_topics().send().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "the catch-all fault");
    assert_eq!(
        proxy.faults_left(),
        1,
        "the DescribeCertificate fault waits"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delay_holds_the_answer_past_an_attempt_timeout() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let sdk = through(&proxy)
        .await
        .to_builder()
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_millis(200))
                .build(),
        )
        .build();
    let sns = aws_sdk_sns::Client::new(&sdk);
    proxy.inject(Fault::on(
        "sns",
        "ListTopics",
        1,
        FaultKind::Delay(Duration::from_secs(5)),
    ));
    let err = sns.list_topics().send().await.unwrap_err();
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    sns.list_topics()
        .send()
        .await
        .expect("the delay was used up: forwarded at once");
    assert_eq!(proxy.count("sns", "ListTopics"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_request_body_is_forwarded_whole() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let endpoint = proxy.addr;
    let body = "Action=ListTopics&Version=2010-03-31";
    let (first, second) = body.split_at(10);
    let response = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(endpoint).unwrap();
        write!(
            s,
            "POST / HTTP/1.1\r\nHost: {endpoint}\r\nContent-Type: application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20261125/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
            first.len(),
            second.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("<ListTopicsResponse"), "{response}");
    assert_eq!(proxy.count("sns", "ListTopics"), 1);
}

/// The latency the bench relies on: every call is held at least that long, and the proxy counts
/// how many were in flight at once (three concurrent calls: three; one after another: one).
#[tokio::test(flavor = "multi_thread")]
async fn a_set_latency_holds_every_call_and_in_flight_calls_are_counted() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let c = clients(&proxy).await;
    proxy.set_latency(Duration::from_millis(150));
    let started = std::time::Instant::now();
    let (a, b, d) = tokio::join!(
        c.cf.list_distributions().send(),
        c.acm.list_certificates().send(),
        c.sns.list_topics().send()
    );
    a.unwrap();
    b.unwrap();
    d.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(proxy.max_in_flight(), 3, "{:?}", proxy.calls());
    proxy.reset();
    c.cf.list_distributions().send().await.unwrap();
    c.cf.list_distributions().send().await.unwrap();
    assert_eq!(proxy.max_in_flight(), 1, "one after another");
    proxy.set_latency(Duration::ZERO);
}
