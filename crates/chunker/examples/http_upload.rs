//! An HTTP upload endpoint (axum) that chunks a request body as it arrives and answers
//! with the chunk list and the NarHash, without ever hashing on the async workers.
//!
//! ```text
//! cargo run -p chunker --features tokio --example http_upload -- 127.0.0.1:8080
//! nix-store --dump /some/path | curl --data-binary @- http://127.0.0.1:8080/upload
//! ```
//!
//! Answers `{"nar_size":…,"nar_hash":"sha256:…","chunks":[{"offset":…,"length":…,
//! "digest":"sha256:…"},…]}`; a body over [`MAX_UPLOAD`] bytes gets 413, a body that
//! breaks off gets 400. A cache server would store each `chunk.payload` (a zero-copy
//! slice of the stream's buffer) where this example only lists it.

use std::io;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chunker::async_io::AsyncChunkStream;
use chunker::{ChunkOptions, HashAlgorithm, Preset, StreamError};
use futures::TryStreamExt;
use serde_json::{json, Value};
use tokio_util::io::StreamReader;

/// The largest body accepted (bytes).
pub const MAX_UPLOAD: u64 = 1 << 30;

type Reply = Result<Json<Value>, (StatusCode, String)>;

/// `POST /upload`: chunk the body while it streams in.
async fn upload(State(options): State<ChunkOptions>, body: Body) -> Reply {
    // The body as an `AsyncRead`; a transport error becomes an I/O error of the stream.
    let reader = StreamReader::new(body.into_data_stream().map_err(io::Error::other));
    let internal =
        |e: tokio::runtime::TryCurrentError| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let mut stream = AsyncChunkStream::tokio(reader, options)
        .map_err(internal)?
        .stream_digest(HashAlgorithm::Sha256);
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.next_chunk().await {
        if stream.position() > MAX_UPLOAD {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("over {MAX_UPLOAD} bytes"),
            ));
        }
        let chunk = chunk.map_err(|e| match e {
            StreamError::Read { .. } => (StatusCode::BAD_REQUEST, format!("body: {e}")),
            e => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        })?;
        chunks.push(json!({
            "offset": chunk.offset,
            "length": chunk.length,
            "digest": chunk.digest.map(|d| d.to_string()),
        }));
    }
    let summary = stream.summary().expect("the stream ended without error");
    Ok(Json(json!({
        "nar_size": summary.length,
        "nar_hash": summary.digest.map(|d| d.to_string()),
        "chunks": chunks,
    })))
}

/// The application: `POST /upload` with the given chunking options.
pub fn app(options: ChunkOptions) -> Router {
    Router::new()
        .route("/upload", post(upload))
        .with_state(options)
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let addr: SocketAddr = match std::env::args().nth(1) {
        Some(a) => a.parse().map_err(io::Error::other)?,
        None => ([127, 0, 0, 1], 8080).into(),
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("listening on http://{}/upload", listener.local_addr()?);
    axum::serve(listener, app(ChunkOptions::new(Preset::Small.config()))).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Post `body` to `/upload` on `addr` in `piece`-byte chunks of HTTP/1.1 chunked
    /// transfer encoding (so the server sees it arrive in parts); the status line and
    /// the response body.
    async fn post(addr: SocketAddr, body: &[u8], piece: usize) -> (String, Vec<u8>) {
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(
            b"POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        for part in body.chunks(piece) {
            conn.write_all(format!("{:x}\r\n", part.len()).as_bytes())
                .await
                .unwrap();
            conn.write_all(part).await.unwrap();
            conn.write_all(b"\r\n").await.unwrap();
            tokio::task::yield_now().await;
        }
        conn.write_all(b"0\r\n\r\n").await.unwrap();
        let mut response = Vec::new();
        conn.read_to_end(&mut response).await.unwrap();
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a header");
        let head = String::from_utf8_lossy(&response[..split]).into_owned();
        let status = head.lines().next().unwrap_or_default().to_string();
        (status, response[split + 4..].to_vec())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn posts_a_real_nar_over_loopback() {
        // A real NAR: the workspace's crates directory (source trees, about 1 MiB).
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut nar = Vec::new();
        let packed = chunker::nix::nar::pack(&dir, &mut nar).unwrap();
        assert!(nar.len() > 256 << 10, "a NAR of {} bytes", nar.len());
        assert_eq!(&nar[8..21], b"nix-archive-1");

        let options = ChunkOptions::new(Preset::Small.config());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app(options)).await });

        let (status, body) = post(addr, &nar, 50_000).await;
        assert_eq!(
            status,
            "HTTP/1.1 200 OK",
            "{}",
            String::from_utf8_lossy(&body)
        );
        let got: Value = serde_json::from_slice(&body).unwrap();

        let want_chunks: Vec<Value> = options
            .chunk_slice(&nar)
            .map(|c| {
                json!({
                    "offset": c.info.offset,
                    "length": c.info.length,
                    "digest": c.info.digest.map(|d| d.to_string()),
                })
            })
            .collect();
        assert!(want_chunks.len() > 5);
        assert_eq!(got["chunks"], Value::Array(want_chunks));
        assert_eq!(got["nar_size"], json!(packed.nar_size));
        assert_eq!(got["nar_hash"], json!(packed.nar_hash.to_string()));

        // A body that breaks off is a client error, not a chunk list.
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            .await
            .unwrap();
        conn.write_all(&nar[..5000]).await.unwrap();
        conn.shutdown().await.unwrap();
        let mut response = Vec::new();
        conn.read_to_end(&mut response).await.unwrap();
        let text = String::from_utf8_lossy(&response);
        assert!(text.starts_with("HTTP/1.1 400"), "{text}");
        assert!(text.contains("body: read failed at offset 5000"), "{text}");
        server.abort();
    }
}
