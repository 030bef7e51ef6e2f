//! The reading thread: reads blocks, cuts them, and hands batches of chunks to the pool.

use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender};

use super::budget::Budget;
use super::buffer::BlockPool;
use super::error::{panic_message, PipelineError};
use super::work::{Item, Spawner, Work};
use crate::cdc::{Chunker, Span};
use crate::hash::{hash_many, Digest, HashAlgorithm};

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

/// Run one batch on the pool; its items go to `results` as batch `seq`.
#[allow(clippy::too_many_arguments)]
pub(super) fn spawn_batch(
    spans: Vec<Span>,
    known: Option<Vec<Option<Digest>>>,
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
        let items = work.batch(&block, base, &spans, known, &budget);
        drop(block);
        let _ = results.send(Msg::Batch(seq, items));
    });
}

/// A block of the input, as a [`BlockSource`] hands it out.
pub(super) struct Block {
    /// Stream bytes from `start` on: the last bytes of the previous block (at least a
    /// maximum chunk of them, or all there were), then the new ones from `fresh` on.
    pub(super) data: Bytes,
    /// Stream offset of `data[0]`.
    pub(super) start: u64,
    /// Where the new bytes begin in `data`.
    pub(super) fresh: usize,
    /// `Ok(true)` at the end of the input, `Ok(false)` when there is more, or the error
    /// that stopped reading (`data` then holds what was read before it).
    pub(super) outcome: Result<bool, PipelineError>,
}

/// Where the reading thread's blocks come from.
pub(super) trait BlockSource: Send + 'static {
    /// The next block: the end of the previous one (see [`Block::data`]) and up to
    /// `want` new bytes.
    fn next_block(&mut self, want: usize) -> Block;
}

/// Blocks read from a [`Read`] into pooled buffers (the end of the previous block
/// copied in front).
pub(super) struct ReadBlocks<R> {
    pub(super) reader: R,
    /// Bytes already read from `reader` (by the threshold probe): the first block.
    pub(super) prefix: Vec<u8>,
    pub(super) blocks: Arc<BlockPool>,
    /// The largest single read.
    pub(super) read_size: usize,
    /// Bytes of the previous block repeated in front of the next: a maximum chunk.
    pub(super) overlap: usize,
    /// The previous block and the stream offset just past it.
    pub(super) last: Bytes,
    pub(super) offset: u64,
}

impl<R: Read + Send + 'static> ReadBlocks<R> {
    pub(super) fn new(
        reader: R,
        prefix: Vec<u8>,
        blocks: Arc<BlockPool>,
        read_size: usize,
        overlap: usize,
    ) -> ReadBlocks<R> {
        ReadBlocks {
            reader,
            prefix,
            blocks,
            read_size,
            overlap,
            last: Bytes::new(),
            offset: 0,
        }
    }
}

impl<R: Read + Send + 'static> BlockSource for ReadBlocks<R> {
    fn next_block(&mut self, want: usize) -> Block {
        if !self.prefix.is_empty() {
            let prefix = std::mem::take(&mut self.prefix);
            self.offset = prefix.len() as u64;
            self.last = self.blocks.freeze(prefix);
            return Block {
                data: self.last.clone(),
                start: 0,
                fresh: 0,
                outcome: Ok(false),
            };
        }
        let keep = self.last.len().min(self.overlap);
        // Room for the overlap, so that blocks of one size are all reusable.
        let mut block = self.blocks.take(self.overlap + want);
        block.extend_from_slice(&self.last[self.last.len() - keep..]);
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
        let start = self.offset - keep as u64;
        self.offset = start + block.len() as u64;
        let offset = self.offset;
        let outcome = match outcome {
            Ok(Ok(n)) => Ok(n < want),
            Ok(Err(source)) => Err(PipelineError::Read { offset, source }),
            Err(p) => Err(PipelineError::Panicked {
                stage: "reader",
                offset,
                message: panic_message(&*p),
            }),
        };
        self.last = self.blocks.freeze(block);
        Block {
            data: self.last.clone(),
            start,
            fresh: keep,
            outcome,
        }
    }
}

/// One segment's speculative cut: chunk ends from the segment's first byte on, as if a
/// chunk started there, until one lands at or past the segment's end; and the digests
/// of those chunks but the first (which only holds if the true sequence starts there)
/// and one that the block's end cuts short.
struct Speculation {
    ends: Vec<usize>,
    /// `digests[i - 1]` is chunk `i`'s (for the chunks that have one).
    digests: Option<Vec<Digest>>,
}

