//! The byte stream under the WebSocket: plain TCP or TLS over TCP, reached
//! directly or through an HTTP CONNECT proxy.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::failure::{Failure, NETWORK, PROXY, TLS};
use crate::happy_eyeballs;
use crate::http_head::read_response_head;
use crate::tcp::Tcp;
use crate::tls::{client_config, handshake_failure, server_name, TlsSettings};

pub enum Transport {
    Plain(Tcp),
    Tls(Box<TlsStream<Tcp>>),
}

impl Transport {
    /// The TCP connection underneath.
    pub fn tcp(&self) -> &TcpStream {
        self.socket().stream()
    }

    /// The TCP socket with its reading modes (tcp.rs).
    pub fn socket(&self) -> &Tcp {
        match self {
            Transport::Plain(tcp) => tcp,
            Transport::Tls(tls) => tls.get_ref().0,
        }
    }

    pub fn socket_mut(&mut self) -> &mut Tcp {
        match self {
            Transport::Plain(tcp) => tcp,
            Transport::Tls(tls) => tls.get_mut().0,
        }
    }
}

/// An HTTP proxy to tunnel through with CONNECT.
pub struct ProxySettings {
    pub host: String,
    pub port: u16,
    /// The full Proxy-Authorization value, when the proxy URL had credentials.
    pub authorization: Option<String>,
}

pub struct TransportTarget {
    pub host: String,
    pub port: u16,
    pub proxy: Option<ProxySettings>,
    /// The TCP peer's addresses (the proxy's when there is one), as JS
    /// resolved them, in the resolver's order; their port is not used.
    pub addresses: Vec<SocketAddr>,
    /// How long an attempt goes unanswered before the next address is tried.
    pub attempt_delay: Duration,
    /// Present for wss://.
    pub tls: Option<(TlsSettings, Option<String>)>,
}

pub async fn open(target: &TransportTarget) -> Result<Transport, Failure> {
    // Bad TLS options are the caller's mistake: report them before connecting.
    let tls = match &target.tls {
        Some((settings, servername)) => Some((
            client_config(settings).map_err(|error| Failure::new(TLS, error))?,
            server_name(&target.host, servername.as_deref())
                .map_err(|error| Failure::new(TLS, error))?,
            servername.as_deref().unwrap_or(&target.host),
        )),
        None => None,
    };
    let tcp = match &target.proxy {
        None => connect_tcp(target, &target.host, target.port).await?,
        Some(proxy) => {
            let mut tcp = connect_tcp(target, &proxy.host, proxy.port)
                .await
                .map_err(|failure| failure.within("proxy: "))?;
            tunnel(&mut tcp, proxy, &target.host, target.port).await?;
            tcp
        }
    };
    let tcp = Tcp::new(tcp);
    let Some((config, name, verified_name)) = tls else {
        return Ok(Transport::Plain(tcp));
    };
    let tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|error| {
            let heading = format!("the TLS handshake with {} failed: ", target.host);
            handshake_failure(&error, verified_name, &heading)
        })?;
    Ok(Transport::Tls(Box::new(tls)))
}

/// Connects to the target's addresses; `host` and `port` name the peer
/// (the server or the proxy) in the error.
async fn connect_tcp(
    target: &TransportTarget,
    host: &str,
    port: u16,
) -> Result<TcpStream, Failure> {
    let tcp = happy_eyeballs::connect(&target.addresses, port, target.attempt_delay)
        .await
        .map_err(|failures| {
            let message = format!(
                "could not connect to {}: {}",
                authority(host, port),
                happy_eyeballs::describe_failures(host, &failures)
            );
            // The first address's error: the one the resolver ranked first.
            match failures.first() {
                Some((_, error)) => Failure::io(error, message),
                None => Failure::new(NETWORK, message),
            }
        })?;
    // Small messages should leave at once rather than wait for Nagle.
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// `host:port`, with an IPv6 address in brackets.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Asks the proxy for a tunnel to `host:port` and checks its answer.
async fn tunnel(
    tcp: &mut TcpStream,
    proxy: &ProxySettings,
    host: &str,
    port: u16,
) -> Result<(), Failure> {
    let authority = authority(host, port);
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(authorization) = &proxy.authorization {
        request.push_str(&format!("Proxy-Authorization: {authorization}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|error| Failure::io(&error, format!("the proxy connection failed: {error}")))?;
    let (response, leftover) = read_response_head(tcp, "the proxy's CONNECT").await?;
    if !(200..300).contains(&response.status) {
        let message = format!(
            "the proxy {}:{} refused the tunnel to {authority} with HTTP {} {}",
            proxy.host, proxy.port, response.status, response.status_text
        );
        return Err(Failure::unexpected_response(
            PROXY,
            response.status,
            response.headers,
            message,
        ));
    }
    // Nothing may come through the tunnel before our own handshake.
    if !leftover.is_empty() {
        return Err(Failure::new(
            PROXY,
            "the proxy sent data before the tunnel was used",
        ));
    }
    Ok(())
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
