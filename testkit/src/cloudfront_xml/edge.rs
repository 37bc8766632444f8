//! Owns the CloudFront XML of the edge's own code and the newer origins, which moto 5.2.5 drops
//! or does not serve: function associations on a cache behaviour (moto answers every behaviour
//! with `<LambdaFunctionAssociations><Quantity>0</Quantity>...` whatever was sent),
//! `OriginMtlsConfig` and `VpcOriginConfig` on an origin, and the GetVpcOrigin and
//! DescribeFunction (LIVE stage) answers.
//!
//! Element order is the API model's, as aws-sdk-cloudfront serialises it:
//! LambdaFunctionAssociation is LambdaFunctionARN, EventType, IncludeBody; FunctionAssociation is
//! FunctionARN, EventType; both lists are Quantity, then Items. In an Origin, VpcOriginConfig
//! (VpcOriginId, OwnerAccountId, OriginReadTimeout, OriginKeepaliveTimeout) stands where
//! CustomOriginConfig would, which a VPC origin does not have; OriginMtlsConfig
//! (ClientCertificateArn) is the last element of CustomOriginConfig.
//! (<https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_GetVpcOrigin.html>,
//! <https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_DescribeFunction.html>)

use super::{LAST_MODIFIED, XMLNS};

/// `f` applied to the part of `xml` that describes distribution `id`: its `<DistributionSummary>`
/// in a ListDistributions body, or the whole GetDistribution body when it is that distribution;
/// every other part unchanged.
pub fn for_distribution(xml: &str, id: &str, f: impl Fn(&str) -> String) -> String {
    let id_element = format!("<Id>{id}</Id>");
    if !xml.contains("<DistributionSummary>") {
        // GetDistribution: the distribution's own Id comes first.
        return match xml.find("<Id>") {
            Some(at) if xml[at..].starts_with(&id_element) => f(xml),
            _ => xml.to_string(),
        };
    }
    each_element(xml, "DistributionSummary", |summary| {
        let own_id = summary
            .find("<Id>")
            .is_some_and(|at| summary[at..].starts_with(&id_element));
        if own_id {
            f(summary)
        } else {
            summary.to_string()
        }
    })
}

