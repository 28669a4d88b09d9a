//! Received messages waiting for JS, and how they are handed over in batches.
//!
//! Small messages are copied, on the connection's thread, back to back into
//! one byte buffer: JS then takes a whole batch with a single copy and never
//! touches the decoder's reference-counted payloads, whose release would
//! otherwise bounce their counters between the two threads message by message.
//! Large messages stay in the decoder's buffers and are handed over as they are.

use std::collections::VecDeque;
use std::sync::Mutex;

use napi_derive::napi;
use tokio_tungstenite::tungstenite::Bytes;

use crate::limits::{INBOUND_QUEUE_BYTES, LARGE_MESSAGE_BYTES};
use crate::lock::lock;

/// A message's kind as `takeMessages()` lays it out for JS.
#[napi]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MessageKind {
    Text = 0,
    Binary = 1,
}

/// What one take from JS found.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken {
    /// Nothing is queued; JS now waits for a "messages" event.
    Nothing,
    /// This many messages were copied into the caller's buffer.
    Copied(usize),
    /// The next message is handed over on its own (`take_large`): it is large,
    /// or larger than the caller's buffer.
    Large(MessageKind),
}

enum Queued {
    /// The next `length` bytes of `small_bytes`.
    Small(MessageKind, usize),
    Large(MessageKind, Bytes),
}

/// Bytes of taken small messages past which the buffer is compacted, and
/// the capacity past which a drained buffer is released.
const SMALL_BYTES_SLACK: usize = 64 << 10;

#[derive(Default)]
pub struct InboundQueue {
    messages: VecDeque<Queued>,
    /// Payloads of the small messages, in order; those before `small_start`
    /// were taken.
    small_bytes: Vec<u8>,
    small_start: usize,
    queued_bytes: usize,
    /// JS found the queue empty and waits for a "messages" event.
    js_waiting: bool,
}

impl InboundQueue {
    /// The socket is read only while this holds.
    pub fn has_room(&self) -> bool {
        self.room() > 0
    }

    /// Bytes that may still be queued before reading stops (the message that
    /// crosses the bound is still taken whole).
    pub fn room(&self) -> usize {
        INBOUND_QUEUE_BYTES.saturating_sub(self.queued_bytes)
    }

    /// Queues every message of `received`, leaving it empty; true when JS is
    /// waiting and must be told.
    pub fn push_all(&mut self, received: &mut Vec<(MessageKind, Bytes)>) -> bool {
        if self.small_start > SMALL_BYTES_SLACK && self.small_start * 2 > self.small_bytes.len() {
            // Most of the buffer was taken: move the rest to the front rather
            // than grow (amortized: never more bytes moved than were taken).
            self.small_bytes.drain(..self.small_start);
            self.small_start = 0;
        }
        for (kind, payload) in received.drain(..) {
            self.queued_bytes += payload.len();
            if payload.len() < LARGE_MESSAGE_BYTES {
                self.small_bytes.extend_from_slice(&payload);
                self.messages.push_back(Queued::Small(kind, payload.len()));
            } else {
                self.messages.push_back(Queued::Large(kind, payload));
            }
        }
        std::mem::take(&mut self.js_waiting)
    }

    /// Drops everything not yet handed to JS (after our close, data is discarded).
    pub fn clear(&mut self) {
        self.messages.clear();
        self.small_bytes = Vec::new();
        self.small_start = 0;
        self.queued_bytes = 0;
    }

    /// Copies queued small messages into `buffer`, each one's `[kind, length]`
    /// into `layout`, for as long as both have room and no large message is next.
    pub fn take_into(&mut self, buffer: &mut [u8], layout: &mut [u32]) -> Taken {
        let mut count = 0;
        let mut length = 0;
        for queued in &self.messages {
            let Queued::Small(kind, size) = *queued else {
                break;
            };
            if count * 2 + 2 > layout.len() || length + size > buffer.len() {
                break;
            }
            layout[count * 2] = kind as u32;
            layout[count * 2 + 1] = size as u32;
            length += size;
            count += 1;
        }
        if count == 0 {
            return match self.messages.front() {
                None => {
                    self.js_waiting = true;
                    Taken::Nothing
                }
                Some(Queued::Small(kind, _) | Queued::Large(kind, _)) => Taken::Large(*kind),
            };
        }
        let start = self.small_start;
        buffer[..length].copy_from_slice(&self.small_bytes[start..start + length]);
        self.messages.drain(..count);
        self.small_start += length;
        self.queued_bytes -= length;
        self.release_drained_small_bytes();
        Taken::Copied(count)
    }

