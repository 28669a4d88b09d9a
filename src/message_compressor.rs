//! Sending under permessage-deflate (RFC 7692 §7.2.1): each message of at
//! least the threshold goes out as one compressed frame with RSV1 set. It runs
//! on the connection's thread, as messages leave the outbound queue.

use flate2::{Compress, Compression, FlushCompress, Status};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

use crate::permessage_deflate::{Agreed, DeflateSettings, SYNC_FLUSH_TAIL};

/// With an 8-bit window agreed, input is compressed in pieces this long, each
/// ending in a full flush that empties the window: no distance reaches back
/// further than 256 bytes, which the server's 8-bit inflater can follow.
const EIGHT_BIT_WINDOW: usize = 1 << 8;

pub struct MessageCompressor {
    settings: DeflateSettings,
    window_bits: u8,
    /// Start every message with an empty window (`client_no_context_takeover`).
    reset_each_message: bool,
    /// 8 bits were agreed (see `EIGHT_BIT_WINDOW`).
    eight_bit_window: bool,
    /// Made at the first compressed message: connections that only send small
    /// messages never pay for its window and tables.
    compress: Option<Box<Compress>>,
}

impl MessageCompressor {
    pub fn new(agreed: &Agreed, settings: DeflateSettings) -> Self {
        MessageCompressor {
            settings,
            // zlib refuses an 8-bit window for raw deflate: compress with 9
            // bits, as Chromium does, in pieces that keep distances short.
            window_bits: agreed.client_max_window_bits.max(9),
            reset_each_message: agreed.client_no_context_takeover,
            eight_bit_window: agreed.client_max_window_bits == 8,
            compress: None,
        }
    }

    /// The message as it goes on the wire: a data message of at least the
    /// threshold becomes one compressed frame; anything else is unchanged.
    /// Messages below the threshold never touch the window, so the server's
    /// inflater stays in step with ours.
    pub fn encode(&mut self, message: Message) -> Message {
        let (opcode, payload) = match &message {
            Message::Text(text) if text.len() >= self.settings.threshold => {
                (Data::Text, text.as_bytes())
            }
            Message::Binary(bytes) if bytes.len() >= self.settings.threshold => {
                (Data::Binary, &bytes[..])
            }
            _ => return message,
        };
        let Some(compressed) = self.compress(payload) else {
            return message;
        };
        let mut frame = Frame::message(compressed, OpCode::Data(opcode), true);
        frame.header_mut().rsv1 = true;
        Message::Frame(frame)
    }

    /// `payload` compressed and sync-flushed, without the flush's tail; None
    /// if zlib failed (the message then goes out uncompressed, and the window
    /// starts again empty, which the server's inflater accepts).
    fn compress(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        if payload.is_empty() {
            // An empty stored block (RFC 7692 §7.2.3.6): a flush with nothing
            // new to flush makes zlib write nothing at all.
            return Some(vec![0x00]);
        }
        let compress = self.compress.get_or_insert_with(|| {
            Box::new(Compress::new_with_window_bits(
                Compression::new(self.settings.level),
                false,
                self.window_bits,
            ))
        });
        let mut output = Vec::with_capacity(payload.len() / 2 + 64);
        let flushed = if self.eight_bit_window {
            // An empty payload still needs its flush.
            let mut pieces = payload.chunks(EIGHT_BIT_WINDOW);
            let first = pieces.next().unwrap_or_default();
            std::iter::once(first)
                .chain(pieces)
                .all(|piece| compress_flushed(compress, piece, FlushCompress::Full, &mut output))
        } else {
            compress_flushed(compress, payload, FlushCompress::Sync, &mut output)
        };
        if !flushed || !output.ends_with(&SYNC_FLUSH_TAIL) {
            compress.reset();
            return None;
        }
        output.truncate(output.len() - SYNC_FLUSH_TAIL.len());
        if self.reset_each_message {
            compress.reset();
        }
        Some(output)
    }
}

