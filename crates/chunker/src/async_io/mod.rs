//! Async ingestion: a chunk [`Stream`] over an async reader that never blocks the
//! runtime (features `tokio` and `futures-io`).
//!
//! [`AsyncChunkStream`] reads on the task that polls it and hands every byte of CPU
//! work (boundary search, chunk digests, the whole-stream digest) to an [`Offload`]:
//! tokio's blocking pool ([`TokioBlocking`]), or any thread pool through a closure.
//! Cut points, digests and the [`StreamSummary`] are those of the synchronous
//! [`ChunkStream`](crate::ChunkStream) for the same bytes, whatever the read pattern.
//!
//! # How it runs
//! Input is read into blocks of [`AsyncChunkStream::block_size`] bytes. A full block
//! goes to the offload as one job, which cuts and hashes it with the same block cutter
//! as [`ReadAheadStream`](crate::ReadAheadStream), while the task reads the next block:
//! reading and chunking overlap. Chunks are handed out as zero-copy [`Bytes`](bytes::Bytes) slices of
//! their block.
//!
//! - **No long polls.** One poll reads at most 64 KiB (a copy out of the socket or
//!   the reader's buffer, at most 16 fresh pages to fault in) and then yields; the
//!   cutting and hashing never run in `poll`, and neither does freeing a block (giving
//!   megabytes back to the OS takes milliseconds): blocks the stream no longer needs are
//!   dropped on the offload.
//! - **Backpressure.** The stream reads one block ahead of the job in flight and no
//!   further until you take the chunks: it holds at most four blocks of
//!   `block_size + max chunk size` bytes (one being read, one being cut, one being
//!   handed out, one for reuse), plus the blocks that chunks you hold point into and
//!   the one or two that wait to be freed by the next job.
//! - **Cancellation.** Dropping the stream drops the reader at once; a job in flight
//!   finishes its block (at most one block of work; a job not yet started does
//!   nothing) and frees its buffers.
//!
//! ```
//! # #[cfg(feature = "tokio")]
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use chunker::async_io::AsyncChunkStream;
//! use chunker::{ChunkOptions, HashAlgorithm, Preset};
//!
//! let data: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2654435761) >> 9) as u8).collect();
//! let options = ChunkOptions::new(Preset::Small.config());
//! // Any `tokio::io::AsyncRead + Unpin`: a socket, a file, a request body.
//! let mut stream = AsyncChunkStream::tokio(&data[..], options)?.stream_digest(HashAlgorithm::Sha256);
//! let mut chunks = Vec::new();
//! while let Some(chunk) = stream.next_chunk().await {
//!     chunks.push(chunk?.info());
//! }
//! let sync: Vec<_> = options.stream(&data[..]).map(|c| c.map(|c| c.info())).collect::<Result<_, _>>()?;
//! assert_eq!(chunks, sync);
//! assert_eq!(stream.summary().unwrap().digest, Some(chunker::hash(HashAlgorithm::Sha256, &data)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_channel::oneshot;
use futures_core::Stream;

use crate::chunk::{Chunk, ChunkOptions};
use crate::hash::{HashAlgorithm, Hasher};
use crate::io::{BlockCutter, Frozen, Handout, StreamError, StreamSummary};

#[cfg(feature = "tokio")]
mod tokio_rt;
#[cfg(feature = "tokio")]
pub use tokio_rt::{TokioBlocking, TokioReader};

/// Default [`AsyncChunkStream::block_size`] (4 MiB).
pub const DEFAULT_BLOCK_SIZE: usize = 4 << 20;

/// Bytes one poll reads at most before it yields: a copy of 5–10 µs, or about 60 µs
/// where the block's pages are touched for the first time (a fault per 4 KiB page).
/// Measured with `chunker bench async` (`max_poll_us`): 256 KiB polls took 200–300 µs
/// of CPU time in fresh blocks.
const POLL_READ_BUDGET: usize = 64 << 10;
/// Reader calls one poll makes at most (bounds the work of 1-byte and `Interrupted`
/// reads) before it yields.
const POLL_READ_CALLS: usize = 64;
/// Scratch buffer of a [`FuturesReader`] (`futures-io` reads need initialised memory).
const SCRATCH: usize = 64 << 10;

