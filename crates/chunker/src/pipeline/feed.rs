//! The reading thread: reads blocks, cuts them, and hands batches of chunks to the pool.

use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam_channel::Sender;

use super::budget::Budget;
use super::buffer::BlockPool;
use super::error::{panic_message, PipelineError};
use super::work::{Item, Spawner, Work};
use crate::cdc::{Chunker, Span};

/// What the reading side and the workers send to the consumer.
#[derive(Debug)]
pub(super) enum Msg {
    /// The items of batch `seq` (in order; the last may be an error).
    Batch(u64, Vec<Item>),
    /// No batch after `batches - 1`; the input was `length` bytes.
    End {
        /// Batches sent in all.
        batches: u64,
        /// Bytes read.
        length: u64,
    },
}

/// Split `spans` into runs of at least `target` bytes (the last may be shorter).
pub(super) fn group(spans: &[Span], target: usize) -> impl Iterator<Item = (&[Span], usize)> {
    let mut rest = spans;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut n = 0;
        while n < rest.len() && bytes < target {
            bytes += rest[n].length;
            n += 1;
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Some((head, bytes))
    })
}

/// Hand the chunks `spans` of `block` (first byte at `base`) to the pool in batches;
/// false once cancelled.
#[allow(clippy::too_many_arguments)]
pub(super) fn dispatch(
    spans: &[Span],
    block: &Bytes,
    base: u64,
    seq: &mut u64,
    batch_bytes: usize,
    work: &Arc<Work>,
    spawner: &Spawner,
    budget: &Arc<Budget>,
    results: &Sender<Msg>,
) -> bool {
    for (group, bytes) in group(spans, batch_bytes) {
        if !budget.acquire(bytes) {
            return false;
        }
        spawn_batch(
            group.to_vec(),
            block.clone(),
            base,
            *seq,
            work,
            spawner,
            budget,
            results,
        );
        *seq += 1;
    }
    true
}

/// Run one batch on the pool; its items go to `results` as batch `seq`.
#[allow(clippy::too_many_arguments)]
pub(super) fn spawn_batch(
    spans: Vec<Span>,
    block: Bytes,
    base: u64,
    seq: u64,
    work: &Arc<Work>,
    spawner: &Spawner,
    budget: &Arc<Budget>,
    results: &Sender<Msg>,
) {
    let (work, budget, results) = (Arc::clone(work), Arc::clone(budget), results.clone());
    spawner.spawn(move || {
        let items = work.batch(&block, base, &spans, &budget);
        drop(block);
        let _ = results.send(Msg::Batch(seq, items));
    });
}

/// A block and what ended it: see [`BlockSource::block`].
pub(super) type Block = (Bytes, Result<bool, PipelineError>);

/// Where the reading thread's blocks come from.
pub(super) trait BlockSource: Send + 'static {
    /// The next block: the stream's bytes from `base` on, that is `tail` (the bytes
    /// from `base` that the last block held) and then up to `want` new bytes. With it:
    /// `Ok(true)` at the end of the input, `Ok(false)` when there is more, or the error
    /// that stopped reading (the block then holds what was read before it).
    fn block(&mut self, tail: &Bytes, base: u64, want: usize) -> Block;
}

/// Blocks read from a [`Read`] into pooled buffers (the tail copied in front).
pub(super) struct ReadBlocks<R> {
    pub(super) reader: R,
    /// Bytes already read from `reader` (by the threshold probe): the first block.
    pub(super) prefix: Vec<u8>,
    pub(super) blocks: Arc<BlockPool>,
    /// The largest single read.
    pub(super) read_size: usize,
    /// The maximum chunk size (tails are shorter).
    pub(super) max_chunk: usize,
}

impl<R: Read + Send + 'static> BlockSource for ReadBlocks<R> {
    fn block(&mut self, tail: &Bytes, base: u64, want: usize) -> Block {
        if !self.prefix.is_empty() {
            let prefix = std::mem::take(&mut self.prefix);
            return (self.blocks.freeze(prefix), Ok(false));
        }
        // Room for any tail, so that blocks of one size are all reusable.
        let mut block = self.blocks.take(self.max_chunk + want);
        block.extend_from_slice(tail);
        let (reader, most) = (&mut self.reader, self.read_size);
        // Appends into spare capacity (no zero-fill), at most `most` bytes a read,
        // retries short reads and `Interrupted`, stops early only at the end of the input.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut got = 0;
            while got < want {
                let step = most.min(want - got);
                let n = reader.take(step as u64).read_to_end(&mut block)?;
                got += n;
                if n < step {
                    break;
                }
            }
            Ok::<_, std::io::Error>(got)
        }));
        let offset = base + block.len() as u64;
        let outcome = match outcome {
            Ok(Ok(n)) => Ok(n < want),
            Ok(Err(source)) => Err(PipelineError::Read { offset, source }),
            Err(p) => Err(PipelineError::Panicked {
                stage: "reader",
                offset,
                message: panic_message(&*p),
            }),
        };
        (self.blocks.freeze(block), outcome)
    }
}

