//! The opening handshake (RFC 6455 §4.1) over an already connected socket.
//!
//! Written here rather than taken from tungstenite because the draft's rules
//! differ from its client: a server may select no subprotocol even when some
//! were offered, an unoffered extension fails the connection, and the failure
//! message has to say which rule the server broke.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::failure::{Failure, INVALID_RESPONSE, UNEXPECTED_RESPONSE};
use crate::http_head::{read_response_head, ResponseHead};
use crate::permessage_deflate::{self, Agreed};

/// What the request needs from the URL, already split by the JS wrapper.
pub struct HandshakeRequest {
    /// `host[:port]` as the URL serializer wrote it (default ports omitted).
    pub host_header: String,
    /// Path and query, never empty (at least `/`).
    pub resource: String,
    pub protocols: Vec<String>,
    /// Extra request headers, already checked by the JS wrapper.
    pub headers: Vec<(String, String)>,
    /// Offer permessage-deflate.
    pub offer_deflate: bool,
}

#[derive(Debug)]
pub struct HandshakeResponse {
    pub protocol: String,
    /// The extensions header as the server wrote it.
    pub extensions: String,
    /// What the server agreed to, if it accepted permessage-deflate.
    pub deflate: Option<Agreed>,
    /// Bytes the server sent after its response: the first frames.
    pub leftover: Vec<u8>,
}

impl HandshakeRequest {
    fn encode(&self, key: &str) -> String {
        let mut request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n",
            self.resource, self.host_header
        );
        // The draft sends no Sec-WebSocket-Protocol header for an empty list.
        if !self.protocols.is_empty() {
            request.push_str(&format!(
                "Sec-WebSocket-Protocol: {}\r\n",
                self.protocols.join(", ")
            ));
        }
        if self.offer_deflate {
            request.push_str(&format!(
                "Sec-WebSocket-Extensions: {}\r\n",
                permessage_deflate::OFFER
            ));
        }
        for (name, value) in &self.headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request
    }
}

pub async fn perform<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &HandshakeRequest,
) -> Result<HandshakeResponse, Failure> {
    let key = generate_key();
    stream
        .write_all(request.encode(&key).as_bytes())
        .await
        .map_err(|error| {
            Failure::io(
                &error,
                format!("the handshake request could not be sent: {error}"),
            )
        })?;
    let (response, leftover) = read_response_head(stream, "the handshake").await?;
    if response.status != 101 {
        return Err(unexpected_status(response));
    }
    let protocol = validate(
        &response,
        &derive_accept_key(key.as_bytes()),
        &request.protocols,
    )
    .map_err(|error| Failure::new(INVALID_RESPONSE, error))?;
    let extensions = response
        .header("sec-websocket-extensions")
        .unwrap_or_default();
    let deflate = permessage_deflate::accept_answer(&extensions, request.offer_deflate)
        .map_err(|error| Failure::new(INVALID_RESPONSE, error))?;
    Ok(HandshakeResponse {
        protocol,
        extensions,
        deflate,
        leftover,
    })
}

/// Another answer than 101: the program gets the status and the headers
/// (a 401's WWW-Authenticate, a 503's Retry-After).
fn unexpected_status(response: ResponseHead) -> Failure {
    let redirect = (300..400).contains(&response.status);
    let message = format!(
        "the server answered the WebSocket upgrade with HTTP {} {}{}",
        response.status,
        response.status_text,
        if redirect {
            " (redirects are not followed)"
        } else {
            ""
        }
    );
    Failure::unexpected_response(
        UNEXPECTED_RESPONSE,
        response.status,
        response.headers,
        message,
    )
}

