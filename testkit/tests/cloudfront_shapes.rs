//! Proves, with the real aws-sdk-cloudfront client against moto (through the testkit proxy),
//! the CloudFront shapes issue 12's tests need:
//! - what moto drops is added back by the proxy: IpAddressType in CustomOriginConfig (a
//!   persistent rewrite of GetDistribution / ListDistributions / GetDistributionConfig), and
//!   GetCachePolicy / GetOriginRequestPolicy answers, which moto does not serve;
//! - what moto stores is seeded by DistributionSpec: wildcard aliases, a cache policy on the
//!   default behaviour, legacy forwarded headers, and extra cache behaviours.

use aws_sdk_cloudfront::types::{
    CachePolicyHeaderBehavior, IpAddressType, OriginRequestPolicyHeaderBehavior,
};
use cf_doctor_testkit::aws::{ORIGIN_ID, S3_ORIGIN_ID};
use cf_doctor_testkit::{
    aws_proxy, cloudfront_xml, create_distribution, moto, sdk_config, AwsProxy, BehaviorSpec,
    DistributionSpec, Fault,
};

const CUSTOM_CACHE_POLICY: &str = "4d3c2b1a-0f9e-4d8c-b7a6-958473625140";
const CUSTOM_REQUEST_POLICY: &str = "0f1e2d3c-4b5a-4697-8877-665544332211";
/// The managed AllViewer origin request policy (forwards every viewer header, Host included).
const MANAGED_ALL_VIEWER: &str = "216adef6-5c7f-47e4-b989-5492eafa07d3";

async fn client(proxy: &AwsProxy) -> aws_sdk_cloudfront::Client {
    aws_sdk_cloudfront::Client::new(&sdk_config(&proxy.endpoint).await)
}

