//! Per-chunk work (digest, compression) and where it runs.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use bytes::Bytes;

use super::budget::Budget;
use super::error::{panic_message, PipelineError};
use super::{Compressed, ProcessedChunk};
use crate::cdc::Span;
use crate::chunk::ChunkOptions;
use crate::compress::{CompressionError, Compressor};
use crate::hash::{hash_many, Digest};

/// One output item.
pub(super) type Item = Result<ProcessedChunk, PipelineError>;

/// Faults injected by tests (see [`Pipeline::fault`](super::Pipeline::fault)).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The worker panics on the chunk that starts at this offset.
    PanicAt(u64),
    /// Compressing the chunk that starts at this offset fails.
    CodecErrorAt(u64),
}

/// What every chunk goes through.
#[derive(Debug, Clone)]
pub(super) struct Work {
    pub(super) options: ChunkOptions,
    pub(super) compressor: Option<Compressor>,
    pub(super) fault: Option<Fault>,
    /// The run's metric handles (registered when it starts).
    #[cfg(feature = "metrics")]
    pub(super) metrics: Option<super::metrics::Metrics>,
}

impl Work {
    /// Digest (unless `digest` brings it, computed with its batch) and (optionally)
    /// compress one chunk.
    fn chunk(&self, offset: u64, payload: Bytes, digest: Option<Option<Digest>>) -> Item {
        if self.fault == Some(Fault::PanicAt(offset)) {
            panic!("injected worker panic at offset {offset}");
        }
        let length = payload.len();
        let digest = digest.unwrap_or_else(|| self.options.digest(&payload));
        let compressed = match &self.compressor {
            None => None,
            Some(c) => {
                let result = if self.fault == Some(Fault::CodecErrorAt(offset)) {
                    Err(CompressionError::InvalidSetting {
                        name: "fault",
                        reason: "injected codec error",
                    })
                } else {
                    c.compress(&payload)
                };
                match result {
                    Ok(data) => Some(Compressed {
                        codec: c.codec(),
                        data: Bytes::from(data),
                    }),
                    Err(source) => {
                        return Err(PipelineError::Compress {
                            offset,
                            length,
                            source,
                        })
                    }
                }
            }
        };
        Ok(ProcessedChunk {
            offset,
            length,
            digest,
            payload,
            compressed,
        })
    }

    /// One chunk, a panic caught as an error item.
    pub(super) fn chunk_caught(&self, offset: u64, payload: Bytes) -> Item {
        self.chunk_with(offset, payload, None)
    }

    /// [`chunk_caught`](Work::chunk_caught) with the digest already known.
    fn chunk_with(&self, offset: u64, payload: Bytes, digest: Option<Option<Digest>>) -> Item {
        catch_unwind(AssertUnwindSafe(|| self.chunk(offset, payload, digest))).unwrap_or_else(|p| {
            Err(PipelineError::Panicked {
                stage: "worker",
                offset,
                message: panic_message(&*p),
            })
        })
    }

    /// The chunks `spans` of `block` (whose first byte is at stream offset `base`), in
    /// order, up to and including the first error, with their digests when `known`
    /// brings them (one per span). Compressed bytes are counted in `budget`.
    pub(super) fn batch(
        &self,
        block: &Bytes,
        base: u64,
        spans: &[Span],
        known: Option<Vec<Option<Digest>>>,
        budget: &Budget,
    ) -> Vec<Item> {
        let mut out = Vec::with_capacity(spans.len());
        let at = |span: &Span| (span.offset - base) as usize;
        // The batch's digests at once (SHA-256 runs several chunks in lanes), unless
        // they came with it.
        let known = known.or_else(|| {
            self.options.hash_algorithm().map(|algorithm| {
                let messages: Vec<&[u8]> = spans
                    .iter()
                    .map(|s| &block[at(s)..at(s) + s.length])
                    .collect();
                hash_many(algorithm, &messages)
                    .into_iter()
                    .map(Some)
                    .collect()
            })
        });
        let mut digests = known.map(Vec::into_iter);
        for span in spans {
            if budget.is_cancelled() {
                break;
            }
            let start = at(span);
            let digest = digests.as_mut().and_then(|d| d.next());
            let item =
                self.chunk_with(span.offset, block.slice(start..start + span.length), digest);
            match &item {
                Ok(c) => {
                    if let Some(z) = &c.compressed {
                        budget.add(z.data.len());
                    }
                    out.push(item);
                }
                Err(_) => {
                    out.push(item);
                    break;
                }
            }
        }
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.metrics {
            let mut tally = super::metrics::Tally::default();
            out.iter().flatten().for_each(|c| tally.add(c));
            tally.flush(m);
        }
        out
    }
}

/// The rayon pool the work runs on.
#[derive(Debug, Clone)]
pub(super) enum Spawner {
    /// The global pool.
    Global,
    /// A pool given by the caller or owned by the pipeline.
    Pool(Arc<rayon::ThreadPool>),
}

impl Spawner {
    pub(super) fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        match self {
            Spawner::Global => rayon::spawn(f),
            Spawner::Pool(p) => p.spawn(f),
        }
    }

    pub(super) fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match self {
            Spawner::Global => f(),
            Spawner::Pool(p) => p.install(f),
        }
    }

    /// Threads of this pool (of the global pool for [`Spawner::Global`]).
    pub(super) fn threads(&self) -> usize {
        match self {
            Spawner::Global => rayon::current_num_threads(),
            Spawner::Pool(p) => p.current_num_threads(),
        }
    }

    /// Whether the calling thread is one of this pool's (for the global pool: of any
    /// rayon pool, to be safe): it must not block waiting for work queued on the pool,
    /// which with one thread nothing else would run.
    pub(super) fn on_pool(&self) -> bool {
        match self {
            Spawner::Global => rayon::current_thread_index().is_some(),
            Spawner::Pool(p) => p.current_thread_index().is_some(),
        }
    }

    /// Run one queued job of this pool on the calling thread (one of its own), if any.
    pub(super) fn run_one(&self) -> bool {
        let r = match self {
            Spawner::Global => rayon::yield_now(),
            Spawner::Pool(p) => p.yield_now(),
        };
        matches!(r, Some(rayon::Yield::Executed))
    }
}