/// A block whose segments are being cut (and hashed) on the pool.
struct InFlight {
    block: Block,
    /// Segment starts (in `block.data`).
    starts: Vec<usize>,
    results: Receiver<(usize, std::thread::Result<Speculation>)>,
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
    ///
    /// Blocks are read ahead of the cut: each block's segments are cut and hashed on
    /// the pool (speculatively, see [`Speculation`]) while this thread reads the next
    /// block and then stitches the previous one's segments into the true chunk
    /// sequence ([`stitch`]). Read bytes are counted in the budget as they are read.
    pub(super) fn run(mut self) {
        let chunker = *self.work.options.chunker();
        let threads = self.spawner.threads().max(1);
        let max = chunker.config().max_size();
        // Blocks read ahead: enough segments queued for every thread twice over.
        let per_block = (self.block_max / (4 * max)).clamp(1, threads);
        let ahead = (2 * threads).div_ceil(per_block).clamp(2, 8);
        // Where the true chunk sequence is: the chunk in progress starts here.
        let mut base = 0u64;
        let mut total = 0u64;
        let mut seq = 0u64;
        let mut block_size = self.block_min;
        let mut queue: std::collections::VecDeque<InFlight> = Default::default();
        let mut reading = true;
        loop {
            // Hand out every block whose segments are all cut: what is ready never
            // waits for a read.
            while queue
                .front()
                .is_some_and(|f| f.results.len() == f.starts.len())
            {
                let front = queue.pop_front().expect("checked above");
                let Some(next) = self.finish(&chunker, front, base, &mut seq) else {
                    return;
                };
                base = next;
            }
            if queue.is_empty() && !reading {
                let _ = self.results.send(Msg::End {
                    batches: seq,
                    length: total,
                });
                return;
            }
            if reading && queue.len() < ahead {
                if self.budget.is_cancelled() {
                    return;
                }
                // Wait for room only when nothing earlier is left to hand out; then
                // the chunk in progress (read, counted, not handed out) is counted
                // again with the new block, so that the wait ends once the consumer
                // has taken what was handed out.
                let room = if queue.is_empty() {
                    let carry = (total - base) as usize;
                    self.budget.release(carry);
                    if !self.budget.acquire(block_size + carry) {
                        return;
                    }
                    true
                } else {
                    self.budget.try_acquire(block_size)
                };
                if room {
                    let block = self.source.next_block(block_size);
                    let fresh = block.data.len() - block.fresh;
                    self.budget.release(block_size.saturating_sub(fresh));
                    total += fresh as u64;
                    if let Some(w) = &self.whole {
                        if fresh > 0 && w.send(block.data.slice(block.fresh..)).is_err() {
                            return;
                        }
                    }
                    reading = matches!(block.outcome, Ok(false));
                    if reading {
                        block_size = (block_size * 2).min(self.block_max);
                    }
                    queue.push_back(self.speculate(&chunker, block, threads));
                    continue;
                }
            }
            // Nothing to read now: wait for the oldest block's segments.
            let Some(front) = queue.pop_front() else {
                return;
            };
            let Some(next) = self.finish(&chunker, front, base, &mut seq) else {
                return;
            };
            base = next;
        }
    }

    /// Start cutting `block`'s segments on the pool.
    fn speculate(&self, chunker: &Chunker, block: Block, threads: usize) -> InFlight {
        let len = block.data.len();
        let max = chunker.config().max_size();
        // One segment per thread, each a few maximum chunks at least: re-synchronising
        // at a segment's start costs about a chunk.
        let segment = (len - block.fresh).div_ceil(threads).max(4 * max).max(1);
        // From the first new byte: the bytes before it repeat the previous block's end,
        // which the chunk in progress covers; the stitch cuts that chunk from its start.
        let starts: Vec<usize> = (block.fresh..len).step_by(segment).collect();
        let (tx, rx) = crossbeam_channel::bounded(starts.len());
        let eof = matches!(block.outcome, Ok(true));
        let algorithm = self.work.options.hash_algorithm();
        for (i, &s) in starts.iter().enumerate() {
            let (tx, data, chunker) = (tx.clone(), block.data.clone(), *chunker);
            let end = (s + segment).min(len);
            self.spawner.spawn(move || {
                let r = catch_unwind(AssertUnwindSafe(|| {
                    speculate(&chunker, algorithm, &data, s, end, eof)
                }));
                let _ = tx.send((i, r));
            });
        }
        InFlight {
            block,
            starts,
            results: rx,
        }
    }

