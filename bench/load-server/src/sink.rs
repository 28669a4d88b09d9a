//! `/sink`: counts what the client sends. When the client closes, the Close
//! reply's reason reports `"<messages> <payload bytes>"`, so a client can check
//! that everything it sent arrived (and its clock stops only then).
//!
//! `/deflate/sink`: the same after negotiating permessage-deflate. Its reason
//! is `"<messages> <payload bytes> <compressed messages> <checked messages>
//! <checksum>"`: payload bytes as they crossed the socket (compressed or not),
//! how many messages had RSV1 set, and FNV-1a (8 hex digits) over the first
//! CHECKED_MESSAGES messages inflated (`inflate-error` if one did not), which
//! the client compares with the same hash of what it sent. Only those are
//! inflated, so the server stays far faster than any client can compress.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::client_frames::{ClientFrame, FrameReader};
use crate::deflate::{fnv1a, Inflater, FNV_OFFSET};
use crate::flood::close_frame;

/// How many of the client's first messages the deflate sink inflates and hashes.
pub const CHECKED_MESSAGES: u64 = 64;

pub async fn run(stream: TcpStream) {
    let (read, mut write) = stream.into_split();
    let mut frames = FrameReader::new(read);
    let (mut messages, mut bytes) = (0u64, 0u64);
    loop {
        match frames.next().await {
            Ok(Some(ClientFrame::Data { fin, len, .. })) => {
                bytes += len;
                messages += u64::from(fin);
            }
            Ok(Some(ClientFrame::Control)) => {}
            Ok(Some(ClientFrame::Close { .. })) => {
                let reply = close_frame(1000, &format!("{messages} {bytes}"));
                let _ = write.write_all(&reply).await;
                // The server ends the TCP connection once both Closes are sent.
                let _ = write.shutdown().await;
                return;
            }
            Ok(None) | Err(_) => return,
        }
    }
}

pub async fn run_deflate(stream: TcpStream) {
    let (read, mut write) = stream.into_split();
    let mut frames = FrameReader::new(read);
    let (mut messages, mut bytes, mut compressed_messages) = (0u64, 0u64, 0u64);
    let mut check = Check::new();
    // RSV1 is set on a message's first frame only.
    let mut first_frame = true;
    let mut compressed = false;
    loop {
        let frame = if check.wants_more() {
            frames.next_with_payload().await
        } else {
            frames
                .next()
                .await
                .map(|frame| frame.map(|frame| (frame, Vec::new())))
        };
        match frame {
            Ok(Some((
                ClientFrame::Data {
                    fin,
                    len,
                    compressed: rsv1,
                },
                payload,
            ))) => {
                if first_frame {
                    compressed = rsv1;
                }
                first_frame = fin;
                bytes += len;
                check.add(&payload, fin, compressed);
                if fin {
                    messages += 1;
                    compressed_messages += u64::from(compressed);
                }
            }
            Ok(Some((ClientFrame::Control, _))) => {}
            Ok(Some((ClientFrame::Close { .. }, _))) => {
                let reason = format!(
                    "{messages} {bytes} {compressed_messages} {} {}",
                    check.checked,
                    check.checksum()
                );
                let _ = write.write_all(&close_frame(1000, &reason)).await;
                let _ = write.shutdown().await;
                return;
            }
            Ok(None) | Err(_) => return,
        }
    }
}

/// Inflates (when compressed) and hashes the client's first messages.
struct Check {
    inflater: Inflater,
    /// The current message's payload so far.
    payload: Vec<u8>,
    checked: u64,
    hash: u32,
    failed: bool,
}

impl Check {
    fn new() -> Self {
        Check {
            inflater: Inflater::new(),
            payload: Vec::new(),
            checked: 0,
            hash: FNV_OFFSET,
            failed: false,
        }
    }

    fn wants_more(&self) -> bool {
        self.checked < CHECKED_MESSAGES && !self.failed
    }

    fn add(&mut self, payload: &[u8], fin: bool, compressed: bool) {
        if !self.wants_more() {
            return;
        }
        self.payload.extend_from_slice(payload);
        if !fin {
            return;
        }
        let message = std::mem::take(&mut self.payload);
        let text = if compressed {
            match self.inflater.inflate(&message) {
                Ok(inflated) => inflated,
                Err(_) => {
                    self.failed = true;
                    return;
                }
            }
        } else {
            message
        };
        self.hash = fnv1a(self.hash, &text);
        self.checked += 1;
    }

    fn checksum(&self) -> String {
        if self.failed {
            "inflate-error".to_owned()
        } else {
            format!("{:08x}", self.hash)
        }
    }
}
