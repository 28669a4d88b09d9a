//! Messages written by JS on their way to the socket, and the write bound:
//! the queue JS writes into (`OutboundQueue`, shared), and the task's count
//! of what it took from it and what the socket has yet to take
//! (`WriteAccounting`, the task's own).

use std::collections::VecDeque;
use std::sync::Mutex;

use napi_derive::napi;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::limits::{OUTBOUND_QUEUE_BYTES, PONG_BACKLOG_BYTES};
use crate::lock::lock;

/// What JS learns from a write.
#[napi]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SendStatus {
    /// Queued, and user space holds no more than the bound: resolve now.
    Accepted = 0,
    /// Queued, but over the bound: resolve on the "writable" event.
    MustWait = 1,
    /// Not queued: the closing handshake has started, so the message cannot go out.
    Refused = 2,
}

/// Messages with their wire sizes, as the connection task takes them.
pub type OutboundBatch = VecDeque<(Message, usize)>;

pub struct OutboundQueue {
    messages: OutboundBatch,
    queued_bytes: usize,
    /// Bytes handed to the frame encoder that the socket has not taken yet.
    in_flight_bytes: usize,
    /// JS waits for the bound to be met again.
    js_waiting: bool,
    intake: Intake,
}

/// What the queue takes from JS. Each change is one method below, named for
/// its trigger: `request_close` (JS), `take_close` and `stop_accepting` (the
/// task).
enum Intake {
    /// Messages are accepted.
    Accepting,
    /// JS asked to close: later messages are refused, and the Close goes out
    /// after every message queued before it.
    CloseRequested(Option<CloseFrame>),
    /// The task handed the Close to the encoder.
    CloseTaken,
    /// The server closed or broke the protocol, or the connection ended:
    /// nothing more goes out, and a Close requested now has no handshake to start.
    Stopped,
}

impl Default for OutboundQueue {
    fn default() -> Self {
        OutboundQueue {
            messages: VecDeque::new(),
            queued_bytes: 0,
            in_flight_bytes: 0,
            js_waiting: false,
            intake: Intake::Accepting,
        }
    }
}

/// Bytes a client frame of this payload occupies on the wire (header and mask included).
pub fn wire_len(payload_len: usize) -> usize {
    let extended_length = match payload_len {
        0..=125 => 0,
        126..=0xFFFF => 2,
        _ => 8,
    };
    2 + extended_length + 4 + payload_len
}

impl OutboundQueue {
    fn pending_bytes(&self) -> usize {
        self.queued_bytes + self.in_flight_bytes
    }

    /// True while messages wait to be handed over: the connection task is
    /// then already due to run, so another write need not wake it.
    pub fn has_queued_messages(&self) -> bool {
        !self.messages.is_empty()
    }

    pub fn push(&mut self, message: Message) -> SendStatus {
        self.push_all(std::iter::once(message))
    }

    /// Queues messages in order; one answer for them all, as for the last.
    pub fn push_all(&mut self, messages: impl IntoIterator<Item = Message>) -> SendStatus {
        if !matches!(self.intake, Intake::Accepting) {
            return SendStatus::Refused;
        }
        for message in messages {
            let size = wire_len(message.len());
            self.queued_bytes += size;
            self.messages.push_back((message, size));
        }
        if self.pending_bytes() <= OUTBOUND_QUEUE_BYTES {
            SendStatus::Accepted
        } else {
            self.js_waiting = true;
            SendStatus::MustWait
        }
    }

    /// Records a Close from JS; false if the task need not hear of it (one
    /// was already requested, or sending has stopped).
    pub fn request_close(&mut self, frame: Option<CloseFrame>) -> bool {
        if !matches!(self.intake, Intake::Accepting) {
            return false;
        }
        self.intake = Intake::CloseRequested(frame);
        true
    }

    pub fn close_requested(&self) -> bool {
        matches!(self.intake, Intake::CloseRequested(_) | Intake::CloseTaken)
    }

    /// Moves every queued message into `batch` (which the task empties before
    /// taking again) and returns their wire bytes. One lock per batch rather
    /// than per message: JS keeps queueing while the task encodes.
    pub fn take_all(&mut self, batch: &mut OutboundBatch) -> usize {
        debug_assert!(batch.is_empty());
        // A swap also hands the emptied deque's capacity back to JS.
        std::mem::swap(&mut self.messages, batch);
        let taken = std::mem::take(&mut self.queued_bytes);
        self.in_flight_bytes += taken;
        taken
    }