/// The IpAddressType of each origin of distribution `id`, as GetDistribution gives them.
async fn ip_address_types(
    cf: &aws_sdk_cloudfront::Client,
    id: &str,
) -> Vec<(String, Option<IpAddressType>)> {
    let out = cf
        .get_distribution()
        .id(id)
        .send()
        .await
        .expect("GetDistribution");
    let config = out.distribution().unwrap().distribution_config().unwrap();
    config
        .origins()
        .unwrap()
        .items()
        .iter()
        .map(|o| {
            (
                o.id().to_string(),
                o.custom_origin_config()
                    .and_then(|c| c.ip_address_type())
                    .cloned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rewriting_proxy_gives_get_distribution_a_dualstack_origin() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let cf = client(&proxy).await;
    let id = create_distribution(
        &cf,
        &DistributionSpec::https_origin("dual.shapes.test", 443),
    )
    .await;

    // moto drops IpAddressType: without a rewrite, the SDK sees none.
    assert_eq!(
        ip_address_types(&cf, &id).await,
        vec![(ORIGIN_ID.to_string(), None)]
    );

    proxy.rewrite(
        "cloudfront",
        "GetDistribution",
        cloudfront_xml::dualstack_origins,
    );
    let out = cf
        .get_distribution()
        .id(&id)
        .send()
        .await
        .expect("GetDistribution");
    let origin = &out
        .distribution()
        .unwrap()
        .distribution_config()
        .unwrap()
        .origins()
        .unwrap()
        .items()[0];
    let custom = origin.custom_origin_config().expect("a custom origin");
    assert_eq!(custom.ip_address_type(), Some(&IpAddressType::DualStack));
    // Everything else moto said is still there.
    assert_eq!(origin.domain_name(), "dual.shapes.test");
    assert_eq!(custom.https_port(), 443);
    assert_eq!(custom.origin_keepalive_timeout(), Some(5));
    assert!(out.e_tag().is_some(), "headers pass through");
    assert_eq!(proxy.rewrites_applied("cloudfront", "GetDistribution"), 1);

    // Persistent, and only for 2xx answers: a missing distribution is still moto's 404.
    assert_eq!(
        ip_address_types(&cf, &id).await,
        vec![(ORIGIN_ID.to_string(), Some(IpAddressType::DualStack))]
    );
    let missing = cf
        .get_distribution()
        .id("E0MISSING0000")
        .send()
        .await
        .expect_err("no such distribution");
    assert!(
        missing.into_service_error().is_no_such_distribution(),
        "the error is moto's, untouched"
    );
    assert_eq!(proxy.rewrites_applied("cloudfront", "GetDistribution"), 2);

    proxy.clear_rewrites();
    assert_eq!(
        ip_address_types(&cf, &id).await,
        vec![(ORIGIN_ID.to_string(), None)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_and_config_calls_are_rewritten_and_an_s3_origin_is_left_alone() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let cf = client(&proxy).await;
    let spec = DistributionSpec {
        s3_failover: Some("shapes-failover.s3.amazonaws.com".into()),
        ..DistributionSpec::https_origin("v6.shapes.test", 443)
    };
    let id = create_distribution(&cf, &spec).await;
    let ipv6_for_the_custom_origin =
        |xml: &str| cloudfront_xml::with_ip_address_type(xml, Some(ORIGIN_ID), "ipv6");
    proxy.rewrite(
        "cloudfront",
        "ListDistributions",
        ipv6_for_the_custom_origin,
    );
    proxy.rewrite(
        "cloudfront",
        "GetDistributionConfig",
        cloudfront_xml::dualstack_origins,
    );

    let listed = cf
        .list_distributions()
        .send()
        .await
        .expect("ListDistributions");
    let summary = listed
        .distribution_list()
        .unwrap()
        .items()
        .iter()
        .find(|d| d.id() == id)
        .expect("the distribution is listed");
    let types: Vec<(&str, Option<&IpAddressType>)> = summary
        .origins()
        .unwrap()
        .items()
        .iter()
        .map(|o| {
            (
                o.id(),
                o.custom_origin_config().and_then(|c| c.ip_address_type()),
            )
        })
        .collect();
    assert_eq!(
        types,
        vec![
            (ORIGIN_ID, Some(&IpAddressType::Ipv6)),
            (S3_ORIGIN_ID, None)
        ]
    );

    let config = cf
        .get_distribution_config()
        .id(&id)
        .send()
        .await
        .expect("GetDistributionConfig");
    let origins = config
        .distribution_config()
        .unwrap()
        .origins()
        .unwrap()
        .items();
    assert_eq!(
        origins[0].custom_origin_config().unwrap().ip_address_type(),
        Some(&IpAddressType::DualStack)
    );
    assert!(origins[1].custom_origin_config().is_none(), "the S3 origin");
}

#[tokio::test(flavor = "multi_thread")]
async fn get_cache_policy_answered_by_the_proxy_parses_with_host_in_the_key_or_not() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let cf = client(&proxy).await;
    for host_in_cache_key in [true, false] {
        proxy.inject(Fault::on(
            "cloudfront",
            "GetCachePolicy",
            1,
            cloudfront_xml::answer(cloudfront_xml::cache_policy(
                CUSTOM_CACHE_POLICY,
                host_in_cache_key,
            )),
        ));
        let out = cf
            .get_cache_policy()
            .id(CUSTOM_CACHE_POLICY)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "GetCachePolicy: {}",
                    aws_sdk_cloudfront::error::DisplayErrorContext(&e)
                )
            });
        assert_eq!(out.e_tag(), Some("E2TESTKITPOLICY"));
        let policy = out.cache_policy().expect("a CachePolicy");
        assert_eq!(policy.id(), CUSTOM_CACHE_POLICY);
        let config = policy.cache_policy_config().unwrap();
        assert_eq!(config.min_ttl(), 1);
        let parameters = config
            .parameters_in_cache_key_and_forwarded_to_origin()
            .unwrap();
        assert!(parameters.enable_accept_encoding_gzip());
        let headers = parameters.headers_config().unwrap();
        let names: Vec<&str> = headers
            .headers()
            .map(|h| h.items().iter().map(String::as_str).collect())
            .unwrap_or_default();
        if host_in_cache_key {
            assert_eq!(
                headers.header_behavior(),
                &CachePolicyHeaderBehavior::Whitelist
            );
            assert_eq!(names, vec!["Host"]);
            assert_eq!(headers.headers().unwrap().quantity(), 1);
        } else {
            assert_eq!(headers.header_behavior(), &CachePolicyHeaderBehavior::None);
            assert!(names.is_empty(), "{names:?}");
        }
    }
    assert_eq!(proxy.count("cloudfront", "GetCachePolicy"), 2);
    assert_eq!(proxy.faults_left(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn get_origin_request_policy_answered_by_the_proxy_parses() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let cf = client(&proxy).await;
    proxy.inject(Fault::on(
        "cloudfront",
        "GetOriginRequestPolicy",
        1,
        cloudfront_xml::answer(cloudfront_xml::origin_request_policy(
            CUSTOM_REQUEST_POLICY,
            "whitelist",
            &["Host", "CloudFront-Viewer-Country"],
        )),
    ));
    let out = cf
        .get_origin_request_policy()
        .id(CUSTOM_REQUEST_POLICY)
        .send()
        .await
        .expect("GetOriginRequestPolicy");
    let config = out
        .origin_request_policy()
        .unwrap()
        .origin_request_policy_config()
        .unwrap();
    let headers = config.headers_config().unwrap();
    assert_eq!(
        headers.header_behavior(),
        &OriginRequestPolicyHeaderBehavior::Whitelist
    );
    assert_eq!(
        headers.headers().unwrap().items(),
        &["Host".to_string(), "CloudFront-Viewer-Country".to_string()]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn moto_stores_wildcard_aliases_cache_policies_and_mixed_behaviours() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let cf = client(&proxy).await;
    let spec = DistributionSpec {
        aliases: vec!["*.shop.example".into(), "shop.example".into()],
        cache_policy_id: Some(CUSTOM_CACHE_POLICY.into()),
        s3_failover: Some("shop-static.s3.amazonaws.com".into()),
        behaviors: vec![
            BehaviorSpec {
                origin_request_policy_id: Some(MANAGED_ALL_VIEWER.into()),
                ..BehaviorSpec::new("/api/*")
            },
            BehaviorSpec::legacy("/legacy/*", &["Host", "Accept"]),
            BehaviorSpec {
                target_origin_id: S3_ORIGIN_ID.into(),
                ..BehaviorSpec::new("/static/*")
            },
        ],
        ..DistributionSpec::https_origin("origin.shop.example", 443)
    };
    let id = create_distribution(&cf, &spec).await;
    let out = cf
        .get_distribution()
        .id(&id)
        .send()
        .await
        .expect("GetDistribution");
    let config = out.distribution().unwrap().distribution_config().unwrap();

    assert_eq!(
        config.aliases().unwrap().items(),
        &["*.shop.example".to_string(), "shop.example".to_string()]
    );
    let default = config.default_cache_behavior().unwrap();
    assert_eq!(default.cache_policy_id(), Some(CUSTOM_CACHE_POLICY));
    assert_eq!(default.target_origin_id(), ORIGIN_ID);

    assert_eq!(default.origin_request_policy_id(), None);
    // moto 5.2.5 writes an id a behaviour does not have as an empty element, which the SDK reads
    // as Some(""): code under test must take an empty id for none.
    let behaviors = config.cache_behaviors().expect("CacheBehaviors").items();
    let seen: Vec<(&str, &str, Option<&str>, Option<&str>)> = behaviors
        .iter()
        .map(|b| {
            (
                b.path_pattern(),
                b.target_origin_id(),
                b.cache_policy_id(),
                b.origin_request_policy_id(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "/api/*",
                ORIGIN_ID,
                Some(cf_doctor_testkit::aws::CACHING_OPTIMIZED_POLICY_ID),
                Some(MANAGED_ALL_VIEWER)
            ),
            ("/legacy/*", ORIGIN_ID, Some(""), Some("")),
            (
                "/static/*",
                S3_ORIGIN_ID,
                Some(cf_doctor_testkit::aws::CACHING_OPTIMIZED_POLICY_ID),
                Some("")
            ),
        ]
    );
    #[allow(deprecated)] // ForwardedValues: what a legacy behaviour has
    let legacy_headers = behaviors[1]
        .forwarded_values()
        .and_then(|f| f.headers())
        .map(|h| h.items().to_vec());
    assert_eq!(
        legacy_headers,
        Some(vec!["Host".to_string(), "Accept".to_string()])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_default_behaviour_forwards_its_headers() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let cf = client(&proxy).await;
    let spec = DistributionSpec {
        cache_policy_id: None,
        forwarded_headers: vec!["Host".into()],
        ..DistributionSpec::https_origin("legacy.shop.example", 443)
    };
    let id = create_distribution(&cf, &spec).await;
    let out = cf
        .get_distribution()
        .id(&id)
        .send()
        .await
        .expect("GetDistribution");
    let default = out
        .distribution()
        .unwrap()
        .distribution_config()
        .unwrap()
        .default_cache_behavior()
        .unwrap();
    // moto's empty element for "no cache policy" (see above).
    assert_eq!(default.cache_policy_id(), Some(""));
    #[allow(deprecated)]
    let headers = default
        .forwarded_values()
        .and_then(|f| f.headers())
        .map(|h| h.items().to_vec());
    assert_eq!(headers, Some(vec!["Host".to_string()]));
}

#[test]
#[should_panic(expected = "need cache_policy_id: None")]
fn legacy_headers_next_to_a_cache_policy_are_refused_as_cloudfront_would() {
    let spec = DistributionSpec {
        forwarded_headers: vec!["Host".into()],
        ..DistributionSpec::https_origin("both.shop.example", 443)
    };
    // Never reaches moto: building the config panics.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cf = aws_sdk_cloudfront::Client::new(&sdk_config("http://127.0.0.1:9").await);
        create_distribution(&cf, &spec).await
    });
}
