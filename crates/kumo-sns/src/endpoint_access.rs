//! Which addresses `http`/`https` subscriptions may make Kumo reach. A subscriber names any
//! URL; without a guard a tenant could point Kumo at what only Kumo's host can reach (its
//! loopback services, a cloud metadata endpoint on a link-local address, Kumo's own API). So
//! unless the operator opts in (`--sns-allow-private-endpoints`), endpoints on loopback,
//! link-local and unspecified addresses and Kumo's own listener are refused: at Subscribe
//! (`InvalidParameter`, AWS's "Unreachable Endpoint"), and again on every connection, against
//! the addresses the name resolves to then (a name re-pointed after Subscribe, DNS rebinding,
//! is caught where it matters) and the peer actually connected.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How long Subscribe waits for an endpoint's name to resolve.
const SUBSCRIBE_RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// The rule for endpoint addresses.
#[derive(Debug, Clone, Default)]
pub struct EndpointAccess {
    /// The operator's opt-in: every address may be reached.
    pub allow_private: bool,
    /// Kumo's own listener, never a delivery target unless opted in.
    pub own_listener: Option<SocketAddr>,
}

/// Loopback, link-local (169.254.0.0/16, fe80::/10) and unspecified addresses, also written
/// as IPv4-mapped IPv6.
fn is_host_internal(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unicast_link_local() || v6.is_unspecified(),
    }
}

/// `host` (as `http::Uri` gives it, IPv6 in brackets) as an address, if it is one.
pub(crate) fn literal_address(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

impl EndpointAccess {
    /// Whether a connection to `address` is refused.
    pub fn refuses(&self, address: SocketAddr) -> bool {
        if self.allow_private {
            return false;
        }
        let own = self.own_listener.is_some_and(|own| own == address);
        own || is_host_internal(address.ip())
    }

    /// Whether a connection made from `local` to `peer` reached Kumo's own listener through
    /// one of this host's addresses (a connection to the host itself gets the peer's address
    /// as its source), which [`Self::refuses`] cannot tell from the address alone when Kumo
    /// listens on all addresses.
    pub fn refuses_connection(&self, local: SocketAddr, peer: SocketAddr) -> bool {
        if self.allow_private {
            return false;
        }
        let to_own_port = self.own_listener.is_some_and(|own| own.port() == peer.port());
        self.refuses(peer) || (to_own_port && local.ip().to_canonical() == peer.ip().to_canonical())
    }

    /// Subscribe's check of an `http`/`https` endpoint URL: `Err` when it names (or its name
    /// resolves to) an address Kumo does not deliver to. A name that does not resolve now is
    /// let through, as AWS lets it through; its deliveries will fail.
    pub async fn check_subscribe(&self, url: &str) -> Result<(), ()> {
        if self.allow_private {
            return Ok(());
        }
        let uri: http::Uri = url.parse().map_err(|_| ())?;
        let host = uri.host().filter(|host| !host.is_empty()).ok_or(())?;
        let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
        if let Some(ip) = literal_address(host) {
            return if self.refuses(SocketAddr::new(ip, port)) { Err(()) } else { Ok(()) };
        }
        // RFC 6761: `localhost` and its subdomains are the host itself, whatever DNS says.
        let lowered = host.trim_end_matches('.').to_ascii_lowercase();
        if lowered == "localhost" || lowered.ends_with(".localhost") {
            return Err(());
        }
        let resolved = tokio::time::timeout(SUBSCRIBE_RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port))).await;
        match resolved {
            Ok(Ok(mut addresses)) => match addresses.any(|address| self.refuses(address)) {
                true => Err(()),
                false => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn internal_addresses_and_kumos_own_listener_are_refused() {
        let access = EndpointAccess { allow_private: false, own_listener: Some(address("192.0.2.7:4566")) };
        for refused in [
            "127.0.0.1:80",
            "127.9.9.9:8080",
            "[::1]:80",
            "169.254.169.254:80",
            "[fe80::1]:80",
            "0.0.0.0:80",
            "[::]:80",
            "[::ffff:127.0.0.1]:80",
            "[::ffff:169.254.169.254]:80",
            "192.0.2.7:4566",
        ] {
            assert!(access.refuses(address(refused)), "{refused}");
        }
        for allowed in ["192.0.2.7:80", "10.0.0.1:80", "93.184.216.34:443", "[2001:db8::1]:443"] {
            assert!(!access.refuses(address(allowed)), "{allowed}");
        }
        // Kumo on all addresses: a connection from this host to itself on Kumo's port.
        let any = EndpointAccess { allow_private: false, own_listener: Some(address("0.0.0.0:4566")) };
        assert!(any.refuses_connection(address("10.1.2.3:50000"), address("10.1.2.3:4566")));
        assert!(!any.refuses_connection(address("10.1.2.3:50000"), address("10.9.9.9:4566")));
        let open = EndpointAccess { allow_private: true, own_listener: Some(address("127.0.0.1:4566")) };
        assert!(!open.refuses(address("127.0.0.1:4566")));
    }

    #[tokio::test]
    async fn subscribe_refuses_loopback_names_and_literals() {
        let access = EndpointAccess::default();
        for url in ["http://127.0.0.1:8080/hook", "http://localhost/x", "https://api.localhost/", "http://[::1]/"] {
            assert!(access.check_subscribe(url).await.is_err(), "{url}");
        }
        assert!(access.check_subscribe("http://192.0.2.1/hook").await.is_ok());
        let open = EndpointAccess { allow_private: true, own_listener: None };
        assert!(open.check_subscribe("http://127.0.0.1:8080/hook").await.is_ok());
    }
}