/// The reading thread's state.
pub(super) struct Feeder<S> {
    pub(super) source: S,
    pub(super) work: Arc<Work>,
    pub(super) spawner: Spawner,
    pub(super) budget: Arc<Budget>,
    pub(super) results: Sender<Msg>,
    /// The whole-stream hasher's input, if one runs.
    pub(super) whole: Option<Sender<Bytes>>,
    /// First and largest block size (new bytes); blocks double from one to the other.
    pub(super) block_min: usize,
    pub(super) block_max: usize,
    pub(super) batch_bytes: usize,
}

impl<S: BlockSource> Feeder<S> {
    /// Read, cut and dispatch until the end, an error or cancellation.
    pub(super) fn run(mut self) {
        let chunker = *self.work.options.chunker();
        // The last block, first byte at `prev_base`; it holds the chunk in progress,
        // which starts at `base`.
        let mut prev = Bytes::new();
        let mut prev_base = 0u64;
        let mut base = 0u64;
        let mut total = 0u64;
        let mut seq = 0u64;
        let mut block_size = self.block_min;
        loop {
            if self.budget.is_cancelled() {
                return;
            }
            let tail = prev.slice((base - prev_base) as usize..);
            let fresh = tail.len();
            let (block, outcome) = self.source.block(&tail, base, block_size);
            drop(tail);
            total += (block.len() - fresh) as u64;
            if let Some(w) = &self.whole {
                if block.len() > fresh && w.send(block.slice(fresh..)).is_err() {
                    return;
                }
            }
            let eof = outcome.as_ref().is_ok_and(|eof| *eof);
            let spans = cut_block(&chunker, &self.spawner, &block, base, eof);
            let sent = dispatch(
                &spans,
                &block,
                base,
                &mut seq,
                self.batch_bytes,
                &self.work,
                &self.spawner,
                &self.budget,
                &self.results,
            );
            if !sent {
                return;
            }
            prev = block;
            prev_base = base;
            base = spans.last().map_or(base, |s| s.offset + s.length as u64);
            match outcome {
                Ok(false) => block_size = (block_size * 2).min(self.block_max),
                Ok(true) => {
                    let _ = self.results.send(Msg::End {
                        batches: seq,
                        length: total,
                    });
                    return;
                }
                Err(e) => {
                    let _ = self.results.send(Msg::Batch(seq, vec![Err(e)]));
                    let _ = self.results.send(Msg::End {
                        batches: seq + 1,
                        length: total,
                    });
                    return;
                }
            }
        }
    }
}

/// Blocks at least this long are cut on the pool (when it has more than one thread).
const PARALLEL_CUT_BYTES: usize = 4 << 20;

/// The chunks of `block` (whose first byte, at stream offset `base`, starts a chunk)
/// that the bytes in it make final, at stream offsets: all of them at the end of the
/// input (`eof`), else all but the last, which may go on past the block and is cut again
/// with the next one. Large blocks are cut on the pool ([`Chunker::spans_segmented`]: the
/// same cut points, found in parallel), so that cutting does not hold one thread while
/// the others hash.
pub(super) fn cut_block(
    chunker: &Chunker,
    spawner: &Spawner,
    block: &[u8],
    base: u64,
    eof: bool,
) -> Vec<Span> {
    let threads = spawner.threads();
    let mut spans: Vec<Span> = if threads > 1 && block.len() >= PARALLEL_CUT_BYTES {
        // Two segments per thread, each at least a few maximum-size chunks long so that
        // re-synchronising at its start costs little.
        let segment = block
            .len()
            .div_ceil(2 * threads)
            .max(4 * chunker.config().max_size());

        spawner.install(|| chunker.spans_segmented(block, segment))
    } else {
        chunker.spans(block).collect()
    };
    if !eof {
        spans.pop();
    }
    for s in &mut spans {
        s.offset += base;
    }
    spans
}
