//! IPv4 and IPv6 address ranges (CIDR blocks) as security group rules and prefix lists hold them,
//! and whether one holds another: enough to tell CloudFront's ranges from other addresses.

use std::fmt;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network address, IPv4 in the low 32 bits.
    network: u128,
    prefix: u8,
    v6: bool,
}

impl Cidr {
    /// `130.176.0.0/18`, `2600:9000::/28`; a bare address is a single-address block. None for
    /// anything else (a prefix too long, not an address).
    pub fn parse(text: &str) -> Option<Cidr> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (text.trim(), None),
        };
        let (bits, v6, width) = match address.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => (u128::from(u32::from(a)), false, 32),
            IpAddr::V6(a) => (u128::from(a), true, 128),
        };
        let prefix = prefix.unwrap_or(width);
        if prefix > width {
            return None;
        }
        Some(Cidr {
            network: bits & mask(prefix, width),
            prefix,
            v6,
        })
    }

    fn width(&self) -> u8 {
        if self.v6 {
            128
        } else {
            32
        }
    }

    pub fn is_v6(&self) -> bool {
        self.v6
    }

    /// 0.0.0.0/0 or ::/0.
    pub fn is_everything(&self) -> bool {
        self.prefix == 0
    }

    /// Every address of `other` is in this block.
    pub fn contains(&self, other: &Cidr) -> bool {
        self.v6 == other.v6
            && self.prefix <= other.prefix
            && other.network & mask(self.prefix, self.width()) == self.network
    }

    /// The blocks share an address (one contains the other).
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }
}

/// The first `prefix` bits of a `width`-bit address set.
fn mask(prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let all: u128 = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    all & !((1u128 << (width - prefix)) - 1)
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let address: IpAddr = if self.v6 {
            IpAddr::V6(self.network.into())
        } else {
            IpAddr::V4((self.network as u32).into())
        };
        write!(f, "{address}/{}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        Cidr::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    #[test]
    fn blocks_hold_the_blocks_inside_them_and_nothing_across_families() {
        assert!(c("130.176.0.0/18").contains(&c("130.176.0.0/18")));
        assert!(c("130.176.0.0/18").contains(&c("130.176.63.0/24")));
        assert!(!c("130.176.0.0/18").contains(&c("130.176.64.0/24")));
        assert!(!c("130.176.63.0/24").contains(&c("130.176.0.0/18")));
        assert!(c("0.0.0.0/0").contains(&c("198.51.100.7/32")));
        assert!(!c("0.0.0.0/0").contains(&c("2600:9000::/28")));
        assert!(c("2600:9000::/28").contains(&c("2600:9000:1000::/40")));
        assert!(c("::/0").is_everything() && c("0.0.0.0/0").is_everything());
        assert!(c("130.176.0.0/18").overlaps(&c("130.0.0.0/8")));
    }

    #[test]
    fn host_bits_are_dropped_and_bad_text_is_refused() {
        assert_eq!(c("130.176.12.34/18").to_string(), "130.176.0.0/18");
        assert_eq!(c("198.51.100.7").to_string(), "198.51.100.7/32");
        assert_eq!(c("2600:9000:abcd::1/28").to_string(), "2600:9000::/28");
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("pl-0123"), None);
        assert_eq!(Cidr::parse("10.0.0.0/x"), None);
    }
}
