//! Dead-peer detection (the `idleTimeout` option). A peer that vanished
//! without a FIN (a dropped NAT flow, a crashed host) sends nothing and
//! refuses nothing; TCP alone may never notice on a connection that only
//! reads. After `interval` with no sign of life the task sends a Ping; after
//! another `interval` still without one, the connection is dead.
//!
//! Signs of life, counted from the socket's byte counts so that a message
//! still arriving counts before it is whole:
//! - any byte received;
//! - while a write of ours is pending, any byte the socket accepted, and at
//!   any time the kernel's send queue shrinking (send_queue.rs): the peer's
//!   TCP is taking our data. A Ping cannot overtake what is written before
//!   it, in user space or in the kernel, so its pong could not come in time.
//!
//! While the application leaves the inbound queue full, the task does not
//! read the socket and cannot see the peer: the timer then waits, and starts
//! afresh once reading resumes. A slow reader never makes a live peer look dead.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{sleep, Instant, Sleep};

/// What the timer asks of the task.
#[derive(Debug, PartialEq, Eq)]
pub enum IdleVerdict {
    /// Quiet for one interval: send a Ping.
    SendPing,
    /// Quiet for two intervals, a Ping unanswered: fail the connection.
    Dead,
}

/// The socket's byte counts at this poll: free to read.
pub struct Observed {
    /// Bytes received since the connection opened.
    pub bytes_read: u64,
    /// Bytes the socket accepted from us since the connection opened.
    pub bytes_written: u64,
    /// A write of ours waits for the socket.
    pub write_pending: bool,
}

/// What costs a lock or a system call to learn: asked for only at a poll
/// where no byte moved.
pub struct QuietProbe {
    /// The task is not reading the socket (the application's queue is full).
    pub reading_paused: bool,
    /// Bytes the kernel holds for the peer, where the platform tells it.
    pub kernel_queued: Option<u64>,
}

pub struct IdleTimer {
    interval: Duration,
    deadline: Pin<Box<Sleep>>,
    ping_sent: bool,
    seen_read: u64,
    seen_written: u64,
    /// The kernel's queue at the last probe since the last sign of life.
    seen_kernel_queued: Option<u64>,
}

impl IdleTimer {
    pub fn new(interval: Duration) -> Self {
        IdleTimer {
            interval,
            deadline: Box::pin(sleep(interval)),
            ping_sent: false,
            seen_read: 0,
            seen_written: 0,
            seen_kernel_queued: None,
        }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Ready when the peer has been quiet for an interval (once) or two.
    /// `probe` is called only when no byte moved since the last poll.
    pub fn poll(
        &mut self,
        cx: &mut Context<'_>,
        observed: &Observed,
        probe: impl FnOnce() -> QuietProbe,
    ) -> Poll<IdleVerdict> {
        let received = observed.bytes_read != self.seen_read;
        let taken = observed.write_pending && observed.bytes_written != self.seen_written;
        self.seen_read = observed.bytes_read;
        self.seen_written = observed.bytes_written;
        let alive = if received || taken {
            // A new baseline for the kernel's queue starts at the next probe.
            self.seen_kernel_queued = None;
            true
        } else {
            let probe = probe();
            let acknowledged = matches!(
                (self.seen_kernel_queued, probe.kernel_queued),
                (Some(before), Some(now)) if now < before
            );
            self.seen_kernel_queued = probe.kernel_queued;
            acknowledged || probe.reading_paused
        };
        if alive {
            self.ping_sent = false;
            self.deadline.as_mut().reset(Instant::now() + self.interval);
        }
        if self.deadline.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if self.ping_sent {
            return Poll::Ready(IdleVerdict::Dead);
        }
        self.ping_sent = true;
        self.deadline.as_mut().reset(Instant::now() + self.interval);
        Poll::Ready(IdleVerdict::SendPing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> Observed {
        Observed {
            bytes_read: 0,
            bytes_written: 0,
            write_pending: false,
        }
    }

    fn nothing_probed() -> QuietProbe {
        QuietProbe {
            reading_paused: false,
            kernel_queued: None,
        }
    }

    async fn verdict(timer: &mut IdleTimer, observed: &Observed) -> Poll<IdleVerdict> {
        probed_verdict(timer, observed, nothing_probed).await
    }

    async fn probed_verdict(
        timer: &mut IdleTimer,
        observed: &Observed,
        probe: impl FnOnce() -> QuietProbe,
    ) -> Poll<IdleVerdict> {
        let mut probe = Some(probe);
        std::future::poll_fn(|cx| {
            let probe = probe.take().expect("polled once");
            Poll::Ready(timer.poll(cx, observed, probe))
        })
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_peer_gets_a_ping_then_is_dead() {
        let mut timer = IdleTimer::new(Duration::from_secs(10));
        assert!(verdict(&mut timer, &quiet()).await.is_pending());
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            verdict(&mut timer, &quiet()).await,
            Poll::Ready(IdleVerdict::SendPing)
        );
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(verdict(&mut timer, &quiet()).await.is_pending());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            verdict(&mut timer, &quiet()).await,
            Poll::Ready(IdleVerdict::Dead)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_byte_received_or_taken_while_writing_is_life() {
        let mut timer = IdleTimer::new(Duration::from_secs(10));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            verdict(&mut timer, &quiet()).await,
            Poll::Ready(IdleVerdict::SendPing)
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        let pong = Observed {
            bytes_read: 6,
            ..quiet()
        };
        assert!(
            verdict(&mut timer, &pong).await.is_pending(),
            "the pong came"
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        let writing = Observed {
            bytes_written: 1000,
            write_pending: true,
            ..pong
        };
        assert!(verdict(&mut timer, &writing).await.is_pending());
        let written_idle = Observed {
            bytes_written: 2000,
            write_pending: false,
            ..pong
        };
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            verdict(&mut timer, &written_idle).await,
            Poll::Ready(IdleVerdict::SendPing),
            "our own writes, with none pending, are no sign of the peer"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_kernel_queue_shrinking_is_life() {
        let mut timer = IdleTimer::new(Duration::from_secs(10));
        let queued = |bytes| {
            move || QuietProbe {
                kernel_queued: Some(bytes),
                ..nothing_probed()
            }
        };
        assert!(probed_verdict(&mut timer, &quiet(), queued(8_000_000))
            .await
            .is_pending());
        for left in [6_000_000, 4_000_000, 0] {
            tokio::time::advance(Duration::from_secs(10)).await;
            assert!(probed_verdict(&mut timer, &quiet(), queued(left))
                .await
                .is_pending());
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            probed_verdict(&mut timer, &quiet(), queued(0)).await,
            Poll::Ready(IdleVerdict::SendPing)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_poll_asks_for_no_probe() {
        let mut timer = IdleTimer::new(Duration::from_secs(10));
        let received = Observed {
            bytes_read: 1,
            ..quiet()
        };
        let verdict = probed_verdict(&mut timer, &received, || panic!("probed a busy poll")).await;
        assert!(verdict.is_pending());
    }

    #[tokio::test(start_paused = true)]
    async fn while_reading_is_paused_the_timer_waits() {
        let mut timer = IdleTimer::new(Duration::from_secs(10));
        let paused = || QuietProbe {
            reading_paused: true,
            ..nothing_probed()
        };
        for _ in 0..5 {
            tokio::time::advance(Duration::from_secs(10)).await;
            assert!(probed_verdict(&mut timer, &quiet(), paused)
                .await
                .is_pending());
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            verdict(&mut timer, &quiet()).await,
            Poll::Ready(IdleVerdict::SendPing)
        );
    }
}
