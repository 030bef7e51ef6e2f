//! Multi-core boundary search for one large in-memory input, with exact cut points.
//!
//! The input is cut into segments, one rayon task each. Task `j` chunks its segment as
//! if a chunk started at the segment's first byte, and keeps going until a cut lands at
//! or past the next segment's start. Those speculative cuts are exact *from any of
//! them on* as soon as the true chunk sequence reaches one of them: a cut point depends
//! only on where its chunk starts and on the bytes after it. So the stitch walks the
//! segments in order, follows the true cut sequence (computing it sequentially where it
//! must) until it lands on a boundary of the next segment's speculation, then adopts
//! the rest of that speculation. On real data the true sequence meets the speculation
//! within a chunk or two; on data where it never does (uniform bytes cut at the maximum
//! size from a different phase), the stitch computes everything itself: slower, never
//! wrong.

use rayon::prelude::*;

use crate::engine::{Chunker, Span};

/// Inputs smaller than this are chunked on the calling thread.
pub(crate) const MIN_PARALLEL_BYTES: usize = 4 << 20;

impl Chunker {
    /// The chunk spans of `data`, searched on the current rayon pool (the global one, or
    /// yours inside [`rayon::ThreadPool::install`]). Identical to
    /// `self.spans(data).collect()`; small inputs and one-thread pools run serially.
    ///
    /// ```
    /// use chunker_cdc::{Chunker, Config};
    ///
    /// let data: Vec<u8> = (0..20_000_000u32).map(|i| (i.wrapping_mul(2654435761) >> 15) as u8).collect();
    /// let chunker = Chunker::new(Config::new(16 << 10, 64 << 10, 256 << 10)?);
    /// let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    /// let spans = pool.install(|| chunker.spans_parallel(&data));
    /// assert_eq!(spans, chunker.spans(&data).collect::<Vec<_>>());
    /// # Ok::<(), chunker_cdc::ConfigError>(())
    /// ```
    pub fn spans_parallel(&self, data: &[u8]) -> Vec<Span> {
        let threads = rayon::current_num_threads();
        if threads <= 1 || data.len() < MIN_PARALLEL_BYTES {
            return self.spans(data).collect();
        }
        // A few segments per thread balance uneven speculation; each is at least
        // 16 maximum-size chunks long so the stitch's extra work stays small.
        let segment = (data.len() / (4 * threads)).max(16 * self.config().max_size());
        self.spans_segmented(data, segment)
    }

    /// [`Chunker::spans_parallel`] with a given segment length (tests use small ones).
    /// Each segment's speculation scans at least one chunk, so segments much shorter
    /// than a chunk waste work; at least 4096 bytes are used.
    #[doc(hidden)]
    pub fn spans_segmented(&self, data: &[u8], segment: usize) -> Vec<Span> {
        let segment = segment.max(4096);
        let starts: Vec<usize> = (0..data.len()).step_by(segment).collect();
        // Speculative chunk ends of each segment, from its start until at or past the
        // next segment's start.
        let speculative: Vec<Vec<usize>> = starts
            .par_iter()
            .map(|&start| {
                let end = (start + segment).min(data.len());
                let mut ends = Vec::new();
                let mut pos = start;
                while pos < end {
                    pos += self.cut(&data[pos..]);
                    ends.push(pos);
                }
                ends
            })
            .collect();

        let mut spans = Vec::with_capacity(data.len() / self.config().avg_size() + 1);
        let mut pos = 0usize;
        fn push(spans: &mut Vec<Span>, from: usize, to: usize) {
            spans.push(Span {
                offset: from as u64,
                length: to - from,
            });
        }
        for (j, ends) in speculative.iter().enumerate() {
            let start = starts[j];
            // The true sequence is at `pos` (>= start). Catch up with this segment's
            // speculation: adopt it from the first speculative boundary we land on.
            let mut i = 0;
            loop {
                while i < ends.len() && ends[i] < pos {
                    i += 1;
                }
                if pos == start || (i < ends.len() && ends[i] == pos) {
                    // On a speculative boundary (or the segment start): the rest is exact.
                    let from_idx = if pos == start { 0 } else { i + 1 };
                    for &e in &ends[from_idx..] {
                        push(&mut spans, pos, e);
                        pos = e;
                    }
                    break;
                }
                if i == ends.len() {
                    // Past this segment's speculation: the next segment takes over.
                    break;
                }
                let len = self.cut(&data[pos..]);
                push(&mut spans, pos, pos + len);
                pos += len;
            }
        }
        // Past the last speculation (only when it never synchronised): finish serially.
        while pos < data.len() {
            let len = self.cut(&data[pos..]);
            push(&mut spans, pos, pos + len);
            pos += len;
        }
        spans
    }
}
