//! A tiny authoritative-style DNS server on 127.0.0.1 (UDP) answering from a fixed table of A,
//! AAAA and CNAME records, so address lookups and CNAME chains can be tested without any real
//! DNS.
//!
//! Answers follow RFC 1034 4.3.2 as a recursive resolver would give them: a query for a name
//! with a CNAME gets the CNAME and, for any other type, the chain followed through the table
//! with the target's records of that type; a known name without records of the asked type gets
//! NOERROR with an empty answer (NODATA); an unknown name gets NXDOMAIN.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::UdpSocket;

/// One resource record of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// An alias to another name (no trailing dot needed).
    Cname(String),
}

const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;
const TYPE_ANY: u16 = 255;
/// Links followed inside the table before giving up on a CNAME loop.
const MAX_CHAIN: usize = 8;

impl Record {
    fn rtype(&self) -> u16 {
        match self {
            Record::A(_) => TYPE_A,
            Record::Aaaa(_) => TYPE_AAAA,
            Record::Cname(_) => TYPE_CNAME,
        }
    }

    fn rdata(&self) -> Vec<u8> {
        match self {
            Record::A(ip) => ip.octets().to_vec(),
            Record::Aaaa(ip) => ip.octets().to_vec(),
            Record::Cname(target) => encode_name(target),
        }
    }
}

pub struct DnsServer {
    pub addr: SocketAddr,
    task: tokio::task::AbortHandle,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `cnames` (name -> target, without trailing dots) until dropped.
pub async fn dns_server(cnames: &[(&str, &str)]) -> DnsServer {
    let records: Vec<(&str, Record)> = cnames
        .iter()
        .map(|(name, target)| (*name, Record::Cname(target.to_string())))
        .collect();
    dns_server_with(&records).await
}

/// Serves `records` (name -> record; a name may have several, e.g. an A and an AAAA) until
/// dropped. Names are case-insensitive and given without trailing dots.
pub async fn dns_server_with(records: &[(&str, Record)]) -> DnsServer {
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0/udp for the test DNS server");
    let addr = socket.local_addr().expect("a bound socket has an address");
    let mut table: Table = BTreeMap::new();
    for (name, record) in records {
        let record = match record {
            Record::Cname(target) => Record::Cname(normalize(target)),
            other => other.clone(),
        };
        table.entry(normalize(name)).or_default().push(record);
    }
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((len, from)) = socket.recv_from(&mut buf).await {
            if let Some(answer) = answer(&buf[..len], &table) {
                let _ = socket.send_to(&answer, from).await;
            }
        }
    })
    .abort_handle();
    DnsServer { addr, task }
}

type Table = BTreeMap<String, Vec<Record>>;

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The answer to (`name`, `qtype`): (owner name, record) in answer order, and whether the last
/// name of the chain exists (false gives NXDOMAIN, as RFC 6604 has it for a dangling CNAME).
fn lookup<'t>(table: &'t Table, name: &str, qtype: u16) -> (Vec<(String, &'t Record)>, bool) {
    let mut out = Vec::new();
    let mut owner = name.to_string();
    for _ in 0..MAX_CHAIN {
        let Some(records) = table.get(&owner) else {
            return (out, false);
        };
        let alias = records.iter().find(|r| matches!(r, Record::Cname(_)));
        match alias {
            // An alias: give it, then follow it unless the CNAME itself was asked for.
            Some(cname @ Record::Cname(target)) if qtype != TYPE_CNAME && qtype != TYPE_ANY => {
                out.push((owner.clone(), cname));
                owner = target.clone();
            }
            _ => {
                let matching = records
                    .iter()
                    .filter(|r| qtype == TYPE_ANY || r.rtype() == qtype);
                out.extend(matching.map(|r| (owner.clone(), r)));
                break;
            }
        }
    }
    (out, true)
}

/// The response to one query, or None for what is not a well-formed query.
fn answer(query: &[u8], table: &Table) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    let (name, end) = read_name(query, 12)?;
    let question = query.get(12..end + 4)?;
    let qtype = u16::from_be_bytes([*query.get(end)?, *query.get(end + 1)?]);
    let (answers, exists) = lookup(table, &name, qtype);
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&query[0..2]); // the query's id
    let rcode: u8 = if exists { 0 } else { 3 }; // NXDOMAIN for unknown names
    out.extend_from_slice(&[0x81, 0x80 | rcode]); // response, recursion desired and available
    out.extend_from_slice(&[0, 1]); // one question
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // no authority, no additional
    out.extend_from_slice(question);
    for (owner, record) in answers {
        if owner == name {
            out.extend_from_slice(&[0xc0, 0x0c]); // -> the question's name
        } else {
            out.extend_from_slice(&encode_name(&owner));
        }
        out.extend_from_slice(&record.rtype().to_be_bytes());
        out.extend_from_slice(&[0, 1, 0, 0, 0, 60]); // IN, TTL 60
        let rdata = record.rdata();
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Some(out)
}

fn read_name(packet: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    loop {
        let len = *packet.get(at)? as usize;
        at += 1;
        if len == 0 {
            return Some((labels.join(".").to_ascii_lowercase(), at));
        }
        labels.push(String::from_utf8_lossy(packet.get(at..at + len)?).into_owned());
        at += len;
    }
}

fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.trim_end_matches('.').split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}
