//! The client's address behind proxies, and the key the per-address rate limits use.

use axum::http::HeaderMap;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::{
    fmt,
    net::{IpAddr, Ipv6Addr},
    str::FromStr,
};

/// The proxies whose `X-Forwarded-For` entries are believed: addresses or CIDR ranges, written in settings as
/// one comma-separated string (`"10.0.0.0/8, 127.0.0.1"`). Empty: the connection's peer is the client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let nets = list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{entry}` is neither an IP address nor a CIDR range"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self(nets))
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(", "))
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The client's address. A request from a trusted proxy has its `X-Forwarded-For` read from the right: each
/// entry a trusted proxy appended is passed over, and the first address no trusted proxy vouches for is the
/// client. Entries left of it are whatever the client sent, so they are never believed; an entry that is not an
/// address stops the walk at the last hop that was vouched for.
pub fn client_ip(headers: &HeaderMap, peer: IpAddr, trusted: &TrustedProxies) -> IpAddr {
    let mut client = peer;
    if !trusted.contains(&peer) {
        return client;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else { break };
        client = ip;
        if !trusted.contains(&ip) {
            break;
        }
    }
    client
}

/// The rate-limit key of an address: itself for IPv4, its /64 for IPv6 (one subscriber usually holds a whole
/// /64, so keying per address would give each of them 2^64 buckets).
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let headers = forwarded(&["203.0.113.7"]);
        assert_eq!(client_ip(&headers, ip("198.51.100.1"), &TrustedProxies::default()), ip("198.51.100.1"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client_and_a_spoofed_left_entry_is_ignored() {
        let trusted: TrustedProxies = "10.0.0.0/8, 127.0.0.1".parse().unwrap();
        // The client sent "1.2.3.4" itself; the load balancer appended the address it saw, 203.0.113.7.
        let headers = forwarded(&["1.2.3.4, 203.0.113.7"]);
        assert_eq!(client_ip(&headers, ip("10.0.0.5"), &trusted), ip("203.0.113.7"));
        // Two proxies: the inner one's address (trusted) is passed over.
        let headers = forwarded(&["1.2.3.4, 203.0.113.7", "10.1.2.3"]);
        assert_eq!(client_ip(&headers, ip("127.0.0.1"), &trusted), ip("203.0.113.7"));
    }

    #[test]
    fn a_request_not_from_a_trusted_proxy_cannot_choose_its_address() {
        let trusted: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let headers = forwarded(&["203.0.113.7"]);
        assert_eq!(client_ip(&headers, ip("198.51.100.1"), &trusted), ip("198.51.100.1"));
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_vouched_hop() {
        let trusted: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        assert_eq!(client_ip(&forwarded(&["nonsense, 10.0.0.9"]), ip("10.0.0.5"), &trusted), ip("10.0.0.9"));
        assert_eq!(client_ip(&forwarded(&["203.0.113.7, nonsense"]), ip("10.0.0.5"), &trusted), ip("10.0.0.5"));
        assert_eq!(client_ip(&HeaderMap::new(), ip("10.0.0.5"), &trusted), ip("10.0.0.5"));
    }

    #[test]
    fn ipv6_is_keyed_per_slash_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(rate_key(ip("2001:db8:1:2:aaaa::1")), rate_key(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(rate_key(ip("2001:db8:1:2::1")), rate_key(ip("2001:db8:1:3::1")));
        assert_eq!(rate_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(rate_key(ip("192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn the_list_reads_addresses_and_ranges_and_names_a_bad_entry() {
        let list: TrustedProxies = " 10.0.0.0/8 ,127.0.0.1, ::1 ".parse().unwrap();
        assert!(list.contains(&ip("10.200.0.1")) && list.contains(&ip("127.0.0.1")) && list.contains(&ip("::1")));
        assert!(!list.contains(&ip("127.0.0.2")));
        assert_eq!(list.to_string(), "10.0.0.0/8, 127.0.0.1/32, ::1/128");
        let error = "10.0.0.0/8, proxy.internal".parse::<TrustedProxies>().unwrap_err();
        assert!(error.contains("`proxy.internal`"), "{error}");
        assert!("".parse::<TrustedProxies>().unwrap().is_empty());
    }
}
