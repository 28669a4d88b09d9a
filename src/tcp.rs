//! The TCP socket under everything: tokio's, plus what the JS thread needs to
//! read it (js_poll.rs).
//!
//! tokio reads a socket only once its reactor (on the runtime's thread) has
//! seen it readable, and then wakes whichever waker last found it not ready.
//! For the JS thread to read a reply alone:
//! - `js_watch_starts` hands tokio's read interest to a waker that does
//!   nothing, so the reply's arrival does not also wake the task, which would
//!   contend for the driver lock;
//! - `read_on_js_thread` makes the next read go straight to the socket (libuv
//!   may report it readable before tokio's reactor has caught up), then one
//!   read through tokio with the task's waker, which hands the read interest
//!   back to the task when nothing more is there. If that read found more
//!   (a flood), later reads are Pending and the task is left to go on.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadMode {
    /// Reads go through tokio (the task's reads).
    ThroughTokio,
    /// The JS thread reads: the next read goes to the socket itself.
    JsDirect,
    /// The JS thread reads: one read through tokio.
    JsThroughTokio,
    /// The JS thread's reads found more than it reads: Pending from here.
    JsDone,
}

pub struct Tcp {
    stream: TcpStream,
    mode: ReadMode,
}

impl Tcp {
    pub fn new(stream: TcpStream) -> Self {
        Tcp {
            stream,
            mode: ReadMode::ThroughTokio,
        }
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// The JS thread is about to watch the socket: tokio's read interest goes
    /// to a waker that does nothing. False if tokio has seen the socket
    /// readable since the task's last read: the task was woken for it.
    pub fn js_watch_starts(&self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        self.stream.poll_read_ready(&mut cx).is_pending()
    }

    /// The reads that follow are the JS thread's (see the module comment).
    pub fn read_on_js_thread(&mut self) {
        self.mode = ReadMode::JsDirect;
    }

    /// Back to the task's reads. True if the JS thread left data it did not
    /// read: the task must be woken to read it.
    pub fn read_through_tokio(&mut self) -> bool {
        std::mem::replace(&mut self.mode, ReadMode::ThroughTokio) == ReadMode::JsDone
    }

    #[cfg(unix)]
    fn read_socket(&self, buf: &mut ReadBuf<'_>) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: the pointer and length describe the buffer's unfilled part,
        // which recv may write; the descriptor is open while `stream` lives.
        let received = unsafe {
            let unfilled = buf.unfilled_mut();
            libc::recv(
                self.stream.as_raw_fd(),
                unfilled.as_mut_ptr().cast(),
                unfilled.len(),
                libc::MSG_DONTWAIT,
            )
        };
        let received = usize::try_from(received).map_err(|_| io::Error::last_os_error())?;
        // SAFETY: recv initialized the first `received` bytes.
        unsafe { buf.assume_init(received) };
        buf.advance(received);
        Ok(())
    }

    /// Only Unix platforms read from the JS thread (js_poll.rs).
    #[cfg(not(unix))]
    fn read_socket(&self, _buf: &mut ReadBuf<'_>) -> io::Result<()> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl AsyncRead for Tcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.mode {
            ReadMode::ThroughTokio => Pin::new(&mut this.stream).poll_read(cx, buf),
            ReadMode::JsDone => Poll::Pending,
            ReadMode::JsThroughTokio => {
                let before = buf.filled().len();
                let read = Pin::new(&mut this.stream).poll_read(cx, buf);
                if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
                    this.mode = ReadMode::JsDone;
                }
                read
            }
            ReadMode::JsDirect => {
                this.mode = ReadMode::JsThroughTokio;
                match this.read_socket(buf) {
                    Err(error)
                        if matches!(
                            error.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) =>
                    {
                        // Someone read it first: look through tokio, which
                        // also hands the read interest back to the task.
                        Pin::new(this).poll_read(cx, buf)
                    }
                    result => Poll::Ready(result),
                }
            }
        }
    }
}

impl AsyncWrite for Tcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
