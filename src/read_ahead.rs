//! Socket reads for the frame decoder: large reads while data streams in, no
//! buffer at all while the connection idles.
//!
//! tungstenite never asks for more than its read buffer (kept at 1 KiB because
//! that buffer stays resident in every connection), so reading the socket
//! directly would cost 64 system calls per 64 KiB message. This layer
//! reads up to `READ_AHEAD_BYTES` at a time and serves the decoder's small
//! reads from memory. Its buffer exists only while it holds data: once it is
//! drained and the socket has nothing more, it is released, so a thousand
//! idle connections hold none.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::limits::READ_AHEAD_BYTES;

pub struct ReadAhead<S> {
    inner: S,
    /// Bytes read from the socket; those before `consumed` were handed out.
    buffer: Vec<u8>,
    consumed: usize,
}

impl<S> ReadAhead<S> {
    /// `already_read`: bytes read from the socket before (those that followed
    /// the handshake's response), served first.
    pub fn new(inner: S, already_read: Vec<u8>) -> Self {
        ReadAhead {
            inner,
            buffer: already_read,
            consumed: 0,
        }
    }
}

impl<S> ReadAhead<S> {
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: AsyncRead + Unpin> ReadAhead<S> {
    /// Refills the drained buffer with one socket read. Ready(Ok) with an
    /// empty buffer is the end of the stream.
    fn poll_refill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.buffer.clear();
        self.consumed = 0;
        self.buffer.reserve_exact(READ_AHEAD_BYTES);
        let spare = &mut self.buffer.spare_capacity_mut()[..READ_AHEAD_BYTES];
        let mut read = ReadBuf::uninit(spare);
        match Pin::new(&mut self.inner).poll_read(cx, &mut read) {
            Poll::Pending => {
                // Nothing buffered and nothing to read: an idle connection
                // keeps no buffer.
                self.buffer = Vec::new();
                Poll::Pending
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Ready(Ok(())) => {
                let filled = read.filled().len();
                // SAFETY: ReadBuf's filled part is a prefix of `spare` that the
                // read initialized, and `spare` starts at the buffer's length 0.
                unsafe { self.buffer.set_len(filled) };
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.consumed == this.buffer.len() {
            if out.remaining() >= READ_AHEAD_BYTES {
                // The caller's buffer is as large as ours: no point copying.
                return Pin::new(&mut this.inner).poll_read(cx, out);
            }
            ready!(this.poll_refill(cx))?;
        }
        let available = &this.buffer[this.consumed..];
        let taken = available.len().min(out.remaining());
        out.put_slice(&available[..taken]);
        this.consumed += taken;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadAhead<S> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::io::Write;
    use tokio::net::TcpStream;

    /// Reads through `ReadAhead` in small steps, as the frame decoder does.
    async fn read_some(stream: &mut ReadAhead<TcpStream>, chunk: &mut [u8]) -> usize {
        poll_fn(|cx| {
            let mut out = ReadBuf::new(chunk);
            Pin::new(&mut *stream)
                .poll_read(cx, &mut out)
                .map_ok(|()| out.filled().len())
        })
        .await
        .expect("a read")
    }

    #[tokio::test]
    async fn serves_small_reads_in_order_and_keeps_no_buffer_when_idle() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let sent: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let writer = {
            let sent = sent.clone();
            std::thread::spawn(move || {
                let (mut socket, _) = listener.accept().unwrap();
                socket.write_all(&sent).unwrap();
                socket
            })
        };
        let mut stream = ReadAhead::new(TcpStream::connect(address).await.unwrap(), Vec::new());
        let mut received = Vec::new();
        let mut chunk = [0u8; 4096];
        while received.len() < sent.len() {
            let read = read_some(&mut stream, &mut chunk).await;
            assert!(read > 0, "the stream ended early");
            received.extend_from_slice(&chunk[..read]);
        }
        assert!(received == sent, "the bytes arrive whole and in order");

        // Drained and nothing more to read: the next poll is Pending, and the
        // buffer is gone.
        let pending = poll_fn(|cx| {
            let mut out = ReadBuf::new(&mut chunk);
            Poll::Ready(Pin::new(&mut stream).poll_read(cx, &mut out).is_pending())
        })
        .await;
        assert!(pending);
        assert_eq!(stream.buffer.capacity(), 0);

        drop(writer.join().unwrap());
        assert_eq!(read_some(&mut stream, &mut chunk).await, 0, "end of stream");
    }
}
