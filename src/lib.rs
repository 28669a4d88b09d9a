//! The native surface of websocketstream: `connect()` and the connection
//! handle the JS wrapper drives. Everything else lives in plain Rust modules.

mod close;
mod connection;
mod counting_stream;
mod entry_guard;
mod events;
mod failure;
mod handshake;
mod happy_eyeballs;
mod http_head;
mod idle_timer;
mod inbound;
mod inflating_stream;
mod js_poll;
mod limits;
mod lock;
mod message_compressor;
mod outbound;
mod permessage_deflate;
mod phase;
mod pinned_certificate;
mod read_ahead;
mod runtime;
mod send_queue;
mod tcp;
mod tls;
mod transport;

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use napi::bindgen_prelude::{Function, Uint32ArraySlice, Uint8Array, Uint8ArraySlice, Unknown};
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use tokio::task::AbortHandle;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

/// Debug builds only, for the test that forces a panic (entry_guard.rs).
#[cfg(debug_assertions)]
pub use crate::entry_guard::debug_hooks::debug_panic_on_next_call;

use crate::close::CloseOutcome;
use crate::connection::{ConnectTarget, DriverSettings, Shared};
use crate::entry_guard::{guard, internal_error_message};
use crate::events::{Event, EventArgs, EventSink};
use crate::failure::{Failure, INTERNAL};
use crate::handshake::HandshakeRequest;
use crate::inbound::{MessageKind, Taken};
use crate::limits::{DEFAULT_CLOSE_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE};
use crate::lock::lock;
use crate::outbound::{OutboundQueue, SendStatus};
use crate::permessage_deflate::DeflateSettings;
use crate::tls::TlsSettings;
use crate::transport::{ProxySettings, TransportTarget};

/// Where and how to connect, already parsed and validated by the JS wrapper.
#[napi(object)]
pub struct ConnectOptions {
    /// Host name or IP address to connect to (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// The TCP peer's IP addresses (the proxy's when there is one), resolved
    /// by JS, in the resolver's order.
    pub addresses: Vec<String>,
    /// Milliseconds an attempt goes unanswered before the next address is
    /// tried (Node's `autoSelectFamilyAttemptTimeout`).
    pub attempt_delay_ms: u32,
    /// `host[:port]` for the Host header.
    pub host_header: String,
    /// Path and query of the URL.
    pub resource: String,
    pub protocols: Vec<String>,
    /// Extra request headers as `[name, value, name, value, …]`.
    pub headers: Vec<String>,
    pub max_message_size: Option<u32>,
    /// Present for wss://.
    pub tls: Option<TlsOptions>,
    pub proxy: Option<ProxyOptions>,
    /// Present to offer permessage-deflate.
    pub deflate: Option<DeflateOptions>,
    /// Milliseconds without a sign of life before a Ping (`idleTimeout`; 0: off).
    pub idle_timeout_ms: Option<u32>,
    /// Send "ping" and "pong" events for received control frames (someone
    /// subscribed to their diagnostics channels).
    pub report_control_frames: bool,
    /// Milliseconds a closing handshake may take (`closeTimeout`; default 5000).
    pub close_timeout_ms: Option<u32>,
}

#[napi(object)]
pub struct DeflateOptions {
    /// Messages with fewer bytes than this are sent uncompressed.
    pub threshold: u32,
    /// zlib's compression level, 0 to 9.
    pub level: u32,
}

#[napi(object)]
pub struct TlsOptions {
    /// PEM certificates that replace the default roots.
    pub ca: Option<Vec<String>>,
    pub cert: Option<String>,
    pub key: Option<String>,
    pub reject_unauthorized: bool,
    pub servername: Option<String>,
}

#[napi(object)]
pub struct ProxyOptions {
    pub host: String,
    pub port: u16,
    /// The Proxy-Authorization header value, if any.
    pub authorization: Option<String>,
}

