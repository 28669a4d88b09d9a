//! Locking that survives a panic on the other thread.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// A poisoned lock only means another thread panicked mid-update; the queues
/// stay consistent enough to end the connection, so keep going.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
