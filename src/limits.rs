//! The bounds that keep a connection's memory and lifetime finite.

use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Bytes of received messages held for JS before the socket stops being read.
/// Past this bound TCP flow control pushes back on the server.
pub const INBOUND_QUEUE_BYTES: usize = 1 << 20;

/// Received messages at least this large are handed to JS in a buffer of
/// their own instead of being copied through the shared batch buffer.
pub const LARGE_MESSAGE_BYTES: usize = 16 << 10;

/// Bytes of written messages held in user space (our queue plus the frame
/// encoder's buffer) before a write's promise has to wait for the socket.
pub const OUTBOUND_QUEUE_BYTES: usize = 256 << 10;

/// Bytes of pongs the frame encoder may hold for a server that does not read
/// them. Past this bound the socket is not read (so no further pings arrive)
/// until the server takes what we wrote: a ping flood cannot grow memory.
pub const PONG_BACKLOG_BYTES: usize = 64 << 10;

/// How long a Close of ours waits for the server's answer, and how long we
/// wait for the server to end TCP after the closing handshake, unless the
/// `closeTimeout` option says otherwise.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest message accepted unless the caller chooses another bound.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 << 20;

/// Largest single frame accepted.
pub const MAX_FRAME_SIZE: usize = 16 << 20;

/// Most bytes of an HTTP handshake response we read before giving up on it.
pub const MAX_HANDSHAKE_RESPONSE_BYTES: usize = 16 << 10;

/// Most header fields an HTTP response head may have (tungstenite's bound).
pub const MAX_RESPONSE_HEADER_FIELDS: usize = 124;

/// Most bytes a compressed message is inflated by at a time, and most of its
/// compressed bytes read at a time: what inflating one costs beyond the
/// message itself (see inflating_stream.rs).
pub const INFLATE_PIECE_BYTES: usize = 16 << 10;

/// Most bytes read from the socket at a time (see read_ahead.rs); 64 KiB is
/// what a Node socket reads at a time too.
pub const READ_AHEAD_BYTES: usize = 64 << 10;

/// Largest frame accepted: no frame is larger than the message it carries.
pub fn max_frame_size(max_message_size: usize) -> usize {
    MAX_FRAME_SIZE.min(max_message_size)
}

/// Per-connection codec settings: small buffers so that many idle connections
/// stay cheap (tungstenite zero-fills its whole read buffer on the first read,
/// so every byte of it stays resident; the socket is read in larger pieces by
/// read_ahead.rs, so 1 KiB only sets the size of the copies out of it), and
/// the message/frame limits above.
pub fn websocket_config(max_message_size: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(1 << 10)
        .write_buffer_size(64 << 10)
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_frame_size(max_message_size)))
}
