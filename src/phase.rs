//! Where an open connection is in its closing handshake, and every way it
//! moves on. Each transition is named for its trigger; the connection task
//! (connection.rs) performs the I/O each one calls for.
//!
//! ```text
//!            JS close()                server's Close
//!   Open ───────────────▶ ClosingByUs ────────────────▶ ClosedByPeer
//!    │ │                       │                             ▲
//!    │ └──── server's Close ───┼─────────────────────────────┘
//!    │                         │
//!    └──── violation ──────────┴──▶ Failing ──(our Close flushed)──▶ end
//! ```
//!
//! Every phase but `Open` carries the close deadline, started by the first
//! transition out of `Open` and never restarted: a closing handshake takes at
//! most the close timeout (the `closeTimeout` option) however it unfolds.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{sleep, Sleep};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::close::{is_substituted_violation, CloseOutcome};
use crate::failure::{Failure, CLOSE_TIMEOUT, PROTOCOL};

/// When the closing handshake runs out of time, and the timeout it came from.
pub struct Deadline {
    sleep: Pin<Box<Sleep>>,
    timeout: Duration,
}

impl Deadline {
    fn start(timeout: Duration) -> Self {
        Deadline {
            sleep: Box::pin(sleep(timeout)),
            timeout,
        }
    }
}

pub enum Phase {
    /// Messages flow both ways.
    Open,
    /// JS asked to close: our Close goes out after the messages JS wrote
    /// before it, and received data is dropped until the server answers.
    ClosingByUs { deadline: Deadline },
    /// The server's Close arrived (tungstenite queued the echo unless ours
    /// went first): the handshake is complete, and we wait for TCP to end.
    ClosedByPeer {
        /// The server's Close (None: it had no body).
        frame: Option<CloseFrame>,
        deadline: Deadline,
    },
    /// The server broke the protocol: our Close with the violation's code is
    /// being flushed, then TCP is dropped. Nothing more is read.
    Failing {
        violation: Failure,
        deadline: Deadline,
    },
    /// A write made on the JS thread found the connection broken; the task
    /// reports this outcome on its next poll.
    Ended(CloseOutcome),
}

impl Phase {
    /// Data frames are delivered to JS only while open; after our close they
    /// are read and dropped so that the server's Close can still be seen.
    pub fn delivers_data(&self) -> bool {
        matches!(self, Phase::Open)
    }

    /// The socket is read in every phase but these two.
    pub fn reads(&self) -> bool {
        !matches!(self, Phase::Failing { .. } | Phase::Ended(_))
    }

    /// The server's Close has arrived: the closing handshake is complete.
    pub fn received_close(&self) -> bool {
        matches!(self, Phase::ClosedByPeer { .. })
    }

    pub fn has_ended(&self) -> bool {
        matches!(self, Phase::Ended(_))
    }

    /// The violation whose Close is being flushed.
    pub fn violation(&self) -> Option<&Failure> {
        match self {
            Phase::Failing { violation, .. } => Some(violation),
            _ => None,
        }
    }

    /// JS's close request reached the task: our closing handshake starts,
    /// unless one is already under way. `close_timeout` (here and below)
    /// starts the deadline if this transition is the first out of `Open`.
    pub fn on_close_requested(&mut self, close_timeout: Duration) {
        if matches!(self, Phase::Open) {
            *self = Phase::ClosingByUs {
                deadline: self.take_deadline(close_timeout),
            };
        }
    }

    /// The server's Close arrived (before or after ours). A Close that
    /// tungstenite substituted for a forbidden code is the server's violation.
    pub fn on_close_frame(&mut self, frame: Option<CloseFrame>, close_timeout: Duration) {
        let deadline = self.take_deadline(close_timeout);
        *self = if frame.as_ref().is_some_and(is_substituted_violation) {
            Phase::Failing {
                violation: Failure {
                    sent_close_code: Some(1002),
                    ..Failure::new(
                        PROTOCOL,
                        "the server sent a Close frame with a code no endpoint may send",
                    )
                },
                deadline,
            }
        } else {
            Phase::ClosedByPeer { frame, deadline }
        };
    }

    /// A read found the server breaking the protocol; our Close is queued.
    pub fn on_violation(&mut self, violation: Failure, close_timeout: Duration) {
        *self = Phase::Failing {
            violation,
            deadline: self.take_deadline(close_timeout),
        };
    }

    /// A write or read on the JS thread ended the connection with this outcome.
    pub fn on_failed_on_js_thread(&mut self, outcome: CloseOutcome) {
        *self = Phase::Ended(outcome);
    }

    /// The outcome a write on the JS thread left for the task, once.
    pub fn take_ended(&mut self) -> Option<CloseOutcome> {
        match std::mem::replace(self, Phase::Open) {
            Phase::Ended(outcome) => Some(outcome),
            other => {
                *self = other;
                None
            }
        }
    }

