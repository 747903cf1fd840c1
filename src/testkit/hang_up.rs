//! A bare HTTP/1.1 server (real TCP on 127.0.0.1, port 0) that closes the
//! connection on its first requests without answering, then answers the
//! rest with a fixed JSON body.
//!
//! It stands for a server that closes a kept-alive connection just as a
//! request goes out on it (an idle timeout on the server or a proxy). The
//! fake reads the whole request before it hangs up, so the client has
//! certainly sent it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The running server; it stops when the test's runtime ends.
pub struct HangUp {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
}

impl HangUp {
    /// Hangs up on the first `drops` requests, then answers `reply`.
    pub async fn start(drops: usize, reply: Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind hang-up server");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let body = Arc::new(reply.to_string());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (counter, body) = (counter.clone(), body.clone());
                tokio::spawn(serve(stream, counter, drops, body));
            }
        });
        Self { addr, requests }
    }

    /// The OpenAI-style base URL (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Requests read so far, answered or not.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Serves one connection's requests until it hangs up or the client leaves.
async fn serve(stream: TcpStream, counter: Arc<AtomicUsize>, drops: usize, body: Arc<String>) {
    let mut stream = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            match stream.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut request = vec![0; length];
        if stream.read_exact(&mut request).await.is_err() {
            return;
        }
        if counter.fetch_add(1, Ordering::SeqCst) < drops {
            return;
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream
            .get_mut()
            .write_all(response.as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}
