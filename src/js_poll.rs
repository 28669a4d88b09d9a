//! The JS thread watches the socket itself while JS waits for a message.
//!
//! Without this, a reply travels: the runtime's thread wakes up, reads and
//! decodes it, then calls JS back across threads (the threadsafe function),
//! which wakes the JS thread: two thread wake-ups per message, where ws has
//! one. So while JS waits for a message on an open connection, the socket's
//! descriptor is also in a libuv poll handle on the JS thread's own loop
//! (the one N-API exposes). When libuv sees it readable, the JS thread reads
//! and decodes one message under the driver lock (`Shared::read_from_js`),
//! as `write_from_js` writes, and the "messages" event is then queued by the
//! JS thread to itself.
//!
//! The poll is started when JS starts waiting and stopped the first time the
//! socket is readable: one-shot, so a flood is read by the runtime's thread
//! as before, and the JS thread never spins on a socket the runtime's thread
//! is busy reading. The handle itself is made at the first wait and closed
//! when the connection ends: libuv forbids closing a descriptor a handle
//! refers to, so the socket stays open until then (connection.rs keeps the
//! ended driver until the JS thread closed the handle).
//!
//! Unix only: libuv polls Windows sockets through a different call, and
//! Windows keeps the runtime-thread path.

use std::sync::Arc;

use napi::Env;

use crate::connection::Shared;

/// JS is about to wait for a message on this connection: watch its socket.
pub fn watch_socket(env: &Env, shared: &Arc<Shared>) {
    imp::watch_socket(env, shared);
}

/// Stops watching the socket without reading it (JS got its message from
/// the task), and gives the reading back to the task. JS thread only.
pub fn unwatch_socket(shared: &Shared) {
    if imp::pause(shared) {
        shared.driver_waker.wake();
    }
}

/// The connection ended, or JS let go of it: the watch's handle is closed,
/// and with it the socket may close. JS thread only.
pub fn release_socket_watch(shared: &Shared) {
    if imp::release(shared) {
        shared.driver_waker.wake();
    }
}

/// A connection's libuv poll handle. Only the JS thread makes, uses and
/// closes it; the runtime's thread only learns whether there is one.
pub struct PollHandle {
    handle: std::ptr::NonNull<std::ffi::c_void>,
    /// Polling now (JS waits for a message).
    started: bool,
}

impl PollHandle {
    pub fn is_started(&self) -> bool {
        self.started
    }
}

// SAFETY: the handle is only dereferenced on the JS thread (see above); the
// runtime's thread merely holds the lock it sits behind.
unsafe impl Send for PollHandle {}

#[cfg(unix)]
mod imp {
    use std::alloc::{alloc, dealloc, Layout};
    use std::cell::{Cell, RefCell};
    use std::collections::HashSet;
    use std::ffi::{c_int, c_void};
    use std::ptr::{self, NonNull};
    use std::sync::Arc;

    use napi::{sys, Env};

    use super::PollHandle;
    use crate::connection::Shared;
    use crate::entry_guard::guard;

    // libuv's own functions, exported by the Node binary.
    extern "C" {
        fn uv_handle_size(kind: c_int) -> usize;
        fn uv_poll_init(event_loop: *mut c_void, handle: *mut c_void, fd: c_int) -> c_int;
        fn uv_poll_start(
            handle: *mut c_void,
            events: c_int,
            callback: extern "C" fn(*mut c_void, c_int, c_int),
        ) -> c_int;
        fn uv_poll_stop(handle: *mut c_void) -> c_int;
        fn uv_close(handle: *mut c_void, callback: extern "C" fn(*mut c_void));
        fn uv_unref(handle: *mut c_void);
    }

    /// `UV_POLL` in uv.h's `uv_handle_type`, and `UV_READABLE`.
    const UV_POLL: c_int = 8;
    const UV_READABLE: c_int = 1;

    thread_local! {
        /// The connections with a poll handle on this thread's loop, so that
        /// the environment's teardown can close them (a worker thread's loop
        /// must have no handle left open).
        static WATCHED: RefCell<HashSet<usize>> = RefCell::new(HashSet::new());
        static TEARDOWN_HOOK_ADDED: Cell<bool> = const { Cell::new(false) };
    }

    fn handle_layout() -> Layout {
        // SAFETY: a plain query of libuv's struct size.
        let size = unsafe { uv_handle_size(UV_POLL) };
        Layout::from_size_align(size, 16).expect("uv_poll_t's size fits a layout")
    }

    pub fn watch_socket(env: &Env, shared: &Arc<Shared>) {
        let Ok(event_loop) = env.get_uv_event_loop() else {
            return;
        };
        add_teardown_hook(env);
        shared.start_js_poll(|fd, slot| {
            if slot.is_none() {
                *slot = new_handle(event_loop.cast(), fd, shared);
            }
            let Some(poll) = slot else {
                return false;
            };
            // SAFETY: an initialized handle of this thread's loop, for `fd`,
            // which stays open while the handle exists (start_js_poll).
            poll.started =
                unsafe { uv_poll_start(poll.handle.as_ptr(), UV_READABLE, on_readable) } == 0;
            poll.started
        });
    }