    /// How the connection ends when it ends other than by our clean close:
    /// the violation already found, else a clean close if the server's Close
    /// came (both Close frames went; whatever breaks after it, the closing
    /// handshake is complete), else a failure with `cause`.
    pub fn outcome(&self, cause: impl FnOnce() -> Failure) -> CloseOutcome {
        match self {
            Phase::Failing { violation, .. } => CloseOutcome::failed(violation.clone()),
            Phase::ClosedByPeer { frame, .. } => CloseOutcome::clean(frame.as_ref()),
            Phase::Ended(outcome) => outcome.clone(),
            Phase::Open | Phase::ClosingByUs { .. } => CloseOutcome::failed(cause()),
        }
    }

    /// Ready with the connection's outcome once the closing handshake has
    /// run out of time.
    pub fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<CloseOutcome> {
        let timeout = match self {
            Phase::ClosingByUs { deadline }
            | Phase::ClosedByPeer { deadline, .. }
            | Phase::Failing { deadline, .. } => match deadline.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => deadline.timeout,
                Poll::Pending => return Poll::Pending,
            },
            Phase::Open | Phase::Ended(_) => return Poll::Pending,
        };
        Poll::Ready(self.outcome(|| {
            Failure::new(
                CLOSE_TIMEOUT,
                format!(
                    "the server did not answer the Close within {} ms (closeTimeout)",
                    timeout.as_millis()
                ),
            )
        }))
    }

    /// The running deadline, or a new one when the handshake starts now.
    fn take_deadline(&mut self, close_timeout: Duration) -> Deadline {
        match std::mem::replace(self, Phase::Open) {
            Phase::ClosingByUs { deadline }
            | Phase::ClosedByPeer { deadline, .. }
            | Phase::Failing { deadline, .. } => deadline,
            Phase::Open | Phase::Ended(_) => Deadline::start(close_timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::DEFAULT_CLOSE_TIMEOUT as TIMEOUT;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

    fn close(code: u16, reason: &str) -> Option<CloseFrame> {
        Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        })
    }

    fn failure() -> Failure {
        Failure::new(crate::failure::NETWORK, "the socket broke")
    }

    fn violation(message: &str) -> Failure {
        Failure::violation(1002, message)
    }

    #[tokio::test]
    async fn our_close_then_the_servers_completes_the_handshake_with_its_code() {
        let mut phase = Phase::Open;
        phase.on_close_requested(TIMEOUT);
        assert!(!phase.delivers_data());
        assert_eq!(phase.outcome(failure), CloseOutcome::failed(failure()));
        phase.on_close_frame(close(4001, "bye"), TIMEOUT);
        let outcome = phase.outcome(failure);
        assert_eq!((outcome.code, outcome.clean), (4001, true));
    }

    #[tokio::test]
    async fn after_the_servers_close_a_request_from_js_changes_nothing() {
        let mut phase = Phase::Open;
        phase.on_close_frame(None, TIMEOUT);
        phase.on_close_requested(TIMEOUT);
        assert!(phase.received_close());
        assert_eq!(phase.outcome(failure).code, 1005);
        assert!(phase.reads());
    }

    #[tokio::test]
    async fn a_violation_stops_reading_and_wins_over_the_failure_that_follows() {
        let mut phase = Phase::Open;
        phase.on_close_requested(TIMEOUT);
        phase.on_violation(violation("bad frame"), TIMEOUT);
        assert!(!phase.reads());
        assert_eq!(phase.violation(), Some(&violation("bad frame")));
        assert_eq!(
            phase.outcome(failure),
            CloseOutcome::failed(violation("bad frame"))
        );
    }

    #[tokio::test]
    async fn a_substituted_close_is_the_servers_violation() {
        let mut phase = Phase::Open;
        phase.on_close_frame(close(1002, "Protocol violation"), TIMEOUT);
        assert!(phase.violation().is_some());
    }

    #[tokio::test]
    async fn an_outcome_left_by_the_js_thread_is_taken_once() {
        let mut phase = Phase::Open;
        phase.on_failed_on_js_thread(CloseOutcome::failed(failure()));
        assert!(!phase.reads());
        assert_eq!(phase.take_ended(), Some(CloseOutcome::failed(failure())));
        assert_eq!(phase.take_ended(), None);
    }

    fn deadline_of(phase: &Phase) -> tokio::time::Instant {
        match phase {
            Phase::ClosingByUs { deadline }
            | Phase::ClosedByPeer { deadline, .. }
            | Phase::Failing { deadline, .. } => deadline.sleep.deadline(),
            Phase::Open | Phase::Ended(_) => panic!("no deadline while open or ended"),
        }
    }

    #[tokio::test]
    async fn the_deadline_runs_from_the_first_transition_and_is_never_restarted() {
        let mut phase = Phase::Open;
        phase.on_close_requested(TIMEOUT);
        let first = deadline_of(&phase);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        phase.on_close_requested(TIMEOUT);
        phase.on_close_frame(close(1000, ""), TIMEOUT);
        assert_eq!(deadline_of(&phase), first);
        phase.on_violation(violation("late"), TIMEOUT);
        assert_eq!(deadline_of(&phase), first);
    }
}
