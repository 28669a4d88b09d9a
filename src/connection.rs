//! One connection's task: connect, handshake, then move frames between the
//! socket and the two queues JS reads and writes, and run the closing handshake.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::task::AtomicWaker;
use futures::{Sink, Stream};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::WebSocketStream;

use crate::close::{classify_read_error, CloseOutcome, ReadFailure};
use crate::counting_stream::CountingStream;
use crate::events::{Event, EventSink, OpenedInfo};
use crate::failure::{Failure, CONNECTION_LOST, IDLE_TIMEOUT, INTERNAL};
use crate::handshake::{self, HandshakeRequest};
use crate::idle_timer::{IdleTimer, IdleVerdict, Observed, QuietProbe};
use crate::inbound::{InboundQueue, MessageKind, ReceivedBatch};
use crate::inflating_stream::InflatingStream;
use crate::js_poll::PollHandle;
use crate::limits::{max_frame_size, websocket_config};
use crate::lock::lock;
use crate::message_compressor::MessageCompressor;
use crate::outbound::{OutboundQueue, WriteAccounting};
use crate::permessage_deflate::DeflateSettings;
use crate::phase::Phase;
use crate::read_ahead::ReadAhead;
use crate::send_queue::unacknowledged_bytes;
#[cfg(unix)]
use crate::tcp::Tcp;
use crate::transport::{self, Transport, TransportTarget};

type Socket = WebSocketStream<CountingStream<InflatingStream<ReadAhead<Transport>>>>;

/// The state JS and the connection task share.
#[derive(Default)]
pub struct Shared {
    pub inbound: Mutex<InboundQueue>,
    pub outbound: Mutex<OutboundQueue>,
    /// Wakes the task when JS made room, queued a write or asked to close.
    pub driver_waker: AtomicWaker,
    /// Why the JS side of this connection broke (a panic in an entry point):
    /// the task ends the connection with it. Read on every poll, so lock-free.
    js_thread_failure: OnceLock<String>,
    /// The open connection's state. The task locks it for each poll; JS may
    /// lock it to write or read at once (`write_from_js`, `read_from_js`).
    driver: Mutex<Option<Driver>>,
    /// The JS thread's poll of the socket (js_poll.rs). The JS thread takes
    /// this lock; the task takes it once, when the connection ends.
    js_poll: Mutex<JsPoll>,
}

#[derive(Default)]
struct JsPoll {
    /// The libuv handle through which the JS thread polls the socket.
    handle: Option<PollHandle>,
    /// A connection that ended while the handle referred to its socket:
    /// libuv forbids closing such a descriptor, so the socket closes (this is
    /// dropped) once the JS thread closed the handle.
    ended: Option<Driver>,
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

    /// Reads and decodes on the JS thread, now that libuv saw the socket
    /// readable (js_poll.rs). Whenever it does not, the task is woken to:
    /// tokio's read interest may still be with the watch's idle waker.
    #[cfg(unix)]
    pub fn read_from_js(&self) {
        let read = match self.driver.try_lock() {
            Ok(mut driver) => driver.as_mut().is_some_and(Driver::read_from_js),
            Err(_) => false,
        };
        if !read {
            self.driver_waker.wake();
        }
    }

    /// Starts the JS thread's poll of the socket, unless it runs already or
    /// the connection does not deliver messages from the socket to JS the
    /// plain way (closing, or inflating: decompression is the task's work).
    /// `start` gets the descriptor and the handle slot (empty the first time;
    /// the descriptor stays open while a handle is in it), and says whether
    /// the poll started.
    #[cfg(unix)]
    pub fn start_js_poll(
        &self,
        start: impl FnOnce(std::os::fd::RawFd, &mut Option<PollHandle>) -> bool,
    ) {
        use std::os::fd::AsRawFd;
        let mut poll = lock(&self.js_poll);
        if poll.handle.as_ref().is_some_and(PollHandle::is_started) {
            return;
        }
        // A busy task is reading already, and will hand the message over.
        let Ok(driver) = self.driver.try_lock() else {
            return;
        };
        let Some(driver) = driver.as_ref() else {
            return;
        };
        if !driver.phase.delivers_data() || driver.inflates() {
            return;
        }
        let socket = driver.transport().socket();
        if !socket.js_watch_starts() {
            // tokio saw it readable, but the waker it woke may have been
            // the one an earlier watch left: make sure the task reads.
            self.driver_waker.wake();
            return;
        }
        // Made while `driver` is held: the task can only take the driver
        // (to close the socket) before the handle exists, or see it after.
        if !start(socket.stream().as_raw_fd(), &mut poll.handle) {
            // tokio's read interest was handed over to nobody: back to the task.
            self.driver_waker.wake();
        }
    }

