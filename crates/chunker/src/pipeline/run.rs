//! [`ProcessedChunks`]: the ordered output of a running pipeline.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, TryRecvError};

use super::budget::Budget;
use super::error::PipelineError;
use super::feed::{group, spawn_batch, Msg};
use super::work::{Item, Spawner, Work};
use super::ProcessedChunk;
use crate::cdc::Span;
use crate::hash::{Digest, Hasher};
use crate::io::StreamSummary;

/// The chunks of one input, processed, in input order: an iterator of
/// `Result<ProcessedChunk, PipelineError>`. Made by the source methods of
/// [`Pipeline`](super::Pipeline).
///
/// An error is one item at its place in the order and ends the output. Dropping this
/// before the end stops every thread the pipeline started and waits for them (a reader
/// blocked in `read` is waited for until that read returns).
#[derive(Debug)]
pub struct ProcessedChunks {
    state: State,
    summary: Option<StreamSummary>,
}

#[derive(Debug)]
enum State {
    Serial(Box<Serial>),
    Parallel(Box<Parallel>),
    Done,
}

/// Small inputs: everything on the caller's thread.
#[derive(Debug)]
pub(super) struct Serial {
    pub(super) work: Work,
    pub(super) data: Bytes,
    pub(super) pos: usize,
    pub(super) whole: Option<Hasher>,
    /// Chunks end at or before this; `data.len()` unless a read failed, when it is the
    /// end of the last chunk that the bytes read made final.
    pub(super) limit: usize,
    /// An error after the chunks (the read that failed).
    pub(super) error: Option<PipelineError>,
    pub(super) chunks: u64,
    /// Counts not yet flushed to the metrics.
    #[cfg(feature = "metrics")]
    pub(super) tally: super::metrics::Tally,
}

/// The pool the pipeline owns (`Pipeline::threads`): joined when the output ends.
#[derive(Debug)]
pub(super) struct OwnedPool {
    pub(super) pool: Arc<rayon::ThreadPool>,
    /// Threads still running, counted down by rayon's exit handler.
    pub(super) running: Arc<(Mutex<usize>, Condvar)>,
}