    /// Stitch `f`'s segments from `base` on, hand its chunks out (to the pool when they
    /// are to be compressed) and report a read error; where the chunk in progress
    /// starts next, or `None` when finished (error, cancelled).
    fn finish(&self, chunker: &Chunker, f: InFlight, base: u64, seq: &mut u64) -> Option<u64> {
        let mut specs: Vec<Option<Speculation>> = (0..f.starts.len()).map(|_| None).collect();
        let mut failure = None;
        for _ in 0..f.starts.len() {
            match f.results.recv() {
                Ok((i, Ok(s))) => specs[i] = Some(s),
                Ok((_, Err(p))) => failure = Some(panic_message(&*p)),
                Err(_) => failure = Some("a segment's task was dropped".into()),
            }
        }
        let block = f.block;
        let cutter = |message: String| PipelineError::Panicked {
            stage: "cutter",
            offset: base,
            message,
        };
        if let Some(message) = failure {
            self.fail(*seq, cutter(message), base);
            return None;
        }
        let eof = matches!(block.outcome, Ok(true));
        // A block repeats the chunk in progress; only the empty block of a failed map
        // does not, and then its error is all that is left.
        let Some(from) = base.checked_sub(block.start).map(|f| f as usize) else {
            let e = match block.outcome {
                Err(e) => e,
                Ok(_) => PipelineError::Panicked {
                    stage: "reader",
                    offset: base,
                    message: "a block does not hold the chunk in progress".into(),
                },
            };
            self.fail(*seq, e, block.start);
            return None;
        };
        let segments: Vec<(usize, Speculation)> = f
            .starts
            .iter()
            .copied()
            .zip(
                specs
                    .into_iter()
                    .map(|s| s.expect("every segment reported")),
            )
            .collect();
        let algorithm = self.work.options.hash_algorithm();
        let stitched = catch_unwind(AssertUnwindSafe(|| {
            stitch(chunker, algorithm, &block.data, from, eof, &segments)
        }));
        let (mut spans, digests, end) = match stitched {
            Ok(s) => s,
            Err(p) => {
                self.fail(*seq, cutter(panic_message(&*p)), base);
                return None;
            }
        };
        for s in &mut spans {
            s.offset += block.start;
        }
        let mut digests = digests.into_iter();
        for (group, _) in group(&spans, self.batch_bytes) {
            if self.budget.is_cancelled() {
                return None;
            }
            let known: Vec<Option<Digest>> = digests.by_ref().take(group.len()).collect();
            if self.work.compressor.is_some() {
                spawn_batch(
                    group.to_vec(),
                    Some(known),
                    block.data.clone(),
                    block.start,
                    *seq,
                    &self.work,
                    &self.spawner,
                    &self.budget,
                    &self.results,
                );
            } else {
                let items =
                    self.work
                        .batch(&block.data, block.start, group, Some(known), &self.budget);
                let _ = self.results.send(Msg::Batch(*seq, items));
            }
            *seq += 1;
        }
        let next = block.start + end as u64;
        match block.outcome {
            Ok(_) => Some(next),
            Err(e) => {
                self.fail(*seq, e, block.start + block.data.len() as u64);
                None
            }
        }
    }

    /// End the output with `e` as batch `seq` (the input was `length` bytes).
    fn fail(&self, seq: u64, e: PipelineError, length: u64) {
        let _ = self.results.send(Msg::Batch(seq, vec![Err(e)]));
        let _ = self.results.send(Msg::End {
            batches: seq + 1,
            length,
        });
    }
}

/// The speculative cut of `data[start..end]` (see [`Speculation`]).
fn speculate(
    chunker: &Chunker,
    algorithm: Option<HashAlgorithm>,
    data: &[u8],
    start: usize,
    end: usize,
    eof: bool,
) -> Speculation {
    let mut ends = Vec::with_capacity((end - start) / chunker.config().avg_size() + 2);
    let mut pos = start;
    while pos < end {
        pos += chunker.cut(&data[pos..]);
        ends.push(pos);
    }
    let last = match ends.last() {
        Some(&e) if e == data.len() && !eof => ends.len() - 1,
        _ => ends.len(),
    };
    let digests = algorithm.map(|a| {
        let messages: Vec<&[u8]> = (1..last).map(|i| &data[ends[i - 1]..ends[i]]).collect();
        hash_many(a, &messages)
    });
    Speculation { ends, digests }
}