impl TlsOptions {
    /// The settings, and the `servername` to verify instead of the host.
    fn into_settings(self) -> (TlsSettings, Option<String>) {
        let settings = TlsSettings {
            ca: self.ca,
            cert: self.cert,
            key: self.key,
            reject_unauthorized: self.reject_unauthorized,
        };
        (settings, self.servername)
    }
}

/// Why these TLS options cannot be used (PEM that does not parse, a key that
/// does not fit), or null: the constructor's check, before connecting.
#[napi]
pub fn tls_options_error(tls: TlsOptions) -> Option<String> {
    tls::client_config(&tls.into_settings().0).err()
}

impl ConnectOptions {
    fn into_target(self) -> Result<Box<ConnectTarget>> {
        let addresses = self
            .addresses
            .iter()
            .map(|address| {
                happy_eyeballs::parse_address(address).ok_or_else(|| {
                    Error::new(
                        Status::InvalidArg,
                        format!("the DNS lookup gave {address:?}, which is not an IP address (or names no network interface here)"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let proxy = self.proxy.map(|proxy| ProxySettings {
            port: proxy.port,
            host: proxy.host,
            authorization: proxy.authorization,
        });
        let tls = self.tls.map(TlsOptions::into_settings);
        let mut header_fields = self.headers.into_iter();
        let mut headers = Vec::new();
        while let (Some(name), Some(value)) = (header_fields.next(), header_fields.next()) {
            headers.push((name, value));
        }
        Ok(Box::new(ConnectTarget {
            transport: TransportTarget {
                port: self.port,
                host: self.host,
                proxy,
                addresses,
                attempt_delay: Duration::from_millis(u64::from(self.attempt_delay_ms)),
                tls,
            },
            request: HandshakeRequest {
                host_header: self.host_header,
                resource: self.resource,
                protocols: self.protocols,
                headers,
                offer_deflate: self.deflate.is_some(),
            },
            driver: DriverSettings {
                report_control_frames: self.report_control_frames,
                close_timeout: self.close_timeout_ms.map_or(DEFAULT_CLOSE_TIMEOUT, |ms| {
                    Duration::from_millis(u64::from(ms))
                }),
                idle_timeout: self
                    .idle_timeout_ms
                    .filter(|&ms| ms > 0)
                    .map(|ms| Duration::from_millis(u64::from(ms))),
            },
            deflate: self.deflate.map(|deflate| DeflateSettings {
                threshold: deflate.threshold as usize,
                level: deflate.level.min(9),
            }),
            max_message_size: self
                .max_message_size
                .map_or(DEFAULT_MAX_MESSAGE_SIZE, |size| size as usize),
        }))
    }
}

/// A connection from `connect()`. Dropping it (the JS object was collected)
/// ends the connection.
#[napi]
pub struct NativeConnection {
    shared: Arc<Shared>,
    task: AbortHandle,
    /// The last message JS took was large: the connection moves bulk data,
    /// which the task reads in large batches, so the JS thread leaves the
    /// socket to it (js_poll.rs is for the latency of small replies).
    receives_large: Cell<bool>,
}

/// Starts connecting; `onEvent([kind, opened, closed])` hears how it goes
/// (`opened` with the opened event, `closed` with the closed one, else null).
#[napi(
    ts_args_type = "options: ConnectOptions, onEvent: (event: [EventKind, OpenedInfo | null, ClosedInfo | null, Uint8Array | null]) => void"
)]
pub fn connect(
    options: ConnectOptions,
    on_event: Function<'_, EventArgs, Unknown<'static>>,
) -> Result<NativeConnection> {
    let runtime =
        runtime::runtime().map_err(|message| Error::new(Status::GenericFailure, message))?;
    let target = options.into_target()?;
    let shared = Arc::new(Shared::default());
    let watched = Arc::downgrade(&shared);
    let events = Arc::new(EventSink::new(
        on_event
            .build_threadsafe_function::<Event>()
            .callee_handled::<false>()
            .build_callback(move |context| {
                if let (Event::Closed(_), Some(shared)) = (&context.value, watched.upgrade()) {
                    // The socket an ended connection kept for the poll closes now.
                    js_poll::release_socket_watch(&shared);
                }
                Ok(context.value.into_args())
            })?,
    ));
    let task_shared = shared.clone();
    let task = runtime.spawn(async move {
        let session = connection::run(target, &task_shared, &events);
        let outcome = AssertUnwindSafe(session)
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                CloseOutcome::failed(Failure::new(
                    INTERNAL,
                    internal_error_message("the connection task", &*panic),
                ))
            });
        lock(&task_shared.outbound).stop_accepting();
        events.send(Event::Closed(outcome));
    });
    Ok(NativeConnection {
        shared,
        task: task.abort_handle(),
        receives_large: Cell::new(false),
    })
}

/// A Uint8Array over the payload's own memory: the decoder's buffer reaches
/// JS without a copy, and is freed when JS collects the array.
fn uint8_array_owning(payload: Bytes) -> Uint8Array {
    let data = payload.as_ptr().cast_mut();
    let length = payload.len();
    // SAFETY: the finalizer owns `payload`, so the memory stays valid until
    // the engine releases the array, and nothing in Rust touches it meanwhile
    // (the payload was split off the decoder's buffer; no other handle to
    // these bytes exists).
    unsafe { Uint8Array::with_external_data(data, length, move |_, _| drop(payload)) }
}

#[napi]
impl NativeConnection {
    /// Copies queued messages into `buffer` (one buffer JS shares between all
    /// connections) and their `[kind, length]` pairs (`MessageKind`, bytes)
    /// into `layout`, and returns how many. 0: none is queued, and a
    /// "messages" event follows the next one. -1: the next message is large;
    /// its kind is in `layout[0]` and `takeLargeMessage()` hands it over.
    #[napi]
    pub fn take_messages(
        &self,
        env: Env,
        mut buffer: Uint8ArraySlice<'_>,
        mut layout: Uint32ArraySlice<'_>,
    ) -> i32 {
        // SAFETY: JS is single-threaded and blocked in this call, so nothing
        // else touches the two arrays while these slices live.
        let (buffer, layout) = unsafe { (buffer.as_mut(), layout.as_mut()) };
        self.guarded("takeMessages", 0, || {
            let (taken, was_full) = {
                let mut inbound = lock(&self.shared.inbound);
                let was_full = !inbound.has_room();
                (inbound.take_into(buffer, layout), was_full)
            };
            if was_full {
                // The task stopped reading the socket; there may be room again.
                self.shared.driver_waker.wake();
            }
            match taken {
                // JS waits for the next message: its thread may read it.
                Taken::Nothing if !self.receives_large.get() => {
                    js_poll::watch_socket(&env, &self.shared);
                }
                Taken::Nothing => {}
                Taken::Copied(_) | Taken::Large(_) => {
                    self.receives_large.set(matches!(taken, Taken::Large(_)));
                    js_poll::unwatch_socket(&self.shared);
                }
            }
            match taken {
                Taken::Nothing => 0,
                Taken::Copied(count) => count as i32,
                Taken::Large(kind) => {
                    if let Some(slot) = layout.first_mut() {
                        *slot = kind as u32;
                    }
                    -1
                }
            }
        })
    }

    /// The large message `takeMessages()` announced, in a buffer of its own
    /// (null if there is none).
    #[napi]
    pub fn take_large_message(&self) -> Option<Uint8Array> {
        self.guarded("takeLargeMessage", None, || {
            let payload = lock(&self.shared.inbound).take_large()?;
            self.shared.driver_waker.wake();
            Some(uint8_array_owning(payload))
        })
    }

    /// Queues a text message: resolve the write now, wait for "writable", or
    /// refused. With `now`, the JS thread tries to write it to the socket
    /// itself (JS asks for this on the first write of a turn: a lone message
    /// goes out without waiting for the task's thread to wake up, while a
    /// burst still goes out in batches from the task).
    #[napi]
    pub fn send_text(&self, text: String, now: bool) -> SendStatus {
        self.guarded("sendText", SendStatus::Refused, || {
            self.send(Message::text(text), now)
        })
    }

    /// Queues a binary message (the bytes are copied now). Same as `sendText`.
    #[napi]
    pub fn send_binary(&self, data: &[u8], now: bool) -> SendStatus {
        self.guarded("sendBinary", SendStatus::Refused, || {
            self.send(Message::binary(data.to_vec()), now)
        })
    }

    /// Queues the messages JS gathered in one turn of its event loop: their
    /// bytes back to back in `buffer`, their `[kind, length]` pairs
    /// (`MessageKind`, bytes) in `layout`. One answer for all, as `sendText`
    /// gives; the task is woken as for a write that is not `now`.
    #[napi]
    pub fn send_batch(&self, buffer: &[u8], layout: Uint32ArraySlice<'_>) -> SendStatus {
        self.guarded("sendBatch", SendStatus::Refused, || {
            // One copy and one allocation for the whole batch; each message
            // is a slice of it.
            let bytes = Bytes::copy_from_slice(buffer);
            let mut start = 0;
            let mut messages = Vec::with_capacity(layout.len() / 2);
            for pair in layout.chunks_exact(2) {
                let end = start + pair[1] as usize;
                let Some(payload) = (end <= bytes.len()).then(|| bytes.slice(start..end)) else {
                    return SendStatus::Refused;
                };
                messages.push(if pair[0] == MessageKind::Text as u32 {
                    match Utf8Bytes::try_from(payload) {
                        Ok(text) => Message::Text(text),
                        Err(_) => return SendStatus::Refused,
                    }
                } else {
                    Message::Binary(payload)
                });
                start = end;
            }
            self.queue(|outbound| outbound.push_all(messages), false)
        })
    }

    /// Runs a JS-thread entry point; a panic in it ends this connection with
    /// an internal error instead of unwinding into Node (entry_guard.rs).
    fn guarded<T>(&self, entry: &str, fallback: T, body: impl FnOnce() -> T) -> T {
        guard(entry, fallback, body, |message| {
            self.shared.fail_from_js_thread(message)
        })
    }

    fn send(&self, message: Message, now: bool) -> SendStatus {
        self.queue(|outbound| outbound.push(message), now)
    }

    /// Queues with `push`, then sends (`now`) or wakes the task.
    fn queue(&self, push: impl FnOnce(&mut OutboundQueue) -> SendStatus, now: bool) -> SendStatus {
        let (status, task_already_due) = {
            let mut outbound = lock(&self.shared.outbound);
            let task_already_due = outbound.has_queued_messages();
            (push(&mut outbound), task_already_due)
        };
        if now && self.shared.write_from_js() {
            return status;
        }
        // A wake-up is a cross-thread call: one per burst of writes is enough.
        if !task_already_due {
            self.shared.driver_waker.wake();
        }
        status
    }

    /// Starts the closing handshake after the queued messages. `code` null and
    /// an empty reason send an empty Close body; the wrapper validated both.
    #[napi]
    pub fn close(&self, code: Option<u16>, reason: String) {
        self.guarded("close", (), || {
            let frame = code.map(|code| CloseFrame {
                code: code.into(),
                reason: reason.into(),
            });
            if lock(&self.shared.outbound).request_close(frame) {
                self.shared.driver_waker.wake();
            }
        })
    }

    /// Ends the connection at once, without a closing handshake and without a
    /// "closed" event (used for an aborted handshake).
    #[napi]
    pub fn abort(&self) {
        self.guarded("abort", (), || {
            js_poll::release_socket_watch(&self.shared);
            self.task.abort();
        })
    }
}

impl Drop for NativeConnection {
    fn drop(&mut self) {
        js_poll::release_socket_watch(&self.shared);
        self.task.abort();
    }
}
