//! permessage-deflate (RFC 7692) for the `/deflate/*` routes: the answer to a
//! client's offer, the one-time compression of the flood's message, and the
//! inflater the sink checks the client's first messages with.
//!
//! The server always answers `server_no_context_takeover`: every message it
//! sends is compressed on its own, so the flood's message compresses to the
//! same bytes every time and is compressed once. The client keeps its context
//! (nobody asks it not to), as it would against most servers.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio_tungstenite::tungstenite::http::HeaderMap;

/// What RFC 7692 section 7.2.1 removes from the end of a compressed message
/// and section 7.2.2 appends again before inflating.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The `Sec-WebSocket-Extensions` answer to the first permessage-deflate
/// offer this server can honour, or `None` when the client offered none.
///
/// An offer is declined if it has a parameter we do not know, a parameter
/// twice, or `server_max_window_bits` below 15 (we compress with 15).
pub fn negotiate(headers: &HeaderMap) -> Option<String> {
    let offers = headers
        .get_all("sec-websocket-extensions")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    offers.filter_map(answer).next()
}

fn answer(offer: &str) -> Option<String> {
    let mut parts = offer.split(';').map(str::trim);
    if parts.next()? != "permessage-deflate" {
        return None;
    }
    let mut seen = Vec::new();
    let mut client_max_window_bits = None;
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (param, None),
        };
        if seen.contains(&name) {
            return None;
        }
        seen.push(name);
        match (name, value) {
            ("server_no_context_takeover" | "client_no_context_takeover", None) => {}
            ("server_max_window_bits", Some("15")) => {}
            ("client_max_window_bits", None) => client_max_window_bits = Some(15),
            ("client_max_window_bits", Some(bits)) => {
                let bits: u8 = bits.parse().ok()?;
                if !(8..=15).contains(&bits) {
                    return None;
                }
                client_max_window_bits = Some(bits);
            }
            _ => return None,
        }
    }
    let mut answer = "permessage-deflate; server_no_context_takeover".to_owned();
    if let Some(bits) = client_max_window_bits {
        answer.push_str(&format!("; client_max_window_bits={bits}"));
    }
    Some(answer)
}

/// One message compressed on its own (a fresh context, as
/// server_no_context_takeover promises), with the sync flush's empty stored
/// block removed: the payload of a frame with RSV1 set.
pub fn compress_message(message: &[u8]) -> Vec<u8> {
    let mut deflater = Compress::new(Compression::default(), false);
    let mut compressed = Vec::with_capacity(message.len() + 64);
    loop {
        let consumed = deflater.total_in() as usize;
        deflater
            .compress_vec(&message[consumed..], &mut compressed, FlushCompress::Sync)
            .expect("deflate into a Vec cannot fail");
        if deflater.total_in() as usize == message.len() && compressed.ends_with(&TAIL) {
            break;
        }
        compressed.reserve(compressed.capacity());
    }
    compressed.truncate(compressed.len() - TAIL.len());
    compressed
}

/// Inflates a client's messages in order, keeping the context between them
/// (the client may refer back to its earlier messages).
pub struct Inflater {
    decompress: Decompress,
}

impl Inflater {
    pub fn new() -> Self {
        Inflater {
            decompress: Decompress::new(false),
        }
    }

    /// One message's payload (all its frames' unmasked bytes) inflated.
    pub fn inflate(&mut self, payload: &[u8]) -> Result<Vec<u8>, flate2::DecompressError> {
        let mut input = Vec::with_capacity(payload.len() + TAIL.len());
        input.extend_from_slice(payload);
        input.extend_from_slice(&TAIL);
        let mut inflated = Vec::with_capacity(payload.len() * 4 + 64);
        let mut consumed = 0;
        loop {
            let before = self.decompress.total_in();
            let status = self.decompress.decompress_vec(
                &input[consumed..],
                &mut inflated,
                FlushDecompress::Sync,
            )?;
            consumed += (self.decompress.total_in() - before) as usize;
            let room_left = inflated.len() < inflated.capacity();
            if consumed == input.len() && room_left || status == Status::StreamEnd {
                return Ok(inflated);
            }
            inflated.reserve(inflated.capacity());
        }
    }
}

/// FNV-1a (32 bits) over the bytes of several messages, continued from `hash`
/// (start from `FNV_OFFSET`). bench/clients/common.mjs computes the same.
pub fn fnv1a(mut hash: u32, bytes: &[u8]) -> u32 {
    for &byte in bytes {
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    hash
}

pub const FNV_OFFSET: u32 = 0x811c_9dc5;

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::http::HeaderValue;

    fn offer(values: &[&str]) -> Option<String> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                "sec-websocket-extensions",
                HeaderValue::from_str(value).unwrap(),
            );
        }
        negotiate(&headers)
    }

    #[test]
    fn answers_offers() {
        assert_eq!(
            offer(&["permessage-deflate; client_max_window_bits"]).as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_max_window_bits=15")
        );
        assert_eq!(
            offer(&["permessage-deflate"]).as_deref(),
            Some("permessage-deflate; server_no_context_takeover")
        );
        assert_eq!(
            offer(&["permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits=12"])
                .as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_max_window_bits=12")
        );
        assert_eq!(
            offer(&["x-webkit-deflate-frame", "permessage-deflate; x=1"]),
            None
        );
        assert_eq!(
            offer(&["permessage-deflate; server_no_context_takeover; server_no_context_takeover"]),
            None
        );
        assert_eq!(offer(&[]), None);
    }

    #[test]
    fn compresses_messages_that_inflate_back() {
        let message = br#"{"trades":[{"price":"1.00"},{"price":"1.00"},{"price":"2.00"}]}"#;
        let compressed = compress_message(message);
        assert!(compressed.len() < message.len());
        assert!(!compressed.ends_with(&TAIL));
        // The same bytes every time: nothing carries over between messages.
        assert_eq!(compress_message(message), compressed);
        let mut inflater = Inflater::new();
        for _ in 0..3 {
            assert_eq!(inflater.inflate(&compressed).unwrap(), message);
        }
        assert!(Inflater::new().inflate(b"\xff\xff\xff").is_err());
    }

    #[test]
    fn hashes_like_the_client() {
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0x811c_9dc5);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(fnv1a(FNV_OFFSET, b"fo"), b"obar"), 0xbf9c_f968);
    }
}
