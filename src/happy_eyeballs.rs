//! Connecting to a host with several addresses the way Node's `net` does
//! (`autoSelectFamily`, RFC 8305 "Happy Eyeballs"): the families take turns,
//! a new attempt starts when the last one failed or stayed unanswered for the
//! attempt delay, the first to connect wins and the others are dropped.
//! Tried one after another instead, a black-holed address (a broken IPv6
//! route, say) would hold the connection for the OS connect timeout.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};

/// One attempt: the address and how it ended.
type Attempt = Pin<Box<dyn Future<Output = (SocketAddr, io::Result<TcpStream>)> + Send>>;

/// The first TCP connection that succeeds, or every address with its error.
pub async fn connect(
    addresses: &[IpAddr],
    port: u16,
    attempt_delay: Duration,
) -> Result<TcpStream, Vec<(SocketAddr, io::Error)>> {
    let mut untried = interleave_families(addresses)
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port));
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

/// RFC 8305 section 4: the first address's family first, then the families
/// alternate, each keeping the resolver's order.
fn interleave_families(addresses: &[IpAddr]) -> Vec<IpAddr> {
    let Some(first) = addresses.first() else {
        return Vec::new();
    };
    let (mut preferred, mut other): (Vec<IpAddr>, Vec<IpAddr>) = addresses
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

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|ip| ip.parse().unwrap()).collect()
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
                SocketAddr::new(ips(&["127.0.0.1"])[0], port),
                SocketAddr::new(ips(&["::1"])[0], port)
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
        assert_eq!(tcp.peer_addr().unwrap().ip(), ips(&["127.0.0.1"])[0]);
    }
}
