//! [`ReadAheadStream`]: a [`ChunkStream`] whose reads run on a second thread.
//!
//! The reader thread fills whole blocks straight from the reader (into spare capacity,
//! never zero-filled) while the calling thread cuts and hashes the previous block, so the
//! copy out of the page cache (or the wait for a pipe) overlaps with the chunking. Blocks
//! hold `max(2 × max chunk, read size)` bytes plus room for one maximum chunk: a chunk
//! that starts in one block and ends in the next is completed by copying its end (less
//! than one maximum chunk) onto the first block, so every payload is a zero-copy slice of
//! one block, as with [`ChunkStream`].

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use super::{hash_found, ChunkStream, Found, Handout, StreamError, StreamSummary};
use crate::cdc::PushChunker;
use crate::chunk::{Chunk, ChunkOptions};
use crate::hash::Hasher;

/// What the reader thread sends.
enum Msg {
    /// A block of input (full, except the last one).
    Data(Vec<u8>),
    /// The input ended after the blocks sent.
    End,
    /// The reader failed after the bytes in this (possibly empty) block.
    Fail(Vec<u8>, io::Error),
}

/// Chunks from a [`Read`] that is read on a second thread: the same chunks, digests and
/// summary as [`ChunkStream`], with reading overlapped with chunking and hashing. Made
/// by [`ChunkStream::read_ahead`].
///
/// Memory: three blocks of `max(2 × max chunk, read size) + max chunk` bytes (one being
/// read, one being cut, one that the chunks handed out point into), a fourth while one
/// is handed over; allocations are reused once you drop a block's chunks.
/// Dropping the stream stops the reader thread after its current read.
///
/// ```
/// use chunker::{ChunkOptions, HashAlgorithm, Preset};
///
/// let data: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2654435761) >> 9) as u8).collect();
/// let options = ChunkOptions::new(Preset::Small.config()).hash(Some(HashAlgorithm::Blake3));
/// let plain: Vec<_> = options.stream(&data[..]).collect::<Result<_, _>>()?;
/// let ahead: Vec<_> = options
///     .stream(std::io::Cursor::new(data.clone()))
///     .read_ahead()?
///     .collect::<Result<_, _>>()?;
/// assert_eq!(plain, ahead);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ReadAheadStream {
    /// The reader thread, joined once it has sent its last message (never on an early
    /// drop: it may be blocked in a read).
    thread: Option<std::thread::JoinHandle<()>>,
    blocks: Receiver<Msg>,
    recycle: SyncSender<Vec<u8>>,
    cut: BlockCutter,
    out: Handout,
    /// A read error that ends the input once the chunks before it are handed out.
    failed: Option<io::Error>,
    ended: bool,
}

/// Cuts and hashes a stream that arrives in whole blocks (each allocated with room for
/// one maximum chunk more than it holds): the part of [`ReadAheadStream`] that runs
/// without its reader, shared with the async streams, which run it off the async
/// worker threads.
#[derive(Debug)]
pub(crate) struct BlockCutter {
    options: ChunkOptions,
    push: PushChunker,
    whole: Option<Hasher>,
    /// Block whose chunks are being completed; `cur[0]` is at stream offset `cur_base`.
    cur: Vec<u8>,
    cur_base: u64,
    /// Chunks found in `cur`, hashed.
    found: Found,
    /// Bytes received.
    total: u64,
}

/// A block whose chunks are all known: hand them out with [`Handout::freeze`].
#[derive(Debug)]
pub(crate) struct Frozen {
    pub(crate) block: Vec<u8>,
    pub(crate) base: u64,
    pub(crate) found: Found,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Data(b) => write!(f, "Data({} bytes)", b.len()),
            Msg::End => write!(f, "End"),
            Msg::Fail(b, e) => write!(f, "Fail({} bytes, {e})", b.len()),
        }
    }
}

