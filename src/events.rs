//! Events from a connection task to its JS wrapper, over a threadsafe function.
//!
//! The threadsafe function is referenced (it keeps the event loop alive) and is
//! owned by the connection task, so the process stays up exactly as long as a
//! connection is connecting or open, like a Node socket.

use napi::bindgen_prelude::{Uint8Array, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use tokio_tungstenite::tungstenite::Bytes;

use crate::close::CloseOutcome;
use crate::failure::FailureInfo;

#[napi(object)]
pub struct OpenedInfo {
    pub protocol: String,
    pub extensions: String,
    /// The TCP peer: the server, or the proxy when there is one.
    pub remote_address: String,
    pub remote_port: u16,
}

#[napi(object)]
pub struct ClosedInfo {
    pub code: u16,
    pub reason: String,
    pub was_clean: bool,
    /// Why the close was unclean (null for a clean one).
    pub failure: Option<FailureInfo>,
}

/// The event kinds as JS sees them (the first callback argument).
#[napi]
pub enum EventKind {
    Opened,
    Messages,
    Writable,
    Closed,
    /// A Ping arrived (only when JS asked for control frames).
    Ping,
    /// A Pong arrived (only when JS asked for control frames).
    Pong,
}

pub enum Event {
    Opened(OpenedInfo),
    /// Messages were queued while JS waited for some.
    Messages,
    /// A waiting write may resolve.
    Writable,
    Closed(CloseOutcome),
    Ping(Bytes),
    Pong(Bytes),
}

/// `[kind, opened, closed, payload]`: the opened event's info, the closed
/// event's, or a Ping's or Pong's payload, and null for the others.
pub type EventArgs = (
    EventKind,
    Option<OpenedInfo>,
    Option<ClosedInfo>,
    Option<Uint8Array>,
);

impl Event {
    pub fn into_args(self) -> EventArgs {
        match self {
            Event::Opened(info) => (EventKind::Opened, Some(info), None, None),
            Event::Messages => (EventKind::Messages, None, None, None),
            Event::Writable => (EventKind::Writable, None, None, None),
            // At most 125 bytes: copied rather than shared.
            Event::Ping(payload) => (EventKind::Ping, None, None, Some(payload.to_vec().into())),
            Event::Pong(payload) => (EventKind::Pong, None, None, Some(payload.to_vec().into())),
            Event::Closed(outcome) => (
                EventKind::Closed,
                None,
                Some(ClosedInfo {
                    code: outcome.code,
                    reason: outcome.reason,
                    was_clean: outcome.clean,
                    failure: outcome.failure.map(|failure| FailureInfo::from(*failure)),
                }),
                None,
            ),
        }
    }
}

pub struct EventSink {
    callback: ThreadsafeFunction<Event, Unknown<'static>, EventArgs, Status, false>,
}

impl EventSink {
    pub fn new(
        callback: ThreadsafeFunction<Event, Unknown<'static>, EventArgs, Status, false>,
    ) -> Self {
        EventSink { callback }
    }

    /// Queues the event for the JS thread. After the environment is torn down
    /// (a terminated worker) the call is refused, which is fine: nobody listens.
    pub fn send(&self, event: Event) {
        self.callback
            .call(event, ThreadsafeFunctionCallMode::NonBlocking);
    }
}
