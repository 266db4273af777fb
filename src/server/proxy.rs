//! The client's address behind reverse proxies.
//!
//! Behind a proxy, the TCP peer is the proxy; the client's address is in the
//! `X-Forwarded-For` header (de facto standard) or the `Forwarded` header
//! (RFC 7239 §4, its `for=` parameter), which every proxy on the way appends
//! to. Anyone can write these headers, so they are read only when the TCP
//! peer is a trusted proxy, and then right to left: each hop that is itself
//! a trusted proxy passes the question to the address it names, and the
//! first address that is not a trusted proxy is the client's. That is the
//! rule of Express's `trust proxy` (the `proxy-addr` package), the usual
//! companion of the reference server.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use hyper::HeaderMap;

/// One range of addresses, as `10.0.0.0/8`, `fd00::/8`, or one address
/// (`127.0.0.1`, a /32; `::1`, a /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a range did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError(String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CidrError {}

impl Cidr {
    /// The range of `prefix` leading bits of `network` (the bits beyond are
    /// ignored). `None` when `prefix` is longer than the address.
    pub fn new(network: IpAddr, prefix: u8) -> Option<Cidr> {
        let network = network.to_canonical();
        let bits = match network {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        (prefix <= bits).then_some(Cidr { network, prefix })
    }

    /// Whether `ip` is in the range. An IPv4 address mapped into IPv6
    /// (`::ffff:a.b.c.d`) counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                same_prefix(u32::from(net).into(), u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                same_prefix(u128::from(net), u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// Whether the first `prefix` of `width` bits of `a` and `b` are equal.
fn same_prefix(a: u128, b: u128, prefix: u8, width: u32) -> bool {
    let shift = width - u32::from(prefix);
    shift >= width || (a >> shift) == (b >> shift)
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let error = || {
            CidrError(format!(
                "{s:?}: expected an address or a range like 10.0.0.0/8 or fd00::/8"
            ))
        };
        let (address, prefix) = match s.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (s, None),
        };
        let network: IpAddr = address.parse().map_err(|_| error())?;
        let full = if network.to_canonical().is_ipv4() {
            32
        } else {
            128
        };
        let prefix = match prefix {
            None => full,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().map_err(|_| error())?
            }
            Some(_) => return Err(error()),
        };
        // `::ffff:10.0.0.0/104` is the IPv4 range 10.0.0.0/8.
        let prefix = match network {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() && prefix >= 96 => prefix - 96,
            _ => prefix,
        };
        Cidr::new(network, prefix).ok_or_else(error)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The proxies whose forwarding headers are believed: a list of ranges.
/// Empty (the default): the client's address is the TCP peer's, and the
/// headers are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustProxy {
    ranges: Vec<Cidr>,
}

impl TrustProxy {
    /// Trusts these ranges.
    pub fn new(ranges: impl IntoIterator<Item = Cidr>) -> TrustProxy {
        TrustProxy {
            ranges: ranges.into_iter().collect(),
        }
    }

    /// Parses one item of `--trust-proxy`: a range, an address, or one of
    /// the names Express knows: `loopback` (127.0.0.0/8, ::1), `linklocal`
    /// (169.254.0.0/16, fe80::/10), `uniquelocal` (10.0.0.0/8,
    /// 172.16.0.0/12, 192.168.0.0/16, fc00::/7).
    pub fn parse_item(item: &str) -> Result<Vec<Cidr>, CidrError> {
        let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
        let v6 = |segments: [u16; 8]| IpAddr::V6(Ipv6Addr::from(segments));
        let named = |list: &[(IpAddr, u8)]| {
            list.iter()
                .map(|&(ip, prefix)| Cidr {
                    network: ip,
                    prefix,
                })
                .collect()
        };
        Ok(match item {
            "loopback" => named(&[(v4(127, 0, 0, 0), 8), (v6([0, 0, 0, 0, 0, 0, 0, 1]), 128)]),
            "linklocal" => named(&[
                (v4(169, 254, 0, 0), 16),
                (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]), 10),
            ]),
            "uniquelocal" => named(&[
                (v4(10, 0, 0, 0), 8),
                (v4(172, 16, 0, 0), 12),
                (v4(192, 168, 0, 0), 16),
                (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0]), 7),
            ]),
            _ => vec![item.parse()?],
        })
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|range| range.contains(ip))
    }

    /// The client's address for a request from TCP peer `peer` with these
    /// headers.
    ///
    /// `X-Forwarded-For` is read when present (all its lines, in order), else
    /// `Forwarded`'s `for=` values. The walk goes from the peer leftwards
    /// while the current address is trusted; it stops at the first address
    /// that is not, which is the answer. An entry that is not an IP address
    /// (`unknown`, an obfuscated `_name`, garbage) also stops it: the answer
    /// is then the last address read, a trusted proxy, since what lies beyond
    /// cannot be checked.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded_for: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let hops: Vec<&str> = if forwarded_for.is_empty() {
            headers
                .get_all("forwarded")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(forwarded_for_param)
                .collect()
        } else {
            forwarded_for.iter().flat_map(|v| v.split(',')).collect()
        };
        let mut client = peer;
        for hop in hops.iter().rev() {
            if !self.trusts(client) {
                break;
            }
            match parse_hop(hop) {
                Some(ip) => client = ip,
                None => break,
            }
        }
        client
    }
}

