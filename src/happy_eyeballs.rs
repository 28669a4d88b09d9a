//! Connecting to a host with several addresses the way Node's `net` does
//! (`autoSelectFamily`, RFC 8305 "Happy Eyeballs"): the families take turns,
//! a new attempt starts when the last one failed or stayed unanswered for the
//! attempt delay, the first to connect wins and the others are dropped.
//! Tried one after another instead, a black-holed address (a broken IPv6
//! route, say) would hold the connection for the OS connect timeout.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::pin::Pin;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};

/// One attempt: the address and how it ended.
type Attempt = Pin<Box<dyn Future<Output = (SocketAddr, io::Result<TcpStream>)> + Send>>;

/// A resolved address as `dns.lookup` gives it: an IPv4 or IPv6 address, the
/// latter with a zone (`fe80::1%eth0`, or the interface's number) for a
/// link-local one. None if it is neither.
pub fn parse_address(text: &str) -> Option<SocketAddr> {
    let Some((ip, zone)) = text.split_once('%') else {
        return text.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0));
    };
    let ip: Ipv6Addr = ip.parse().ok()?;
    let scope = zone.parse().ok().or_else(|| interface_index(zone))?;
    Some(SocketAddr::V6(SocketAddrV6::new(ip, 0, 0, scope)))
}

