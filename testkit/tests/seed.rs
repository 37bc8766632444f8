//! Checks that what the testkit seeds into moto reads back the way cf-doctor will read it: if
//! moto silently dropped a field, cf-doctor's tests against it would prove nothing.

use aws_sdk_cloudfront::types::{
    MinimumProtocolVersion, OriginProtocolPolicy, SslProtocol, SslSupportMethod,
};
use cf_doctor_testkit::{
    create_distribution, import_certificate, moto, receive_all, sdk_config, topic_with_queue,
    DistributionSpec, LeafSpec, TestCa,
};

#[tokio::test]
async fn distribution_reads_back_with_every_field_cf_doctor_uses() {
    let config = sdk_config(&moto().endpoint).await;
    let cf = aws_sdk_cloudfront::Client::new(&config);
    let acm = aws_sdk_acm::Client::new(&config);

    let ca = TestCa::new("seed root");
    let viewer = ca.leaf(&LeafSpec::valid_for(&["shop.example", "www.shop.example"]));
    let arn = import_certificate(&acm, &viewer, &ca.cert_pem()).await;

    let spec = DistributionSpec {
        http_port: 8080,
        protocol_policy: OriginProtocolPolicy::MatchViewer,
        ssl_protocols: vec![SslProtocol::TlSv12, SslProtocol::TlSv11],
        read_timeout_s: 45,
        aliases: vec!["shop.example".into(), "www.shop.example".into()],
        viewer_acm_arn: Some(arn.clone()),
        enabled: false,
        comment: "seed test".into(),
        ..DistributionSpec::https_origin("origin.shop.example", 8443)
    };
    let id = create_distribution(&cf, &spec).await;

    let got = cf
        .get_distribution_config()
        .id(&id)
        .send()
        .await
        .expect("GetDistributionConfig on the distribution just created");
    let dc = got.distribution_config().expect("DistributionConfig");
    assert!(!dc.enabled());
    assert_eq!(dc.comment(), "seed test");
    let aliases = dc.aliases().expect("Aliases");
    assert_eq!(aliases.quantity(), 2);
    assert_eq!(aliases.items(), ["shop.example", "www.shop.example"]);

    let origins = dc.origins().expect("Origins").items();
    assert_eq!(origins.len(), 1);
    assert_eq!(origins[0].id(), "primary-origin");
    assert_eq!(origins[0].domain_name(), "origin.shop.example");
    let custom = origins[0]
        .custom_origin_config()
        .expect("CustomOriginConfig");
    assert_eq!(custom.https_port(), 8443);
    assert_eq!(custom.http_port(), 8080);
    assert_eq!(
        custom.origin_protocol_policy(),
        &OriginProtocolPolicy::MatchViewer
    );
    assert_eq!(custom.origin_read_timeout(), Some(45));
    assert_eq!(
        custom
            .origin_ssl_protocols()
            .expect("OriginSslProtocols")
            .items(),
        [SslProtocol::TlSv12, SslProtocol::TlSv11]
    );
    assert_eq!(
        dc.default_cache_behavior()
            .expect("DefaultCacheBehavior")
            .target_origin_id(),
        "primary-origin"
    );

    let vc = dc.viewer_certificate().expect("ViewerCertificate");
    assert_eq!(vc.acm_certificate_arn(), Some(arn.as_str()));
    assert_eq!(vc.cloud_front_default_certificate(), Some(false));
    assert_eq!(vc.ssl_support_method(), Some(&SslSupportMethod::SniOnly));
    assert_eq!(
        vc.minimum_protocol_version(),
        Some(&MinimumProtocolVersion::TlSv122021)
    );

    // GetDistribution (what cf-doctor may call instead) carries the same config.
    let dist = cf
        .get_distribution()
        .id(&id)
        .send()
        .await
        .expect("GetDistribution");
    let d = dist.distribution().expect("Distribution");
    assert_eq!(d.id(), id);
    assert!(
        d.domain_name().ends_with(".cloudfront.net"),
        "{}",
        d.domain_name()
    );
}

#[tokio::test]
async fn default_spec_uses_the_cloudfront_certificate_and_no_aliases() {
    let config = sdk_config(&moto().endpoint).await;
    let cf = aws_sdk_cloudfront::Client::new(&config);
    let id = create_distribution(&cf, &DistributionSpec::https_origin("origin.example", 443)).await;
    let got = cf
        .get_distribution_config()
        .id(&id)
        .send()
        .await
        .expect("GetDistributionConfig");
    let dc = got.distribution_config().expect("DistributionConfig");
    assert!(dc.enabled());
    assert_eq!(dc.aliases().map(|a| a.quantity()), Some(0));
    let custom = dc.origins().expect("Origins").items()[0]
        .custom_origin_config()
        .expect("CustomOriginConfig");
    assert_eq!(
        custom.origin_protocol_policy(),
        &OriginProtocolPolicy::HttpsOnly
    );
    assert_eq!(custom.https_port(), 443);
    assert_eq!(custom.origin_read_timeout(), Some(30));
    let vc = dc.viewer_certificate().expect("ViewerCertificate");
    assert_eq!(vc.cloud_front_default_certificate(), Some(true));
    // moto returns ACMCertificateArn="" where CloudFront omits the element.
    assert_eq!(vc.acm_certificate_arn().filter(|a| !a.is_empty()), None);
}