/// The true chunks of `data` from `from` (where one starts) that its bytes make final
/// (all of them at the end of the input, `eof`; else all but one the block's end cuts
/// short), from the segments' speculations: a cut point depends only on where its
/// chunk starts and the bytes after it, so once the true sequence lands on a
/// speculative boundary the rest of that speculation is exact. Returns the chunks
/// (offsets in `data`), their digests (taken from the speculation, or computed here
/// for the chunks it does not have) and where the chunk in progress starts.
fn stitch(
    chunker: &Chunker,
    algorithm: Option<HashAlgorithm>,
    data: &[u8],
    from: usize,
    eof: bool,
    segments: &[(usize, Speculation)],
) -> (Vec<Span>, Vec<Option<Digest>>, usize) {
    let final_end = |e: usize| eof || e < data.len();
    let mut spans: Vec<Span> = Vec::new();
    // For each span: its digest's place in the speculation, or `None` to compute here.
    let mut known: Vec<Option<(usize, usize)>> = Vec::new();
    let mut pos = from;
    let mut done = false;
    let push = |spans: &mut Vec<Span>, a: usize, b: usize| {
        spans.push(Span {
            offset: a as u64,
            length: b - a,
        })
    };
    'segments: for (j, (start, spec)) in segments.iter().enumerate() {
        let ends = &spec.ends;
        let mut i = 0;
        loop {
            while i < ends.len() && ends[i] < pos {
                i += 1;
            }
            // On the segment's start or one of its boundaries: adopt the rest.
            let adopt_from = if pos == *start {
                Some(0)
            } else if i < ends.len() && ends[i] == pos {
                Some(i + 1)
            } else {
                None
            };
            if let Some(first) = adopt_from {
                for (k, &e) in ends.iter().enumerate().skip(first) {
                    if !final_end(e) {
                        done = true;
                        break 'segments;
                    }
                    push(&mut spans, pos, e);
                    known.push(k.checked_sub(1).map(|d| (j, d)));
                    pos = e;
                }
                break;
            }
            if i == ends.len() {
                // Past this segment's speculation: the next one takes over.
                break;
            }
            let e = pos + chunker.cut(&data[pos..]);
            if !final_end(e) {
                done = true;
                break 'segments;
            }
            push(&mut spans, pos, e);
            known.push(None);
            pos = e;
        }
    }
    // Past the last speculation (only when it never synchronised): finish serially.
    while !done && pos < data.len() {
        let e = pos + chunker.cut(&data[pos..]);
        if !final_end(e) {
            break;
        }
        push(&mut spans, pos, e);
        known.push(None);
        pos = e;
    }
    let digests = match algorithm {
        None => vec![None; spans.len()],
        Some(a) => {
            let missing: Vec<&[u8]> = spans
                .iter()
                .zip(&known)
                .filter(|(_, k)| k.is_none())
                .map(|(s, _)| &data[s.offset as usize..][..s.length])
                .collect();
            let mut computed = hash_many(a, &missing).into_iter();
            known
                .iter()
                .map(|k| match k {
                    Some((j, d)) => segments[*j].1.digests.as_ref().map(|v| v[*d]),
                    None => computed.next(),
                })
                .collect()
        }
    };
    (spans, digests, pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdc::Config;
    use crate::hash::hash;

    /// `n` bytes of a kind: 0 random, 1 text-like, 2 uniform (never synchronises).
    fn data(kind: u8, n: usize) -> Vec<u8> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let words = [&b"store "[..], b"nix ", b"/lib/", b"chunk\n", b"hash "];
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match kind {
                0 => out.extend_from_slice(&x.to_le_bytes()),
                1 => out.extend_from_slice(words[(x % 5) as usize]),
                _ => out.push(7),
            }
        }
        out.truncate(n);
        out
    }

    #[test]
    fn stitched_speculation_equals_the_serial_cut() {
        for (min, avg, max) in [(64, 256, 1024), (256, 1024, 4096)] {
            let chunker = Chunker::new(Config::new(min, avg, max).unwrap());
            for kind in 0..3 {
                let d = data(kind, 60_000);
                for from in [0, 1, 777] {
                    for fresh in [from, from + 300, from + 3000] {
                        for segment in [4096, 5000, 30_000, 100_000] {
                            for eof in [true, false] {
                                for algorithm in [None, Some(HashAlgorithm::Sha256)] {
                                    let segments: Vec<(usize, Speculation)> = (fresh..d.len())
                                        .step_by(segment)
                                        .map(|s| {
                                            let end = (s + segment).min(d.len());
                                            (s, speculate(&chunker, algorithm, &d, s, end, eof))
                                        })
                                        .collect();
                                    let (spans, digests, end) =
                                        stitch(&chunker, algorithm, &d, from, eof, &segments);
                                    let mut want = Vec::new();
                                    let mut pos = from;
                                    while pos < d.len() {
                                        let e = pos + chunker.cut(&d[pos..]);
                                        if e == d.len() && !eof {
                                            break;
                                        }
                                        want.push(Span {
                                            offset: pos as u64,
                                            length: e - pos,
                                        });
                                        pos = e;
                                    }
                                    let case = (min, kind, from, fresh, segment, eof);
                                    assert_eq!(spans, want, "{case:?}");
                                    assert_eq!(end, pos, "{case:?}");
                                    for (s, dg) in spans.iter().zip(&digests) {
                                        let bytes = &d[s.offset as usize..][..s.length];
                                        assert_eq!(
                                            *dg,
                                            algorithm.map(|a| hash(a, bytes)),
                                            "{case:?}"
                                        );
                                    }
                                    assert_eq!(digests.len(), spans.len());
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