/// The `for=` value of one element of a `Forwarded` header (RFC 7239 §4:
/// `for=192.0.2.60;proto=http`), quotes removed; `None` when it has none.
fn forwarded_for_param(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// One hop's address: `192.0.2.60`, `192.0.2.60:4711`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711` (RFC 7239 §6).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let host = match hop.strip_prefix('[') {
        Some(rest) => rest.split_once(']')?.0,
        None => hop.rsplit_once(':')?.0,
    };
    host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn trust(items: &[&str]) -> TrustProxy {
        TrustProxy::new(
            items
                .iter()
                .flat_map(|item| TrustProxy::parse_item(item).unwrap()),
        )
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_match() {
        let net: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("::1")));
        let mapped: Cidr = "::ffff:10.0.0.0/104".parse().unwrap();
        assert!(mapped.contains(ip("10.9.9.9")));
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/",
            "x",
            "10.0.0.0/+8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert_eq!(trust(&["loopback"]).ranges.len(), 2);
        assert!(trust(&["uniquelocal"]).trusts(ip("172.20.1.1")));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(
            trust(&[]).client_address(ip("127.0.0.1"), &h),
            ip("127.0.0.1")
        );
        assert_eq!(
            trust(&["10.0.0.0/8"]).client_address(ip("127.0.0.1"), &h),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn x_forwarded_for_is_walked_right_to_left_past_trusted_proxies() {
        let t = trust(&["10.0.0.0/8"]);
        // client 1.1.1.1 -> proxy 10.0.0.2 -> proxy 10.0.0.1 -> us; a spoofed
        // entry the client put first is never reached.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 1.1.1.1, 10.0.0.2")]);
        assert_eq!(t.client_address(ip("10.0.0.1"), &h), ip("1.1.1.1"));
        // Several header lines are one list.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "1.1.1.1"),
        ]);
        assert_eq!(t.client_address(ip("10.0.0.1"), &h), ip("1.1.1.1"));
        // Every hop trusted: the leftmost.
        let h = headers(&[("x-forwarded-for", "10.9.9.9,10.0.0.2")]);
        assert_eq!(t.client_address(ip("10.0.0.1"), &h), ip("10.9.9.9"));
        // No header: the peer.
        assert_eq!(
            t.client_address(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        // Garbage stops the walk at the last trusted address.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, garbage")]);
        assert_eq!(t.client_address(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        // Ports and IPv6.
        let h = headers(&[("x-forwarded-for", "[2001:db8::1]:4711")]);
        assert_eq!(t.client_address(ip("10.0.0.1"), &h), ip("2001:db8::1"));
        let h = headers(&[("x-forwarded-for", "1.1.1.1:80")]);
        assert_eq!(t.client_address(ip("::ffff:10.0.0.1"), &h), ip("1.1.1.1"));
    }

    #[test]
    fn forwarded_is_read_when_there_is_no_x_forwarded_for() {
        let t = trust(&["loopback"]);
        let h = headers(&[(
            "forwarded",
            r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, For=127.0.0.5;by=127.0.0.1"#,
        )]);
        assert_eq!(
            t.client_address(ip("127.0.0.1"), &h),
            ip("2001:db8:cafe::17")
        );
        let h = headers(&[("forwarded", "for=unknown;proto=http")]);
        assert_eq!(t.client_address(ip("127.0.0.1"), &h), ip("127.0.0.1"));
        // X-Forwarded-For wins when both are there.
        let h = headers(&[("forwarded", "for=5.5.5.5"), ("x-forwarded-for", "1.1.1.1")]);
        assert_eq!(t.client_address(ip("127.0.0.1"), &h), ip("1.1.1.1"));
    }
}