    /// Hands over the next message on its own (after `Taken::Large`).
    pub fn take_large(&mut self) -> Option<Bytes> {
        let payload = match self.messages.pop_front()? {
            Queued::Large(_, payload) => payload,
            Queued::Small(_, size) => {
                let start = self.small_start;
                self.small_start += size;
                Bytes::copy_from_slice(&self.small_bytes[start..start + size])
            }
        };
        self.queued_bytes -= payload.len();
        self.release_drained_small_bytes();
        Some(payload)
    }

    fn release_drained_small_bytes(&mut self) {
        if self.small_start == self.small_bytes.len() {
            self.small_start = 0;
            if self.small_bytes.capacity() > SMALL_BYTES_SLACK {
                // A burst is over: an idle connection keeps no large buffer.
                self.small_bytes = Vec::new();
            } else {
                self.small_bytes.clear();
            }
        }
    }
}

/// Messages moved into the inbound queue at a time while reading continues.
const RECEIVED_BATCH: usize = 64;

/// Messages the task read but has not queued yet: they are moved into the
/// inbound queue in groups, one lock for many messages.
#[derive(Default)]
pub struct ReceivedBatch {
    messages: Vec<(MessageKind, Bytes)>,
    /// A group moved mid-read found JS waiting; JS is told at the end of the read.
    js_waiting: bool,
}

impl ReceivedBatch {
    /// Keeps a message read, moving the group into `queue` once it is full.
    pub fn push(&mut self, kind: MessageKind, payload: Bytes, queue: &Mutex<InboundQueue>) {
        self.messages.push((kind, payload));
        if self.messages.len() == RECEIVED_BATCH {
            self.hand_over_mid_read(queue);
        }
    }

    /// Moves the messages read so far into `queue` while reading goes on;
    /// JS, if it waits, is told when the read ends (`hand_over`).
    pub fn hand_over_mid_read(&mut self, queue: &Mutex<InboundQueue>) {
        self.js_waiting |= self.hand_over(queue);
    }

