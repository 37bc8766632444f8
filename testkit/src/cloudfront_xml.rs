//! Owns the CloudFront XML that moto 5.2.5 cannot produce, for the proxy to answer or splice in:
//! GetCachePolicy and GetOriginRequestPolicy answers (moto stores the policy ids on a
//! distribution but serves neither call), and `IpAddressType` inside `CustomOriginConfig` (moto
//! drops it, as it drops OriginMtlsConfig and VpcOriginConfig, when it stores a distribution).
//! Function associations, origin mTLS, VPC origins and the GetVpcOrigin / DescribeFunction
//! answers are in `edge`.
//!
//! Element names and order follow the CloudFront API model (2020-05-31), as the SDK's own
//! serializers in aws-sdk-cloudfront write them: e.g. `CustomOriginConfig` is HTTPPort,
//! HTTPSPort, OriginProtocolPolicy, OriginSslProtocols, OriginReadTimeout,
//! OriginKeepaliveTimeout, IpAddressType, OriginMtlsConfig
//! (<https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CustomOriginConfig.html>).

mod edge;
mod logs;

pub use edge::{
    for_distribution, published, vpc_origin, with_function_associations, with_lambda_associations,
    with_origin_mtls, with_vpc_origin, LambdaAssociation, VpcOriginSpec,
};
pub use logs::{
    monitoring_subscription, no_monitoring_subscription, realtime_log_config,
    realtime_log_config_arn,
};

use crate::proxy::FaultKind;

const XMLNS: &str = "http://cloudfront.amazonaws.com/doc/2020-05-31/";
const LAST_MODIFIED: &str = "2026-11-01T00:00:00Z";

/// A 200 answer with `body` and an ETag, as CloudFront sends for Get*Policy, to inject with
/// `Fault::on("cloudfront", "GetCachePolicy", n, answer(body))`.
pub fn answer(body: String) -> FaultKind {
    FaultKind::Status {
        status: 200,
        body,
        headers: vec![
            ("Content-Type".into(), "text/xml".into()),
            ("ETag".into(), "E2TESTKITPOLICY".into()),
        ],
    }
}

/// `<Headers>` of a policy's HeadersConfig: a Quantity, and Items only when there are some.
fn header_names(headers: &[&str]) -> String {
    if headers.is_empty() {
        return "<Headers><Quantity>0</Quantity></Headers>".to_string();
    }
    let items: String = headers
        .iter()
        .map(|h| format!("<Name>{h}</Name>"))
        .collect();
    format!(
        "<Headers><Quantity>{}</Quantity><Items>{items}</Items></Headers>",
        headers.len()
    )
}

/// GetCachePolicy's body for a custom cache policy `id` whose cache key includes the Host
/// header (HeaderBehavior `whitelist`, Headers: Host) or no header at all (`none`). Headers in
/// a cache policy's key are also forwarded to the origin, so Host in the key means the origin
/// sees the viewer's Host (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/controlling-the-cache-key.html>).
pub fn cache_policy(id: &str, host_in_cache_key: bool) -> String {
    if host_in_cache_key {
        cache_policy_with_headers(id, "whitelist", &["Host"])
    } else {
        cache_policy_with_headers(id, "none", &[])
    }
}

/// GetCachePolicy's body for a custom cache policy `id` with this HeaderBehavior (`none` or
/// `whitelist`) and header names; no cookies or query strings in the key.
pub fn cache_policy_with_headers(id: &str, header_behavior: &str, headers: &[&str]) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<CachePolicy xmlns="{XMLNS}">
  <Id>{id}</Id>
  <LastModifiedTime>{LAST_MODIFIED}</LastModifiedTime>
  <CachePolicyConfig>
    <Comment>cf-doctor testkit cache policy</Comment>
    <Name>testkit-cache-policy</Name>
    <DefaultTTL>86400</DefaultTTL>
    <MaxTTL>31536000</MaxTTL>
    <MinTTL>1</MinTTL>
    <ParametersInCacheKeyAndForwardedToOrigin>
      <EnableAcceptEncodingGzip>true</EnableAcceptEncodingGzip>
      <EnableAcceptEncodingBrotli>true</EnableAcceptEncodingBrotli>
      <HeadersConfig>
        <HeaderBehavior>{header_behavior}</HeaderBehavior>
        {}
      </HeadersConfig>
      <CookiesConfig><CookieBehavior>none</CookieBehavior></CookiesConfig>
      <QueryStringsConfig><QueryStringBehavior>none</QueryStringBehavior></QueryStringsConfig>
    </ParametersInCacheKeyAndForwardedToOrigin>
  </CachePolicyConfig>
</CachePolicy>"#,
        header_names(headers)
    )
}

/// GetOriginRequestPolicy's body for a custom origin request policy `id` with this
/// HeaderBehavior (`none`, `whitelist`, `allViewer`, `allViewerAndWhitelistCloudFront`,
/// `allExcept`) and header names; no cookies or query strings.
pub fn origin_request_policy(id: &str, header_behavior: &str, headers: &[&str]) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<OriginRequestPolicy xmlns="{XMLNS}">
  <Id>{id}</Id>
  <LastModifiedTime>{LAST_MODIFIED}</LastModifiedTime>
  <OriginRequestPolicyConfig>
    <Comment>cf-doctor testkit origin request policy</Comment>
    <Name>testkit-origin-request-policy</Name>
    <HeadersConfig>
      <HeaderBehavior>{header_behavior}</HeaderBehavior>
      {}
    </HeadersConfig>
    <CookiesConfig><CookieBehavior>none</CookieBehavior></CookiesConfig>
    <QueryStringsConfig><QueryStringBehavior>none</QueryStringBehavior></QueryStringsConfig>
  </OriginRequestPolicyConfig>