/// Ask to be polled again, once the runtime has seen to its timers and I/O: with
/// feature `tokio`, tokio's `yield_now` (inside a tokio runtime it defers the wake-up
/// until the scheduler has polled its driver; a plain self-wake would put the task
/// straight back on the run queue, and a current-thread runtime looks at its timers
/// only every 61 polls, so a burst of reads delayed timers by milliseconds); else, or
/// outside tokio, a plain self-wake.
fn yield_now(cx: &mut Context<'_>) {
    #[cfg(feature = "tokio")]
    {
        let mut y = std::pin::pin!(tokio::task::yield_now());
        if y.as_mut().poll(cx).is_pending() {
            return;
        }
    }
    cx.waker().wake_by_ref();
}

/// CPU work that an [`Offload`] runs: the cutting and hashing of one block.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Where an [`AsyncChunkStream`] runs its CPU work: any executor whose threads may
/// block for the time it takes to cut and hash one block.
///
/// Implemented by [`TokioBlocking`] (tokio's blocking pool) and by every
/// `Fn(Job) + Send + Sync` closure, so a thread pool plugs in as one line:
///
/// ```
/// use std::sync::Arc;
/// use chunker::async_io::{Job, Offload};
///
/// // A thread per job; a rayon pool would be `move |job: Job| pool.spawn(job)`.
/// let offload: Arc<dyn Offload> = Arc::new(|job: Job| {
///     std::thread::spawn(job);
/// });
/// # let _ = offload;
/// ```
///
/// A job that is dropped without being run (for example by a pool that is shutting
/// down) ends the stream with [`StreamError::Offload`].
pub trait Offload: Send + Sync {
    /// Run `job` soon, on a thread where it may run for milliseconds.
    fn spawn(&self, job: Job);
}

impl<F: Fn(Job) + Send + Sync> Offload for F {
    fn spawn(&self, job: Job) {
        self(job)
    }
}

mod private {
    use super::*;

    /// How an async reader fills a block (the sealed half of [`AsyncSource`]).
    pub trait Fill {
        /// Append at most `want` (> 0) bytes to `block`, which has room for them; `0`
        /// at the end of the input.
        fn poll_fill(
            &mut self,
            cx: &mut Context<'_>,
            block: &mut Vec<u8>,
            want: usize,
        ) -> Poll<io::Result<usize>>;
    }
}

/// The readers an [`AsyncChunkStream`] reads from: [`TokioReader`] (a
/// `tokio::io::AsyncRead`) and [`FuturesReader`] (a `futures::io::AsyncRead`).
/// Sealed: it cannot be implemented outside this crate.
pub trait AsyncSource: private::Fill {}

/// A `futures::io::AsyncRead` as an [`AsyncSource`]: see [`AsyncChunkStream::futures`].
///
/// `futures-io` reads into initialised memory, so this adapter reads into a 64 KiB
/// scratch buffer (zero-filled once) and copies into the block; a `tokio` reader
/// ([`TokioReader`]) reads straight into the block's spare capacity.
pub struct FuturesReader<R> {
    reader: R,
    scratch: Vec<u8>,
}

impl<R> FuturesReader<R> {
    /// The reader.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// Give back the reader.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

impl<R> fmt::Debug for FuturesReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FuturesReader").finish_non_exhaustive()
    }
}

impl<R: futures_io::AsyncRead + Unpin> private::Fill for FuturesReader<R> {
    fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        block: &mut Vec<u8>,
        want: usize,
    ) -> Poll<io::Result<usize>> {
        if self.scratch.is_empty() {
            self.scratch = vec![0; SCRATCH];
        }
        let n = want.min(SCRATCH);
        let got =
            std::task::ready!(Pin::new(&mut self.reader).poll_read(cx, &mut self.scratch[..n]))?;
        block.extend_from_slice(&self.scratch[..got.min(n)]);
        Poll::Ready(Ok(got.min(n)))
    }
}

impl<R: futures_io::AsyncRead + Unpin> AsyncSource for FuturesReader<R> {}