#[cfg(unix)]
fn interface_index(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string for the call's duration.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

/// Windows names zones by number only.
#[cfg(not(unix))]
fn interface_index(_name: &str) -> Option<u32> {
    None
}

/// The first TCP connection that succeeds, or every address with its error.
/// `addresses` come from `parse_address`: their port is replaced by `port`.
pub async fn connect(
    addresses: &[SocketAddr],
    port: u16,
    attempt_delay: Duration,
) -> Result<TcpStream, Vec<(SocketAddr, io::Error)>> {
    // One address (an IP literal, most often) needs no race and no timer.
    if let [only] = addresses {
        let address = at_port(*only, port);
        return TcpStream::connect(address)
            .await
            .map_err(|error| vec![(address, error)]);
    }
    let mut untried = interleave_families(addresses)
        .into_iter()
        .map(|address| at_port(address, port));
    let mut running: FuturesUnordered<Attempt> = FuturesUnordered::new();
    let mut failures = Vec::new();
    let mut next_attempt_at = Instant::now();
    loop {
        if running.is_empty() || Instant::now() >= next_attempt_at {
            match untried.next() {
                Some(address) => {
                    running.push(Box::pin(async move {
                        (address, TcpStream::connect(address).await)
                    }));
                    next_attempt_at = Instant::now() + attempt_delay;
                }
                None if running.is_empty() => return Err(failures),
                None => next_attempt_at = Instant::now() + Duration::from_secs(3600),
            }
        }
        tokio::select! {
            Some((address, result)) = running.next() => match result {
                // The attempts still running are dropped here, closing their sockets.
                Ok(tcp) => return Ok(tcp),
                Err(error) => {
                    failures.push((address, error));
                    // A failure starts the next attempt at once.
                    next_attempt_at = Instant::now();
                }
            },
            () = sleep_until(next_attempt_at) => {}
        }
    }
}

/// The address with the peer's port (`parse_address` leaves it 0).
fn at_port(mut address: SocketAddr, port: u16) -> SocketAddr {
    address.set_port(port);
    address
}

/// RFC 8305 section 4: the first address's family first, then the families
/// alternate, each keeping the resolver's order.
fn interleave_families(addresses: &[SocketAddr]) -> Vec<SocketAddr> {
    let Some(first) = addresses.first() else {
        return Vec::new();
    };
    let (mut preferred, mut other): (Vec<SocketAddr>, Vec<SocketAddr>) = addresses
        .iter()
        .partition(|address| address.is_ipv6() == first.is_ipv6());
    let mut order = Vec::with_capacity(addresses.len());
    let (mut preferred, mut other) = (preferred.drain(..), other.drain(..));
    loop {
        match (preferred.next(), other.next()) {
            (None, None) => return order,
            (one, two) => order.extend(one.into_iter().chain(two)),
        }
    }
}

/// Why connecting to `host` failed: the reason alone when `host` was the
/// one address, else "tried 127.0.0.1:80 (connection refused), [::1]:80 (timed out)".
pub fn describe_failures(host: &str, failures: &[(SocketAddr, io::Error)]) -> String {
    match failures {
        [] => return "there was no address to try".to_string(),
        [(address, error)] if address.ip().to_string() == host => return describe_error(error),
        _ => {}
    }
    let tried: Vec<String> = failures
        .iter()
        .map(|(address, error)| format!("{address} ({})", describe_error(error)))
        .collect();
    format!("tried {}", tried.join(", "))
}

/// The reason without the "(os error N)" suffix where the kind says it all.
fn describe_error(error: &io::Error) -> String {
    use io::ErrorKind::*;
    match error.kind() {
        kind @ (ConnectionRefused | ConnectionReset | TimedOut | HostUnreachable
        | NetworkUnreachable | AddrNotAvailable | PermissionDenied) => kind.to_string(),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|ip| parse_address(ip).unwrap()).collect()
    }

    #[test]
    fn addresses_parse_as_dns_lookup_gives_them() {
        assert_eq!(
            parse_address("127.0.0.1"),
            Some("127.0.0.1:0".parse().unwrap())
        );
        assert_eq!(parse_address("::1"), Some("[::1]:0".parse().unwrap()));
        assert_eq!(
            parse_address("fe80::1%3"),
            Some("[fe80::1%3]:0".parse().unwrap())
        );
        let loopback = parse_address("fe80::1%lo").unwrap();
        assert!(matches!(loopback, SocketAddr::V6(v6) if v6.scope_id() != 0));
        for invalid in [
            "",
            "localhost",
            "127.0.0.1%lo",
            "::1%no-such-interface",
            "1.2.3.4:80",
        ] {
            assert_eq!(parse_address(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn families_alternate_from_the_first_address_family() {
        let order = interleave_families(&ips(&["::1", "::2", "::3", "10.0.0.1", "10.0.0.2"]));
        assert_eq!(order, ips(&["::1", "10.0.0.1", "::2", "10.0.0.2", "::3"]));
        let order = interleave_families(&ips(&["10.0.0.1", "10.0.0.2", "::1"]));
        assert_eq!(order, ips(&["10.0.0.1", "::1", "10.0.0.2"]));
        assert!(interleave_families(&[]).is_empty());
    }

    #[tokio::test]
    async fn every_refused_address_is_reported_in_order() {
        // A port nobody listens on: bind, read the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let failures = connect(
            &ips(&["127.0.0.1", "::1"]),
            port,
            Duration::from_millis(250),
        )
        .await
        .unwrap_err();
        let tried: Vec<SocketAddr> = failures.iter().map(|(address, _)| *address).collect();
        assert_eq!(
            tried,
            vec![
                SocketAddr::new("127.0.0.1".parse().unwrap(), port),
                SocketAddr::new("::1".parse().unwrap(), port)
            ]
        );
        assert_eq!(
            describe_failures("localhost", &failures),
            format!(
                "tried 127.0.0.1:{port} (connection refused), [::1]:{port} (connection refused)"
            )
        );
        assert_eq!(
            describe_failures("127.0.0.1", &failures[..1]),
            "connection refused"
        );
    }

    #[tokio::test]
    async fn a_lone_address_is_connected_to_directly_and_its_error_named() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tcp = connect(&ips(&["127.0.0.1"]), port, Duration::from_millis(250))
            .await
            .unwrap();
        assert_eq!(tcp.peer_addr().unwrap().port(), port);
        drop((tcp, listener));
        let failures = connect(&ips(&["127.0.0.1"]), port, Duration::from_millis(250))
            .await
            .unwrap_err();
        assert_eq!(
            describe_failures("127.0.0.1", &failures),
            "connection refused"
        );
    }

    #[tokio::test]
    async fn a_later_address_that_answers_wins() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tcp = connect(
            &ips(&["::1", "127.0.0.1"]),
            port,
            Duration::from_millis(250),
        )
        .await
        .unwrap();
        assert_eq!(tcp.peer_addr().unwrap(), listener.local_addr().unwrap());
    }
}