    /// Runs `pause` on the poll handle, if there is one (JS thread).
    #[cfg(unix)]
    pub fn with_js_poll(&self, pause: impl FnOnce(&mut PollHandle) -> bool) -> bool {
        lock(&self.js_poll).handle.as_mut().is_some_and(pause)
    }

    /// Takes the poll handle away for good (`close` gets it while the socket
    /// is still open), and closes the socket of a connection that ended
    /// meanwhile. False if there was none.
    #[cfg(unix)]
    pub fn close_js_poll(&self, close: impl FnOnce(PollHandle)) -> bool {
        let ended = {
            let mut poll = lock(&self.js_poll);
            let Some(handle) = poll.handle.take() else {
                return false;
            };
            close(handle);
            poll.ended.take()
        };
        drop(ended);
        true
    }

    /// The JS side of the connection broke: the task ends the connection
    /// with `message` on its next poll.
    pub fn fail_from_js_thread(&self, message: String) {
        // Only the first failure is told; the connection ends with it.
        let _ = self.js_thread_failure.set(message);
        self.driver_waker.wake();
    }
}

/// Owns the driver on the task's behalf: when the task ends or is aborted,
/// the driver (and with it the socket) goes, and so does its reference back
/// to `Shared`.
struct DriverSlot<'a>(&'a Shared);

impl Drop for DriverSlot<'_> {
    fn drop(&mut self) {
        let ended = lock(&self.0.driver).take();
        // The socket may not close while a poll handle refers to it: leave
        // the driver for close_js_poll, which drops it after the handle.
        let mut poll = lock(&self.0.js_poll);
        if poll.handle.is_some() {
            poll.ended = ended;
            return;
        }
        drop(poll);
        drop(ended);
    }
}

pub struct ConnectTarget {
    pub transport: TransportTarget,
    pub request: HandshakeRequest,
    pub max_message_size: usize,
    /// Present when permessage-deflate is offered.
    pub deflate: Option<DeflateSettings>,
    pub driver: DriverSettings,
}

/// The options the open connection keeps.
#[derive(Clone, Copy)]
pub struct DriverSettings {
    /// The `idleTimeout` option, if set.
    pub idle_timeout: Option<Duration>,
    /// Tell JS of each Ping and Pong received.
    pub report_control_frames: bool,
    /// How long a closing handshake may take (`closeTimeout`).
    pub close_timeout: Duration,
}

/// Runs a connection from TCP connect to its end and says how it ended.
pub async fn run(
    target: Box<ConnectTarget>,
    shared: &Arc<Shared>,
    events: &Arc<EventSink>,
) -> CloseOutcome {
    let settings = target.driver;
    // Connecting (TCP, TLS, the handshake) needs a future several KiB large,
    // and the target; boxed, both are freed once the connection is open,
    // and an open connection's task holds only what follows.
    let opened = Box::pin(async move { open(&target, events).await }).await;
    let (socket, compressor) = match opened {
        Ok(opened) => opened,
        Err(failure) => return CloseOutcome::failed(failure),
    };
    *lock(&shared.driver) = Some(Driver::new(socket, compressor, settings, shared, events));
    let slot = DriverSlot(shared);
    let outcome = poll_fn(|cx| match lock(&shared.driver).as_mut() {
        Some(driver) => driver.poll_step(cx),
        None => Poll::Ready(CloseOutcome::failed(Failure::new(
            INTERNAL,
            "the connection state is gone",
        ))),
    })
    .await;
    drop(slot);
    lock(&shared.outbound).stop_accepting();
    outcome
}

