//! Proves the testkit DNS server answers as a real one would, through hickory-resolver (the
//! resolver cf-doctor uses) and through raw UDP queries (for the exact RCODE and answer count):
//! A and AAAA records, CNAME chains followed for address queries, NODATA for a known name
//! without the asked type, NXDOMAIN for an unknown name.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use cf_doctor_testkit::{dns_server, dns_server_with, Record};
use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolverConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use tokio::net::UdpSocket;

const V6: Ipv6Addr = Ipv6Addr::LOCALHOST;

fn resolver(server: SocketAddr) -> TokioResolver {
    let mut udp = ConnectionConfig::udp();
    udp.port = server.port();
    let config = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
        server.ip(),
        true,
        vec![udp],
    )]);
    let mut builder =
        hickory_resolver::Resolver::builder_with_config(config, TokioRuntimeProvider::default());
    builder.options_mut().ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    builder
        .build()
        .expect("a resolver for the testkit's server")
}

/// The data of every answer record, in order (the CNAME chain first).
fn rdata(lookup: &hickory_resolver::lookup::Lookup) -> Vec<RData> {
    lookup.answers().iter().map(|r| r.data.clone()).collect()
}

fn records() -> Vec<(&'static str, Record)> {
    vec![
        ("dual.dns.test", Record::A(Ipv4Addr::LOCALHOST)),
        ("dual.dns.test", Record::Aaaa(V6)),
        ("v4only.dns.test", Record::A(Ipv4Addr::new(127, 0, 0, 2))),
        ("alias.dns.test", Record::Cname("dual.dns.test".into())),
        (
            "dangling.dns.test",
            Record::Cname("missing.dns.test".into()),
        ),
    ]
}

#[tokio::test]
async fn a_and_aaaa_records_resolve_and_a_cname_is_followed() {
    let dns = dns_server_with(&records()).await;
    let r = resolver(dns.addr);

    let mut dual: Vec<IpAddr> = r
        .lookup_ip("dual.dns.test.")
        .await
        .expect("dual.dns.test resolves")
        .iter()
        .collect();
    dual.sort();
    assert_eq!(dual, vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(V6)]);

    let aaaa = r
        .lookup("dual.dns.test.", RecordType::AAAA)
        .await
        .expect("AAAA");
    assert_eq!(rdata(&aaaa), vec![RData::AAAA(V6.into())]);

    // Through the alias: the CNAME, then the target's addresses.
    let via_alias = r
        .lookup("alias.dns.test.", RecordType::A)
        .await
        .expect("A via CNAME");
    let answers: Vec<String> = rdata(&via_alias).iter().map(|d| d.to_string()).collect();
    assert_eq!(answers, vec!["dual.dns.test.", "127.0.0.1"], "{answers:?}");

    // The CNAME itself, unchanged from the CNAME-only server.
    let cname = r
        .lookup("alias.dns.test.", RecordType::CNAME)
        .await
        .expect("CNAME");
    assert_eq!(
        rdata(&cname)
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>(),
        vec!["dual.dns.test."]
    );
}

#[tokio::test]
async fn a_known_name_without_the_type_is_nodata_and_an_unknown_name_is_nxdomain() {
    let dns = dns_server_with(&records()).await;
    let r = resolver(dns.addr);

    let nodata = r
        .lookup("v4only.dns.test.", RecordType::AAAA)
        .await
        .expect_err("no AAAA for v4only");
    assert!(
        nodata.is_no_records_found() && !nodata.is_nx_domain(),
        "NODATA expected, got {nodata:?}"
    );
    let only_v4: Vec<IpAddr> = r
        .lookup_ip("v4only.dns.test.")
        .await
        .expect("A")
        .iter()
        .collect();
    assert_eq!(only_v4, vec![IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))]);

    let nx = r
        .lookup("nobody.dns.test.", RecordType::A)
        .await
        .expect_err("unknown name");
    assert!(nx.is_nx_domain(), "NXDOMAIN expected, got {nx:?}");
}

/// A raw query for `name`/`qtype`; returns (RCODE, ANCOUNT).
async fn raw_query(server: SocketAddr, name: &str, qtype: u16) -> (u8, u16) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.push(0);
    query.extend_from_slice(&qtype.to_be_bytes());
    query.extend_from_slice(&[0, 1]);
    socket.send_to(&query, server).await.expect("send");
    let mut buf = [0u8; 1500];
    let (len, _) = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        socket.recv_from(&mut buf),
    )
    .await
    .expect("the DNS server answers")
    .expect("recv");
    assert!(len >= 12, "a DNS header");
    assert_eq!(&buf[0..2], &[0x12, 0x34], "the answer carries the query id");
    assert_eq!(buf[2] & 0x80, 0x80, "QR: a response");
    (buf[3] & 0x0f, u16::from_be_bytes([buf[6], buf[7]]))
}

#[tokio::test]
async fn the_wire_answers_carry_the_rcode_and_answer_count_of_each_case() {
    let dns = dns_server_with(&records()).await;
    for (name, qtype, expected, why) in [
        ("dual.dns.test", 1, (0, 1), "A"),
        ("dual.dns.test", 28, (0, 1), "AAAA"),
        ("v4only.dns.test", 28, (0, 0), "NODATA: NOERROR, no answer"),
        ("nobody.dns.test", 1, (3, 0), "NXDOMAIN"),
        ("alias.dns.test", 28, (0, 2), "CNAME + AAAA of the target"),
        ("alias.dns.test", 5, (0, 1), "the CNAME alone"),
        (
            "dangling.dns.test",
            1,
            (3, 1),
            "CNAME to an unknown name: NXDOMAIN with the CNAME (RFC 6604)",
        ),
    ] {
        assert_eq!(
            raw_query(dns.addr, name, qtype).await,
            expected,
            "{name} type {qtype}: {why}"
        );
    }
}

#[tokio::test]
async fn the_cname_only_constructor_still_serves_chains() {
    let dns = dns_server(&[("a.cname.test", "b.cname.test")]).await;
    assert_eq!(raw_query(dns.addr, "a.cname.test", 5).await, (0, 1));
    assert_eq!(raw_query(dns.addr, "b.cname.test", 5).await, (3, 0));
}