/// What a job sends back: the cutter, the blocks it completed (at most two: the one
/// before the block it was given, and at the end that block) and an allocation to reuse.
struct Done {
    cutter: Box<BlockCutter>,
    frozen: Vec<Frozen>,
    spare: Option<Vec<u8>>,
}

/// The bytes of one job.
enum Work {
    /// A full block.
    Block(Vec<u8>),
    /// The last bytes; `complete`: the input ended (else it failed after them).
    Last { block: Vec<u8>, complete: bool },
}

impl Work {
    /// Cut and hash: the job's body.
    fn run(self, mut cutter: Box<BlockCutter>) -> Done {
        let mut frozen = Vec::new();
        let mut spare = None;
        let (block, last) = match self {
            Work::Block(b) => (b, None),
            Work::Last { block, complete } => (block, Some(complete)),
        };
        if !block.is_empty() {
            match cutter.take_block(block) {
                Ok(f) => frozen.push(f),
                Err(b) => spare = Some(b),
            }
        }
        if let Some(complete) = last {
            frozen.push(cutter.end(complete));
        }
        Done {
            cutter,
            frozen,
            spare,
        }
    }
}

/// Chunks from an async reader, with the CPU work off the async worker threads: a
/// [`Stream`] of `Result<Chunk, StreamError>` with the same chunks, digests and
/// summary as [`ChunkStream`](crate::ChunkStream). See the [module docs](self) for how
/// it runs, and [`AsyncChunkStream::tokio`] / [`AsyncChunkStream::futures`] to make one.
///
/// An I/O error is yielded once, after the chunks that ended before it, and ends the
/// stream.
pub struct AsyncChunkStream<S> {
    source: S,
    options: ChunkOptions,
    offload: Arc<dyn Offload>,
    /// The cutter: here between jobs, inside the job while one runs.
    cutter: Option<Box<BlockCutter>>,
    job: Option<oneshot::Receiver<Done>>,
    /// Block being read; handed to a job at `data` bytes (allocated with `capacity`).
    block: Vec<u8>,
    /// An allocation to read the next block into.
    spare: Option<Vec<u8>>,
    data: usize,
    capacity: usize,
    /// Completed blocks waiting for the handout to empty.
    pending: VecDeque<Frozen>,
    /// Blocks no longer needed, freed by the next job (off this thread).
    trash: Vec<Vec<u8>>,
    out: Handout,
    /// Bytes read from the reader.
    read: u64,
    /// End of the last chunk handed out.
    yielded: u64,
    eof: bool,
    failed: Option<io::Error>,
    /// The last job was sent: nothing more to read.
    last_sent: bool,
    /// The last job came back (or was lost): nothing more to cut.
    ended: bool,
    started: bool,
}

impl<S> fmt::Debug for AsyncChunkStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncChunkStream")
            .field("options", &self.options)
            .field("block_size", &self.data)
            .field("read", &self.read)
            .field("job_in_flight", &self.job.is_some())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl<R: futures_io::AsyncRead + Unpin> AsyncChunkStream<FuturesReader<R>> {
    /// A stream over a `futures::io::AsyncRead`, with CPU work run by `offload`.
    pub fn futures(reader: R, options: ChunkOptions, offload: Arc<dyn Offload>) -> Self {
        let source = FuturesReader {
            reader,
            scratch: Vec::new(),
        };
        AsyncChunkStream::with_source(source, options, offload)
    }
}

impl<S: AsyncSource + Unpin> AsyncChunkStream<S> {
    fn with_source(source: S, options: ChunkOptions, offload: Arc<dyn Offload>) -> Self {
        let mut s = AsyncChunkStream {
            source,
            options,
            offload,
            cutter: Some(Box::new(BlockCutter::new(
                options,
                options.chunker().push(),
                None,
            ))),
            job: None,
            block: Vec::new(),
            spare: None,
            data: 0,
            capacity: 0,
            pending: VecDeque::new(),
            trash: Vec::new(),
            out: Handout::default(),
            read: 0,
            yielded: 0,
            eof: false,
            failed: None,
            last_sent: false,
            ended: false,
            started: false,
        };
        s = s.block_size(DEFAULT_BLOCK_SIZE);
        s
    }

