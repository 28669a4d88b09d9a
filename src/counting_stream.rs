//! A transparent socket wrapper that counts the bytes the socket accepted and
//! the bytes read from it.
//!
//! The frame encoder keeps a whole frame in its own buffer until the socket
//! takes it; the written count tells how much of that buffer is still in user
//! space, which is what decides when a large write's promise may resolve.
//! Both counts are the idle timer's signs of life (idle_timer.rs).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub struct CountingStream<S> {
    inner: S,
    bytes_written: u64,
    bytes_read: u64,
}

impl<S> CountingStream<S> {
    pub fn new(inner: S) -> Self {
        CountingStream {
            inner,
            bytes_written: 0,
            bytes_read: 0,
        }
    }

    /// Total bytes the socket has accepted since the connection opened.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Total bytes read since the connection opened.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CountingStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.bytes_read += (buf.filled().len() - before) as u64;
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CountingStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = polled {
            self.bytes_written += written as u64;
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
