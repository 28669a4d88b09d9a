//! One connection's task: connect, handshake, then move frames between the
//! socket and the two queues JS reads and writes, and run the closing handshake.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures::task::AtomicWaker;
use futures::{Sink, Stream};
use tokio::time::{sleep, Sleep};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::WebSocketStream;

use crate::close::{classify_read_error, is_substituted_violation, CloseOutcome, ReadFailure};
use crate::counting_stream::CountingStream;
use crate::events::{Event, EventSink, OpenedInfo};
use crate::handshake::{self, HandshakeRequest};
use crate::inbound::{InboundQueue, MessageKind};
use crate::limits::{websocket_config, CLOSE_TIMEOUT, PONG_BACKLOG_BYTES};
use crate::outbound::{wire_len, OutboundBatch, OutboundQueue};
use crate::read_ahead::ReadAhead;
use crate::transport::{self, Transport, TransportTarget};

/// The state JS and the connection task share.
#[derive(Default)]
pub struct Shared {
    pub inbound: Mutex<InboundQueue>,
    pub outbound: Mutex<OutboundQueue>,
    /// Wakes the task when JS made room, queued a write or asked to close.
    pub driver_waker: AtomicWaker,
    /// The open connection's state. The task locks it for each poll; JS may
    /// lock it to write at once (see `write_from_js`).
    driver: Mutex<Option<Driver>>,
}

impl Shared {
    /// Sends what JS queued from the JS thread itself, sparing the round trip
    /// through a wake-up of the task's thread. False if the task is busy
    /// (it will send it) or the connection is not open.
    pub fn write_from_js(&self) -> bool {
        let Ok(mut driver) = self.driver.try_lock() else {
            return false;
        };
        driver.as_mut().is_some_and(Driver::write_from_js)
    }
}

/// Owns the driver on the task's behalf: when the task ends or is aborted,
/// the driver (and with it the socket) goes, and so does its reference back
/// to `Shared`.
struct DriverSlot<'a>(&'a Shared);

impl Drop for DriverSlot<'_> {
    fn drop(&mut self) {
        lock(&self.0.driver).take();
    }
}

/// A poisoned lock only means another thread panicked mid-update; the queues
/// stay consistent enough to end the connection, so keep going.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct ConnectTarget {
    pub transport: TransportTarget,
    pub request: HandshakeRequest,
    pub max_message_size: usize,
}

/// Runs a connection from TCP connect to its end and says how it ended.
pub async fn run(
    target: ConnectTarget,
    shared: &Arc<Shared>,
    events: &Arc<EventSink>,
) -> CloseOutcome {
    let mut stream = match transport::open(&target.transport).await {
        Ok(stream) => stream,
        Err(message) => return CloseOutcome::failed(message),
    };
    let response = match handshake::perform(&mut stream, &target.request).await {
        Ok(response) => response,
        Err(message) => return CloseOutcome::failed(message),
    };
    let ws = WebSocketStream::from_partially_read(
        CountingStream::new(ReadAhead::new(stream)),
        response.leftover,
        Role::Client,
        Some(websocket_config(target.max_message_size)),
    )
    .await;
    events.send(Event::Opened(OpenedInfo {
        protocol: response.protocol,
        extensions: response.extensions,
    }));
    let driver = Driver {
        ws,
        shared: shared.clone(),
        events: events.clone(),
        waker: None,
        failed_from_js: None,
        outgoing: OutboundBatch::new(),
        outgoing_bytes: 0,
        handed_bytes: 0,
        written_at_last_flush: 0,
        needs_flush: false,
        unflushed_pong_bytes: 0,
        reading: true,
        discarding_data: false,
        received_close: None,
        failure: None,
        deadline: None,
        received: Vec::with_capacity(RECEIVED_BATCH),
        js_waits_for_messages: false,
    };
    *lock(&shared.driver) = Some(driver);
    let slot = DriverSlot(shared);
    let outcome = poll_fn(|cx| match lock(&shared.driver).as_mut() {
        Some(driver) => driver.poll_step(cx),
        None => Poll::Ready(CloseOutcome::failed("the connection state is gone")),
    })
    .await;
    drop(slot);
    lock(&shared.outbound).stop_accepting();
    outcome
}