    /// Hand each job `bytes` of input (default 4 MiB; clamped to two maximum chunk
    /// sizes..=256 MiB). Larger blocks cost fewer jobs, smaller ones bound memory: the
    /// stream holds at most four blocks of `block_size + max chunk size` bytes besides
    /// those your chunks point into. Call before the first poll; later calls are ignored.
    pub fn block_size(mut self, bytes: usize) -> Self {
        if !self.started {
            let max = self.options.config().max_size();
            self.data = bytes.clamp(2 * max, (256 << 20).max(2 * max));
            self.capacity = self.data + max;
        }
        self
    }

    /// Also compute a digest of the whole stream (for example a NarHash) in the same
    /// pass, off the async threads too; available from [`AsyncChunkStream::summary`]
    /// at the end. Call before the first poll; later calls are ignored.
    pub fn stream_digest(mut self, algorithm: HashAlgorithm) -> Self {
        if !self.started {
            self.cutter = Some(Box::new(BlockCutter::new(
                self.options,
                self.options.chunker().push(),
                Some(Hasher::new(algorithm)),
            )));
        }
        self
    }

    /// Bytes read from the reader so far.
    pub fn position(&self) -> u64 {
        self.read
    }

    /// Totals, once the stream has ended without error.
    pub fn summary(&self) -> Option<StreamSummary> {
        self.out.summary
    }

    /// The reader.
    pub fn get_ref(&self) -> &S {
        &self.source
    }

    /// Give back the reader (a job in flight is abandoned, as on drop).
    pub fn into_inner(self) -> S {
        self.source
    }

    /// The next chunk, `None` at the end.
    pub async fn next_chunk(&mut self) -> Option<Result<Chunk, StreamError>> {
        std::future::poll_fn(|cx| self.poll_next_chunk(cx)).await
    }

    /// Poll for the next chunk: `Ready(None)` at the end (and on every later call).
    /// The same as [`Stream::poll_next`], for manual polling without pinning.
    pub fn poll_next_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Chunk, StreamError>>> {
        self.started = true;
        let mut budget = POLL_READ_BUDGET;
        let mut calls = POLL_READ_CALLS;
        loop {
            if self.out.ready.is_empty() {
                if let Some(mut f) = self.pending.pop_front() {
                    if let Some(b) = self.out.reclaim() {
                        self.keep_spare(b);
                    }
                    self.out.freeze(f.block, f.base, &mut f.found);
                    continue;
                }
            }
            if !self.out.ready.is_empty() {
                // Keep the worker busy while the chunks are taken.
                self.submit();
                return Poll::Ready(self.next_out());
            }
            if self.ended {
                return Poll::Ready(self.next_out());
            }
            if let Some(rx) = self.job.as_mut() {
                match Pin::new(rx).poll(cx) {
                    Poll::Ready(Ok(done)) => {
                        self.job = None;
                        self.apply(done);
                        continue;
                    }
                    Poll::Ready(Err(oneshot::Canceled)) => {
                        self.job = None;
                        self.lost();
                        continue;
                    }
                    Poll::Pending => {}
                }
            }
            if self.submit() {
                continue;
            }
            if self.can_read() {
                if budget == 0 || calls == 0 {
                    // Yield: the next poll continues.
                    yield_now(cx);
                    return Poll::Pending;
                }
                calls -= 1;
                if self.block.capacity() == 0 {
                    self.block = self
                        .spare
                        .take()
                        .unwrap_or_else(|| Vec::with_capacity(self.capacity));
                }
                let want = budget.min(self.data - self.block.len());
                match self.source.poll_fill(cx, &mut self.block, want) {
                    Poll::Ready(Ok(0)) => self.eof = true,
                    Poll::Ready(Ok(n)) => {
                        self.read += n as u64;
                        budget = budget.saturating_sub(n);
                    }
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                    Poll::Ready(Err(e)) => self.failed = Some(e),
                    Poll::Pending => return Poll::Pending,
                }
                continue;
            }
            // Waiting for the job, whose waker is registered.
            return Poll::Pending;
        }
    }