impl<R: Read + Send + 'static> ChunkStream<R> {
    /// Move the reading to a second thread: see [`ReadAheadStream`]. Keeps the read size
    /// and whole-stream digest set so far. Call it before the first `next()`; afterwards
    /// it fails with [`io::ErrorKind::InvalidInput`], as it does when no thread can be
    /// started.
    pub fn read_ahead(self) -> io::Result<ReadAheadStream> {
        if self.total != 0 || self.out.done {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "read_ahead must be called before the stream is read",
            ));
        }
        let max = self.options.config().max_size();
        let data = (2 * max).max(self.read_size);
        let capacity = data + max;
        let read_size = self.read_size;
        // A rendezvous: the reader fills the next block while this thread cuts one, and
        // hands it over when this thread is ready for it.
        let (block_tx, block_rx) = sync_channel(0);
        let (recycle_tx, recycle_rx) = sync_channel(2);
        let reader = self.reader;
        let thread = std::thread::Builder::new()
            .name("chunker-read-ahead".into())
            .spawn(move || {
                read_blocks(reader, data, capacity, read_size, &block_tx, &recycle_rx)
            })?;
        Ok(ReadAheadStream {
            thread: Some(thread),
            blocks: block_rx,
            recycle: recycle_tx,
            cut: BlockCutter::new(self.options, self.push, self.whole),
            out: Handout::default(),
            failed: None,
            ended: false,
        })
    }
}

/// The reader thread: blocks of `data` bytes (the last one shorter) in allocations of
/// `capacity`, each filled by reads of at most `read_size`.
fn read_blocks<R: Read>(
    mut reader: R,
    data: usize,
    capacity: usize,
    read_size: usize,
    out: &SyncSender<Msg>,
    recycled: &Receiver<Vec<u8>>,
) {
    loop {
        let mut block = recycled
            .try_recv()
            .ok()
            .filter(|b| b.capacity() >= capacity)
            .unwrap_or_else(|| Vec::with_capacity(capacity));
        block.clear();
        let mut eof = false;
        while block.len() < data {
            let want = read_size.min(data - block.len());
            // Appends into spare capacity (no zero-fill); retries short reads and
            // `Interrupted`; stops early only at the end of the input.
            match (&mut reader).take(want as u64).read_to_end(&mut block) {
                Ok(n) if n < want => {
                    eof = true;
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = out.send(Msg::Fail(block, e));
                    return;
                }
            }
        }
        if !block.is_empty() && out.send(Msg::Data(block)).is_err() {
            return; // the stream was dropped
        }
        if eof {
            let _ = out.send(Msg::End);
            return;
        }
    }
}

impl BlockCutter {
    pub(crate) fn new(options: ChunkOptions, push: PushChunker, whole: Option<Hasher>) -> Self {
        BlockCutter {
            options,
            push,
            whole,
            cur: Vec::new(),
            cur_base: 0,
            found: VecDeque::new(),
            total: 0,
        }
    }

    /// Bytes received so far.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The whole-stream hasher, if one was asked for.
    pub(crate) fn whole(&self) -> Option<&Hasher> {
        self.whole.as_ref()
    }

    /// Free the block in progress (the stream has ended).
    pub(crate) fn release(&mut self) {
        self.cur = Vec::new();
    }

    /// Cut a new block: complete the chunk that runs into it from `cur`, then either
    /// freeze `cur` (returned) and continue in the new block, or (when the chunk in
    /// progress runs through all of it, which only a short last block allows) append it
    /// to `cur` and give its allocation back (`Err`).
    pub(crate) fn take_block(&mut self, block: Vec<u8>) -> Result<Frozen, Vec<u8>> {
        let base = self.total;
        self.total += block.len() as u64;
        let mut fresh = VecDeque::new();
        let BlockCutter {
            push,
            cur,
            cur_base,
            found,
            options,
            whole,
            ..
        } = self;
        let first = found.len();
        for span in push.feed(&block) {
            if span.offset < base {
                // Started in `cur` (and may end there: a cut held back by the odd-remainder
                // rule is only released by more input). `cur` has room for the rest: less
                // than one max chunk.
                let end = span.offset + span.length as u64;
                let need = end.saturating_sub(base) as usize;
                let have = cur.len() - (base - *cur_base) as usize;
                if need > have {
                    cur.extend_from_slice(&block[have..need]);
                }
                found.push_back((span, None));
            } else {
                fresh.push_back((span, None));
            }
        }
        // The chunks that end in `cur` come first in the stream, then those in `block`.
        hash_found(options, whole.as_mut(), cur, *cur_base, found, first);
        hash_found(options, whole.as_mut(), &block, base, &mut fresh, 0);
        if self.push.chunk_start() < base {
            debug_assert!(fresh.is_empty());
            self.cur.extend_from_slice(&block);
            Err(block)
        } else {
            let frozen = self.freeze();
            self.cur = block;
            self.cur_base = base;
            self.found = fresh;
            Ok(frozen)
        }
    }