impl OwnedPool {
    fn join(self) {
        drop(self.pool);
        let (count, zero) = &*self.running;
        let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
        while *n > 0 {
            n = zero.wait(n).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// In-memory input cut up front; batches dispatched from `next()`.
#[derive(Debug)]
pub(super) struct InMemory {
    pub(super) data: Bytes,
    pub(super) spans: Vec<Span>,
    pub(super) next: usize,
    /// The consumer's sender for the workers.
    pub(super) results: Sender<Msg>,
}

#[derive(Debug)]
pub(super) struct Parallel {
    pub(super) work: Arc<Work>,
    pub(super) spawner: Spawner,
    pub(super) budget: Arc<Budget>,
    pub(super) batch_bytes: usize,
    pub(super) results: Receiver<Msg>,
    pub(super) memory: Option<InMemory>,
    pub(super) reader: Option<JoinHandle<()>>,
    pub(super) hasher: Option<JoinHandle<Digest>>,
    pub(super) owned: Option<OwnedPool>,
    pub(super) pending: BTreeMap<u64, Vec<Item>>,
    pub(super) current: std::vec::IntoIter<Item>,
    pub(super) next_seq: u64,
    pub(super) seq: u64,
    /// Batches in all and input length, once known.
    pub(super) end: Option<(u64, u64)>,
    pub(super) chunks: u64,
    pub(super) yielded: u64,
    /// Bytes of the current batch handed out, not yet counted back in the budget.
    pub(super) taken: usize,
}

impl Parallel {
    /// Hand more in-memory batches to the pool, as many as the budget allows.
    fn dispatch_more(&mut self) {
        let Some(m) = self.memory.as_mut() else {
            return;
        };
        while m.next < m.spans.len() {
            let Some((g, bytes)) = group(&m.spans[m.next..], self.batch_bytes).next() else {
                break;
            };
            if !self.budget.try_acquire(bytes) {
                return;
            }
            let n = g.len();
            spawn_batch(
                g.to_vec(),
                None,
                m.data.clone(),
                0,
                self.seq,
                &self.work,
                &self.spawner,
                &self.budget,
                &m.results,
            );
            self.seq += 1;
            m.next += n;
        }
        self.end = Some((self.seq, m.data.len() as u64));
        self.memory = None;
    }

    /// The next message; on one of the pool's threads, run queued jobs while waiting.
    fn recv(&self) -> Option<Msg> {
        if !self.spawner.on_pool() {
            return self.results.recv().ok();
        }
        loop {
            match self.results.try_recv() {
                Ok(m) => return Some(m),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {
                    if !self.spawner.run_one() {
                        match self.results.recv_timeout(Duration::from_micros(200)) {
                            Ok(m) => return Some(m),
                            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                            Err(_) => return None,
                        }
                    }
                }
            }
        }
    }

    fn next(&mut self) -> Step {
        loop {
            if let Some(item) = self.current.next() {
                return match item {
                    Ok(c) => {
                        let z = c.compressed.as_ref().map_or(0, |z| z.data.len());
                        self.taken += c.length + z;
                        self.chunks += 1;
                        self.yielded = c.offset + c.length as u64;
                        Step::Item(Ok(c))
                    }
                    Err(e) => Step::Last(e),
                };
            }
            if self.taken > 0 {
                // Counted back once per batch: one lock per batch, not per chunk.
                self.budget.release(std::mem::take(&mut self.taken));
            }
            if let Some(batch) = self.pending.remove(&self.next_seq) {
                self.current = batch.into_iter();
                self.next_seq += 1;
                continue;
            }
            self.dispatch_more();
            if let Some((batches, length)) = self.end {
                if self.next_seq == batches {
                    return Step::End(length);
                }
            }
            match self.recv() {
                Some(Msg::Batch(seq, items)) => {
                    self.pending.insert(seq, items);
                }
                Some(Msg::End { batches, length }) => self.end = Some((batches, length)),
                None => {
                    return Step::Last(PipelineError::Panicked {
                        stage: "reader",
                        offset: self.yielded,
                        message: "the pipeline's threads stopped before the end".into(),
                    })
                }
            }
        }
    }

    /// Stop and join every thread; the whole-stream digest if it was computed.
    fn shutdown(&mut self) -> Option<Digest> {
        let finished = self.end.is_some_and(|(b, _)| b == self.next_seq);
        if !finished {
            self.budget.cancel();
        }
        self.results = crossbeam_channel::never();
        self.memory = None;
        self.pending.clear();
        if let Some(t) = self.reader.take() {
            let _ = t.join();
        }
        let digest = self.hasher.take().and_then(|h| h.join().ok());
        // Our handle on an owned pool must go for the pool to stop.
        self.spawner = Spawner::Global;
        if let Some(p) = self.owned.take() {
            p.join();
        }
        digest.filter(|_| finished)
    }
}

enum Step {
    Item(Item),
    Last(PipelineError),
    End(u64),
}

impl Drop for Parallel {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl ProcessedChunks {
    pub(super) fn serial(s: Serial) -> Self {
        ProcessedChunks {
            state: State::Serial(Box::new(s)),
            summary: None,
        }
    }

    pub(super) fn parallel(p: Parallel) -> Self {
        ProcessedChunks {
            state: State::Parallel(Box::new(p)),
            summary: None,
        }
    }

    /// Totals (length, chunks, whole-stream digest), once the output has ended without
    /// error.
    pub fn summary(&self) -> Option<StreamSummary> {
        self.summary
    }

    /// Whether the work runs on a pool (`false`: the input was below the thresholds and
    /// everything runs on the calling thread). `false` too once the output has ended.
    pub fn is_parallel(&self) -> bool {
        matches!(self.state, State::Parallel(_))
    }

    /// The sink form: hand every chunk to `sink`, in order, and return the summary.
    /// Stops at the first error, the pipeline's (converted with `From`) or the sink's.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use chunker::pipeline::{Pipeline, PipelineError};
    /// use chunker::{ChunkOptions, HashAlgorithm, Preset};
    ///
    /// let data = Bytes::from(vec![7u8; 100_000]);
    /// let pipeline = Pipeline::new(ChunkOptions::new(Preset::Small.config()))
    ///     .stream_digest(HashAlgorithm::Sha256);
    /// let mut total = 0;
    /// let summary = pipeline.bytes(data)?.sink(|chunk| {
    ///     total += chunk.length;
    ///     Ok::<(), PipelineError>(())
    /// })?;
    /// assert_eq!(summary.length, 100_000);
    /// assert_eq!(total, 100_000);
    /// # Ok::<(), PipelineError>(())
    /// ```
    pub fn sink<E, F>(mut self, mut sink: F) -> Result<StreamSummary, E>
    where
        F: FnMut(ProcessedChunk) -> Result<(), E>,
        E: From<PipelineError>,
    {
        for item in self.by_ref() {
            sink(item?)?;
        }
        Ok(self.summary.expect("the output ended without error"))
    }
}

impl Iterator for ProcessedChunks {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        let item = self.next_item();
        #[cfg(feature = "metrics")]
        if let Some(Err(e)) = &item {
            super::metrics::Metrics::error(e);
        }
        item
    }
}

impl ProcessedChunks {
    fn next_item(&mut self) -> Option<Item> {
        match &mut self.state {
            State::Done => None,
            State::Serial(s) => {
                if s.pos < s.limit {
                    let len = s.work.options.chunker().cut(&s.data[s.pos..]);
                    let payload = s.data.slice(s.pos..s.pos + len);
                    let item = s.work.chunk_caught(s.pos as u64, payload);
                    match &item {
                        Ok(c) => {
                            if let Some(h) = s.whole.as_mut() {
                                h.update(&c.payload);
                            }
                            #[cfg(feature = "metrics")]
                            s.tally.add(c);
                            s.pos += len;
                            s.chunks += 1;
                        }
                        Err(_) => {
                            #[cfg(feature = "metrics")]
                            if let Some(m) = &s.work.metrics {
                                s.tally.flush(m);
                            }
                            self.state = State::Done
                        }
                    }
                    return Some(item);
                }
                #[cfg(feature = "metrics")]
                if let Some(m) = &s.work.metrics {
                    s.tally.flush(m);
                }
                let error = s.error.take();
                if error.is_none() {
                    self.summary = Some(StreamSummary {
                        length: s.data.len() as u64,
                        chunks: s.chunks,
                        digest: s.whole.as_ref().map(Hasher::finalize),
                    });
                }
                self.state = State::Done;
                error.map(Err)
            }
            State::Parallel(p) => match p.next() {
                Step::Item(item) => Some(item),
                Step::Last(e) => {
                    p.shutdown();
                    self.state = State::Done;
                    Some(Err(e))
                }
                Step::End(length) => {
                    let chunks = p.chunks;
                    let digest = p.shutdown();
                    self.summary = Some(StreamSummary {
                        length,
                        chunks,
                        digest,
                    });
                    self.state = State::Done;
                    None
                }
            },
        }
    }
}
