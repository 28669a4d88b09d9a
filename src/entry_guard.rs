//! No Rust panic reaches JS. The connection task runs under `catch_unwind`
//! (lib.rs); the entry points JS calls on its own thread run under `guard`,
//! which turns a panic into the end of that one connection.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The message a connection ends with when its code panicked.
pub fn internal_error_message(place: &str, panic: &(dyn Any + Send)) -> String {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    format!("websocketstream internal error in {place}: {detail}")
}

/// Runs the entry point `entry` (its JS name). If it panics, `on_panic` gets
/// the internal error's message (the caller ends the connection with it) and
/// JS gets `fallback`, a harmless answer: nothing taken, the write refused.
pub fn guard<T>(
    entry: &str,
    fallback: T,
    body: impl FnOnce() -> T,
    on_panic: impl FnOnce(String),
) -> T {
    let result = catch_unwind(AssertUnwindSafe(|| {
        debug_hooks::panic_if_armed(entry);
        body()
    }));
    result.unwrap_or_else(|panic| {
        on_panic(internal_error_message(entry, &*panic));
        fallback
    })
}

/// Debug builds only: a test arms a panic in the next call of a named entry
/// point, to check that the guard holds. Release builds have no such switch.
#[cfg(debug_assertions)]
pub mod debug_hooks {
    use std::sync::Mutex;

    use napi_derive::napi;

    use crate::lock::lock;

    static ARMED: Mutex<Option<String>> = Mutex::new(None);

    /// Makes the next call of the entry point `entry` (its JS name, such as
    /// `sendText`) panic.
    #[napi]
    pub fn debug_panic_on_next_call(entry: String) {
        *lock(&ARMED) = Some(entry);
    }

    pub fn panic_if_armed(entry: &str) {
        let mut armed = lock(&ARMED);
        if armed.as_deref() == Some(entry) {
            *armed = None;
            drop(armed);
            panic!("panic forced by debugPanicOnNextCall({entry})");
        }
    }
}

#[cfg(not(debug_assertions))]
mod debug_hooks {
    pub fn panic_if_armed(_entry: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_reported_with_its_entry_point_and_the_fallback_returned() {
        let mut reported = None;
        let answer = guard(
            "sendText",
            2,
            || -> i32 { panic!("boom") },
            |message| reported = Some(message),
        );
        assert_eq!(answer, 2);
        assert_eq!(
            reported.as_deref(),
            Some("websocketstream internal error in sendText: boom")
        );
    }

    #[test]
    fn without_a_panic_the_body_answers_and_nothing_is_reported() {
        let answer = guard("close", 0, || 7, |_| panic!("nothing to report"));
        assert_eq!(answer, 7);
    }
}
