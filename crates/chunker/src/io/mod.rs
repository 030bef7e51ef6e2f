//! Chunking readers: [`ChunkStream`] turns any [`Read`] into chunks.
//!
//! # Buffers
//! Input is read into blocks of at least four maximum chunk sizes (and at least the
//! read size plus one maximum chunk size). A read appends to the block's spare capacity
//! through [`Read::take`] + [`Read::read_to_end`], so readers that implement
//! `read_buf` (files, sockets, stdin, `&[u8]`) fill it without the buffer ever being
//! zero-filled; only the chunk in progress (less than one maximum chunk size) is copied
//! when a block is full. Each read is fed once to the push chunker, which never scans a
//! byte twice, and each chunk is hashed as soon as its end is known, while it is still
//! in cache. Chunk payloads are zero-copy [`Bytes`] slices of the block.
//!
//! Memory: one block being filled plus the blocks that chunks you still hold point into.
//! When you drop every chunk of a block before the next block is full, its allocation is
//! reused, so a streaming consumer runs on two blocks with no new page faults.

use std::collections::VecDeque;
use std::io::{self, Read};

mod ahead;
pub use ahead::ReadAheadStream;
#[cfg(feature = "futures-io")]
pub(crate) use ahead::{BlockCutter, Frozen};

use bytes::Bytes;

use crate::cdc::{PushChunker, Span};
use crate::chunk::{Chunk, ChunkOptions};
use crate::hash::{hash_many_and_update, Digest, HashAlgorithm, Hasher};

/// Default size of each read from the underlying reader (1 MiB).
pub const DEFAULT_READ_SIZE: usize = 1 << 20;

/// An error from a [`ChunkStream`]: the stream ends after it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The reader failed. Chunks that ended before `offset` were yielded; the bytes
    /// from the last of them up to `offset` were read but belong to no chunk.
    #[error("read failed at offset {offset}")]
    Read {
        /// Bytes successfully read before the failure.
        offset: u64,
        /// The reader's error.
        #[source]
        source: io::Error,
    },
    /// A chunking job handed to an async stream's [`Offload`](crate::async_io::Offload)
    /// never reported back: it panicked, or its pool shut down before running it.
    /// Chunks that ended before `offset` were yielded.
    #[error("the chunking job for the bytes after offset {offset} did not complete (it panicked or its thread pool shut down)")]
    Offload {
        /// Bytes whose chunks were handed out or being cut when the job was lost.
        offset: u64,
    },
}

impl StreamError {
    /// The underlying I/O error kind.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            StreamError::Read { source, .. } => source.kind(),
            StreamError::Offload { .. } => io::ErrorKind::Other,
        }
    }
}

/// Totals of a finished stream: see [`ChunkStream::summary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSummary {
    /// Bytes read.
    pub length: u64,
    /// Chunks produced.
    pub chunks: u64,
    /// Digest of the whole stream, if requested with [`ChunkStream::stream_digest`].
    pub digest: Option<Digest>,
}

/// Chunks from any [`Read`], with the same cut points as the in-memory paths whatever
/// the read pattern (short reads, 1-byte reads, `Interrupted`).
///
/// Yields `Result<Chunk, StreamError>`; an I/O error is yielded once and ends the
/// stream. A whole-stream digest (for example a NarHash) can be computed in the same
/// pass with [`ChunkStream::stream_digest`].
///
/// ```
/// use chunker::{ChunkOptions, HashAlgorithm, Preset};
///
/// let data: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2654435761) >> 9) as u8).collect();
/// let options = ChunkOptions::new(Preset::Small.config());
/// let mut stream = options.stream(&data[..]).stream_digest(HashAlgorithm::Sha256);
/// let mut total = 0;
/// for chunk in stream.by_ref() {
///     let chunk = chunk?;
///     total += chunk.length;
/// }
/// let summary = stream.summary().expect("stream finished");
/// assert_eq!(summary.length as usize, total);
/// assert_eq!(summary.digest, Some(chunker::hash(HashAlgorithm::Sha256, &data)));
/// # Ok::<(), chunker::StreamError>(())
/// ```
#[derive(Debug)]
pub struct ChunkStream<R> {
    reader: R,
    options: ChunkOptions,
    push: PushChunker,
    read_size: usize,
    block_size: usize,
    /// Block being filled; `buf[0]` is at stream offset `buf_base`.
    buf: Vec<u8>,
    buf_base: u64,
    /// Chunks found in `buf`, hashed, waiting for the block to be frozen.
    found: Found,
    out: Handout,
    whole: Option<Hasher>,
    /// Bytes read so far.
    total: u64,
    eof: bool,
}

/// Chunks found in a block and hashed, in stream order.
pub(crate) type Found = VecDeque<(Span, Option<Digest>)>;