</OriginRequestPolicy>"#,
        header_names(headers)
    )
}

/// `xml` (a GetDistribution, GetDistributionConfig or ListDistributions body) with
/// `<IpAddressType>dualstack</IpAddressType>` in every CustomOriginConfig.
pub fn dualstack_origins(xml: &str) -> String {
    with_ip_address_type(xml, None, "dualstack")
}

/// `xml` with `<IpAddressType>{ip_address_type}</IpAddressType>` (`ipv4`, `ipv6` or
/// `dualstack`) in the CustomOriginConfig of the origin whose Id is `origin_id`, or of every
/// origin when `None`. An IpAddressType already there is replaced; otherwise it goes where
/// CloudFront has it: before OriginMtlsConfig when there is one, else last.
pub fn with_ip_address_type(xml: &str, origin_id: Option<&str>, ip_address_type: &str) -> String {
    let element = format!("<IpAddressType>{ip_address_type}</IpAddressType>");
    let mut out = String::with_capacity(xml.len() + 64);
    let mut rest = xml;
    while let Some(start) = rest.find("<Origin>") {
        let Some(len) = rest[start..].find("</Origin>") else {
            break;
        };
        let end = start + len + "</Origin>".len();
        out.push_str(&rest[..start]);
        let origin = &rest[start..end];
        let wanted = origin_id.is_none_or(|id| origin.contains(&format!("<Id>{id}</Id>")));
        if wanted {
            out.push_str(&set_in_custom_origin_config(origin, &element));
        } else {
            out.push_str(origin);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// One `<Origin>...</Origin>` with `element` set in its CustomOriginConfig (unchanged when it
/// has none: an S3 origin).
fn set_in_custom_origin_config(origin: &str, element: &str) -> String {
    const CLOSE: &str = "</CustomOriginConfig>";
    let Some(close) = origin.find(CLOSE) else {
        return origin.to_string();
    };
    if let (Some(from), Some(to)) = (
        origin.find("<IpAddressType>"),
        origin.find("</IpAddressType>"),
    ) {
        let to = to + "</IpAddressType>".len();
        return format!("{}{element}{}", &origin[..from], &origin[to..]);
    }
    let at = origin
        .find("<OriginMtlsConfig>")
        .filter(|&mtls| mtls < close)
        .unwrap_or(close);
    format!("{}{element}{}", &origin[..at], &origin[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_ORIGINS: &str = "<Origins><Quantity>2</Quantity><Items>\
        <Origin><Id>web</Id><DomainName>a.example</DomainName><CustomOriginConfig><HTTPPort>80</HTTPPort><OriginKeepaliveTimeout>5</OriginKeepaliveTimeout></CustomOriginConfig><OriginShield><Enabled>false</Enabled></OriginShield></Origin>\
        <Origin><Id>bucket</Id><DomainName>b.s3.amazonaws.com</DomainName><S3OriginConfig><OriginAccessIdentity></OriginAccessIdentity></S3OriginConfig></Origin>\
        </Items></Origins>";

    #[test]
    fn ip_address_type_goes_last_in_each_custom_origin_config_only() {
        let out = dualstack_origins(TWO_ORIGINS);
        assert!(out.contains("<OriginKeepaliveTimeout>5</OriginKeepaliveTimeout><IpAddressType>dualstack</IpAddressType></CustomOriginConfig>"), "{out}");
        assert_eq!(
            out.matches("<IpAddressType>").count(),
            1,
            "the S3 origin has no CustomOriginConfig: {out}"
        );
        assert_eq!(
            out.replace("<IpAddressType>dualstack</IpAddressType>", ""),
            TWO_ORIGINS
        );
    }

    #[test]
    fn an_existing_ip_address_type_is_replaced_and_mtls_config_stays_after_it() {
        let xml = "<Origin><Id>web</Id><CustomOriginConfig><OriginKeepaliveTimeout>5</OriginKeepaliveTimeout><IpAddressType>ipv4</IpAddressType></CustomOriginConfig></Origin>";
        assert_eq!(
            with_ip_address_type(xml, Some("web"), "ipv6"),
            xml.replace("ipv4", "ipv6")
        );
        let mtls = "<Origin><Id>web</Id><CustomOriginConfig><OriginKeepaliveTimeout>5</OriginKeepaliveTimeout><OriginMtlsConfig><ClientCertificateArn>arn</ClientCertificateArn></OriginMtlsConfig></CustomOriginConfig></Origin>";
        assert!(dualstack_origins(mtls)
            .contains("<IpAddressType>dualstack</IpAddressType><OriginMtlsConfig>"));
    }

    #[test]
    fn only_the_named_origin_changes() {
        assert_eq!(
            with_ip_address_type(TWO_ORIGINS, Some("other"), "ipv6"),
            TWO_ORIGINS
        );
        assert!(with_ip_address_type(TWO_ORIGINS, Some("web"), "ipv6")
            .contains("<IpAddressType>ipv6</IpAddressType>"));
    }
}
