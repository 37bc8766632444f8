//! TLS protocol names as CloudFront's OriginSslProtocols and load balancer security policies spell
//! them, in order.

/// The order of a protocol name (`SSLv3` < `TLSv1` < `TLSv1.1` < `TLSv1.2` < `TLSv1.3`); None for
/// a name neither API uses.
pub fn protocol_rank(name: &str) -> Option<u8> {
    match name {
        "SSLv3" => Some(0),
        "TLSv1" => Some(1),
        "TLSv1.1" => Some(2),
        "TLSv1.2" => Some(3),
        "TLSv1.3" => Some(4),
        _ => None,
    }
}

/// The highest protocol CloudFront speaks to origins.
pub const CLOUDFRONT_ORIGIN_MAX: &str = "TLSv1.2";

/// OriginSslProtocols as CloudFront applies it: an empty list is CloudFront's default, TLSv1.2.
pub fn listed_or_default(listed: &[String]) -> Vec<String> {
    if listed.is_empty() {
        vec![CLOUDFRONT_ORIGIN_MAX.to_string()]
    } else {
        listed.to_vec()
    }
}