/// What both streams hand out: the chunks of the last frozen block, then the end of the
/// stream (one error, or the summary).
#[derive(Debug, Default)]
pub(crate) struct Handout {
    /// The frozen block; `frozen[0]` is at stream offset `frozen_base`.
    frozen: Bytes,
    frozen_base: u64,
    pub(crate) ready: Found,
    chunks: u64,
    pub(crate) error: Option<StreamError>,
    pub(crate) done: bool,
    pub(crate) summary: Option<StreamSummary>,
}

impl Handout {
    /// Drop our reference to the frozen block; its allocation comes back (emptied) when
    /// the consumer has dropped every chunk of it, to be filled again without fresh
    /// pages to fault in.
    pub(crate) fn reclaim(&mut self) -> Option<Vec<u8>> {
        debug_assert!(self.ready.is_empty(), "every chunk was handed out");
        std::mem::take(&mut self.frozen)
            .try_into_mut()
            .ok()
            .map(|mut b| {
                b.clear();
                Vec::from(b)
            })
    }

    /// Freeze `block` (stream offset `base`): the chunks in `found` become ready.
    pub(crate) fn freeze(&mut self, block: Vec<u8>, base: u64, found: &mut Found) {
        debug_assert!(self.ready.is_empty(), "every chunk was handed out");
        self.frozen = Bytes::from(block);
        self.frozen_base = base;
        std::mem::swap(&mut self.ready, found);
    }

    /// The next ready chunk; once none is left, the error (once) and then `None`, or
    /// `None` with the summary of `total` bytes and the whole-stream digest recorded.
    pub(crate) fn next(
        &mut self,
        total: u64,
        whole: Option<&Hasher>,
    ) -> Option<Result<Chunk, StreamError>> {
        if self.done {
            return None;
        }
        if let Some((span, digest)) = self.ready.pop_front() {
            let start = (span.offset - self.frozen_base) as usize;
            self.chunks += 1;
            return Some(Ok(Chunk {
                offset: span.offset,
                length: span.length,
                digest,
                payload: self.frozen.slice(start..start + span.length),
            }));
        }
        self.done = true;
        self.frozen = Bytes::new();
        if let Some(e) = self.error.take() {
            return Some(Err(e));
        }
        self.summary = Some(StreamSummary {
            length: total,
            chunks: self.chunks,
            digest: whole.map(Hasher::finalize),
        });
        None
    }
}

// Here rather than in `chunk` (with the other `ChunkOptions` methods), so that `chunk`
// does not depend on `io`: the import graph stays acyclic (`io` uses `chunk`).
impl ChunkOptions {
    /// Chunk a reader; see [`ChunkStream`].
    pub fn stream<R: Read>(&self, reader: R) -> ChunkStream<R> {
        ChunkStream::new(reader, *self)
    }
}

impl<R: Read> ChunkStream<R> {
    /// A stream over `reader` with the given options and the default read size.
    pub fn new(reader: R, options: ChunkOptions) -> Self {
        let mut s = ChunkStream {
            reader,
            options,
            push: options.chunker().push(),
            read_size: DEFAULT_READ_SIZE,
            block_size: 0,
            buf: Vec::new(),
            buf_base: 0,
            found: VecDeque::new(),
            out: Handout::default(),
            whole: None,
            total: 0,
            eof: false,
        };
        s.set_block_size();
        s
    }

    fn set_block_size(&mut self) {
        let max = self.options.config().max_size();
        self.block_size = (4 * max).max(self.read_size + max);
    }

    /// Read at most `bytes` per call to the reader (clamped to 1 byte..=256 MiB).
    /// Reads are retried until that many bytes arrive or the reader reaches its end,
    /// so short reads cost nothing but calls. Call before the first `next()`.
    pub fn read_size(mut self, bytes: usize) -> Self {
        self.read_size = bytes.clamp(1, 256 << 20);
        self.set_block_size();
        self
    }

    /// Also compute a digest of the whole stream (for example a NarHash) in the same
    /// pass; available from [`ChunkStream::summary`] at the end.
    pub fn stream_digest(mut self, algorithm: HashAlgorithm) -> Self {
        self.whole = Some(Hasher::new(algorithm));
        self
    }

    /// Bytes read from the reader so far.
    pub fn position(&self) -> u64 {
        self.total
    }

    /// Totals, once the stream has ended without error.
    pub fn summary(&self) -> Option<StreamSummary> {
        self.out.summary
    }

    /// The reader.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// Give back the reader.
    pub fn into_inner(self) -> R {
        self.reader
    }