/// `f` applied to every `<NAME>...</NAME>` element of `xml` (not nested in one another).
fn each_element(xml: &str, name: &str, f: impl Fn(&str) -> String) -> String {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = String::with_capacity(xml.len() + 256);
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let Some(len) = rest[start..].find(&close) else {
            break;
        };
        let end = start + len + close.len();
        out.push_str(&rest[..start]);
        out.push_str(&f(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `xml` with the element `<NAME>...</NAME>` (or `<NAME/>`) replaced by `element`, the first
/// time it occurs; unchanged when it does not.
fn replace_element(xml: &str, name: &str, element: &str) -> String {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    if let Some(start) = xml.find(&open) {
        if let Some(len) = xml[start..].find(&close) {
            let end = start + len + close.len();
            return format!("{}{element}{}", &xml[..start], &xml[end..]);
        }
    }
    xml.to_string()
}

/// `f` applied to the cache behaviour with this path pattern (`None`: the default one).
fn in_behaviour(xml: &str, path_pattern: Option<&str>, f: impl Fn(&str) -> String) -> String {
    match path_pattern {
        None => each_element(xml, "DefaultCacheBehavior", f),
        Some(pattern) => {
            let wanted = format!("<PathPattern>{pattern}</PathPattern>");
            each_element(xml, "CacheBehavior", |b| {
                if b.contains(&wanted) {
                    f(b)
                } else {
                    b.to_string()
                }
            })
        }
    }
}

/// One Lambda@Edge association: the versioned function ARN, the event type (`viewer-request`,
/// `origin-request`, `origin-response`, `viewer-response`) and whether the body is included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaAssociation {
    pub arn: String,
    pub event_type: String,
    pub include_body: bool,
}

/// `xml` with these Lambda@Edge associations on the behaviour with `path_pattern` (`None`: the
/// default one), replacing the empty list moto answers with.
pub fn with_lambda_associations(
    xml: &str,
    path_pattern: Option<&str>,
    associations: &[LambdaAssociation],
) -> String {
    let items: String = associations
        .iter()
        .map(|a| {
            format!(
                "<LambdaFunctionAssociation><LambdaFunctionARN>{}</LambdaFunctionARN><EventType>{}</EventType><IncludeBody>{}</IncludeBody></LambdaFunctionAssociation>",
                a.arn, a.event_type, a.include_body
            )
        })
        .collect();
    let element = format!(
        "<LambdaFunctionAssociations><Quantity>{}</Quantity><Items>{items}</Items></LambdaFunctionAssociations>",
        associations.len()
    );
    in_behaviour(xml, path_pattern, |b| {
        replace_element(b, "LambdaFunctionAssociations", &element)
    })
}

/// `xml` with these CloudFront Function associations (ARN, event type) on the behaviour with
/// `path_pattern` (`None`: the default one).
pub fn with_function_associations(
    xml: &str,
    path_pattern: Option<&str>,
    associations: &[(&str, &str)],
) -> String {
    let items: String = associations
        .iter()
        .map(|(arn, event_type)| {
            format!("<FunctionAssociation><FunctionARN>{arn}</FunctionARN><EventType>{event_type}</EventType></FunctionAssociation>")
        })
        .collect();
    let element = format!(
        "<FunctionAssociations><Quantity>{}</Quantity><Items>{items}</Items></FunctionAssociations>",
        associations.len()
    );
    in_behaviour(xml, path_pattern, |b| {
        replace_element(b, "FunctionAssociations", &element)
    })
}

/// `f` applied to the `<Origin>` whose Id is `origin_id`.
fn in_origin(xml: &str, origin_id: &str, f: impl Fn(&str) -> String) -> String {
    let wanted = format!("<Id>{origin_id}</Id>");
    each_element(xml, "Origin", |o| {
        if o.contains(&wanted) {
            f(o)
        } else {
            o.to_string()
        }
    })
}

/// `xml` with `<OriginMtlsConfig>` naming `client_certificate_arn` as the last element of the
/// CustomOriginConfig of origin `origin_id`.
pub fn with_origin_mtls(xml: &str, origin_id: &str, client_certificate_arn: &str) -> String {
    let element = format!(
        "<OriginMtlsConfig><ClientCertificateArn>{client_certificate_arn}</ClientCertificateArn></OriginMtlsConfig>"
    );
    in_origin(xml, origin_id, |o| {
        o.replacen(
            "</CustomOriginConfig>",
            &format!("{element}</CustomOriginConfig>"),
            1,
        )
    })
}

/// `xml` with origin `origin_id` turned into a VPC origin: its CustomOriginConfig replaced by
/// `<VpcOriginConfig>` naming `vpc_origin_id` (read timeout 30 s, keep-alive 5 s).
pub fn with_vpc_origin(xml: &str, origin_id: &str, vpc_origin_id: &str) -> String {
    let element = format!(
        "<VpcOriginConfig><VpcOriginId>{vpc_origin_id}</VpcOriginId><OriginReadTimeout>30</OriginReadTimeout><OriginKeepaliveTimeout>5</OriginKeepaliveTimeout></VpcOriginConfig>"
    );
    in_origin(xml, origin_id, |o| {
        replace_element(o, "CustomOriginConfig", &element)
    })
}

/// A VPC origin as GetVpcOrigin describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcOriginSpec {
    pub id: String,
    /// `Deployed`, `Deploying`, `Failed`, ...
    pub status: String,
    /// The load balancer (or EC2 instance) ARN it fronts.
    pub endpoint_arn: String,
    pub name: String,
    pub http_port: u16,
    pub https_port: u16,
    /// `http-only`, `https-only` or `match-viewer`.
    pub protocol_policy: String,
}

impl VpcOriginSpec {
    /// A deployed VPC origin in front of `endpoint_arn`, HTTPS on `https_port`, TLSv1.2.
    pub fn deployed(id: &str, endpoint_arn: &str, https_port: u16) -> VpcOriginSpec {
        VpcOriginSpec {
            id: id.to_string(),
            status: "Deployed".to_string(),
            endpoint_arn: endpoint_arn.to_string(),
            name: format!("{id}-endpoint"),
            http_port: 80,
            https_port,
            protocol_policy: "https-only".to_string(),
        }
    }
}

/// GetVpcOrigin's body for `spec`, to answer with [`super::answer`].
pub fn vpc_origin(spec: &VpcOriginSpec) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<VpcOrigin xmlns="{XMLNS}">
  <Id>{id}</Id>
  <Arn>arn:aws:cloudfront::123456789012:vpcorigin/{id}</Arn>
  <Status>{status}</Status>
  <CreatedTime>{LAST_MODIFIED}</CreatedTime>
  <LastModifiedTime>{LAST_MODIFIED}</LastModifiedTime>
  <VpcOriginEndpointConfig>
    <Name>{name}</Name>
    <Arn>{arn}</Arn>
    <HTTPPort>{http}</HTTPPort>
    <HTTPSPort>{https}</HTTPSPort>
    <OriginProtocolPolicy>{policy}</OriginProtocolPolicy>
    <OriginSslProtocols><Quantity>1</Quantity><Items><SslProtocol>TLSv1.2</SslProtocol></Items></OriginSslProtocols>
  </VpcOriginEndpointConfig>
</VpcOrigin>"#,
        id = spec.id,
        status = spec.status,
        name = spec.name,
        arn = spec.endpoint_arn,
        http = spec.http_port,
        https = spec.https_port,
        policy = spec.protocol_policy,
    )
}

