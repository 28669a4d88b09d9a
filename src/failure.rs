//! Why a connection failed: a sentence for the WebSocketError's message, and
//! a stable code (with details) for its `cause`, so that a program can tell
//! "stop" (401, a bad certificate) from "retry" (503, ECONNREFUSED) without
//! reading the sentence. Node's own codes where Node has one, ours otherwise.

use std::io;

use napi_derive::napi;

/// The HTTP answer had another status than the one asked for.
pub const UNEXPECTED_RESPONSE: &str = "ERR_WEBSOCKETSTREAM_UNEXPECTED_RESPONSE";
/// The answer was not the HTTP or WebSocket handshake it should be.
pub const INVALID_RESPONSE: &str = "ERR_WEBSOCKETSTREAM_INVALID_RESPONSE";
/// The HTTP CONNECT proxy refused or broke the tunnel.
pub const PROXY: &str = "ERR_WEBSOCKETSTREAM_PROXY";
/// The TLS handshake failed (certificate, protocol, or the TLS options).
pub const TLS: &str = "ERR_WEBSOCKETSTREAM_TLS";
/// The server broke the WebSocket protocol; we closed with `sentCloseCode`.
pub const PROTOCOL: &str = "ERR_WEBSOCKETSTREAM_PROTOCOL";
/// The server sent a message over `maxMessageSize`; we closed with 1009.
pub const MESSAGE_TOO_LARGE: &str = "ERR_WEBSOCKETSTREAM_MESSAGE_TOO_LARGE";
/// TCP ended without a closing handshake.
pub const CONNECTION_LOST: &str = "ERR_WEBSOCKETSTREAM_CONNECTION_LOST";
/// Our Close was not answered (or TCP not ended) within `closeTimeout`.
pub const CLOSE_TIMEOUT: &str = "ERR_WEBSOCKETSTREAM_CLOSE_TIMEOUT";
/// Nothing arrived for twice `idleTimeout`, a Ping included.
pub const IDLE_TIMEOUT: &str = "ERR_WEBSOCKETSTREAM_IDLE_TIMEOUT";
/// A socket error Node has no code for.
pub const NETWORK: &str = "ERR_WEBSOCKETSTREAM_NETWORK";
/// A bug of ours (a panic), caught before it could reach JS.
pub const INTERNAL: &str = "ERR_WEBSOCKETSTREAM_INTERNAL";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
    /// An unexpected HTTP response's status and header fields.
    pub response: Option<(u16, Vec<(String, String)>)>,
    /// The Close code we sent for a protocol violation.
    pub sent_close_code: Option<u16>,
    /// rustls's name for a refused certificate (`UnknownIssuer`, …).
    pub certificate_error: Option<String>,
}

impl Failure {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            response: None,
            sent_close_code: None,
            certificate_error: None,
        }
    }

    /// A socket error, with Node's code for its kind.
    pub fn io(error: &io::Error, message: impl Into<String>) -> Self {
        Failure::new(io_code(error), message)
    }

    /// The answer came as HTTP, but not the one wanted.
    pub fn unexpected_response(
        code: &'static str,
        status: u16,
        headers: Vec<(String, String)>,
        message: String,
    ) -> Self {
        Failure {
            response: Some((status, headers)),
            ..Failure::new(code, message)
        }
    }

    /// The server broke the protocol and we closed with `close_code`.
    pub fn violation(close_code: u16, message: impl Into<String>) -> Self {
        let code = if close_code == 1009 {
            MESSAGE_TOO_LARGE
        } else {
            PROTOCOL
        };
        Failure {
            sent_close_code: Some(close_code),
            ..Failure::new(code, message)
        }
    }

    /// The same failure, its message under a heading ("proxy: …").
    pub fn within(mut self, heading: &str) -> Self {
        self.message = format!("{heading}{}", self.message);
        self
    }
}

/// Node's error code for a socket error of this kind (as `net` reports it).
fn io_code(error: &io::Error) -> &'static str {
    use io::ErrorKind::*;
    match error.kind() {
        ConnectionRefused => "ECONNREFUSED",
        ConnectionReset => "ECONNRESET",
        ConnectionAborted => "ECONNABORTED",
        TimedOut => "ETIMEDOUT",
        HostUnreachable => "EHOSTUNREACH",
        NetworkUnreachable => "ENETUNREACH",
        NetworkDown => "ENETDOWN",
        AddrNotAvailable => "EADDRNOTAVAIL",
        BrokenPipe => "EPIPE",
        PermissionDenied => "EACCES",
        UnexpectedEof => CONNECTION_LOST,
        _ => NETWORK,
    }
}

/// The failure as JS builds the `cause` from it.
#[napi(object)]
pub struct FailureInfo {
    pub code: String,
    pub message: String,
    /// For an unexpected HTTP response.
    pub status_code: Option<u16>,
    /// The response's header fields, `[name, value, name, value, …]`.
    pub headers: Option<Vec<String>>,
    pub sent_close_code: Option<u16>,
    pub certificate_error: Option<String>,
}

impl From<Failure> for FailureInfo {
    fn from(failure: Failure) -> Self {
        let (status_code, headers) = match failure.response {
            Some((status, headers)) => (
                Some(status),
                Some(
                    headers
                        .into_iter()
                        .flat_map(|(name, value)| [name, value])
                        .collect(),
                ),
            ),
            None => (None, None),
        };
        FailureInfo {
            code: failure.code.to_string(),
            message: failure.message,
            status_code,
            headers,
            sent_close_code: failure.sent_close_code,
            certificate_error: failure.certificate_error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_errors_take_nodes_codes() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(Failure::io(&refused, "x").code, "ECONNREFUSED");
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(Failure::io(&eof, "x").code, CONNECTION_LOST);
        assert_eq!(Failure::io(&io::Error::other("odd"), "x").code, NETWORK);
    }

    #[test]
    fn a_violation_names_the_close_code_sent() {
        assert_eq!(Failure::violation(1002, "x").code, PROTOCOL);
        let too_large = Failure::violation(1009, "x");
        assert_eq!(
            (too_large.code, too_large.sent_close_code),
            (MESSAGE_TOO_LARGE, Some(1009))
        );
    }

    #[test]
    fn response_headers_reach_js_flat() {
        let failure = Failure::unexpected_response(
            UNEXPECTED_RESPONSE,
            401,
            vec![("www-authenticate".into(), "Bearer".into())],
            "no".into(),
        );
        let info = FailureInfo::from(failure);
        assert_eq!(info.status_code, Some(401));
        assert_eq!(
            info.headers,
            Some(vec!["www-authenticate".into(), "Bearer".into()])
        );
    }
}