    /// A poll handle for `fd`, not started, or None if libuv refuses it.
    fn new_handle(event_loop: *mut c_void, fd: c_int, shared: &Arc<Shared>) -> Option<PollHandle> {
        let layout = handle_layout();
        // SAFETY: the layout has libuv's size for a uv_poll_t.
        let handle = NonNull::new(unsafe { alloc(layout) }.cast::<c_void>())?;
        // SAFETY: `handle` is a fresh uv_poll_t-sized block and `fd` an open socket.
        if unsafe { uv_poll_init(event_loop, handle.as_ptr(), fd) } != 0 {
            // SAFETY: a failed init leaves nothing in libuv referring to it.
            unsafe { dealloc(handle.as_ptr().cast(), layout) };
            return None;
        }
        // SAFETY: the handle is initialized. Its `data`, the first field of
        // every libuv handle, holds a reference to the connection until the
        // handle closes (on_closed drops it).
        unsafe {
            *handle.as_ptr().cast::<*const Shared>() = Arc::into_raw(shared.clone());
            // The connection's threadsafe function decides whether the
            // process stays up, not this handle.
            uv_unref(handle.as_ptr());
        }
        WATCHED.with(|watched| watched.borrow_mut().insert(Arc::as_ptr(shared) as usize));
        Some(PollHandle {
            handle,
            started: false,
        })
    }

    /// Stops the poll; true if it was started.
    pub fn pause(shared: &Shared) -> bool {
        shared.with_js_poll(|poll| {
            let was_started = std::mem::take(&mut poll.started);
            if was_started {
                // SAFETY: an initialized handle of this thread's loop.
                unsafe { uv_poll_stop(poll.handle.as_ptr()) };
            }
            was_started
        })
    }

    /// Closes the handle for good; true if it was polling.
    pub fn release(shared: &Shared) -> bool {
        let mut was_started = false;
        shared.close_js_poll(|poll| {
            WATCHED.with(|watched| {
                watched
                    .borrow_mut()
                    .remove(&(ptr::from_ref(shared) as usize))
            });
            was_started = poll.started;
            // SAFETY: an initialized handle of this thread's loop, closed
            // while its socket is still open, and freed once libuv is done
            // with it (on_closed).
            unsafe { uv_close(poll.handle.as_ptr(), on_closed) };
        });
        was_started
    }

    extern "C" fn on_readable(handle: *mut c_void, _status: c_int, _events: c_int) {
        // SAFETY: `data` holds the connection reference new_handle put
        // there; it lives until on_closed, which runs after this callback.
        let shared = unsafe { &*(*handle.cast::<*const Shared>()) };
        // Whatever the status (an error shows up in the read), the watch has
        // done its job: one read from this thread, the rest is the task's.
        guard(
            "the socket watch",
            (),
            || {
                pause(shared);
                shared.read_from_js();
            },
            |message| shared.fail_from_js_thread(message),
        );
    }

    extern "C" fn on_closed(handle: *mut c_void) {
        // SAFETY: libuv is done with the handle; `data` is the reference
        // new_handle stored.
        unsafe {
            drop(Arc::from_raw(*handle.cast::<*const Shared>()));
            dealloc(handle.cast(), handle_layout());
        }
    }

    /// Once per JS thread: when its environment is torn down (a worker
    /// thread ends, the process exits), the handles still open are closed.
    fn add_teardown_hook(env: &Env) {
        if TEARDOWN_HOOK_ADDED.with(|added| added.replace(true)) {
            return;
        }
        // SAFETY: a valid env; the hook takes no data.
        unsafe {
            sys::napi_add_env_cleanup_hook(env.raw(), Some(close_all_watches), ptr::null_mut());
        }
    }

    unsafe extern "C" fn close_all_watches(_data: *mut c_void) {
        let watched: Vec<usize> =
            WATCHED.with(|watched| watched.borrow().iter().copied().collect());
        for shared in watched {
            // SAFETY: a watched connection is kept alive by its handle's
            // reference, and it leaves WATCHED when its handle closes.
            release(unsafe { &*(shared as *const Shared) });
        }
        TEARDOWN_HOOK_ADDED.with(|added| added.set(false));
    }
}

#[cfg(not(unix))]
mod imp {
    use std::sync::Arc;

    use napi::Env;

    use crate::connection::Shared;

    pub fn watch_socket(_env: &Env, _shared: &Arc<Shared>) {}

    pub fn pause(_shared: &Shared) -> bool {
        false
    }

    pub fn release(_shared: &Shared) -> bool {
        false
    }
}
