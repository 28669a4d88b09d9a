//! `/flood`: N messages of S bytes as fast as the socket takes them, then
//! Close 1000. The frames are encoded once into a block of about 1 MiB that is
//! written again and again, so the server spends its time in write(2) only.
//!
//! The client may close first (the slow-consumer scenario closes mid-flood):
//! a reader task watches for its Close, and the writer stops at the next block
//! boundary (never inside a frame), echoes the client's code and ends.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame, FrameHeader};

use crate::client_frames::{ClientFrame, FrameReader};
use crate::deflate::compress_message;
use crate::route::{DeflateFloodSpec, FloodSpec};

const BLOCK_BYTES: usize = 1 << 20;
/// How long we wait for the client's answer to our Close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    Open,
    /// The client sent Close (with this code, if any).
    Closed(Option<u16>),
    /// EOF or a read error: nobody to write to.
    Gone,
}

pub async fn run(stream: TcpStream, spec: FloodSpec) {
    let frame = encode_message(spec.size, spec.text);
    send_frames(stream, &frame, spec.count, "").await;
}

/// `/deflate/flood`: the message compressed once (server_no_context_takeover
/// makes every copy compress to the same bytes), sent as `count` frames with
/// RSV1 set. The Close's reason is the compressed payload's length, so the
/// client can report the bytes per message on the wire.
pub async fn run_deflate(stream: TcpStream, spec: DeflateFloodSpec) {
    let compressed = compress_message(spec.message.as_bytes());
    let frame = encode_frame(true, true, &compressed);
    send_frames(stream, &frame, spec.count, &compressed.len().to_string()).await;
}

/// `count` copies of `frame`, then Close 1000 with `reason` (or the client's
/// code, if it closed first).
async fn send_frames(stream: TcpStream, frame: &[u8], count: u64, reason: &str) {
    let (read, mut write) = stream.into_split();
    let (state_sender, mut state) = watch::channel(ClientState::Open);
    let reader = tokio::spawn(watch_client(read, state_sender));

    let frames_per_block = (BLOCK_BYTES / frame.len()).max(1) as u64;
    let block = frame.repeat(frames_per_block.min(count.max(1)) as usize);
    let mut remaining = count;
    while remaining > 0 && *state.borrow() == ClientState::Open {
        let frames = remaining.min(frames_per_block);
        if write
            .write_all(&block[..frames as usize * frame.len()])
            .await
            .is_err()
        {
            reader.abort();
            return;
        }
        remaining -= frames;
    }

    let client = *state.borrow();
    let code = match client {
        ClientState::Gone => return,
        ClientState::Closed(code) => code.unwrap_or(1000),
        ClientState::Open => 1000,
    };
    if write.write_all(&close_frame(code, reason)).await.is_err() {
        reader.abort();
        return;
    }
    if client == ClientState::Open {
        // Wait for the client's Close (or its EOF) before ending TCP.
        let answered = state.wait_for(|state| *state != ClientState::Open);
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, answered).await;
    }
    reader.abort();
    let _ = write.shutdown().await;
}

async fn watch_client(read: OwnedReadHalf, state: watch::Sender<ClientState>) {
    let mut frames = FrameReader::new(read);
    loop {
        match frames.next().await {
            Ok(Some(ClientFrame::Close { code })) => {
                state.send_replace(ClientState::Closed(code));
                return;
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                state.send_replace(ClientState::Gone);
                return;
            }
        }
    }
}

/// One unmasked server frame: a final text or binary message of `size` bytes
/// (ASCII 'x', valid UTF-8 either way).
fn encode_message(size: usize, text: bool) -> Vec<u8> {
    let opcode = OpCode::Data(if text { Data::Text } else { Data::Binary });
    let header = FrameHeader {
        opcode,
        ..FrameHeader::default()
    };
    let mut frame = Vec::with_capacity(size + 14);
    header
        .format(size as u64, &mut frame)
        .expect("formatting into a Vec cannot fail");
    frame.resize(frame.len() + size, b'x');
    frame
}

/// One unmasked server frame holding a whole message: text or binary, with
/// RSV1 (compressed) set or not.
fn encode_frame(text: bool, compressed: bool, payload: &[u8]) -> Vec<u8> {
    let opcode = OpCode::Data(if text { Data::Text } else { Data::Binary });
    let header = FrameHeader {
        opcode,
        rsv1: compressed,
        ..FrameHeader::default()
    };
    let mut frame = Vec::with_capacity(payload.len() + 14);
    header
        .format(payload.len() as u64, &mut frame)
        .expect("formatting into a Vec cannot fail");
    frame.extend_from_slice(payload);
    frame
}

pub fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    let close = CloseFrame {
        code: code.into(),
        reason: reason.into(),
    };
    let mut frame = Vec::with_capacity(4 + reason.len());
    Frame::close(Some(close))
        .format(&mut frame)
        .expect("formatting into a Vec cannot fail");
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_frames() {
        assert_eq!(&encode_message(3, true)[..], b"\x81\x03xxx");
        assert_eq!(
            &encode_message(65536, false)[..10],
            b"\x82\x7f\0\0\0\0\0\x01\0\0"
        );
        assert_eq!(close_frame(1000, "a b"), b"\x88\x05\x03\xe8a b");
        assert_eq!(&encode_frame(true, true, b"ab")[..], b"\xc1\x02ab");
    }
}