struct Driver {
    ws: WebSocketStream<CountingStream<ReadAhead<Transport>>>,
    shared: Arc<Shared>,
    events: Arc<EventSink>,
    /// The task's waker, for socket readiness registered by writes from JS.
    waker: Option<Waker>,
    /// How a write from JS ended the connection, for the task to report.
    failed_from_js: Option<CloseOutcome>,
    /// Wire bytes handed to the frame encoder since its buffer was last empty.
    handed_bytes: usize,
    /// Messages taken from the outbound queue, not yet handed to the encoder.
    outgoing: OutboundBatch,
    outgoing_bytes: usize,
    /// The socket's byte count when the encoder's buffer was last empty.
    written_at_last_flush: u64,
    needs_flush: bool,
    /// Wire bytes of pongs queued since the encoder's buffer was last empty.
    unflushed_pong_bytes: usize,
    reading: bool,
    /// After our close, data frames are dropped so the handshake can finish.
    discarding_data: bool,
    /// The server's Close (None inside: it had no body).
    received_close: Option<Option<CloseFrame>>,
    /// A protocol violation: our Close is being flushed, then TCP is dropped.
    failure: Option<String>,
    /// Bounds the closing handshake once it started.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Messages read but not yet in the inbound queue: they are moved there
    /// in groups, one lock for many messages.
    received: Vec<(MessageKind, Bytes)>,
    /// A group moved mid-read found JS waiting; the event goes out at the end.
    js_waits_for_messages: bool,
}

/// Messages moved into the inbound queue at a time while reading continues.
const RECEIVED_BATCH: usize = 64;

