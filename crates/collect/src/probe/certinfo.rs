//! Describes certificates as presented on the wire (dates, names, issuer), parsed with x509-parser.

use chrono::{DateTime, Utc};
use rustls::pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use cf_doctor_model::evidence::CertInfo;

pub fn describe_chain(chain: &[CertificateDer<'_>]) -> Vec<CertInfo> {
    chain.iter().filter_map(|c| describe(c.as_ref())).collect()
}

/// None for bytes that are not an X.509 certificate (an origin can send anything).
pub fn describe(der: &[u8]) -> Option<CertInfo> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut names: Vec<String> = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_string()),
                    GeneralName::IPAddress(ip) => ip_text(ip),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        // Only certificates without subjectAltName fall back to the CN (RFC 6125 6.4.4).
        names.extend(
            cert.subject()
                .iter_common_name()
                .filter_map(|cn| cn.as_str().ok().map(str::to_string)),
        );
    }
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().to_string();
    let time = |t: x509_parser::time::ASN1Time| {
        DateTime::<Utc>::from_timestamp(t.timestamp(), 0).unwrap_or_default()
    };
    Some(CertInfo {
        self_signed: subject == issuer,
        is_ca: cert.is_ca(),
        not_before: time(cert.validity().not_before),
        not_after: time(cert.validity().not_after),
        serial: cert.raw_serial_as_string(),
        subject,
        issuer,
        names,
    })
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).to_string()),
        16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).to_string()),
        _ => None,
    }
}