    /// Record chunks made final by the bytes `buf[from..]` (and, at the end of the input,
    /// the last chunk). With a whole-stream digest they are hashed now, beside it; else
    /// [`rotate`](Self::rotate) hashes them.
    fn scan_new(&mut self, from: usize) {
        let ChunkStream {
            push,
            buf,
            buf_base,
            found,
            options,
            whole,
            eof,
            ..
        } = self;
        let first = found.len();
        found.extend(push.feed(&buf[from..]).map(|span| (span, None)));
        if *eof {
            found.extend(push.finish().map(|span| (span, None)));
        }
        if whole.is_some() {
            hash_found(options, whole.as_mut(), buf, *buf_base, found, first);
        }
    }

    /// Freeze the block: its found chunks become ready; the chunk in progress moves to
    /// a new block (reusing the previous frozen block's allocation when no chunk holds
    /// it, so at most two blocks are alive here).
    ///
    /// Without a whole-stream digest, the block's chunks are hashed here, all in one
    /// batch (no chunk is handed out before its block is frozen anyway): a block holds
    /// many chunks, so SHA-256 lanes stay filled (a single read often ends only a few
    /// chunks of uneven lengths). With one, `scan_new` has hashed them read by read:
    /// there the stream's lane and a chunk lane walk the same bytes side by side, which
    /// fills the two lanes whatever the chunk lengths, while the bytes are fresh in cache.
    fn rotate(&mut self) {
        if self.whole.is_none() {
            hash_found(
                &self.options,
                None,
                &self.buf,
                self.buf_base,
                &mut self.found,
                0,
            );
        }
        let recycled = self
            .out
            .reclaim()
            .filter(|v| v.capacity() >= self.block_size);
        let old_base = self.buf_base;
        let next = if self.eof || self.out.error.is_some() {
            // Nothing more will be read: keep no tail.
            self.buf_base = self.total;
            Vec::new()
        } else {
            let tail_start = (self.push.chunk_start() - old_base) as usize;
            let mut next = recycled.unwrap_or_else(|| Vec::with_capacity(self.block_size));
            next.extend_from_slice(&self.buf[tail_start..]);
            self.buf_base = self.push.chunk_start();
            next
        };
        let old = std::mem::replace(&mut self.buf, next);
        self.out.freeze(old, old_base, &mut self.found);
    }

    /// Read until chunks are ready, the input ends, or the reader fails.
    fn fill(&mut self) {
        while self.out.ready.is_empty() && !self.eof && self.out.error.is_none() {
            if self.buf.capacity() == 0 {
                self.buf.reserve_exact(self.block_size);
            }
            if self.buf.capacity() - self.buf.len() < self.read_size {
                // The chunk in progress is shorter than the maximum size and
                // block_size >= read_size + max, so a fresh block always has room.
                self.rotate();
                continue;
            }
            let before = self.buf.len();
            let want = self.read_size.min(self.buf.capacity() - before);
            let result = (&mut self.reader)
                .take(want as u64)
                .read_to_end(&mut self.buf);
            let got = self.buf.len() - before;
            match result {
                Ok(n) if n < want => self.eof = true,
                Ok(_) => {}
                Err(source) => {
                    self.out.error = Some(StreamError::Read {
                        offset: self.total + got as u64,
                        source,
                    });
                }
            }
            self.total += got as u64;
            self.scan_new(before);
            if self.eof || self.out.error.is_some() {
                self.rotate();
            }
        }
    }
}

/// Digest the chunks `found[first..]`, consecutive and all in `buf` (`buf[0]` is at
/// stream offset `base`), and feed their bytes to `whole`: with SHA-256 for both, in one
/// multi-lane pass where the whole-stream digest is one more lane beside the chunks.
fn hash_found(
    options: &ChunkOptions,
    whole: Option<&mut Hasher>,
    buf: &[u8],
    base: u64,
    found: &mut Found,
    first: usize,
) {
    let (Some(start), Some(end)) = (
        found.get(first).map(|(s, _)| s.offset),
        found.back().map(|(s, _)| s.offset + s.length as u64),
    ) else {
        return;
    };
    if options.hash_algorithm().is_none() && whole.is_none() {
        return;
    }
    let at = |offset: u64| (offset - base) as usize;
    let chunks: Vec<&[u8]> = found
        .range(first..)
        .map(|(s, _)| &buf[at(s.offset)..at(s.offset) + s.length])
        .collect();
    let whole_input = &buf[at(start)..at(end)];
    if let Some(digests) =
        hash_many_and_update(options.hash_algorithm(), &chunks, whole, whole_input)
    {
        for ((_, d), digest) in found.range_mut(first..).zip(digests) {
            *d = Some(digest);
        }
    }
}

impl<R: Read> Iterator for ChunkStream<R> {
    type Item = Result<Chunk, StreamError>;

    fn next(&mut self) -> Option<Self::Item> {
        if !self.out.done && self.out.ready.is_empty() {
            self.fill();
        }
        let item = self.out.next(self.total, self.whole.as_ref());
        if self.out.done {
            self.buf = Vec::new();
        }
        item
    }
}