    /// The next item of the handout (a chunk, or at the end the error or `None`).
    fn next_out(&mut self) -> Option<Result<Chunk, StreamError>> {
        if self.out.ready.is_empty() && self.ended {
            // The end: the handout's block goes with the others, off this thread.
            let last = self.out.reclaim();
            self.discard(last);
        }
        let (total, whole) = match self.cutter.as_deref() {
            Some(c) => (c.total(), c.whole()),
            None => (self.read, None),
        };
        let item = self.out.next(total, whole);
        if let Some(Ok(c)) = &item {
            self.yielded = c.offset + c.length as u64;
        }
        if self.out.done {
            let block = std::mem::take(&mut self.block);
            self.discard(Some(block));
            let spare = self.spare.take();
            self.discard(spare);
            let cutter = self.cutter.take();
            let trash = std::mem::take(&mut self.trash);
            if !trash.is_empty() || cutter.is_some() {
                self.offload.spawn(Box::new(move || drop((trash, cutter))));
            }
        }
        item
    }

    fn can_read(&self) -> bool {
        !self.eof && self.failed.is_none() && !self.last_sent && self.block.len() < self.data
    }

    fn keep_spare(&mut self, mut b: Vec<u8>) {
        if self.spare.is_none() && b.capacity() >= self.capacity && !self.last_sent {
            b.clear();
            self.spare = Some(b);
        } else {
            self.discard(Some(b));
        }
    }

    /// Free a block off this thread (with the next job, or at the end): unmapping
    /// megabytes is up to milliseconds of work that must not run in `poll`.
    fn discard(&mut self, block: Option<Vec<u8>>) {
        if let Some(b) = block.filter(|b| b.capacity() > 0) {
            self.trash.push(b);
        }
    }

    /// Start a job if the cutter is free and a block is full or the input is over.
    fn submit(&mut self) -> bool {
        if self.job.is_some() || self.last_sent || self.ended {
            return false;
        }
        let work = if self.eof || self.failed.is_some() {
            self.last_sent = true;
            Work::Last {
                block: std::mem::take(&mut self.block),
                complete: self.failed.is_none(),
            }
        } else if self.block.len() >= self.data {
            Work::Block(std::mem::take(&mut self.block))
        } else {
            return false;
        };
        let Some(cutter) = self.cutter.take() else {
            return false;
        };
        let (tx, rx) = oneshot::channel();
        self.job = Some(rx);
        let trash = std::mem::take(&mut self.trash);
        self.offload.spawn(Box::new(move || {
            drop(trash);
            // The stream was dropped: skip the work.
            if !tx.is_canceled() {
                let _ = tx.send(work.run(cutter));
            }
        }));
        true
    }

    /// A job came back.
    fn apply(&mut self, done: Done) {
        self.cutter = Some(done.cutter);
        for f in done.frozen {
            if f.found.is_empty() {
                // Nothing to hand out (the first block's predecessor, or an empty end).
                self.keep_spare(f.block);
            } else {
                self.pending.push_back(f);
            }
        }
        if let Some(b) = done.spare {
            self.keep_spare(b);
        }
        if self.last_sent {
            self.ended = true;
            if let Some(source) = self.failed.take() {
                self.out.error = Some(StreamError::Read {
                    offset: self.read,
                    source,
                });
            }
        }
    }

    /// The job never came back: end with an error after the chunks already cut.
    fn lost(&mut self) {
        let end = |found: &crate::io::Found| found.back().map(|(s, _)| s.offset + s.length as u64);
        let offset = (self.pending.iter().rev())
            .find_map(|f| end(&f.found))
            .or_else(|| end(&self.out.ready))
            .unwrap_or(self.yielded);
        self.out.error = Some(StreamError::Offload { offset });
        self.ended = true;
        let block = std::mem::take(&mut self.block);
        self.discard(Some(block));
    }
}

impl<S: AsyncSource + Unpin> Stream for AsyncChunkStream<S> {
    type Item = Result<Chunk, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_chunk(cx)
    }
}
