//! Receiving under permessage-deflate (RFC 7692 §6.2, §7.2.2), underneath
//! tungstenite, which refuses any frame with RSV1 set and never hands out raw
//! frames. This layer reads the server's frames off the socket, passes every
//! frame that is not part of a compressed message through untouched, and
//! turns each compressed message into plain frames of the same message.
//!
//! Inflating is driven by tungstenite's reads: a compressed message is
//! inflated only as far as tungstenite has taken the output, a piece at a
//! time. So tungstenite's own limits (`max_message_size`) and checks (UTF-8,
//! opcodes, fragmentation) apply to the inflated message, and a message that
//! inflates to far more than its size costs at most the limit and one piece.
//!
//! What tungstenite cannot see, this layer reports as an `io::Error` carrying
//! an `ExtensionViolation`, which close.rs maps to the Close code to send.

use std::fmt;
use std::io::{self, Cursor};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use flate2::{Decompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

use crate::limits::INFLATE_PIECE_BYTES;
use crate::permessage_deflate::SYNC_FLUSH_TAIL;

/// Longest frame header: 2 bytes, 8 of extended length, 4 of mask.
const MAX_HEADER_BYTES: usize = 14;

/// A protocol error of the extension: the Close code we answer with.
#[derive(Debug)]
pub struct ExtensionViolation {
    pub close_code: u16,
    pub message: String,
}

impl fmt::Display for ExtensionViolation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for ExtensionViolation {}

fn violation(close_code: u16, message: impl Into<String>) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        ExtensionViolation {
            close_code,
            message: message.into(),
        },
    )
}

pub struct InflatingStream<S> {
    inner: S,
    /// None without permessage-deflate: reads pass straight through. Boxed:
    /// its buffers exist only for connections that agreed to the extension.
    inflater: Option<Box<FrameInflater>>,
}

impl<S> InflatingStream<S> {
    /// `server_no_context_takeover`: Some if permessage-deflate was agreed,
    /// saying whether the server empties its window after each message.
    /// `max_frame_size` bounds compressed frames, which tungstenite never sees.
    pub fn new(inner: S, server_no_context_takeover: Option<bool>, max_frame_size: usize) -> Self {
        InflatingStream {
            inner,
            inflater: server_no_context_takeover
                .map(|reset| Box::new(FrameInflater::new(reset, max_frame_size))),
        }
    }
}

impl<S> InflatingStream<S> {
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// permessage-deflate was agreed.
    pub fn inflates(&self) -> bool {
        self.inflater.is_some()
    }
}

/// What the bytes read next are.
enum Reading {
    /// A frame header, `header_len` bytes of it so far.
    Header,
    /// The payload of a frame passed through as it is.
    PassThrough { remaining: u64 },
    /// The compressed payload of a frame of a compressed message. `fin`: the
    /// message's last frame, whose input ends with the flush tail once all of
    /// it was read (`tail_added`).
    Compressed {
        remaining: u64,
        fin: bool,
        tail_added: bool,
    },
}

/// Room kept before an inflated piece for its frame header (a server frame
/// has no mask: 2 bytes and at most 8 of length).
const DATA_HEADER_ROOM: usize = 10;

/// The data message being received, if any.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CurrentMessage {
    None,
    Uncompressed,
    Compressed {
        opcode: Data,
        /// A frame of it went to tungstenite already (later ones continue it).
        started: bool,
        /// The deflate stream ended with a final block: what follows is ignored.
        ended: bool,
    },
}

struct FrameInflater {
    reset_each_message: bool,
    max_frame_size: usize,
    /// Made at the first compressed message.
    decompress: Option<Decompress>,
    header: [u8; MAX_HEADER_BYTES],
    header_len: usize,
    reading: Reading,
    message: CurrentMessage,
    /// Compressed bytes read and not yet inflated; those before
    /// `input_start` were.
    input: Vec<u8>,
    input_start: usize,
    /// Bytes ready for tungstenite (a frame header, an inflated piece); those
    /// before `output_start` were taken.
    output: Vec<u8>,
    output_start: usize,
}