/// RFC 6455 §4.1 and the Fetch "establish a WebSocket connection" checks on
/// a 101, but for the extensions (permessage_deflate.rs). Returns the
/// selected subprotocol.
fn validate(
    response: &ResponseHead,
    expected_accept: &str,
    offered_protocols: &[String],
) -> Result<String, String> {
    let has_token = |name: &str, token: &str| {
        response.header(name).is_some_and(|value| {
            value
                .split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    };
    if !has_token("upgrade", "websocket") {
        return Err("the server's 101 response lacks `Upgrade: websocket`".to_string());
    }
    if !has_token("connection", "upgrade") {
        return Err("the server's 101 response lacks `Connection: Upgrade`".to_string());
    }
    match response.header("sec-websocket-accept") {
        Some(accept) if accept == expected_accept => {}
        Some(_) => return Err("the server sent a wrong Sec-WebSocket-Accept key".to_string()),
        None => return Err("the server's 101 response lacks Sec-WebSocket-Accept".to_string()),
    }
    let protocol = response
        .header("sec-websocket-protocol")
        .unwrap_or_default();
    if !protocol.is_empty() && !offered_protocols.contains(&protocol) {
        return Err(if offered_protocols.is_empty() {
            format!("the server selected subprotocol {protocol:?} although none was offered")
        } else {
            format!(
                "the server selected subprotocol {protocol:?}, which was not offered ({})",
                offered_protocols.join(", ")
            )
        });
    }
    Ok(protocol)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    fn head(text: &str) -> ResponseHead {
        let (head, _) = ResponseHead::parse(text.as_bytes())
            .expect("a valid head")
            .expect("a complete head");
        head
    }

    fn upgrade(extra: &str) -> ResponseHead {
        head(&format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {ACCEPT}\r\n{extra}\r\n"
        ))
    }

    #[test]
    fn accept_key_follows_rfc_6455_example() {
        assert_eq!(derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), ACCEPT);
    }

    #[test]
    fn request_omits_protocol_header_when_none_offered() {
        let mut request = HandshakeRequest {
            host_header: "h:8080".into(),
            resource: "/a?b".into(),
            protocols: vec![],
            headers: vec![("Authorization".into(), "Bearer t".into())],
            offer_deflate: false,
        };
        let encoded = request.encode("k");
        assert!(encoded.starts_with("GET /a?b HTTP/1.1\r\nHost: h:8080\r\n"));
        assert!(!encoded.contains("Sec-WebSocket-Protocol"));
        assert!(!encoded.contains("Sec-WebSocket-Extensions"));
        assert!(encoded.ends_with("Authorization: Bearer t\r\n\r\n"));
        request.protocols = vec!["a".into(), "b".into()];
        assert!(request
            .encode("k")
            .contains("Sec-WebSocket-Protocol: a, b\r\n"));
        request.offer_deflate = true;
        assert!(request
            .encode("k")
            .contains("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"));
    }

    #[test]
    fn server_may_select_no_protocol_even_when_some_were_offered() {
        let offered = vec!["chat".to_string()];
        assert_eq!(validate(&upgrade(""), ACCEPT, &offered), Ok(String::new()));
        assert_eq!(
            validate(
                &upgrade("Sec-WebSocket-Protocol: chat\r\n"),
                ACCEPT,
                &offered
            ),
            Ok("chat".to_string())
        );
    }

    #[test]
    fn unoffered_protocol_and_wrong_key_fail() {
        let offered = vec!["chat".to_string()];
        let unoffered = validate(&upgrade("Sec-WebSocket-Protocol: x\r\n"), ACCEPT, &offered);
        assert!(unoffered.unwrap_err().contains("not offered"));
        assert!(validate(&upgrade(""), "other", &[])
            .unwrap_err()
            .contains("Accept"));
    }

    #[test]
    fn another_status_is_an_unexpected_response_with_its_headers() {
        let failure = unexpected_status(head(
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\n\r\n",
        ));
        assert_eq!(failure.code, UNEXPECTED_RESPONSE);
        assert!(failure.message.contains("HTTP 503 Service Unavailable"));
        assert_eq!(
            failure.response,
            Some((503, vec![("Retry-After".to_string(), "30".to_string())]))
        );
    }
}
