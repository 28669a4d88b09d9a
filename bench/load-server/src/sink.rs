//! `/sink`: counts what the client sends. When the client closes, the Close
//! reply's reason reports `"<messages> <payload bytes>"`, so a client can check
//! that everything it sent arrived (and its clock stops only then).

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::client_frames::{ClientFrame, FrameReader};
use crate::flood::close_frame;

pub async fn run(stream: TcpStream) {
    let (read, mut write) = stream.into_split();
    let mut frames = FrameReader::new(read);
    let (mut messages, mut bytes) = (0u64, 0u64);
    loop {
        match frames.next().await {
            Ok(Some(ClientFrame::Data { fin, len })) => {
                bytes += len;
                messages += u64::from(fin);
            }
            Ok(Some(ClientFrame::Control)) => {}
            Ok(Some(ClientFrame::Close { .. })) => {
                let reply = close_frame(1000, &format!("{messages} {bytes}"));
                let _ = write.write_all(&reply).await;
                // The server ends the TCP connection once both Closes are sent.
                let _ = write.shutdown().await;
                return;
            }
            Ok(None) | Err(_) => return,
        }
    }
}