impl FrameInflater {
    fn new(reset_each_message: bool, max_frame_size: usize) -> Self {
        FrameInflater {
            reset_each_message,
            max_frame_size,
            decompress: None,
            header: [0; MAX_HEADER_BYTES],
            header_len: 0,
            reading: Reading::Header,
            message: CurrentMessage::None,
            input: Vec::new(),
            input_start: 0,
            output: Vec::new(),
            output_start: 0,
        }
    }

    /// Copies pending output into `out`; true if there was any.
    fn drain_output(&mut self, out: &mut ReadBuf<'_>) -> bool {
        let pending = &self.output[self.output_start..];
        if pending.is_empty() {
            return false;
        }
        let taken = pending.len().min(out.remaining());
        out.put_slice(&pending[..taken]);
        self.output_start += taken;
        if self.output_start == self.output.len() {
            // Between messages nothing stays allocated.
            if matches!(self.message, CurrentMessage::None) {
                self.output = Vec::new();
            } else {
                self.output.clear();
            }
            self.output_start = 0;
        }
        true
    }

    /// Bytes of the header needed so far: 2, then as the first two say.
    fn header_bytes_needed(&self) -> usize {
        if self.header_len < 2 {
            return 2;
        }
        let extended = match self.header[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.header[1] & 0x80 != 0 { 4 } else { 0 };
        2 + extended + mask
    }

    /// Decides what a complete header starts.
    fn on_header(&mut self) -> io::Result<()> {
        let header_bytes = &self.header[..self.header_len];
        let Ok(Some((header, length))) = FrameHeader::parse(&mut Cursor::new(header_bytes)) else {
            // tungstenite reports what is wrong with it (a reserved opcode).
            self.pass_through(u64::MAX);
            return Ok(());
        };
        match (header.opcode, self.message) {
            // A masked server frame, or RSV2 or RSV3 (no extension of ours
            // uses them): tungstenite fails the connection for it.
            _ if header.mask.is_some() || header.rsv2 || header.rsv3 => self.pass_through(length),
            (OpCode::Control(_), _) if header.rsv1 => {
                return Err(violation(1002, "the server set RSV1 on a control frame"));
            }
            (OpCode::Data(Data::Continue), _) if header.rsv1 => {
                return Err(violation(
                    1002,
                    "the server set RSV1 on a continuation frame",
                ));
            }
            // tungstenite may not have seen the compressed message begin yet.
            (OpCode::Data(Data::Text | Data::Binary), CurrentMessage::Compressed { .. }) => {
                return Err(violation(
                    1002,
                    "the server started a message inside a fragmented one",
                ));
            }
            (OpCode::Data(Data::Continue), CurrentMessage::Compressed { .. }) => {
                self.read_compressed(length, header.is_final)?;
            }
            (OpCode::Data(opcode @ (Data::Text | Data::Binary)), CurrentMessage::None)
                if header.rsv1 =>
            {
                self.message = CurrentMessage::Compressed {
                    opcode,
                    started: false,
                    ended: false,
                };
                self.read_compressed(length, header.is_final)?;
            }
            (OpCode::Data(Data::Text | Data::Binary), CurrentMessage::None) => {
                if !header.is_final {
                    self.message = CurrentMessage::Uncompressed;
                }
                self.pass_through(length);
            }
            (OpCode::Data(Data::Continue), CurrentMessage::Uncompressed) => {
                if header.is_final {
                    self.message = CurrentMessage::None;
                }
                self.pass_through(length);
            }
            // Controls, and what tungstenite refuses itself (a data frame
            // inside a message, a continuation without one, RSV1 where it
            // means nothing).
            _ => self.pass_through(length),
        }
        Ok(())
    }

    /// The frame's payload is compressed data of the current message.
    fn read_compressed(&mut self, length: u64, fin: bool) -> io::Result<()> {
        // Deflate's worst case grows incompressible data by well under 0.1%.
        let limit = self.max_frame_size as u64 + (self.max_frame_size as u64 >> 10) + 64;
        if length > limit {
            return Err(violation(
                1009,
                format!(
                    "the server sent a compressed frame of {length} bytes, over the size limit of {limit}"
                ),
            ));
        }
        self.header_len = 0;
        self.reading = Reading::Compressed {
            remaining: length,
            fin,
            tail_added: false,
        };
        Ok(())
    }

    /// Hands tungstenite the header just read, then `length` payload bytes as
    /// they come.
    fn pass_through(&mut self, length: u64) {
        self.output
            .extend_from_slice(&self.header[..self.header_len]);
        self.header_len = 0;
        self.reading = Reading::PassThrough { remaining: length };
    }

    /// Inflates `input` into the output, after room for a frame header;
    /// returns how much of the input was consumed and how much was produced.
    fn inflate(&mut self, input: &[u8]) -> io::Result<(usize, usize)> {
        let CurrentMessage::Compressed { ended, .. } = &mut self.message else {
            return Ok((input.len(), 0));
        };
        if *ended {
            // After a final block the rest of the message is ignored (§7.2.3.4).
            return Ok((input.len(), 0));
        }
        let decompress = self
            .decompress
            .get_or_insert_with(|| Decompress::new(false));
        self.output.clear();
        self.output_start = 0;
        self.output.resize(DATA_HEADER_ROOM, 0);
        self.output.reserve_exact(INFLATE_PIECE_BYTES);
        let before = decompress.total_in();
        let status = decompress
            .decompress_vec(input, &mut self.output, FlushDecompress::Sync)
            .map_err(|error| {
                violation(
                    1007,
                    format!("the server sent compressed data that does not inflate: {error}"),
                )
            })?;
        if status == Status::StreamEnd {
            *ended = true;
        }
        let produced = self.output.len() - DATA_HEADER_ROOM;
        if produced == 0 {
            self.output.clear();
        }
        Ok(((decompress.total_in() - before) as usize, produced))
    }

    /// Puts the frame header before the piece `inflate` left in the output
    /// (none: an empty final frame), making it a frame of the message.
    fn frame_output(&mut self, is_final: bool) {
        let CurrentMessage::Compressed {
            opcode, started, ..
        } = &mut self.message
        else {
            return;
        };
        let header = FrameHeader {
            is_final,
            opcode: OpCode::Data(if *started { Data::Continue } else { *opcode }),
            ..FrameHeader::default()
        };
        *started = true;
        if self.output.is_empty() {
            self.output.resize(DATA_HEADER_ROOM, 0);
        }
        let payload_len = self.output.len() - DATA_HEADER_ROOM;
        let mut encoded = Cursor::new([0u8; DATA_HEADER_ROOM]);
        // The header fits: no mask, and at most 8 bytes of length.
        let _ = header.format(payload_len as u64, &mut encoded);
        let header_len = encoded.position() as usize;
        self.output_start = DATA_HEADER_ROOM - header_len;
        self.output[self.output_start..DATA_HEADER_ROOM]
            .copy_from_slice(&encoded.get_ref()[..header_len]);
    }

    /// One step of reading and inflating a compressed frame: reads compressed
    /// bytes when none are left, inflates them into a piece, and makes that a
    /// frame; the message's last frame ends once all its input, flush tail
    /// included, was inflated. False: the stream ended mid-frame.
    fn poll_compressed<S: AsyncRead + Unpin>(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<bool>> {
        let Reading::Compressed {
            remaining,
            fin,
            tail_added,
        } = self.reading
        else {
            return Poll::Ready(Ok(true));
        };
        if self.input_start == self.input.len() {
            if remaining == 0 && (!fin || tail_added) {
                if fin {
                    // Everything was inflated and framed: the final frame, empty.
                    self.finish_message();
                } else {
                    self.reading = Reading::Header;
                }
                return Poll::Ready(Ok(true));
            }
            self.input.clear();
            self.input_start = 0;
            if remaining > 0 {
                let want = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(INFLATE_PIECE_BYTES);
                self.input.resize(want, 0);
                let mut read = ReadBuf::new(&mut self.input);
                let polled = Pin::new(inner).poll_read(cx, &mut read);
                let filled = read.filled().len();
                self.input.truncate(filled);
                ready!(polled)?;
                if filled == 0 {
                    return Poll::Ready(Ok(false));
                }
            }
            let remaining = remaining - self.input.len() as u64;
            let add_tail = fin && remaining == 0;
            if add_tail {
                self.input.extend_from_slice(&SYNC_FLUSH_TAIL);
            }
            self.reading = Reading::Compressed {
                remaining,
                fin,
                tail_added: add_tail,
            };
        }
        let input = std::mem::take(&mut self.input);
        let inflated = self.inflate(&input[self.input_start..]);
        self.input = input;
        let (consumed, produced) = inflated?;
        self.input_start += consumed;
        if produced == 0 && consumed == 0 {
            // zlib had room and input and did nothing with them.
            return Poll::Ready(Err(violation(
                1007,
                "the server sent compressed data that does not inflate",
            )));
        }
        if produced > 0 {
            // zlib stopping short of its room with all input, the tail
            // included, consumed: the message is complete.
            let complete = matches!(
                self.reading,
                Reading::Compressed {
                    tail_added: true,
                    ..
                }
            ) && self.input_start == self.input.len()
                && self.output.len() < self.output.capacity();
            if complete {
                self.finish_message();
            } else {
                self.frame_output(false);
            }
        }
        Poll::Ready(Ok(true))
    }

    /// Frames what the output holds as the message's final frame, and gets
    /// ready for the next message.
    fn finish_message(&mut self) {
        let stream_ended = matches!(self.message, CurrentMessage::Compressed { ended: true, .. });
        self.frame_output(true);
        self.message = CurrentMessage::None;
        self.reading = Reading::Header;
        if self.reset_each_message || stream_ended {
            if let Some(decompress) = &mut self.decompress {
                decompress.reset(false);
            }
        }
        self.input = Vec::new();
        self.input_start = 0;
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for InflatingStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(inflater) = this.inflater.as_deref_mut() else {
            return Pin::new(&mut this.inner).poll_read(cx, out);
        };
        loop {
            if inflater.drain_output(out) {
                return Poll::Ready(Ok(()));
            }
            match &mut inflater.reading {
                Reading::Header => {
                    let needed = inflater.header_bytes_needed();
                    if inflater.header_len == needed {
                        inflater.on_header()?;
                        continue;
                    }
                    let mut read = ReadBuf::new(&mut inflater.header[inflater.header_len..needed]);
                    ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
                    let filled = read.filled().len();
                    if filled == 0 {
                        // The end of the stream: tungstenite sees what it got.
                        let partial = inflater.header_len;
                        inflater.header_len = 0;
                        out.put_slice(&inflater.header[..partial]);
                        return Poll::Ready(Ok(()));
                    }
                    inflater.header_len += filled;
                }
                Reading::PassThrough { remaining } => {
                    if *remaining == 0 {
                        inflater.reading = Reading::Header;
                        continue;
                    }
                    let limit = usize::try_from(*remaining).unwrap_or(usize::MAX);
                    let filled = {
                        let mut limited = out.take(limit);
                        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut limited))?;
                        limited.filled().len()
                    };
                    // SAFETY: `take` lent the unfilled part of `out`, and the
                    // read initialized and filled its first `filled` bytes.
                    unsafe { out.assume_init(filled) };
                    out.advance(filled);
                    *remaining -= filled as u64;
                    return Poll::Ready(Ok(()));
                }
                Reading::Compressed { .. } => {
                    if !ready!(inflater.poll_compressed(&mut this.inner, cx))? {
                        // The end of the stream mid-frame: tungstenite sees it.
                        return Poll::Ready(Ok(()));
                    }
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for InflatingStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
    use tokio_tungstenite::tungstenite::{Error, Message};
    use tokio_tungstenite::WebSocketStream;

    /// What a client reading `wire` (server frames, then a Close) through the
    /// layer gets: the messages up to the Close, or the error that came first.
    async fn receive(wire: &[u8], max_message_size: usize) -> (Vec<Message>, Option<Error>) {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        server.write_all(wire).await.unwrap();
        server.write_all(&[0x88, 0x00]).await.unwrap();
        let layer = InflatingStream::new(client, Some(false), 1 << 20);
        let config = WebSocketConfig::default().max_message_size(Some(max_message_size));
        let mut ws = WebSocketStream::from_raw_socket(layer, Role::Client, Some(config)).await;
        let mut messages = Vec::new();
        while let Some(next) = ws.next().await {
            match next {
                Ok(Message::Close(_)) => break,
                Ok(message) => messages.push(message),
                Err(error) => return (messages, Some(error)),
            }
        }
        (messages, None)
    }

    fn close_code_of(error: Option<Error>) -> Option<u16> {
        match error? {
            Error::Io(io) => io
                .get_ref()?
                .downcast_ref::<ExtensionViolation>()
                .map(|violation| violation.close_code),
            _ => None,
        }
    }

    // RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello" compressed, whole and in two fragments.
    const HELLO: [u8; 9] = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    const HELLO_FRAGMENTED: [u8; 11] = [
        0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
    ];

    #[tokio::test]
    async fn the_rfc_examples_inflate_whole_fragmented_and_with_a_shared_window() {
        // §7.2.3.2: the second "Hello" refers back to the first.
        let shared = [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00];
        let wire = [&HELLO[..], &HELLO_FRAGMENTED, &shared].concat();
        let (messages, error) = receive(&wire, 1 << 20).await;
        assert!(error.is_none(), "{error:?}");
        assert_eq!(messages, vec![Message::text("Hello"); 3]);
    }

    #[tokio::test]
    async fn a_ping_between_fragments_and_plain_messages_between_compressed_ones_pass() {
        let ping = [0x89, 0x01, b'p'];
        let plain = [0x81, 0x02, b'h', b'i'];
        let wire = [
            &HELLO_FRAGMENTED[..5],
            &ping,
            &HELLO_FRAGMENTED[5..],
            &plain,
        ]
        .concat();
        let (messages, error) = receive(&wire, 1 << 20).await;
        assert!(error.is_none(), "{error:?}");
        assert_eq!(
            messages,
            vec![
                Message::Ping("p".into()),
                Message::text("Hello"),
                Message::text("hi")
            ]
        );
    }

    #[tokio::test]
    async fn rsv1_on_a_continuation_or_a_control_frame_is_a_1002() {
        let continuation = [
            0x41, 0x03, 0xf2, 0x48, 0xcd, 0xc0, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ];
        assert_eq!(
            close_code_of(receive(&continuation, 1 << 20).await.1),
            Some(1002)
        );
        let ping = [0xc9, 0x00];
        assert_eq!(close_code_of(receive(&ping, 1 << 20).await.1), Some(1002));
    }

    #[tokio::test]
    async fn the_end_of_the_stream_inside_a_compressed_frame_ends_the_reading() {
        let (client, mut server) = tokio::io::duplex(1 << 10);
        server.write_all(&HELLO[..5]).await.unwrap();
        drop(server);
        let layer = InflatingStream::new(client, Some(false), 1 << 20);
        let mut ws = WebSocketStream::from_raw_socket(layer, Role::Client, None).await;
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next()).await;
        assert!(matches!(next, Ok(Some(Err(_)))), "{next:?}");
    }

    #[tokio::test]
    async fn data_that_does_not_inflate_is_a_1007() {
        // BTYPE 11 is reserved in DEFLATE.
        let corrupt = [0xc1, 0x02, 0xff, 0xff];
        assert_eq!(
            close_code_of(receive(&corrupt, 1 << 20).await.1),
            Some(1007)
        );
    }

    #[tokio::test]
    async fn the_message_limit_applies_to_the_inflated_size() {
        // 1 MiB of zeros compressed (a sync-flushed stream without its tail).
        let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
        let mut compressed = Vec::with_capacity(1 << 20);
        compress
            .compress_vec(
                &vec![0; 1 << 20],
                &mut compressed,
                flate2::FlushCompress::Sync,
            )
            .unwrap();
        compressed.truncate(compressed.len() - SYNC_FLUSH_TAIL.len());
        let mut wire = Vec::new();
        FrameHeader {
            rsv1: true,
            opcode: OpCode::Data(Data::Binary),
            ..FrameHeader::default()
        }
        .format(compressed.len() as u64, &mut wire)
        .unwrap();
        wire.extend_from_slice(&compressed);
        let (messages, error) = receive(&wire, 64 << 10).await;
        assert!(messages.is_empty());
        assert!(matches!(error, Some(Error::Capacity(_))), "{error:?}");
        let (messages, error) = receive(&wire, 2 << 20).await;
        assert!(error.is_none(), "{error:?}");
        assert_eq!(messages, vec![Message::binary(vec![0; 1 << 20])]);
    }
}