/// `xml` (a DescribeFunction body) as CloudFront describes a function published to LIVE and
/// associated with a distribution: moto serves only the DEVELOPMENT stage, UNPUBLISHED, and does
/// not serve PublishFunction.
pub fn published(xml: &str) -> String {
    replace_element(
        &replace_element(xml, "Stage", "<Stage>LIVE</Stage>"),
        "Status",
        "<Status>DEPLOYED</Status>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEHAVIOURS: &str = "<DefaultCacheBehavior><TargetOriginId>web</TargetOriginId><Compress>true</Compress><LambdaFunctionAssociations><Quantity>0</Quantity></LambdaFunctionAssociations><FunctionAssociations><Quantity>0</Quantity></FunctionAssociations><FieldLevelEncryptionId></FieldLevelEncryptionId></DefaultCacheBehavior><CacheBehaviors><Quantity>1</Quantity><Items><CacheBehavior><PathPattern>/api/*</PathPattern><TargetOriginId>web</TargetOriginId><LambdaFunctionAssociations><Quantity>0</Quantity></LambdaFunctionAssociations><FunctionAssociations><Quantity>0</Quantity></FunctionAssociations></CacheBehavior></Items></CacheBehaviors>";

    #[test]
    fn associations_replace_moto_s_empty_list_on_the_named_behaviour_only() {
        let out = with_lambda_associations(
            BEHAVIOURS,
            Some("/api/*"),
            &[LambdaAssociation {
                arn: "arn:aws:lambda:us-east-1:123456789012:function:f:3".into(),
                event_type: "origin-request".into(),
                include_body: true,
            }],
        );
        assert!(out.contains("<PathPattern>/api/*</PathPattern><TargetOriginId>web</TargetOriginId><LambdaFunctionAssociations><Quantity>1</Quantity><Items><LambdaFunctionAssociation><LambdaFunctionARN>arn:aws:lambda:us-east-1:123456789012:function:f:3</LambdaFunctionARN><EventType>origin-request</EventType><IncludeBody>true</IncludeBody></LambdaFunctionAssociation></Items></LambdaFunctionAssociations>"), "{out}");
        assert!(out.starts_with("<DefaultCacheBehavior><TargetOriginId>web</TargetOriginId><Compress>true</Compress><LambdaFunctionAssociations><Quantity>0</Quantity>"), "{out}");
        let out = with_function_associations(
            BEHAVIOURS,
            None,
            &[(
                "arn:aws:cloudfront::123456789012:function/rewrite",
                "viewer-request",
            )],
        );
        assert!(out.contains("<FunctionAssociations><Quantity>1</Quantity><Items><FunctionAssociation><FunctionARN>arn:aws:cloudfront::123456789012:function/rewrite</FunctionARN><EventType>viewer-request</EventType></FunctionAssociation></Items></FunctionAssociations><FieldLevelEncryptionId>"), "{out}");
        assert_eq!(
            out.matches("<Quantity>1</Quantity><Items><FunctionAssociation>")
                .count(),
            1
        );
    }

    #[test]
    fn only_the_named_distribution_of_a_list_changes() {
        let list = "<DistributionList><Items><DistributionSummary><Id>E1</Id><DefaultCacheBehavior><LambdaFunctionAssociations><Quantity>0</Quantity></LambdaFunctionAssociations></DefaultCacheBehavior></DistributionSummary><DistributionSummary><Id>E2</Id><DefaultCacheBehavior><LambdaFunctionAssociations><Quantity>0</Quantity></LambdaFunctionAssociations></DefaultCacheBehavior></DistributionSummary></Items></DistributionList>";
        let lambda = [LambdaAssociation {
            arn: "a:1".into(),
            event_type: "viewer-request".into(),
            include_body: false,
        }];
        let out = for_distribution(list, "E2", |x| with_lambda_associations(x, None, &lambda));
        assert_eq!(out.matches("<Quantity>1</Quantity>").count(), 1);
        assert!(out.find("<Quantity>1</Quantity>") > out.find("<Id>E2</Id>"));
        let single = "<Distribution><Id>E1</Id><DefaultCacheBehavior><LambdaFunctionAssociations><Quantity>0</Quantity></LambdaFunctionAssociations></DefaultCacheBehavior></Distribution>";
        assert_eq!(
            for_distribution(single, "E2", |x| with_lambda_associations(x, None, &lambda)),
            single
        );
        assert!(
            for_distribution(single, "E1", |x| with_lambda_associations(x, None, &lambda))
                .contains("<Quantity>1</Quantity>")
        );
    }

    #[test]
    fn a_vpc_origin_stands_where_the_custom_origin_config_was_and_mtls_goes_last_in_it() {
        let origin = "<Origin><Id>web</Id><DomainName>a.example</DomainName><CustomOriginConfig><HTTPPort>80</HTTPPort><OriginKeepaliveTimeout>5</OriginKeepaliveTimeout></CustomOriginConfig><ConnectionAttempts>3</ConnectionAttempts></Origin>";
        let vpc = with_vpc_origin(origin, "web", "vo_1");
        assert_eq!(vpc, "<Origin><Id>web</Id><DomainName>a.example</DomainName><VpcOriginConfig><VpcOriginId>vo_1</VpcOriginId><OriginReadTimeout>30</OriginReadTimeout><OriginKeepaliveTimeout>5</OriginKeepaliveTimeout></VpcOriginConfig><ConnectionAttempts>3</ConnectionAttempts></Origin>");
        assert_eq!(with_vpc_origin(origin, "other", "vo_1"), origin);
        let mtls = with_origin_mtls(origin, "web", "arn:cert");
        assert!(mtls.contains("<OriginKeepaliveTimeout>5</OriginKeepaliveTimeout><OriginMtlsConfig><ClientCertificateArn>arn:cert</ClientCertificateArn></OriginMtlsConfig></CustomOriginConfig>"), "{mtls}");
    }

    #[test]
    fn a_published_function_is_live_and_deployed() {
        let moto = "<FunctionSummary><Name>f</Name><Status>UNPUBLISHED</Status><FunctionMetadata><Stage>DEVELOPMENT</Stage></FunctionMetadata></FunctionSummary>";
        assert_eq!(published(moto), "<FunctionSummary><Name>f</Name><Status>DEPLOYED</Status><FunctionMetadata><Stage>LIVE</Stage></FunctionMetadata></FunctionSummary>");
    }
}
