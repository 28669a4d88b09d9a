//! Reading the head of an HTTP/1.1 response: the WebSocket handshake's 101
//! and an HTTP proxy's answer to CONNECT.

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::failure::{Failure, CONNECTION_LOST, INVALID_RESPONSE};
use crate::limits::{MAX_HANDSHAKE_RESPONSE_BYTES, MAX_RESPONSE_HEADER_FIELDS};

pub struct ResponseHead {
    pub status: u16,
    pub status_text: String,
    /// Header fields as received, names in their own case.
    pub headers: Vec<(String, String)>,
}

/// Reads up to the blank line ending the head. Returns the parsed head and the
/// bytes that followed it. `exchange` names the step in error messages.
pub async fn read_response_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    exchange: &str,
) -> Result<(ResponseHead, Vec<u8>), Failure> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let parsed =
            ResponseHead::parse(&buffer).map_err(|error| Failure::new(INVALID_RESPONSE, error))?;
        if let Some((head, length)) = parsed {
            return Ok((head, buffer.split_off(length)));
        }
        if buffer.len() > MAX_HANDSHAKE_RESPONSE_BYTES {
            return Err(Failure::new(
                INVALID_RESPONSE,
                format!(
                    "the response to {exchange} is longer than {MAX_HANDSHAKE_RESPONSE_BYTES} bytes"
                ),
            ));
        }
        let read = stream.read(&mut chunk).await.map_err(|error| {
            Failure::io(
                &error,
                format!("the connection failed during {exchange}: {error}"),
            )
        })?;
        if read == 0 {
            return Err(Failure::new(
                CONNECTION_LOST,
                if buffer.is_empty() {
                    format!("the server closed the connection without answering {exchange}")
                } else {
                    format!(
                    "the server closed the connection in the middle of its response to {exchange}"
                )
                },
            ));
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

impl ResponseHead {
    /// Parses the head at the start of `bytes`: the head and its length in
    /// bytes, or None while it is incomplete. A status line or header line
    /// that is not HTTP fails at once, without waiting for the rest.
    pub fn parse(bytes: &[u8]) -> Result<Option<(ResponseHead, usize)>, String> {
        let mut fields = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADER_FIELDS];
        let mut response = httparse::Response::new(&mut fields);
        let length = match response.parse(bytes) {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(error) => return Err(describe_parse_error(error, bytes)),
        };
        let status = response
            .code
            .ok_or_else(|| describe_parse_error(httparse::Error::Status, bytes))?;
        let text = |bytes: &[u8]| {
            std::str::from_utf8(bytes)
                .map(str::to_string)
                .map_err(|_| "the server's response head is not valid text".to_string())
        };
        let headers = response
            .headers
            .iter()
            .map(|field| Ok((field.name.to_string(), text(field.value)?)))
            .collect::<Result<_, String>>()?;
        let head = ResponseHead {
            status,
            status_text: response.reason.unwrap_or_default().to_string(),
            headers,
        };
        Ok(Some((head, length)))
    }

    /// All values of a header, joined as HTTP joins repeated fields.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

/// httparse says what kind of error it found, not where: the message quotes
/// the status line, or the first header line httparse refuses on its own.
fn describe_parse_error(error: httparse::Error, head: &[u8]) -> String {
    let mut lines = head
        .split(|&byte| byte == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let status_line = lines.next().unwrap_or_default();
    match error {
        httparse::Error::Version | httparse::Error::Status => format!(
            "the server did not answer with HTTP (status line {:?})",
            quote(status_line)
        ),
        httparse::Error::TooManyHeaders => {
            format!("the server sent more than {MAX_RESPONSE_HEADER_FIELDS} header fields")
        }
        _ => {
            let refused = lines.find(|line| {
                let mut field = [httparse::EMPTY_HEADER; 1];
                let alone = [line, &b"\r\n\r\n"[..]].concat();
                httparse::parse_headers(&alone, &mut field).is_err()
            });
            format!(
                "the server sent a malformed header line {:?}",
                quote(refused.unwrap_or(status_line))
            )
        }
    }
}

/// The start of a line, as text, for an error message.
fn quote(line: &[u8]) -> String {
    String::from_utf8_lossy(line).chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(bytes: &[u8]) -> ResponseHead {
        let (head, length) = ResponseHead::parse(bytes)
            .expect("a valid head")
            .expect("a complete head");
        assert_eq!(length, bytes.len());
        head
    }

    #[test]
    fn repeated_headers_are_joined_and_names_match_ignoring_case() {
        let head = parsed(b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
        assert_eq!((head.status, head.status_text.as_str()), (200, "OK"));
        assert_eq!(head.header("X-a").as_deref(), Some("1, 2"));
        assert_eq!(head.header("missing"), None);
    }

    #[test]
    fn an_incomplete_head_waits_for_more() {
        assert!(matches!(
            ResponseHead::parse(b"HTTP/1.1 101 Switching Protocols\r\nUpgr"),
            Ok(None)
        ));
    }

    #[test]
    fn a_non_http_answer_is_reported_with_its_first_line_at_once() {
        let error = ResponseHead::parse(b"SSH-2.0-OpenSSH\r\n").err();
        assert_eq!(
            error.as_deref(),
            Some("the server did not answer with HTTP (status line \"SSH-2.0-OpenSSH\")")
        );
    }

    #[test]
    fn a_malformed_header_line_is_quoted() {
        let error =
            ResponseHead::parse(b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nno colon\r\n\r\n").err();
        assert_eq!(
            error.as_deref(),
            Some("the server sent a malformed header line \"no colon\"")
        );
    }

    #[test]
    fn a_header_value_that_is_not_utf8_is_refused() {
        let error = ResponseHead::parse(b"HTTP/1.1 101 OK\r\nX: \xff\r\n\r\n").err();
        assert_eq!(
            error.as_deref(),
            Some("the server's response head is not valid text")
        );
    }

    #[tokio::test]
    async fn bytes_after_the_head_are_returned() {
        let mut input: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x00";
        let (head, leftover) = read_response_head(&mut input, "the handshake")
            .await
            .unwrap();
        assert_eq!(head.status, 101);
        assert_eq!(leftover, b"\x81\x00");
    }
}