#[tokio::test]
async fn imported_certificate_describes_like_acm() {
    let config = sdk_config(&moto().endpoint).await;
    let acm = aws_sdk_acm::Client::new(&config);
    let root = TestCa::new("seed root");
    let issuing = root.intermediate("seed issuing");
    let leaf = issuing
        .leaf(&LeafSpec::valid_for(&["shop.example", "www.shop.example"]).expiring_in_days(20));
    let chain = format!("{}{}", leaf.chain_pem, root.cert_pem());
    let arn = import_certificate(&acm, &leaf, &chain).await;

    let out = acm
        .describe_certificate()
        .certificate_arn(&arn)
        .send()
        .await
        .expect("DescribeCertificate on the certificate just imported");
    let cert = out.certificate().expect("Certificate");
    assert_eq!(cert.status().map(|s| s.as_str()), Some("ISSUED"));
    assert_eq!(cert.r#type().map(|t| t.as_str()), Some("IMPORTED"));
    assert_eq!(cert.domain_name(), Some("shop.example"));
    assert_eq!(
        cert.subject_alternative_names(),
        ["shop.example", "www.shop.example"]
    );
    assert_eq!(
        cert.key_algorithm().map(|k| k.as_str()),
        Some("EC_prime256v1")
    );
    let not_after = cert.not_after().expect("NotAfter").secs();
    let expected = (time::OffsetDateTime::now_utc() + time::Duration::days(20)).unix_timestamp();
    assert!(
        (not_after - expected).abs() < 120,
        "NotAfter {not_after} vs {expected}"
    );
}

#[tokio::test]
async fn moto_refuses_to_import_an_expired_certificate() {
    let config = sdk_config(&moto().endpoint).await;
    let acm = aws_sdk_acm::Client::new(&config);
    let leaf =
        TestCa::new("seed root").leaf(&LeafSpec::valid_for(&["old.example"]).expired_days_ago(3));
    let err = acm
        .import_certificate()
        .certificate(aws_sdk_acm::primitives::Blob::new(leaf.cert_pem.as_bytes()))
        .private_key(aws_sdk_acm::primitives::Blob::new(leaf.key_pem.as_bytes()))
        .send()
        .await
        .expect_err("moto should refuse an expired certificate, like ACM");
    let text = aws_sdk_acm::error::DisplayErrorContext(&err).to_string();
    assert!(text.contains("expired"), "{text}");
}

#[tokio::test]
async fn sns_envelopes_arrive_in_the_subscribed_queue() {
    let config = sdk_config(&moto().endpoint).await;
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let (topic_arn, queue_url) = topic_with_queue(&sns, &sqs, "seed-envelopes").await;
    assert!(
        topic_arn.starts_with("arn:aws:sns:us-east-1:"),
        "{topic_arn}"
    );

    let severity = aws_sdk_sns::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value("critical")
        .build()
        .expect("MessageAttributeValue");
    sns.publish()
        .topic_arn(&topic_arn)
        .subject("CRITICAL shop.example")
        .message("{\"hello\":1}")
        .message_attributes("severity", severity)
        .send()
        .await
        .expect("Publish");

    let envelopes = receive_all(&sqs, &queue_url, 1).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:?}");
    let e = &envelopes[0];
    assert_eq!(e["Type"], "Notification");
    assert_eq!(e["TopicArn"], topic_arn.as_str());
    assert_eq!(e["Subject"], "CRITICAL shop.example");
    assert_eq!(e["Message"], "{\"hello\":1}");
    assert_eq!(e["MessageAttributes"]["severity"]["Type"], "String");
    assert_eq!(e["MessageAttributes"]["severity"]["Value"], "critical");

    // Read messages are deleted: a second read sees nothing new.
    assert!(receive_all(&sqs, &queue_url, 0).await.is_empty());
}

#[tokio::test]
async fn owned_moto_resets_and_dies_on_drop() {
    let owned = cf_doctor_testkit::Moto::start();
    let config = sdk_config(&owned.endpoint).await;
    let sns = aws_sdk_sns::Client::new(&config);
    sns.create_topic()
        .name("before-reset")
        .send()
        .await
        .expect("CreateTopic");
    owned.reset();
    let topics = sns.list_topics().send().await.expect("ListTopics");
    assert!(
        topics.topics().is_empty(),
        "reset left {:?}",
        topics.topics()
    );

    let addr = owned.endpoint.trim_start_matches("http://").to_string();
    drop(owned);
    // Drop kills and reaps the process, so its port refuses connections right away.
    let err = std::net::TcpStream::connect(&addr).expect_err("moto should be gone after drop");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}