    /// The requested Close, once, after every message queued before it was taken.
    pub fn take_close(&mut self) -> Option<Option<CloseFrame>> {
        if !self.messages.is_empty() {
            return None;
        }
        match std::mem::replace(&mut self.intake, Intake::CloseTaken) {
            Intake::CloseRequested(frame) => Some(frame),
            unchanged => {
                self.intake = unchanged;
                None
            }
        }
    }

    /// The socket has taken all but `in_flight_bytes` of what was handed over.
    pub fn set_in_flight(&mut self, in_flight_bytes: usize) {
        self.in_flight_bytes = in_flight_bytes;
    }

    /// The closing handshake started from the server's side or the connection
    /// ended: nothing more goes out, and waiting JS writes are never released.
    pub fn stop_accepting(&mut self) {
        self.intake = Intake::Stopped;
        self.messages.clear();
        self.queued_bytes = 0;
        self.js_waiting = false;
    }

    /// True once when a waiting JS write may resolve.
    pub fn writable_event_due(&mut self) -> bool {
        let sending = !matches!(self.intake, Intake::Stopped);
        if self.js_waiting && sending && self.pending_bytes() <= OUTBOUND_QUEUE_BYTES {
            self.js_waiting = false;
            return true;
        }
        false
    }
}

/// The connection task's half of the write path. It counts the messages it
/// took from the queue but has not encoded yet, and the bytes handed to the
/// frame encoder that the socket has not taken; from those it decides when a
/// waiting JS write may resolve, when a flush is due, and when pongs have
/// piled up.
#[derive(Default)]
pub struct WriteAccounting {
    /// Messages taken from the outbound queue, not yet handed to the encoder.
    taken: OutboundBatch,
    taken_bytes: usize,
    /// Wire bytes of messages handed to the encoder since its buffer was last empty.
    handed_bytes: usize,
    /// Wire bytes of pongs queued since the encoder's buffer was last empty.
    unflushed_pong_bytes: usize,
    /// The socket's byte count when the encoder's buffer was last empty.
    written_at_last_flush: u64,
    /// The encoder holds frames that were not flushed yet.
    needs_flush: bool,
}

impl WriteAccounting {
    /// The next message for the encoder: from the batch taken, else from a new
    /// batch, else the requested Close once everything before it went.
    pub fn next_message(&mut self, queue: &Mutex<OutboundQueue>) -> Option<Message> {
        if self.taken.is_empty() {
            let mut queue = lock(queue);
            self.taken_bytes = queue.take_all(&mut self.taken);
            if self.taken.is_empty() {
                let close = queue.take_close().map(Message::Close);
                self.needs_flush |= close.is_some();
                return close;
            }
        }
        let (message, size) = self.taken.pop_front()?;
        self.taken_bytes -= size;
        self.handed_bytes += size;
        self.needs_flush = true;
        Some(message)
    }

    /// The codec queued a frame of its own (a Close reply, our Close after a
    /// violation): it goes out with the next flush.
    pub fn frame_queued(&mut self) {
        self.needs_flush = true;
    }

    /// tungstenite queued the pong to a ping of this size.
    pub fn pong_queued(&mut self, payload_len: usize) {
        self.needs_flush = true;
        self.unflushed_pong_bytes += wire_len(payload_len);
    }

    /// The server floods pings and does not read the pongs: the socket is not
    /// read until it does (the pending flush waits for the socket's room).
    pub fn pong_backlog_full(&self) -> bool {
        self.unflushed_pong_bytes > PONG_BACKLOG_BYTES
    }

    pub fn needs_flush(&self) -> bool {
        self.needs_flush
    }

    /// The encoder's buffer is empty; the socket has written this many bytes in all.
    pub fn flushed(&mut self, bytes_written: u64) {
        self.needs_flush = false;
        self.handed_bytes = 0;
        self.unflushed_pong_bytes = 0;
        self.written_at_last_flush = bytes_written;
    }

    /// Nothing more of JS's goes out: the messages taken are dropped.
    pub fn drop_taken(&mut self) {
        self.taken.clear();
        self.taken_bytes = 0;
    }

