//! Proves, with the real aws-sdk-cloudfront client against moto through the testkit proxy, the
//! CloudFront shapes issue 13's tests need: function associations on the default and a path
//! behaviour, OriginMtlsConfig and VpcOriginConfig (moto drops all three) spliced into
//! GetDistribution and, for one distribution only, ListDistributions; and the GetVpcOrigin and
//! published DescribeFunction answers, which moto does not serve.

use aws_sdk_cloudfront::types::{EventType, FunctionStage, OriginProtocolPolicy};
use cf_doctor_testkit::aws::ORIGIN_ID;
use cf_doctor_testkit::cloudfront_xml::{self, LambdaAssociation, VpcOriginSpec};
use cf_doctor_testkit::{
    aws_proxy, create_distribution, moto, sdk_config, AwsProxy, BehaviorSpec, DistributionSpec,
    Fault,
};

const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge-rewrite:7";
const FUNCTION: &str = "arn:aws:cloudfront::123456789012:function/url-rewrite";
const CLIENT_CERT: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555";

async fn client(proxy: &AwsProxy) -> aws_sdk_cloudfront::Client {
    aws_sdk_cloudfront::Client::new(&sdk_config(&proxy.endpoint).await)
}

/// Distribution `id`, for its associations and origins, as rewritten for the proxy's clients.
fn rewrite(proxy: &AwsProxy, id: &str, vpc: bool) {
    for operation in ["GetDistribution", "ListDistributions"] {
        let id = id.to_string();
        proxy.rewrite("cloudfront", operation, move |xml| {
            cloudfront_xml::for_distribution(xml, &id, |x| {
                let lambda = LambdaAssociation {
                    arn: LAMBDA.into(),
                    event_type: "origin-request".into(),
                    include_body: true,
                };
                let x = cloudfront_xml::with_lambda_associations(x, Some("/api/*"), &[lambda]);
                let x = cloudfront_xml::with_function_associations(
                    &x,
                    None,
                    &[(FUNCTION, "viewer-request")],
                );
                if vpc {
                    cloudfront_xml::with_vpc_origin(&x, ORIGIN_ID, "vo_TESTKIT1")
                } else {
                    cloudfront_xml::with_origin_mtls(&x, ORIGIN_ID, CLIENT_CERT)
                }
            })
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sdk_reads_the_associations_and_origin_settings_the_proxy_adds() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let cf = client(&proxy).await;
    let spec = DistributionSpec {
        behaviors: vec![BehaviorSpec::new("/api/*")],
        ..DistributionSpec::https_origin("shapes.origin.test", 443)
    };
    let id = create_distribution(&cf, &spec).await;
    let other = create_distribution(&cf, &spec).await;
    rewrite(&proxy, &id, false);

    let out = cf.get_distribution().id(&id).send().await.unwrap();
    let config = out.distribution().unwrap().distribution_config().unwrap();
    let default = config.default_cache_behavior().unwrap();
    let functions = default.function_associations().unwrap().items();
    assert_eq!(functions.len(), 1);
    assert_eq!(
        (functions[0].function_arn(), functions[0].event_type()),
        (FUNCTION, &EventType::ViewerRequest)
    );
    assert!(default
        .lambda_function_associations()
        .unwrap()
        .items()
        .is_empty());
    let api = &config.cache_behaviors().unwrap().items()[0];
    let lambda = &api.lambda_function_associations().unwrap().items()[0];
    assert_eq!(
        (
            lambda.lambda_function_arn(),
            lambda.event_type(),
            lambda.include_body()
        ),
        (LAMBDA, &EventType::OriginRequest, Some(true))
    );
    let origin = &config.origins().unwrap().items()[0];
    let mtls = origin
        .custom_origin_config()
        .unwrap()
        .origin_mtls_config()
        .unwrap();
    assert_eq!(mtls.client_certificate_arn(), CLIENT_CERT);

    // ListDistributions: the named distribution only.
    let list = cf.list_distributions().send().await.unwrap();
    let summaries = list.distribution_list().unwrap().items();
    let associated = |d: &str| {
        let s = summaries.iter().find(|s| s.id() == d).unwrap();
        s.default_cache_behavior()
            .unwrap()
            .function_associations()
            .unwrap()
            .items()
            .len()
    };
    assert_eq!((associated(&id), associated(&other)), (1, 0));
    assert_eq!(proxy.rewrites_applied("cloudfront", "ListDistributions"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vpc_origin_has_no_custom_origin_config_and_get_vpc_origin_is_answered() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let cf = client(&proxy).await;
    let id = create_distribution(
        &cf,
        &DistributionSpec::https_origin("internal-app-1.us-east-1.elb.amazonaws.com", 443),
    )
    .await;
    rewrite(&proxy, &id, true);
    let lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/internal-app/0123456789abcdef";
    let spec = VpcOriginSpec {
        status: "Deploying".into(),
        ..VpcOriginSpec::deployed("vo_TESTKIT1", lb, 8443)
    };
    proxy.inject(Fault::on(
        "cloudfront",
        "GetVpcOrigin",
        1,
        cloudfront_xml::answer(cloudfront_xml::vpc_origin(&spec)),
    ));

    let out = cf.get_distribution().id(&id).send().await.unwrap();
    let origin = &out
        .distribution()
        .unwrap()
        .distribution_config()
        .unwrap()
        .origins()
        .unwrap()
        .items()[0];
    assert!(origin.custom_origin_config().is_none());
    let vpc = origin.vpc_origin_config().unwrap();
    assert_eq!(
        (vpc.vpc_origin_id(), vpc.origin_read_timeout()),
        ("vo_TESTKIT1", Some(30))
    );

    let answer = cf.get_vpc_origin().id("vo_TESTKIT1").send().await.unwrap();
    let vo = answer.vpc_origin().unwrap();
    assert_eq!((vo.id(), vo.status()), ("vo_TESTKIT1", "Deploying"));
    let endpoint = vo.vpc_origin_endpoint_config().unwrap();
    assert_eq!(
        (
            endpoint.arn(),
            endpoint.https_port(),
            endpoint.origin_protocol_policy()
        ),
        (lb, 8443, &OriginProtocolPolicy::HttpsOnly)
    );
    assert_eq!(endpoint.origin_ssl_protocols().unwrap().items().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_moto_created_reads_as_published_to_live() {
    use aws_sdk_cloudfront::types::{FunctionConfig, FunctionRuntime};
    let proxy = aws_proxy(&moto().endpoint).await;
    let cf = client(&proxy).await;
    let name = format!("shapes-fn-{}", std::process::id());
    cf.create_function()
        .name(&name)
        .function_config(
            FunctionConfig::builder()
                .comment("c")
                .runtime(FunctionRuntime::CloudfrontJs20)
                .build()
                .unwrap(),
        )
        .function_code(aws_sdk_cloudfront::primitives::Blob::new(
            "function handler(e) { return e.request; }",
        ))
        .send()
        .await
        .unwrap();
    let describe = |cf: aws_sdk_cloudfront::Client, name: String| async move {
        let out = cf
            .describe_function()
            .name(name)
            .stage(FunctionStage::Live)
            .send()
            .await
            .unwrap();
        let summary = out.function_summary().unwrap().clone();
        (
            summary.status().map(str::to_string),
            summary.function_metadata().unwrap().stage().cloned(),
        )
    };
    // moto as it is: the DEVELOPMENT stage, unpublished, whatever stage was asked for.
    assert_eq!(
        describe(cf.clone(), name.clone()).await,
        (Some("UNPUBLISHED".into()), Some(FunctionStage::Development))
    );
    proxy.rewrite("cloudfront", "DescribeFunction", cloudfront_xml::published);
    assert_eq!(
        describe(cf, name).await,
        (Some("DEPLOYED".into()), Some(FunctionStage::Live))
    );
}
