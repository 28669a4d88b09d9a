//! Received messages waiting for JS, and how they are handed over in batches.

use std::collections::VecDeque;

use tokio_tungstenite::tungstenite::Bytes;

use crate::limits::{INBOUND_QUEUE_BYTES, LARGE_MESSAGE_BYTES};

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
    /// The next message is large: it is handed over on its own, without a copy.
    Large(MessageKind),
}

#[derive(Default)]
pub struct InboundQueue {
    messages: VecDeque<(MessageKind, Bytes)>,
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
        self.queued_bytes += received
            .iter()
            .map(|(_, payload)| payload.len())
            .sum::<usize>();
        self.messages.extend(received.drain(..));
        std::mem::take(&mut self.js_waiting)
    }

    /// Drops everything not yet handed to JS (after our close, data is discarded).
    pub fn clear(&mut self) {
        self.messages.clear();
        self.queued_bytes = 0;
    }

    /// Copies queued messages into `buffer`, each one's `[kind, length]` into
    /// `layout`, for as long as both have room and no large message is next.
    pub fn take_into(&mut self, buffer: &mut [u8], layout: &mut [u32]) -> Taken {
        let Some((kind, first)) = self.messages.front() else {
            self.js_waiting = true;
            return Taken::Nothing;
        };
        if is_large(first.len(), buffer.len()) {
            return Taken::Large(*kind);
        }
        let mut count = 0;
        let mut offset = 0;
        while let Some((kind, payload)) = self.messages.front() {
            let end = offset + payload.len();
            if count * 2 + 2 > layout.len()
                || end > buffer.len()
                || is_large(payload.len(), buffer.len())
            {
                break;
            }
            buffer[offset..end].copy_from_slice(payload);
            layout[count * 2] = *kind as u32;
            layout[count * 2 + 1] = payload.len() as u32;
            self.queued_bytes -= payload.len();
            self.messages.pop_front();
            offset = end;
            count += 1;
        }
        Taken::Copied(count)
    }

    /// Hands over the next message as it is (after `Taken::Large`).
    pub fn take_large(&mut self) -> Option<Bytes> {
        let (_, payload) = self.messages.pop_front()?;
        self.queued_bytes -= payload.len();
        Some(payload)
    }
}

/// Large messages skip the copy into the shared buffer: it could not hold
/// them, or copying them twice would cost more than a buffer of their own.
fn is_large(length: usize, buffer_length: usize) -> bool {
    length >= LARGE_MESSAGE_BYTES || length > buffer_length
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
}