impl Driver {
    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<CloseOutcome> {
        self.shared.driver_waker.register(cx.waker());
        match &mut self.waker {
            Some(waker) => waker.clone_from(cx.waker()),
            None => self.waker = Some(cx.waker().clone()),
        }
        if let Some(outcome) = self.failed_from_js.take() {
            return Poll::Ready(outcome);
        }
        if !self.discarding_data && lock(&self.shared.outbound).close_requested() {
            self.start_closing_handshake();
        }
        if let Err(outcome) = self.poll_writes(cx) {
            return Poll::Ready(outcome);
        }
        if self.failure.is_none() {
            if let Err(outcome) = self.poll_reads(cx) {
                return Poll::Ready(outcome);
            }
        }
        // Reading may have queued a pong or a Close reply: send it now, even if
        // nothing else is written for a while.
        if self.needs_flush {
            if let Err(outcome) = self.poll_writes(cx) {
                return Poll::Ready(outcome);
            }
        }
        if let Some(message) = &self.failure {
            if !self.needs_flush {
                return Poll::Ready(CloseOutcome::failed(message.clone()));
            }
        }
        if let Some(deadline) = self.deadline.as_mut() {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(self.outcome_at_deadline());
            }
        }
        Poll::Pending
    }

    /// `Shared::write_from_js`: the task's own write step, run on the JS
    /// thread with the task's waker, so that a socket that cannot take
    /// everything wakes the task to finish.
    fn write_from_js(&mut self) -> bool {
        let Some(waker) = self.waker.clone() else {
            return false;
        };
        if self.failed_from_js.is_some() {
            return false;
        }
        if let Err(outcome) = self.poll_writes(&mut Context::from_waker(&waker)) {
            self.failed_from_js = Some(outcome);
            waker.wake();
        }
        true
    }

    fn start_closing_handshake(&mut self) {
        self.discarding_data = true;
        lock(&self.shared.inbound).clear();
        self.start_deadline();
    }

    fn start_deadline(&mut self) {
        if self.deadline.is_none() {
            self.deadline = Some(Box::pin(sleep(CLOSE_TIMEOUT)));
        }
    }

    /// How the connection ends when it ends other than by our clean close:
    /// the violation already found, else a clean close if the server's Close
    /// came (both Close frames went; whatever breaks after it, the closing
    /// handshake is complete), else a failure with `message`.
    fn settled_or_failed(&self, message: impl FnOnce() -> String) -> CloseOutcome {
        if let Some(violation) = &self.failure {
            return CloseOutcome::failed(violation.clone());
        }
        match &self.received_close {
            Some(frame) => CloseOutcome::clean(frame.as_ref()),
            None => CloseOutcome::failed(message()),
        }
    }

    fn outcome_at_deadline(&self) -> CloseOutcome {
        self.settled_or_failed(|| {
            format!(
                "the server did not answer the Close within {} s",
                CLOSE_TIMEOUT.as_secs()
            )
        })
    }

    /// Hands queued messages to the encoder while it takes them, flushes, and
    /// tells JS when a waiting write may resolve.
    fn poll_writes(&mut self, cx: &mut Context<'_>) -> Result<(), CloseOutcome> {
        loop {
            match Pin::new(&mut self.ws).poll_ready(cx) {
                Poll::Pending => break,
                Poll::Ready(Err(error)) => return Err(self.outcome_of_write_error(error)),
                Poll::Ready(Ok(())) => {}
            }
            let Some(message) = self.next_outgoing() else {
                break;
            };
            if let Err(error) = Pin::new(&mut self.ws).start_send(message) {
                return Err(self.outcome_of_write_error(error));
            }
            self.needs_flush = true;
        }
        if self.needs_flush {
            match Pin::new(&mut self.ws).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.needs_flush = false;
                    self.handed_bytes = 0;
                    self.unflushed_pong_bytes = 0;
                    self.written_at_last_flush = self.ws.get_ref().bytes_written();
                }
                Poll::Ready(Err(error)) => return Err(self.outcome_of_write_error(error)),
                Poll::Pending => {}
            }
        }
        let taken = self.ws.get_ref().bytes_written() - self.written_at_last_flush;
        let in_flight = self.handed_bytes.saturating_sub(taken as usize) + self.outgoing_bytes;
        let writable = {
            let mut outbound = lock(&self.shared.outbound);
            outbound.set_in_flight(in_flight);
            outbound.writable_event_due()
        };
        if writable {
            self.events.send(Event::Writable);
        }
        Ok(())
    }

    /// The next message for the encoder: from the batch taken, else from a new
    /// batch, else the requested Close once everything before it went.
    fn next_outgoing(&mut self) -> Option<Message> {
        if self.outgoing.is_empty() {
            let mut outbound = lock(&self.shared.outbound);
            self.outgoing_bytes = outbound.take_all(&mut self.outgoing);
            if self.outgoing.is_empty() {
                return outbound.take_close().map(Message::Close);
            }
        }
        let (message, size) = self.outgoing.pop_front()?;
        self.outgoing_bytes -= size;
        self.handed_bytes += size;
        Some(message)
    }

    /// Nothing more of JS's goes out (the server closed, or broke the protocol).
    fn stop_sending(&mut self) {
        lock(&self.shared.outbound).stop_accepting();
        self.outgoing.clear();
        self.outgoing_bytes = 0;
    }

    fn outcome_of_write_error(&self, error: tokio_tungstenite::tungstenite::Error) -> CloseOutcome {
        self.settled_or_failed(|| format!("the connection failed: {error}"))
    }

    /// Reads while the inbound queue has room (or data is being discarded),
    /// and tells JS if it waits for messages.
    fn poll_reads(&mut self, cx: &mut Context<'_>) -> Result<(), CloseOutcome> {
        let read = self.read_available(cx);
        // Whatever ended the reading, messages read before it reach JS.
        if self.hand_over_received() {
            self.events.send(Event::Messages);
        }
        read
    }

    fn read_available(&mut self, cx: &mut Context<'_>) -> Result<(), CloseOutcome> {
        let mut room = lock(&self.shared.inbound).room();
        while self.reading {
            if self.unflushed_pong_bytes > PONG_BACKLOG_BYTES {
                // The server floods pings and does not read the pongs: wait
                // until it does (the flush registered for the socket's room).
                break;
            }
            if !self.discarding_data && room == 0 {
                // JS may have taken some since: look again before stopping.
                self.js_waits_for_messages |= self.hand_over_received();
                room = lock(&self.shared.inbound).room();
                if room == 0 {
                    break;
                }
            }
            let message = match Pin::new(&mut self.ws).poll_next(cx) {
                Poll::Pending => break,
                Poll::Ready(None) => {
                    // tungstenite ends the stream cleanly only after a Close
                    // was received and TCP ended.
                    self.reading = false;
                    return Err(self.outcome_at_end_of_stream());
                }
                Poll::Ready(Some(Err(error))) => {
                    self.reading = false;
                    return self.on_read_failure(classify_read_error(error));
                }
                Poll::Ready(Some(Ok(message))) => message,
            };
            let (kind, payload) = match message {
                Message::Text(text) => (MessageKind::Text, text.into()),
                Message::Binary(bytes) => (MessageKind::Binary, bytes),
                // tungstenite queued the pong; it goes out with the next flush.
                Message::Ping(payload) => {
                    self.needs_flush = true;
                    self.unflushed_pong_bytes += wire_len(payload.len());
                    continue;
                }
                Message::Close(frame) => {
                    self.on_close_frame(frame);
                    continue;
                }
                _ => continue,
            };
            if self.discarding_data {
                continue;
            }
            room = room.saturating_sub(payload.len());
            self.received.push((kind, payload));
            if self.received.len() == RECEIVED_BATCH {
                self.js_waits_for_messages |= self.hand_over_received();
            }
        }
        Ok(())
    }

    /// Moves the messages read so far into the inbound queue under one lock;
    /// true (once) if JS waits for messages.
    fn hand_over_received(&mut self) -> bool {
        let mut js_waiting = std::mem::take(&mut self.js_waits_for_messages);
        if !self.received.is_empty() {
            js_waiting |= lock(&self.shared.inbound).push_all(&mut self.received);
        }
        js_waiting
    }

    fn outcome_at_end_of_stream(&self) -> CloseOutcome {
        self.settled_or_failed(|| "the connection ended without a closing handshake".to_string())
    }

    fn on_close_frame(&mut self, frame: Option<CloseFrame>) {
        // tungstenite queued the reply (echoing the code) unless we closed first.
        self.needs_flush = true;
        self.stop_sending();
        if frame.as_ref().is_some_and(is_substituted_violation) {
            self.failure =
                Some("the server sent a Close frame with a code no endpoint may send".to_string());
        } else {
            self.received_close = Some(frame);
        }
        self.start_deadline();
    }

    fn on_read_failure(&mut self, failure: ReadFailure) -> Result<(), CloseOutcome> {
        match failure {
            // The server's Close already arrived: whatever breaks after it,
            // the closing handshake is complete.
            _ if self.received_close.is_some() => Err(self.outcome_at_end_of_stream()),
            ReadFailure::Abrupt(message) => Err(CloseOutcome::failed(message)),
            ReadFailure::Violation {
                close_code,
                message,
            } => {
                self.stop_sending();
                let close = Message::Close(Some(CloseFrame {
                    code: close_code.into(),
                    reason: "".into(),
                }));
                // If the encoder is mid-frame the Close queues behind it.
                if Pin::new(&mut self.ws).start_send(close).is_err() {
                    return Err(CloseOutcome::failed(message));
                }
                self.needs_flush = true;
                self.failure = Some(message);
                self.start_deadline();
                Ok(())
            }
        }
    }
}
