//! The one Tokio runtime every connection of the process runs on.

use std::sync::OnceLock;
use tokio::runtime::{Builder, Runtime};

/// A single worker thread: a connection's work per message is small, and the
/// JS thread needs the other core. A failure to start is kept and reported to
/// every caller instead of panicking.
pub fn runtime() -> Result<&'static Runtime, String> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("websocketstream")
                .enable_io()
                .enable_time()
                .build()
                .map_err(|error| format!("the websocketstream runtime could not start: {error}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}
