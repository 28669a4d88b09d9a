//! `/echo`: every message back as it came; tungstenite answers pings and the
//! closing handshake. Also the idle peer of the connection scenarios.

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub async fn run(mut websocket: WebSocketStream<TcpStream>) {
    while let Some(Ok(message)) = websocket.next().await {
        let reply = match message {
            Message::Text(_) | Message::Binary(_) => message,
            // Control frames: tungstenite has queued the answer already.
            _ => continue,
        };
        if websocket.send(reply).await.is_err() {
            return;
        }
    }
}
