//! The account's DNS in moto, through the real SDK: a public hosted zone and the records a team
//! points an origin name with (an ALIAS to a load balancer, a CNAME, A records holding Elastic
//! IPs). Nothing here answers DNS queries: these are the account's records, which cf-doctor reads
//! through the Route53 API (the testkit's DNS server is for what public DNS answers).

use std::net::IpAddr;

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

/// What a record points at.
pub enum Target {
    /// An ALIAS to an AWS resource (or another record of the account): its DNS name and the
    /// hosted zone AWS gives it (a load balancer's CanonicalHostedZoneId).
    Alias {
        dns_name: String,
        hosted_zone_id: String,
    },
    Cname(String),
    /// A (or AAAA) records with these values.
    Addresses(Vec<IpAddr>),
}

/// A public hosted zone named `name`; returns its id without the `/hostedzone/` prefix.
pub async fn hosted_zone(sdk: &aws_config::SdkConfig, name: &str) -> String {
    let route53 = aws_sdk_route53::Client::new(sdk);
    let zone = route53
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("cf-doctor-test-{name}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create hosted zone {name}: {e:?}"));
    zone.hosted_zone()
        .expect("CreateHostedZone names the zone")
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string()
}

/// Creates `name`'s record in `zone`: an A ALIAS, a CNAME, or A/AAAA values.
pub async fn record(sdk: &aws_config::SdkConfig, zone: &str, name: &str, target: Target) {
    let sets: Vec<ResourceRecordSet> = match target {
        Target::Alias {
            dns_name,
            hosted_zone_id,
        } => vec![alias_set(name, &dns_name, &hosted_zone_id)
            .build()
            .expect("a record set has a name and a type")],
        Target::Cname(value) => vec![ResourceRecordSet::builder()
            .name(name)
            .r#type(RrType::Cname)
            .ttl(300)
            .resource_records(ResourceRecord::builder().value(value).build().unwrap())
            .build()
            .unwrap()],
        Target::Addresses(addresses) => {
            let (v4, v6): (Vec<IpAddr>, Vec<IpAddr>) =
                addresses.into_iter().partition(IpAddr::is_ipv4);
            [(RrType::A, v4), (RrType::Aaaa, v6)]
                .into_iter()
                .filter(|(_, values)| !values.is_empty())
                .map(|(kind, values)| {
                    values
                        .iter()
                        .fold(
                            ResourceRecordSet::builder().name(name).r#type(kind).ttl(60),
                            |set, ip| {
                                set.resource_records(
                                    ResourceRecord::builder()
                                        .value(ip.to_string())
                                        .build()
                                        .unwrap(),
                                )
                            },
                        )
                        .build()
                        .unwrap()
                })
                .collect()
        }
    };
    create(sdk, zone, sets).await;
}

/// An ALIAS record set of `name` to `dns_name` (in AWS's hosted zone `hosted_zone_id`), to build
/// once routing policies are added: a set identifier and a failover role or a weight.
pub fn alias_set(
    name: &str,
    dns_name: &str,
    hosted_zone_id: &str,
) -> aws_sdk_route53::types::builders::ResourceRecordSetBuilder {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::A)
        .alias_target(
            AliasTarget::builder()
                .dns_name(dns_name)
                .hosted_zone_id(hosted_zone_id)
                .evaluate_target_health(true)
                .build()
                .expect("an alias target has its three fields"),
        )
}

/// Creates these record sets in `zone`, in one change.
pub async fn create(sdk: &aws_config::SdkConfig, zone: &str, sets: Vec<ResourceRecordSet>) {
    let route53 = aws_sdk_route53::Client::new(sdk);
    let changes = sets.into_iter().fold(ChangeBatch::builder(), |batch, set| {
        batch.changes(
            Change::builder()
                .action(ChangeAction::Create)
                .resource_record_set(set)
                .build()
                .unwrap(),
        )
    });
    route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(changes.build().unwrap())
        .send()
        .await
        .unwrap_or_else(|e| panic!("create record sets in {zone}: {e:?}"));
}