/// Compresses all of `input` and flushes, appending to `output`; false if
/// zlib failed.
fn compress_flushed(
    compress: &mut Compress,
    input: &[u8],
    flush: FlushCompress,
    output: &mut Vec<u8>,
) -> bool {
    let started_at = compress.total_in();
    loop {
        let consumed = (compress.total_in() - started_at) as usize;
        if output.capacity() - output.len() < 64 {
            output.reserve(output.capacity().max(64));
        }
        match compress.compress_vec(&input[consumed..], output, flush) {
            // The flush is complete once zlib stops short of the space it had.
            Ok(Status::Ok | Status::BufError)
                if compress.total_in() - started_at == input.len() as u64
                    && output.len() < output.capacity() =>
            {
                return true;
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};

    fn compressor(agreed: Agreed, threshold: usize) -> MessageCompressor {
        MessageCompressor::new(
            &agreed,
            DeflateSettings {
                threshold,
                level: 6,
            },
        )
    }

    fn takeover() -> Agreed {
        Agreed {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            client_max_window_bits: 15,
        }
    }

    /// The frame's payload inflated with `inflater`, as a server would.
    fn inflate(frame: &Message, inflater: &mut Decompress) -> Vec<u8> {
        let Message::Frame(frame) = frame else {
            panic!("not compressed: {frame:?}");
        };
        assert!(frame.header().rsv1);
        let mut input = frame.payload().to_vec();
        input.extend_from_slice(&SYNC_FLUSH_TAIL);
        let mut output = Vec::with_capacity(1 << 20);
        inflater
            .decompress_vec(&input, &mut output, FlushDecompress::Sync)
            .expect("valid deflate data");
        output
    }

    #[test]
    fn empty_messages_are_compressed_as_an_empty_block_every_time() {
        let mut compressor = compressor(takeover(), 0);
        let mut inflater = Decompress::new(false);
        for message in [Message::text(""), Message::binary(Vec::new())] {
            let frame = compressor.encode(message);
            assert_eq!(inflate(&frame, &mut inflater), b"");
        }
    }

    #[test]
    fn messages_below_the_threshold_go_out_unchanged() {
        let mut compressor = compressor(takeover(), 10);
        let message = compressor.encode(Message::text("short"));
        assert_eq!(message, Message::text("short"));
    }

    #[test]
    fn with_context_takeover_later_messages_use_the_shared_window() {
        let mut compressor = compressor(takeover(), 0);
        let mut inflater = Decompress::new(false);
        let text = "hello hello hello, a message that repeats itself".repeat(4);
        let first = compressor.encode(Message::text(text.clone()));
        let second = compressor.encode(Message::text(text.clone()));
        assert_eq!(inflate(&first, &mut inflater), text.as_bytes());
        assert_eq!(inflate(&second, &mut inflater), text.as_bytes());
        assert!(second.len() < first.len(), "the second refers to the first");
    }

    #[test]
    fn without_context_takeover_each_message_inflates_on_its_own() {
        let agreed = Agreed {
            client_no_context_takeover: true,
            ..takeover()
        };
        let mut compressor = compressor(agreed, 0);
        let payload = vec![7u8; 5000];
        for _ in 0..2 {
            let frame = compressor.encode(Message::binary(payload.clone()));
            assert_eq!(inflate(&frame, &mut Decompress::new(false)), payload);
        }
    }

    #[test]
    fn an_eight_bit_window_is_honoured_with_short_distances() {
        let agreed = Agreed {
            client_max_window_bits: 8,
            ..takeover()
        };
        let mut compressor = compressor(agreed, 0);
        // Repeats 300 bytes apart: a 9-bit window would reach back for them.
        let pattern: Vec<u8> = (0..300u32).map(|i| (i * 7 % 256) as u8).collect();
        let payload = pattern.repeat(20);
        for _ in 0..2 {
            let frame = compressor.encode(Message::binary(payload.clone()));
            // flate2 has no 8-bit inflater; a 9-bit one reads the stream.
            let mut inflater = Decompress::new_with_window_bits(false, 9);
            assert_eq!(inflate(&frame, &mut inflater), payload);
        }
    }

    #[test]
    fn a_small_window_is_honoured() {
        let agreed = Agreed {
            client_max_window_bits: 9,
            ..takeover()
        };
        let mut compressor = compressor(agreed, 0);
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let frame = compressor.encode(Message::binary(payload.clone()));
        let mut inflater = Decompress::new_with_window_bits(false, 9);
        assert_eq!(inflate(&frame, &mut inflater), payload);
    }
}