/// Connects, performs the opening handshake and tells JS the connection is
/// open. With permessage-deflate agreed, also the compressor for sending.
async fn open(
    target: &ConnectTarget,
    events: &EventSink,
) -> Result<(Socket, Option<MessageCompressor>), Failure> {
    let mut stream = transport::open(&target.transport).await?;
    let peer = stream.tcp().peer_addr().ok();
    let response = handshake::perform(&mut stream, &target.request).await?;
    // The bytes after the response may already be frames, compressed ones
    // too: they go through the inflating layer like the rest.
    let inflating = InflatingStream::new(
        ReadAhead::new(stream, response.leftover),
        response
            .deflate
            .map(|agreed| agreed.server_no_context_takeover),
        max_frame_size(target.max_message_size),
    );
    let socket = WebSocketStream::from_raw_socket(
        CountingStream::new(inflating),
        Role::Client,
        Some(websocket_config(target.max_message_size)),
    )
    .await;
    let compressor = response
        .deflate
        .zip(target.deflate)
        .map(|(agreed, settings)| MessageCompressor::new(&agreed, settings));
    events.send(Event::Opened(OpenedInfo {
        protocol: response.protocol,
        extensions: response.extensions,
        remote_address: peer.map(|peer| peer.ip().to_string()).unwrap_or_default(),
        remote_port: peer.map_or(0, |peer| peer.port()),
    }));
    Ok((socket, compressor))
}

/// The open connection: the socket and its codec, and where the connection
/// is in its closing handshake. The task locks it for each poll; JS may lock
/// it to write at once (see `write_from_js`).
struct Driver {
    ws: Socket,
    shared: Arc<Shared>,
    events: Arc<EventSink>,
    /// The task's waker, for socket readiness registered by writes from JS.
    waker: Option<Waker>,
    phase: Phase,
    writes: WriteAccounting,
    /// Present when permessage-deflate was agreed.
    compressor: Option<MessageCompressor>,
    /// Present with the `idleTimeout` option.
    idle: Option<IdleTimer>,
    received: ReceivedBatch,
    report_control_frames: bool,
    close_timeout: Duration,
}

impl Driver {
    fn new(
        ws: Socket,
        compressor: Option<MessageCompressor>,
        settings: DriverSettings,
        shared: &Arc<Shared>,
        events: &Arc<EventSink>,
    ) -> Self {
        Driver {
            ws,
            shared: shared.clone(),
            events: events.clone(),
            waker: None,
            phase: Phase::Open,
            writes: WriteAccounting::default(),
            compressor,
            idle: settings.idle_timeout.map(IdleTimer::new),
            received: ReceivedBatch::default(),
            report_control_frames: settings.report_control_frames,
            close_timeout: settings.close_timeout,
        }
    }

    /// permessage-deflate was agreed: received messages are inflated.
    #[cfg(unix)]
    fn inflates(&self) -> bool {
        self.ws.get_ref().get_ref().inflates()
    }

    #[cfg(unix)]
    fn transport(&self) -> &Transport {
        self.ws.get_ref().get_ref().get_ref().get_ref()
    }

    #[cfg(unix)]
    fn socket_mut(&mut self) -> &mut Tcp {
        self.ws.get_mut().get_mut().get_mut().get_mut().socket_mut()
    }

    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<CloseOutcome> {
        self.shared.driver_waker.register(cx.waker());
        match &mut self.waker {
            Some(waker) => waker.clone_from(cx.waker()),
            None => self.waker = Some(cx.waker().clone()),
        }
        if let Some(message) = self.shared.js_thread_failure.get() {
            return Poll::Ready(CloseOutcome::failed(Failure::new(
                INTERNAL,
                message.clone(),
            )));
        }
        if let Some(outcome) = self.phase.take_ended() {
            return Poll::Ready(outcome);
        }
        if self.phase.delivers_data() && lock(&self.shared.outbound).close_requested() {
            self.phase.on_close_requested(self.close_timeout);
            // The draft delivers no message once our close began.
            lock(&self.shared.inbound).clear();
        }
        if let Err(outcome) = self.poll_writes(cx) {
            return Poll::Ready(outcome);
        }
        if self.phase.reads() {
            if let Err(outcome) = self.poll_reads(cx) {
                return Poll::Ready(outcome);
            }
        }
        // Reading may have queued a pong or a Close reply: send it now, even if
        // nothing else is written for a while.
        if self.writes.needs_flush() {
            if let Err(outcome) = self.poll_writes(cx) {
                return Poll::Ready(outcome);
            }
        }
        if let Some(violation) = self.phase.violation() {
            if !self.writes.needs_flush() {
                return Poll::Ready(CloseOutcome::failed(violation.clone()));
            }
        }
        if let Err(outcome) = self.poll_idle(cx) {
            return Poll::Ready(outcome);
        }
        self.phase.poll_deadline(cx)
    }