    /// Tells the queue how many bytes user space still holds (taken, or
    /// handed to the encoder and not yet taken by the socket, which has
    /// written `bytes_written` in all); true once when a waiting JS write may
    /// resolve.
    pub fn writable_event_due(&self, queue: &Mutex<OutboundQueue>, bytes_written: u64) -> bool {
        let socket_took = (bytes_written - self.written_at_last_flush) as usize;
        let in_flight = self.handed_bytes.saturating_sub(socket_took) + self.taken_bytes;
        let mut queue = lock(queue);
        queue.set_in_flight(in_flight);
        queue.writable_event_due()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary(len: usize) -> Message {
        Message::binary(vec![7u8; len])
    }

    #[test]
    fn small_writes_are_accepted_until_the_bound_then_must_wait() {
        let mut queue = OutboundQueue::default();
        assert_eq!(queue.push(binary(1000)), SendStatus::Accepted);
        assert_eq!(
            queue.push(binary(OUTBOUND_QUEUE_BYTES)),
            SendStatus::MustWait
        );
        assert!(!queue.writable_event_due());
        let mut batch = OutboundBatch::new();
        assert_eq!(
            queue.take_all(&mut batch),
            wire_len(1000) + wire_len(OUTBOUND_QUEUE_BYTES)
        );
        assert_eq!(batch.len(), 2);
        queue.set_in_flight(OUTBOUND_QUEUE_BYTES / 2);
        assert!(queue.writable_event_due());
        assert!(!queue.writable_event_due());
    }

    #[test]
    fn close_goes_after_queued_messages_and_refuses_later_writes() {
        let mut queue = OutboundQueue::default();
        queue.push(binary(3));
        assert!(queue.request_close(None));
        assert!(!queue.request_close(None));
        assert_eq!(queue.push(binary(3)), SendStatus::Refused);
        assert!(queue.take_close().is_none(), "the message goes first");
        let mut batch = OutboundBatch::new();
        queue.take_all(&mut batch);
        assert_eq!(batch.len(), 1);
        assert!(matches!(queue.take_close(), Some(None)));
        assert!(queue.take_close().is_none(), "only once");
    }

    #[test]
    fn a_write_waiting_when_sending_stops_is_never_released() {
        let mut queue = OutboundQueue::default();
        assert_eq!(
            queue.push(binary(OUTBOUND_QUEUE_BYTES * 2)),
            SendStatus::MustWait
        );
        queue.stop_accepting();
        queue.set_in_flight(0);
        assert!(!queue.writable_event_due());
        assert_eq!(queue.push(binary(1)), SendStatus::Refused);
        assert!(!queue.request_close(None), "no handshake left to start");
        assert!(queue.take_close().is_none());
    }

    #[test]
    fn accounting_releases_a_waiting_write_once_the_socket_took_enough() {
        let queue = Mutex::new(OutboundQueue::default());
        let size = wire_len(OUTBOUND_QUEUE_BYTES);
        assert_eq!(
            lock(&queue).push(binary(OUTBOUND_QUEUE_BYTES)),
            SendStatus::MustWait
        );
        let mut writes = WriteAccounting::default();
        assert!(writes.next_message(&queue).is_some());
        assert!(writes.needs_flush());
        assert!(writes.next_message(&queue).is_none());
        // The socket has taken 10 bytes of the frame, then all but the bound.
        assert!(!writes.writable_event_due(&queue, 10));
        let all_but_the_bound = (size - OUTBOUND_QUEUE_BYTES) as u64;
        assert!(writes.writable_event_due(&queue, all_but_the_bound));
        assert!(!writes.writable_event_due(&queue, size as u64), "once");
    }

    #[test]
    fn accounting_hands_over_the_close_after_the_messages_taken() {
        let queue = Mutex::new(OutboundQueue::default());
        lock(&queue).push(binary(3));
        lock(&queue).push(binary(4));
        lock(&queue).request_close(None);
        let mut writes = WriteAccounting::default();
        let lengths: Vec<_> = std::iter::from_fn(|| writes.next_message(&queue))
            .map(|message| (message.is_close(), message.len()))
            .collect();
        assert_eq!(lengths, [(false, 3), (false, 4), (true, 0)]);
    }

    #[test]
    fn pongs_pile_up_to_their_bound_until_a_flush() {
        let mut writes = WriteAccounting::default();
        writes.pong_queued(PONG_BACKLOG_BYTES / 2);
        assert!(!writes.pong_backlog_full());
        writes.pong_queued(PONG_BACKLOG_BYTES / 2);
        assert!(writes.pong_backlog_full());
        writes.flushed(0);
        assert!(!writes.pong_backlog_full());
    }

    #[test]
    fn wire_length_counts_header_and_mask() {
        assert_eq!(wire_len(0), 6);
        assert_eq!(wire_len(125), 131);
        assert_eq!(wire_len(126), 134);
        assert_eq!(wire_len(70_000), 70_014);
    }
}
