//! Content-defined chunking, hashing and Nix encodings for binary caches.
//!
//! `chunker` cuts data into content-defined chunks with FastCDC — cut points identical
//! to the `fastcdc` crate's `v2020` — digests each chunk (SHA-256 or BLAKE3), and speaks
//! Nix's encodings (Nix base32, `sha256:` strings, SRI).
//!
//! ```
//! use bytes::Bytes;
//! use chunker::{ChunkOptions, HashAlgorithm, Preset};
//!
//! let data = Bytes::from((0..1_000_000u32).map(|i| (i.wrapping_mul(2654435761) >> 7) as u8).collect::<Vec<u8>>());
//! let options = ChunkOptions::new(Preset::Small.config()).hash(Some(HashAlgorithm::Blake3));
//! let mut next = 0;
//! for chunk in options.chunk_bytes(data.clone()) {
//!     assert_eq!(chunk.offset, next);
//!     // Payloads are slices of `data`, not copies.
//!     assert_eq!(chunk.payload.as_ptr(), data[next as usize..].as_ptr());
//!     assert!(chunk.digest.is_some());
//!     next += chunk.length as u64;
//! }
//! assert_eq!(next, 1_000_000);
//! ```
//!
//! The same cut points come from every entry point: [`ChunkOptions::chunk_bytes`] and
//! [`ChunkOptions::chunk_slice`] for data in memory, and [`ChunkStream`] for any
//! [`std::io::Read`], whatever its read sizes.
//!
//! # Modules
//! - [`cdc`]: the boundary engine (re-export of the `chunker-cdc` crate).
//! - [`hash`](mod@hash): [`Digest`], [`HashAlgorithm`], [`Hasher`], Nix base32.
//! - [`io`]: [`ChunkStream`] over readers, and [`ReadAheadStream`] that reads on a
//!   second thread.
//! - `async_io` (features `tokio`, `futures-io`): a chunk `Stream` over `AsyncRead`
//!   whose CPU work runs off the async worker threads.
//! - [`compress`]: zstd, lz4, xz and bzip2 with output limits, pooled zstd contexts,
//!   dictionaries and adaptive codec selection.
//! - [`nix`]: NAR encoder/reader (NarHash in the same pass), narinfo, Ed25519 keys in
//!   Nix's formats.
//! - [`pipeline`]: [`Pipeline`], the parallel, ordered, bounded read → cut → digest →
//!   compress engine.
#![deny(unsafe_code)] // allowed in one place only: `pipeline::map` (memmap2)
#![deny(missing_docs)]

pub use chunker_cdc as cdc;
/// Multi-lane SHA-256 (the `chunker-sha256` crate): kernels, batches, streaming lanes.
pub use chunker_sha256 as sha256;

#[cfg(feature = "futures-io")]
pub mod async_io;
mod chunk;
pub mod compress;
pub mod hash;
pub mod io;
pub mod nix;
pub mod pipeline;

pub use cdc::{Config, ConfigError, Kernel, Preset, Span};
pub use chunk::{BytesChunks, Chunk, ChunkInfo, ChunkOptions, SliceChunk, SliceChunks};
pub use hash::{hash, Digest, Encoding, HashAlgorithm, Hasher};
pub use io::{ChunkStream, ReadAheadStream, StreamError, StreamSummary};
pub use pipeline::{Pipeline, PipelineError, ProcessedChunk, ProcessedChunks};
