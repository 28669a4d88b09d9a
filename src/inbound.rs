//! Received messages waiting for JS, and how they are handed over in batches.

use std::collections::VecDeque;

use tokio_tungstenite::tungstenite::Bytes;

use crate::limits::{INBOUND_QUEUE_BYTES, MAX_BATCH_MESSAGES};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MessageKind {
    Text = 0,
    Binary = 1,
}

/// Everything queued, in one buffer, with a layout of `[kind, length]` pairs:
/// one napi call and two allocations per batch instead of an object per message.
pub struct MessageBatch {
    pub data: Vec<u8>,
    pub layout: Vec<u32>,
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
        self.queued_bytes < INBOUND_QUEUE_BYTES
    }

    /// Queues a message; true when JS is waiting and must be told.
    pub fn push(&mut self, kind: MessageKind, payload: Bytes) -> bool {
        self.queued_bytes += payload.len();
        self.messages.push_back((kind, payload));
        std::mem::take(&mut self.js_waiting)
    }

    /// Drops everything not yet handed to JS (after our close, data is discarded).
    pub fn clear(&mut self) {
        self.messages.clear();
        self.queued_bytes = 0;
    }

    /// Hands over the queued messages (up to a batch), or records that JS now
    /// waits for one.
    pub fn take_batch(&mut self) -> Option<MessageBatch> {
        let count = self.messages.len().min(MAX_BATCH_MESSAGES);
        if count == 0 {
            self.js_waiting = true;
            return None;
        }
        let mut layout = Vec::with_capacity(count * 2);
        let mut batch = self.messages.drain(..count);
        let data = if count == 1 {
            // A lone message (often a large one) is handed over without a copy.
            let (kind, payload) = batch.next()?;
            layout.extend([kind as u32, payload.len() as u32]);
            Vec::from(payload)
        } else {
            let mut data = Vec::new();
            for (kind, payload) in batch {
                layout.extend([kind as u32, payload.len() as u32]);
                data.extend_from_slice(&payload);
            }
            data
        };
        self.queued_bytes -= data.len();
        Some(MessageBatch { data, layout })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_concatenates_messages_in_order_with_their_layout() {
        let mut queue = InboundQueue::default();
        queue.push(MessageKind::Text, Bytes::from_static(b"hi"));
        queue.push(MessageKind::Binary, Bytes::from_static(b"\x00\x01\x02"));
        let batch = queue.take_batch().expect("two messages are queued");
        assert_eq!(batch.data, b"hi\x00\x01\x02");
        assert_eq!(batch.layout, vec![0, 2, 1, 3]);
        assert!(queue.has_room());
    }

    #[test]
    fn empty_queue_marks_js_waiting_and_the_next_push_reports_it_once() {
        let mut queue = InboundQueue::default();
        assert!(queue.take_batch().is_none());
        assert!(queue.push(MessageKind::Text, Bytes::from_static(b"a")));
        assert!(!queue.push(MessageKind::Text, Bytes::from_static(b"b")));
    }

    #[test]
    fn a_batch_holds_at_most_max_batch_messages() {
        let mut queue = InboundQueue::default();
        for _ in 0..MAX_BATCH_MESSAGES + 1 {
            queue.push(MessageKind::Text, Bytes::from_static(b"x"));
        }
        let first = queue.take_batch().expect("messages are queued");
        assert_eq!(first.layout.len(), MAX_BATCH_MESSAGES * 2);
        let rest = queue.take_batch().expect("one message is left");
        assert_eq!(rest.data, b"x");
    }

    #[test]
    fn queue_stops_having_room_at_its_byte_bound() {
        let mut queue = InboundQueue::default();
        queue.push(
            MessageKind::Binary,
            Bytes::from(vec![0; INBOUND_QUEUE_BYTES]),
        );
        assert!(!queue.has_room());
        queue.clear();
        assert!(queue.has_room());
    }
}
