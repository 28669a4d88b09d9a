//! How many bytes the kernel still holds for the peer: sent but not yet
//! acknowledged, or not yet sent. When it shrinks, the peer's TCP is taking
//! our data: a sign of life the idle timer needs once a large write has left
//! user space, because a Ping then waits behind everything in the kernel.

use tokio::net::TcpStream;

/// The socket's send queue in bytes, where the platform tells it.
#[cfg(target_os = "linux")]
pub fn unacknowledged_bytes(tcp: &TcpStream) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let mut queued: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ for TCP) writes one int through the pointer,
    // which points at a live c_int; the descriptor is open while `tcp` lives.
    let result = unsafe { libc::ioctl(tcp.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    (result == 0).then(|| u64::try_from(queued).unwrap_or(0))
}

/// The socket's send queue in bytes, where the platform tells it.
#[cfg(target_os = "macos")]
pub fn unacknowledged_bytes(tcp: &TcpStream) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let mut queued: libc::c_int = 0;
    let mut length = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: SO_NWRITE writes one int into `queued`, whose size `length` gives.
    let result = unsafe {
        libc::getsockopt(
            tcp.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_NWRITE,
            (&mut queued as *mut libc::c_int).cast(),
            &mut length,
        )
    };
    (result == 0).then(|| u64::try_from(queued).unwrap_or(0))
}

/// Elsewhere the kernel's queue is not observed: only bytes the socket
/// accepted while a write was pending count.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub fn unacknowledged_bytes(_tcp: &TcpStream) -> Option<u64> {
    None
}
