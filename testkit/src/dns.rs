//! A tiny DNS server on 127.0.0.1 (UDP) that answers CNAME queries from a fixed table, so CNAME
//! chains can be tested without any real DNS. Anything else gets NXDOMAIN.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::net::UdpSocket;

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
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0/udp for the test DNS server");
    let addr = socket.local_addr().expect("a bound socket has an address");
    let table: BTreeMap<String, String> = cnames
        .iter()
        .map(|(n, t)| (n.to_ascii_lowercase(), t.to_ascii_lowercase()))
        .collect();
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

/// The response to one query, or None for what is not a well-formed query.
fn answer(query: &[u8], table: &BTreeMap<String, String>) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    let (name, end) = read_name(query, 12)?;
    let question = query.get(12..end + 4)?;
    let qtype = u16::from_be_bytes([query[end], query[end + 1]]);
    let target = table.get(&name).filter(|_| qtype == 5 || qtype == 255);
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&query[0..2]); // the query's id
    let rcode: u8 = if table.contains_key(&name) { 0 } else { 3 }; // NXDOMAIN for unknown names
    out.extend_from_slice(&[0x81, 0x80 | rcode]); // response, recursion desired and available
    out.extend_from_slice(&[0, 1, 0, u8::from(target.is_some()), 0, 0, 0, 0]);
    out.extend_from_slice(question);
    if let Some(target) = target {
        let rdata = encode_name(target);
        out.extend_from_slice(&[0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0, 60]); // -> the question's name, CNAME, IN, TTL 60
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
