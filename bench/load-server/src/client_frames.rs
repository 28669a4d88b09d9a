//! Reads a client's frames off the raw socket for the routes that bypass
//! tungstenite's message layer (flood and sink). Data payloads are skipped
//! without unmasking: the sink only counts them, so it stays far faster than
//! any client can send. (The deflate sink takes its first messages' payloads,
//! unmasked, to check that they inflate to what the client sent.)

use std::io::{self, Cursor};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

const BUFFER_SIZE: usize = 1 << 20;

#[derive(Debug, PartialEq, Eq)]
pub enum ClientFrame {
    /// A text, binary or continuation frame; `fin` ends a message;
    /// `compressed` is RSV1 (permessage-deflate's "compressed" bit).
    Data {
        fin: bool,
        len: u64,
        compressed: bool,
    },
    /// The client's Close: its status code, if the body had one.
    Close { code: Option<u16> },
    /// Ping or pong (the benchmark clients send none; they are skipped).
    Control,
}

pub struct FrameReader<R> {
    inner: R,
    buffer: Vec<u8>,
    start: usize,
    end: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(inner: R) -> Self {
        FrameReader {
            inner,
            buffer: vec![0; BUFFER_SIZE],
            start: 0,
            end: 0,
        }
    }

    /// The next frame, or `None` at EOF.
    pub async fn next(&mut self) -> io::Result<Option<ClientFrame>> {
        Ok(self.read_frame(false).await?.map(|(frame, _)| frame))
    }

    /// The next frame and, for a data frame, its payload unmasked.
    pub async fn next_with_payload(&mut self) -> io::Result<Option<(ClientFrame, Vec<u8>)>> {
        self.read_frame(true).await
    }

    async fn read_frame(&mut self, keep_data: bool) -> io::Result<Option<(ClientFrame, Vec<u8>)>> {
        loop {
            let mut cursor = Cursor::new(&self.buffer[self.start..self.end]);
            let parsed = FrameHeader::parse(&mut cursor)
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
            let Some((header, len)) = parsed else {
                if !self.fill().await? {
                    return Ok(None);
                }
                continue;
            };
            self.start += cursor.position() as usize;
            let mut payload = Vec::new();
            let frame = match header.opcode {
                OpCode::Data(_) => {
                    if keep_data {
                        payload = self.take(len as usize, header.mask).await?;
                    } else {
                        self.skip(len).await?;
                    }
                    ClientFrame::Data {
                        fin: header.is_final,
                        len,
                        compressed: header.rsv1,
                    }
                }
                OpCode::Control(Control::Close) => {
                    let body = self.take(len as usize, header.mask).await?;
                    let code = (body.len() >= 2).then(|| u16::from_be_bytes([body[0], body[1]]));
                    ClientFrame::Close { code }
                }
                OpCode::Control(_) => {
                    self.skip(len).await?;
                    ClientFrame::Control
                }
            };
            return Ok(Some((frame, payload)));
        }
    }

    /// Reads more bytes after the buffered ones; false at EOF.
    async fn fill(&mut self) -> io::Result<bool> {
        if self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let read = self.inner.read(&mut self.buffer[self.end..]).await?;
        self.end += read;
        Ok(read > 0)
    }

    async fn skip(&mut self, mut len: u64) -> io::Result<()> {
        loop {
            let buffered = (self.end - self.start) as u64;
            if buffered >= len {
                self.start += len as usize;
                return Ok(());
            }
            len -= buffered;
            self.start = 0;
            self.end = 0;
            if !self.fill().await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// A frame's payload, unmasked: a control frame's body (at most 125
    /// bytes), or a data frame's for the deflate sink's checks.
    async fn take(&mut self, len: usize, mask: Option<[u8; 4]>) -> io::Result<Vec<u8>> {
        let mut body = Vec::with_capacity(len);
        while body.len() < len {
            if self.start == self.end && !self.fill().await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let available = (self.end - self.start).min(len - body.len());
            body.extend_from_slice(&self.buffer[self.start..self.start + available]);
            self.start += available;
        }
        if let Some(mask) = mask {
            for (index, byte) in body.iter_mut().enumerate() {
                *byte ^= mask[index % 4];
            }
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1, 2, 3, 4];
        let mut frame = vec![first, 0x80 | payload.len() as u8];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        frame
    }

    #[tokio::test]
    async fn reads_data_and_close() {
        let mut bytes = masked(0x82, b"hello");
        bytes.extend(masked(0x01, b"ab"));
        bytes.extend(masked(0x80, b"c"));
        bytes.extend(masked(0x88, &[0x03, 0xe8, b'x']));
        let mut reader = FrameReader::new(&bytes[..]);
        assert_eq!(
            reader.next().await.unwrap(),
            Some(ClientFrame::Data {
                fin: true,
                len: 5,
                compressed: false
            })
        );
        assert_eq!(
            reader.next().await.unwrap(),
            Some(ClientFrame::Data {
                fin: false,
                len: 2,
                compressed: false
            })
        );
        assert_eq!(
            reader.next().await.unwrap(),
            Some(ClientFrame::Data {
                fin: true,
                len: 1,
                compressed: false
            })
        );
        assert_eq!(
            reader.next().await.unwrap(),
            Some(ClientFrame::Close { code: Some(1000) })
        );
        assert_eq!(reader.next().await.unwrap(), None);
    }

    #[tokio::test]
    async fn keeps_payloads_unmasked() {
        let mut bytes = masked(0xc1, b"compressed");
        bytes.extend(masked(0x88, &[0x03, 0xe8]));
        let mut reader = FrameReader::new(&bytes[..]);
        assert_eq!(
            reader.next_with_payload().await.unwrap(),
            Some((
                ClientFrame::Data {
                    fin: true,
                    len: 10,
                    compressed: true
                },
                b"compressed".to_vec()
            ))
        );
        assert_eq!(
            reader.next_with_payload().await.unwrap(),
            Some((ClientFrame::Close { code: Some(1000) }, Vec::new()))
        );
    }
}
