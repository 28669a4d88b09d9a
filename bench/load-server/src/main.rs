//! The benchmark's load server: WebSocket routes on 127.0.0.1 that must never
//! be the bottleneck of a client benchmark.
//!
//! - `/flood?count=N&size=S&type=binary|text`: N messages of S bytes, written
//!   from pre-encoded frames as fast as the socket takes them, then Close 1000.
//! - `/sink`: counts the client's messages without unmasking them; the Close
//!   reply's reason is `"<messages> <payload bytes>"`.
//! - `/echo`: sends every message back (tokio-tungstenite does the framing).
//! - `/deflate/flood?count=N&message=M` and `/deflate/sink`: a flood of one
//!   compressed text message and a sink, after negotiating permessage-deflate
//!   (a client that offers none is refused with 400). The routes above never
//!   answer an extension, so nothing is compressed on them.
//!
//! It prints `listening <port>` once bound and exits when its stdin reaches
//! EOF, so it never outlives the orchestrator (bench/run.mjs) that started it.
//! One thread: the machine has two cores and the client needs the other one.

mod client_frames;
mod deflate;
mod echo;
mod flood;
mod route;
mod sink;

use std::time::Duration;

use route::Route;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};

/// Room for the concurrent-connections scenario's burst of handshakes (the
/// kernel caps it at net.core.somaxconn).
const LISTEN_BACKLOG: u32 = 4096;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let port = match std::env::args().nth(1) {
        Some(text) => text
            .parse()
            .expect("usage: websocketstream-load-server [port]"),
        None => 0,
    };
    let listener = listen(port).expect("cannot listen on 127.0.0.1");
    println!("listening {}", listener.local_addr().expect("bound").port());
    tokio::spawn(exit_when_stdin_closes());
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream));
            }
            Err(error) => {
                // Out of file descriptors, say: back off instead of spinning.
                eprintln!("load-server: accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

fn listen(port: u16) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(([127, 0, 0, 1], port).into())?;
    socket.listen(LISTEN_BACKLOG)
}

async fn exit_when_stdin_closes() {
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 64];
    while let Ok(read) = stdin.read(&mut buffer).await {
        if read == 0 {
            break;
        }
    }
    std::process::exit(0);
}

async fn serve(stream: TcpStream) {
    // Echo latency must not wait for Nagle; floods write big blocks anyway.
    let _ = stream.set_nodelay(true);
    let mut route = None;
    // The Err type is fixed by tungstenite's handshake `Callback` trait.
    #[allow(clippy::result_large_err)]
    let choose_route = |request: &Request, mut response: Response| {
        let chosen = Route::parse(request.uri()).ok_or_else(not_found)?;
        if chosen.deflates() {
            let answer = deflate::negotiate(request.headers()).ok_or_else(no_deflate_offer)?;
            let answer = HeaderValue::from_str(&answer).expect("an ASCII header value");
            response
                .headers_mut()
                .insert("sec-websocket-extensions", answer);
        }
        route = Some(chosen);
        Ok(response)
    };
    let websocket = match tokio_tungstenite::accept_hdr_async(stream, choose_route).await {
        Ok(websocket) => websocket,
        Err(error) => {
            eprintln!("load-server: handshake failed: {error}");
            return;
        }
    };
    match route {
        Some(Route::Echo) => echo::run(websocket).await,
        // Floods and the sink work on the raw socket. The client sends nothing
        // before it has our handshake response, so tungstenite's read buffer
        // is empty here and into_inner() loses nothing.
        Some(Route::Flood(spec)) => flood::run(websocket.into_inner(), spec).await,
        Some(Route::Sink) => sink::run(websocket.into_inner()).await,
        Some(Route::DeflateFlood(spec)) => flood::run_deflate(websocket.into_inner(), spec).await,
        Some(Route::DeflateSink) => sink::run_deflate(websocket.into_inner()).await,
        None => unreachable!("the handshake succeeds only with a route"),
    }
}

fn not_found() -> ErrorResponse {
    error_response(
        StatusCode::NOT_FOUND,
        "routes: /flood?count=N&size=S&type=binary|text, /sink, /echo, \
         /deflate/flood?count=N&message=M, /deflate/sink",
    )
}

fn no_deflate_offer() -> ErrorResponse {
    error_response(
        StatusCode::BAD_REQUEST,
        "the /deflate/ routes need a permessage-deflate offer in Sec-WebSocket-Extensions",
    )
}

fn error_response(status: StatusCode, body: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(body.to_owned()));
    *response.status_mut() = status;
    response
}