    /// Moves the messages read so far into `queue`; true (once) if JS waits
    /// for messages and must be told.
    pub fn hand_over(&mut self, queue: &Mutex<InboundQueue>) -> bool {
        let mut js_waiting = std::mem::take(&mut self.js_waiting);
        if !self.messages.is_empty() {
            js_waiting |= lock(queue).push_all(&mut self.messages);
        }
        js_waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(queue: &mut InboundQueue, kind: MessageKind, payload: Bytes) -> bool {
        queue.push_all(&mut vec![(kind, payload)])
    }

    #[test]
    fn small_messages_are_copied_in_order_with_their_layout() {
        let mut queue = InboundQueue::default();
        push(&mut queue, MessageKind::Text, Bytes::from_static(b"hi"));
        push(
            &mut queue,
            MessageKind::Binary,
            Bytes::from_static(b"\x00\x01\x02"),
        );
        let (mut buffer, mut layout) = ([0u8; 16], [0u32; 8]);
        assert_eq!(queue.take_into(&mut buffer, &mut layout), Taken::Copied(2));
        assert_eq!(&buffer[..5], b"hi\x00\x01\x02");
        assert_eq!(layout[..4], [0, 2, 1, 3]);
        assert!(queue.has_room());
    }

    #[test]
    fn a_take_stops_where_the_buffer_or_the_layout_is_full() {
        let mut queue = InboundQueue::default();
        for _ in 0..3 {
            push(&mut queue, MessageKind::Text, Bytes::from_static(b"abcd"));
        }
        let (mut buffer, mut layout) = ([0u8; 10], [0u32; 8]);
        assert_eq!(queue.take_into(&mut buffer, &mut layout), Taken::Copied(2));
        let mut short_layout = [0u32; 2];
        assert_eq!(
            queue.take_into(&mut buffer, &mut short_layout),
            Taken::Copied(1)
        );
    }

    #[test]
    fn a_large_message_is_handed_over_alone_and_uncopied() {
        let mut queue = InboundQueue::default();
        push(&mut queue, MessageKind::Text, Bytes::from_static(b"small"));
        push(
            &mut queue,
            MessageKind::Binary,
            Bytes::from(vec![9; LARGE_MESSAGE_BYTES]),
        );
        let (mut buffer, mut layout) = ([0u8; 64], [0u32; 8]);
        assert_eq!(queue.take_into(&mut buffer, &mut layout), Taken::Copied(1));
        assert_eq!(
            queue.take_into(&mut buffer, &mut layout),
            Taken::Large(MessageKind::Binary)
        );
        assert_eq!(
            queue.take_large().map(|data| data.len()),
            Some(LARGE_MESSAGE_BYTES)
        );
    }

    #[test]
    fn empty_queue_marks_js_waiting_and_the_next_push_reports_it_once() {
        let mut queue = InboundQueue::default();
        assert_eq!(queue.take_into(&mut [0; 4], &mut [0; 4]), Taken::Nothing);
        assert!(push(
            &mut queue,
            MessageKind::Text,
            Bytes::from_static(b"a")
        ));
        assert!(!push(
            &mut queue,
            MessageKind::Text,
            Bytes::from_static(b"b")
        ));
    }

    #[test]
    fn queue_stops_having_room_at_its_byte_bound() {
        let mut queue = InboundQueue::default();
        push(
            &mut queue,
            MessageKind::Binary,
            Bytes::from(vec![0; INBOUND_QUEUE_BYTES]),
        );
        assert!(!queue.has_room());
        queue.clear();
        assert!(queue.has_room());
    }

    #[test]
    fn a_small_message_larger_than_the_callers_buffer_is_handed_over_alone() {
        let mut queue = InboundQueue::default();
        push(
            &mut queue,
            MessageKind::Text,
            Bytes::from_static(b"too long"),
        );
        push(&mut queue, MessageKind::Binary, Bytes::from_static(b"ok"));
        let (mut buffer, mut layout) = ([0u8; 4], [0u32; 8]);
        assert_eq!(
            queue.take_into(&mut buffer, &mut layout),
            Taken::Large(MessageKind::Text)
        );
        assert_eq!(queue.take_large().as_deref(), Some(&b"too long"[..]));
        assert_eq!(queue.take_into(&mut buffer, &mut layout), Taken::Copied(1));
        assert_eq!(&buffer[..2], b"ok");
    }

    #[test]
    fn bytes_stay_in_order_while_taken_bytes_are_compacted_away() {
        let mut queue = InboundQueue::default();
        let mut buffer = vec![0u8; 3000];
        let mut layout = [0u32; 1024];
        let mut expected = 0u8;
        for round in 0..200u32 {
            let mut batch: Vec<_> = (0..100u32)
                .map(|i| {
                    let value = ((round * 100 + i) % 251) as u8;
                    (MessageKind::Binary, Bytes::from(vec![value; 40]))
                })
                .collect();
            queue.push_all(&mut batch);
            // Take less than was pushed, so the buffer never drains on its own.
            let Taken::Copied(count) = queue.take_into(&mut buffer, &mut layout) else {
                panic!("messages were queued");
            };
            for message in buffer[..count * 40].chunks(40) {
                assert!(message.iter().all(|&byte| byte == expected));
                expected = ((u32::from(expected) + 1) % 251) as u8;
            }
        }
        // 200 rounds took 600,000 of 800,000 bytes; what is kept is about the
        // 200,000 not taken, not everything ever pushed.
        assert_eq!(queue.queued_bytes, 200_000);
        assert!(queue.small_bytes.len() <= 2 * (queue.queued_bytes + SMALL_BYTES_SLACK));
    }
}