    /// `cur` is complete.
    fn freeze(&mut self) -> Frozen {
        Frozen {
            block: std::mem::take(&mut self.cur),
            base: self.cur_base,
            found: std::mem::take(&mut self.found),
        }
    }

    /// The input ended (`complete`: the last chunk is cut and hashed) or failed (the
    /// bytes after the last cut belong to no chunk): the last block to hand out.
    pub(crate) fn end(&mut self, complete: bool) -> Frozen {
        if complete {
            let first = self.found.len();
            self.found
                .extend(self.push.finish().map(|span| (span, None)));
            hash_found(
                &self.options,
                self.whole.as_mut(),
                &self.cur,
                self.cur_base,
                &mut self.found,
                first,
            );
        }
        self.freeze()
    }
}

impl ReadAheadStream {
    /// Bytes received from the reader so far.
    pub fn position(&self) -> u64 {
        self.cut.total()
    }

    /// Totals, once the stream has ended without error.
    pub fn summary(&self) -> Option<StreamSummary> {
        self.out.summary
    }

    /// Cut a new block; recycle it when it was appended to the block before.
    fn take_block(&mut self, block: Vec<u8>) {
        match self.cut.take_block(block) {
            Ok(frozen) => self.freeze(frozen),
            Err(appended) => {
                let _ = self.recycle.try_send(appended);
            }
        }
    }

    /// Hand out the chunks of a complete block.
    fn freeze(&mut self, mut frozen: Frozen) {
        // Hand the previous block's allocation back for reuse if no chunk holds it.
        if let Some(block) = self.out.reclaim() {
            let _ = self.recycle.try_send(block);
        }
        self.out
            .freeze(frozen.block, frozen.base, &mut frozen.found);
    }

    /// The input ended (or failed with `error`): the last chunk, then nothing more.
    fn end(&mut self, error: Option<io::Error>) {
        let frozen = self.cut.end(error.is_none());
        if let Some(source) = error {
            self.out.error = Some(StreamError::Read {
                offset: self.cut.total(),
                source,
            });
        }
        self.freeze(frozen);
        self.ended = true;
    }

    /// Wait for the reader thread, which has sent its last message (a panic in it is
    /// reported by the caller as an error).
    fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn fill(&mut self) {
        while self.out.ready.is_empty() && !self.ended {
            if let Some(e) = self.failed.take() {
                self.end(Some(e));
                break;
            }
            match self.blocks.recv() {
                Ok(Msg::Data(block)) => self.take_block(block),
                Ok(Msg::End) => {
                    self.join();
                    self.end(None);
                }
                Ok(Msg::Fail(block, e)) => {
                    self.join();
                    self.take_block(block);
                    self.failed = Some(e);
                }
                // Only a panic in the reader ends the thread without End or Fail.
                Err(_) => {
                    self.join();
                    self.end(Some(io::Error::other(
                        "the read-ahead thread stopped (the reader panicked)",
                    )));
                }
            }
        }
    }
}

impl Iterator for ReadAheadStream {
    type Item = Result<Chunk, StreamError>;

    fn next(&mut self) -> Option<Self::Item> {
        if !self.out.done && self.out.ready.is_empty() {
            self.fill();
        }
        let item = self.out.next(self.cut.total(), self.cut.whole());
        if self.out.done {
            self.cut.release();
        }
        item
    }
}