    /// `Shared::write_from_js`: the task's own write step, run on the JS
    /// thread with the task's waker, so that a socket that cannot take
    /// everything wakes the task to finish.
    fn write_from_js(&mut self) -> bool {
        let Some(waker) = self.waker.clone() else {
            return false;
        };
        // Compressing is the task's work, never the JS thread's.
        if self.phase.has_ended() || self.compressor.is_some() {
            return false;
        }
        if let Err(outcome) = self.poll_writes(&mut Context::from_waker(&waker)) {
            self.phase.on_failed_on_js_thread(outcome);
            waker.wake();
        }
        true
    }

    /// `Shared::read_from_js`: the task's read step, run on the JS thread
    /// with the task's waker over at most two socket reads (tcp.rs). The
    /// task is woken when there is more for it: what the JS thread did not
    /// read, a pong or Close reply to send, a failure.
    /// False if it did not read.
    #[cfg(unix)]
    fn read_from_js(&mut self) -> bool {
        let Some(waker) = self.waker.clone() else {
            return false;
        };
        if !self.phase.delivers_data() {
            return false;
        }
        let cx = &mut Context::from_waker(&waker);
        // A Close read here starts the closing handshake's timer, which
        // belongs to the runtime.
        let Ok(runtime) = crate::runtime::runtime() else {
            return false;
        };
        let _in_runtime = runtime.enter();
        self.socket_mut().read_on_js_thread();
        let read = self.read_available(cx);
        let unread_left = self.socket_mut().read_through_tokio();
        if self.received.hand_over(&self.shared.inbound) {
            self.events.send(Event::Messages);
        }
        if let Err(outcome) = read {
            self.phase.on_failed_on_js_thread(outcome);
            waker.wake();
        } else if unread_left || self.writes.needs_flush() {
            waker.wake();
        }
        true
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
            let Some(mut message) = self.writes.next_message(&self.shared.outbound) else {
                break;
            };
            if let Some(compressor) = &mut self.compressor {
                message = compressor.encode(message);
            }
            if let Err(error) = Pin::new(&mut self.ws).start_send(message) {
                return Err(self.outcome_of_write_error(error));
            }
        }
        if self.writes.needs_flush() {
            match Pin::new(&mut self.ws).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.writes.flushed(self.ws.get_ref().bytes_written()),
                Poll::Ready(Err(error)) => return Err(self.outcome_of_write_error(error)),
                Poll::Pending => {}
            }
        }
        let bytes_written = self.ws.get_ref().bytes_written();
        if self
            .writes
            .writable_event_due(&self.shared.outbound, bytes_written)
        {
            self.events.send(Event::Writable);
        }
        Ok(())
    }

    /// The idle timer, while the connection is open (once it closes, the
    /// close timeout bounds it): a Ping after one quiet interval, the end
    /// after two.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Result<(), CloseOutcome> {
        if self.idle.is_none() || !self.phase.delivers_data() {
            return Ok(());
        }
        let observed = Observed {
            bytes_read: self.ws.get_ref().bytes_read(),
            bytes_written: self.ws.get_ref().bytes_written(),
            write_pending: self.writes.needs_flush(),
        };
        let Some(idle) = &mut self.idle else {
            return Ok(());
        };
        let (writes, shared, ws) = (&self.writes, &self.shared, &self.ws);
        let probe = || QuietProbe {
            reading_paused: writes.pong_backlog_full() || lock(&shared.inbound).room() == 0,
            kernel_queued: unacknowledged_bytes(ws.get_ref().get_ref().get_ref().get_ref().tcp()),
        };
        match idle.poll(cx, &observed, probe) {
            Poll::Pending => Ok(()),
            Poll::Ready(IdleVerdict::Dead) => {
                let interval = idle.interval().as_millis();
                Err(CloseOutcome::failed(Failure::new(IDLE_TIMEOUT, format!(
                    "the server sent nothing for {interval} ms (idleTimeout), then did not answer a ping within {interval} ms"
                ))))
            }
            Poll::Ready(IdleVerdict::SendPing) => {
                // Behind a frame still being written the Ping waits; the
                // socket taking that frame counts as life meanwhile.
                if let Poll::Ready(Ok(())) = Pin::new(&mut self.ws).poll_ready(cx) {
                    if let Err(error) =
                        Pin::new(&mut self.ws).start_send(Message::Ping(Bytes::new()))
                    {
                        return Err(self.outcome_of_write_error(error));
                    }
                    self.writes.frame_queued();
                }
                self.poll_writes(cx)
            }
        }
    }

    /// Nothing more of JS's goes out (the server closed, or broke the protocol).
    fn stop_sending(&mut self) {
        lock(&self.shared.outbound).stop_accepting();
        self.writes.drop_taken();
    }

    fn outcome_of_write_error(&self, error: tokio_tungstenite::tungstenite::Error) -> CloseOutcome {
        self.phase.outcome(|| {
            let message = format!("the connection failed: {error}");
            match &error {
                tokio_tungstenite::tungstenite::Error::Io(io) => Failure::io(io, message),
                _ => Failure::new(CONNECTION_LOST, message),
            }
        })
    }

    /// Reads while the inbound queue has room (or data is being dropped),
    /// and tells JS if it waits for messages.
    fn poll_reads(&mut self, cx: &mut Context<'_>) -> Result<(), CloseOutcome> {
        let read = self.read_available(cx);
        // Whatever ended the reading, messages read before it reach JS.
        if self.received.hand_over(&self.shared.inbound) {
            self.events.send(Event::Messages);
        }
        read
    }

    fn read_available(&mut self, cx: &mut Context<'_>) -> Result<(), CloseOutcome> {
        let mut room = lock(&self.shared.inbound).room();
        while self.phase.reads() && !self.writes.pong_backlog_full() {
            if self.phase.delivers_data() && room == 0 {
                // JS may have taken some since: look again before stopping.
                self.received.hand_over_mid_read(&self.shared.inbound);
                room = lock(&self.shared.inbound).room();
                if room == 0 {
                    break;
                }
            }
            let message = match Pin::new(&mut self.ws).poll_next(cx) {
                Poll::Pending => break,
                // tungstenite ends the stream cleanly only after a Close was
                // received and TCP ended.
                Poll::Ready(None) => return Err(self.outcome_at_end_of_stream()),
                Poll::Ready(Some(Err(error))) => {
                    return self.on_read_failure(classify_read_error(error))
                }
                Poll::Ready(Some(Ok(message))) => message,
            };
            let (kind, payload) = match message {
                Message::Text(text) => (MessageKind::Text, text.into()),
                Message::Binary(bytes) => (MessageKind::Binary, bytes),
                // tungstenite queued the pong; it goes out with the next flush.
                Message::Ping(payload) => {
                    self.writes.pong_queued(payload.len());
                    if self.report_control_frames {
                        self.events.send(Event::Ping(payload));
                    }
                    continue;
                }
                Message::Pong(payload) => {
                    if self.report_control_frames {
                        self.events.send(Event::Pong(payload));
                    }
                    continue;
                }
                Message::Close(frame) => {
                    self.on_close_frame(frame);
                    continue;
                }
                Message::Frame(_) => continue,
            };
            if self.phase.delivers_data() {
                room = room.saturating_sub(payload.len());
                self.received.push(kind, payload, &self.shared.inbound);
            }
        }
        Ok(())
    }

    fn outcome_at_end_of_stream(&self) -> CloseOutcome {
        self.phase.outcome(|| {
            Failure::new(
                CONNECTION_LOST,
                "the connection ended without a closing handshake",
            )
        })
    }

    fn on_close_frame(&mut self, frame: Option<CloseFrame>) {
        // tungstenite queued the reply (echoing the code) unless we closed first.
        self.writes.frame_queued();
        self.stop_sending();
        self.phase.on_close_frame(frame, self.close_timeout);
    }

    fn on_read_failure(&mut self, failure: ReadFailure) -> Result<(), CloseOutcome> {
        match failure {
            ReadFailure::Violation {
                close_code,
                message,
            } if !self.phase.received_close() => {
                self.fail_with_violation(close_code, Failure::violation(close_code, message))
            }
            // After the server's Close, whatever breaks, the closing handshake
            // is complete (the phase's outcome is clean).
            other => Err(self.phase.outcome(|| other.into_failure())),
        }
    }

    /// Sends a Close with the violation's code, then drops TCP once it went.
    fn fail_with_violation(
        &mut self,
        close_code: u16,
        violation: Failure,
    ) -> Result<(), CloseOutcome> {
        self.stop_sending();
        let close = Message::Close(Some(CloseFrame {
            code: close_code.into(),
            reason: "".into(),
        }));
        // If the encoder is mid-frame the Close queues behind it.
        if Pin::new(&mut self.ws).start_send(close).is_err() {
            return Err(CloseOutcome::failed(violation));
        }
        self.writes.frame_queued();
        self.phase.on_violation(violation, self.close_timeout);
        Ok(())
    }
}
