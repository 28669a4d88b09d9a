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
//! A poll handle lives from the moment JS starts waiting to the first time
//! the socket is readable (or the connection ends): one-shot, so a flood is
//! read by the runtime's thread as before, and the JS thread never spins on
//! a socket the runtime's thread is busy reading. libuv forbids closing a
//! descriptor it polls, so the connection's socket stays open until the
//! handle is stopped (connection.rs keeps the ended driver until then).
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
/// the task, or the connection ends), and gives the reading back to the
/// task. JS thread only.
pub fn unwatch_socket(shared: &Shared) {
    if imp::stop_watching(shared) {
        shared.driver_waker.wake();
    }
}

/// A started libuv poll handle. Only the JS thread creates, uses and closes
/// it; the runtime's thread only sees whether there is one.
pub struct PollHandle(std::ptr::NonNull<std::ffi::c_void>);

// SAFETY: the handle is only dereferenced on the JS thread (see above); the
// runtime's thread merely holds the cell it sits in.
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
        /// The connections whose socket this thread's loop polls, so that
        /// the environment's teardown can close their handles (a worker
        /// thread's loop must have none left open).
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
        shared.start_js_poll(|fd| {
            let layout = handle_layout();
            // SAFETY: the layout has libuv's size for a uv_poll_t.
            let handle = NonNull::new(unsafe { alloc(layout) }.cast::<c_void>())?;
            // SAFETY: `handle` is a fresh uv_poll_t-sized block and `fd` the
            // open socket (start_js_poll keeps it open while the handle exists).
            if unsafe { uv_poll_init(event_loop.cast(), handle.as_ptr(), fd) } != 0 {
                // SAFETY: a failed init leaves nothing in libuv referring to it.
                unsafe { dealloc(handle.as_ptr().cast(), layout) };
                return None;
            }
            // SAFETY: the handle is initialized. Its `data`, the first field of
            // every libuv handle, holds a reference to the connection until
            // the handle closes (on_closed drops it).
            unsafe {
                *handle.as_ptr().cast::<*const Shared>() = Arc::into_raw(shared.clone());
                // The connection's threadsafe function decides whether the
                // process stays up, not this handle.
                uv_unref(handle.as_ptr());
                if uv_poll_start(handle.as_ptr(), UV_READABLE, on_readable) != 0 {
                    uv_close(handle.as_ptr(), on_closed);
                    return None;
                }
            }
            WATCHED.with(|watched| watched.borrow_mut().insert(Arc::as_ptr(shared) as usize));
            Some(PollHandle(handle))
        });
    }

    /// False if the socket was not watched.
    pub fn stop_watching(shared: &Shared) -> bool {
        shared.stop_js_poll(|PollHandle(handle)| {
            WATCHED.with(|watched| {
                watched
                    .borrow_mut()
                    .remove(&(ptr::from_ref(shared) as usize))
            });
            // SAFETY: a started handle of this thread's loop; it is stopped
            // before its socket may close, and freed once libuv is done with
            // it (on_closed).
            unsafe {
                uv_poll_stop(handle.as_ptr());
                uv_close(handle.as_ptr(), on_closed);
            }
        })
    }

    extern "C" fn on_readable(handle: *mut c_void, _status: c_int, _events: c_int) {
        // SAFETY: `data` holds the connection reference watch_socket put
        // there; it lives until on_closed, which runs after this callback.
        let shared = unsafe { &*(*handle.cast::<*const Shared>()) };
        // Whatever the status (an error shows up in the read), the watch has
        // done its job: one read from this thread, the rest is the task's.
        guard(
            "the socket watch",
            (),
            || {
                stop_watching(shared);
                shared.read_from_js();
            },
            |message| shared.fail_from_js_thread(message),
        );
    }

    extern "C" fn on_closed(handle: *mut c_void) {
        // SAFETY: libuv is done with the handle; `data` is the reference
        // watch_socket stored.
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
            // reference, and it is removed from WATCHED when unwatched.
            stop_watching(unsafe { &*(shared as *const Shared) });
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

    pub fn stop_watching(_shared: &Shared) -> bool {
        false
    }
}
