//! Reading the head of an HTTP/1.1 response: the WebSocket handshake's 101
//! and an HTTP proxy's answer to CONNECT.

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::limits::MAX_HANDSHAKE_RESPONSE_BYTES;

pub struct ResponseHead {
    pub status: u16,
    pub status_text: String,
    headers: Vec<(String, String)>,
}

/// Reads up to the blank line ending the head. Returns the parsed head and the
/// bytes that followed it. `exchange` names the step in error messages.
pub async fn read_response_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    exchange: &str,
) -> Result<(ResponseHead, Vec<u8>), String> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = find_head_end(&buffer) {
            let leftover = buffer.split_off(end);
            return Ok((ResponseHead::parse(&buffer)?, leftover));
        }
        if buffer.len() > MAX_HANDSHAKE_RESPONSE_BYTES {
            return Err(format!(
                "the response to {exchange} is longer than {MAX_HANDSHAKE_RESPONSE_BYTES} bytes"
            ));
        }
        let read = stream
            .read(&mut chunk)
            .await
            .map_err(|error| format!("the connection failed during {exchange}: {error}"))?;
        if read == 0 {
            return Err(if buffer.is_empty() {
                format!("the server closed the connection without answering {exchange}")
            } else {
                format!(
                    "the server closed the connection in the middle of its response to {exchange}"
                )
            });
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

fn find_head_end(buffer: &[u8]) -> Option<usize> {
    buffer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| at + 4)
}

impl ResponseHead {
    pub fn parse(head: &[u8]) -> Result<ResponseHead, String> {
        let text = std::str::from_utf8(head)
            .map_err(|_| "the server's response head is not valid text".to_string())?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        let status = parts.next().and_then(|code| code.parse::<u16>().ok());
        let (true, Some(status)) = (version.starts_with("HTTP/1."), status) else {
            return Err(format!(
                "the server did not answer with HTTP (status line {:?})",
                truncate(status_line, 60)
            ));
        };
        let status_text = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        for line in lines.filter(|line| !line.is_empty()) {
            let Some((name, value)) = line.split_once(':') else {
                return Err(format!(
                    "the server sent a malformed header line {:?}",
                    truncate(line, 60)
                ));
            };
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        Ok(ResponseHead {
            status,
            status_text,
            headers,
        })
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

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_headers_are_joined_and_names_match_ignoring_case() {
        let head = ResponseHead::parse(b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\n\r\n").unwrap();
        assert_eq!((head.status, head.status_text.as_str()), (200, "OK"));
        assert_eq!(head.header("X-a").as_deref(), Some("1, 2"));
        assert_eq!(head.header("missing"), None);
    }

    #[test]
    fn a_non_http_answer_is_reported_as_such() {
        assert!(ResponseHead::parse(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
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
