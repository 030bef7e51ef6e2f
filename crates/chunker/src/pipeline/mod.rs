//! The parallel ingest pipeline: read → cut → digest (→ compress) on every core, output
//! in input order, bounded in memory, cancellable.
//!
//! ```
//! use bytes::Bytes;
//! use chunker::compress::{Codec, Compressor};
//! use chunker::pipeline::Pipeline;
//! use chunker::{ChunkOptions, HashAlgorithm, Preset};
//!
//! let data: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2654435761) >> 9) as u8).collect();
//! let options = ChunkOptions::new(Preset::Small.config());
//! let pipeline = Pipeline::new(options)
//!     .threads(2)
//!     .compress(Compressor::new(Codec::Zstd))
//!     .stream_digest(HashAlgorithm::Sha256);
//! let mut chunks = pipeline.reader(std::io::Cursor::new(data.clone()))?;
//! let serial: Vec<_> = options.chunk_slice(&data).collect();
//! for (processed, expected) in chunks.by_ref().zip(&serial) {
//!     let processed = processed?;
//!     assert_eq!((processed.offset, processed.digest), (expected.info.offset, expected.info.digest));
//!     assert!(processed.compressed.is_some());
//! }
//! let summary = chunks.summary().expect("ended without error");
//! assert_eq!(summary.digest, Some(chunker::hash(HashAlgorithm::Sha256, &data)));
//! # Ok::<(), chunker::pipeline::PipelineError>(())
//! ```
//!
//! # How it runs
//! - **Sources.** A [`Read`] is read on a thread of its own ([`Pipeline::reader`],
//!   [`Pipeline::file`]), in blocks. Each block is cut in segments on the pool, one task
//!   per segment, and the task hashes its chunks right away (SHA-256 in lanes, the data
//!   still in cache): a segment is cut as if a chunk started at its first byte, and the
//!   reading thread then stitches the segments into the true chunk sequence (a cut point
//!   depends only on where its chunk starts and the bytes after it, so the true sequence
//!   adopts a segment's cuts from the first one it lands on; only the chunks around
//!   segment starts are cut and hashed again). The reading thread reads the next block
//!   while the pool cuts the last one. With 2 cores, a dedicated cutting thread left the
//!   hashing half of the machine (see `docs/BENCHMARKS.md`, "Pipeline"). [`Bytes`] in
//!   memory ([`Pipeline::bytes`]) is cut up front with
//!   [`Chunker::spans_parallel`](crate::cdc::Chunker::spans_parallel) on the pool.
//! - **Work.** With [`Pipeline::compress`], each batch of chunks (about [`BATCH_BYTES`])
//!   is then one more task on the pool. The pool is
//!   the global one (`RAYON_NUM_THREADS` honoured), yours ([`Pipeline::thread_pool`]) or
//!   one the pipeline owns and joins ([`Pipeline::threads`]).
//! - **Order.** Batches are numbered; the consumer hands them out in number order, so the
//!   output order never depends on thread timing. The whole-stream digest
//!   ([`Pipeline::stream_digest`]) runs on one more thread, over the blocks in order.
//! - **Memory.** Bytes read and not yet taken by the consumer (payloads and compressed
//!   bytes) stay within a byte budget ([`Pipeline::budget`], default
//!   [`DEFAULT_BUDGET`]): when it is full the reader waits, so a slow consumer stalls the
//!   reading instead of growing memory. Beyond the budget: the whole blocks that
//!   in-flight chunks point into (at most 16 MiB, or a quarter of the budget, plus one
//!   maximum chunk each), two blocks queued for the whole-stream digest, and whatever
//!   chunks the consumer keeps. With a mapped file ([`Pipeline::mmap`]), the
//!   mapped window's pages are resident too (bounded by [`Pipeline::map_window`]).
//! - **Buffers.** Read blocks come from a pool and go back to it when the last payload
//!   that points into them is dropped; they are filled through spare capacity (never
//!   zero-filled). Blocks start at 256 KiB and double up to 16 MiB, so a small
//!   input never gets a large buffer. Payloads are zero-copy [`Bytes`] slices of the
//!   blocks; each block starts with a copy of the previous block's last maximum chunk,
//!   so a chunk that spans two reads lies whole in the next block.
//! - **Small inputs** run serially on the calling thread, without starting any thread:
//!   see [`Thresholds`].
//! - **Errors.** A read error, a codec error or a panic (of a worker or of the reader)
//!   is one `Err` item at its place; the output ends after it and every thread stops.
//!   Dropping the output early stops and joins every thread too.
//!
//! Cut points, digests and the whole-stream digest equal the serial paths'
//! ([`ChunkOptions::chunk_bytes`], [`ChunkOptions::stream`]) exactly.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use bytes::Bytes;

mod budget;
mod buffer;
mod error;
mod feed;
mod map;
#[cfg(feature = "metrics")]
mod metrics;
mod run;
mod work;

pub use error::PipelineError;
pub use run::ProcessedChunks;
#[doc(hidden)]
pub use work::Fault;

use crate::chunk::ChunkOptions;
use crate::compress::{Codec, Compressor};
use crate::hash::{Digest, HashAlgorithm, Hasher};
use budget::Budget;
use buffer::BlockPool;
use feed::{BlockSource, Feeder, ReadBlocks};
use map::MapBlocks;
use run::{InMemory, OwnedPool, Parallel, Serial};
use work::{Spawner, Work};

/// Default byte budget for data in flight (64 MiB).
pub const DEFAULT_BUDGET: usize = 64 << 20;
/// Default (largest) read size (4 MiB).
pub const DEFAULT_READ_SIZE: usize = 4 << 20;
/// Largest read block (several reads; cut in parallel when large): 16 MiB, or a quarter
/// of the budget when that is less (but at least the read size and one maximum chunk).
const BLOCK_MAX: usize = 16 << 20;
/// Default map window for [`Pipeline::mmap`] (256 MiB).
pub const DEFAULT_MAP_WINDOW: usize = 256 << 20;
/// The first read's size (256 KiB, or the read size if smaller).
const FIRST_READ: usize = 256 << 10;
/// Chunks per pool task: at least this many bytes' worth (or one chunk).
pub const BATCH_BYTES: usize = 512 << 10;

/// One chunk out of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessedChunk {
    /// Offset of the chunk's first byte in the input.
    pub offset: u64,
    /// Length in bytes (equals `payload.len()`).
    pub length: usize,
    /// Digest of the payload, or `None` when hashing is off.
    pub digest: Option<Digest>,
    /// The chunk's bytes: a zero-copy slice of a read block (or of the input `Bytes`).
    pub payload: Bytes,
    /// The compressed payload, when [`Pipeline::compress`] is set.
    pub compressed: Option<Compressed>,
}

/// A compressed payload and its codec.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Compressed {
    /// The codec.
    pub codec: Codec,
    /// One complete frame of `codec` that decodes to the payload.
    pub data: Bytes,
}

/// When the pipeline runs serially on the calling thread: for an input shorter than
/// `max(bytes, chunks × average chunk size)`, where starting threads costs more than it
/// saves. A reader's first bytes up to that size are read on the calling thread to find
/// out. `0, 0` parallelises everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Fewest expected chunks (input length / average size) worth the pool.
    pub chunks: u64,
    /// Fewest bytes worth the pool.
    pub bytes: u64,
}

impl Default for Thresholds {
    /// 8 chunks and 2 MiB: on two CPUs the pool loses to the serial path at 1 MiB
    /// (0.72–0.85×) and wins from 2 MiB (1.36×; `docs/BENCHMARKS.md`, "Pipeline",
    /// "Thresholds").
    fn default() -> Self {
        Thresholds {
            chunks: 8,
            bytes: 2 << 20,
        }
    }
}

/// The environment variables that override [`Thresholds::default`].
pub const THRESHOLD_ENV: &str = "CHUNKER_PARALLEL_THRESHOLD";
/// See [`THRESHOLD_ENV`]: the byte threshold.
pub const THRESHOLD_BYTES_ENV: &str = "CHUNKER_PARALLEL_THRESHOLD_BYTES";

type EnvValue = Result<Option<u64>, (&'static str, String)>;

/// The environment's thresholds, read once per process.
fn env_thresholds() -> &'static (EnvValue, EnvValue) {
    static ENV: OnceLock<(EnvValue, EnvValue)> = OnceLock::new();
    ENV.get_or_init(|| (parse_env(THRESHOLD_ENV), parse_env(THRESHOLD_BYTES_ENV)))
}

fn parse_env(name: &'static str) -> EnvValue {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err((name, v.to_string_lossy().into_owned())),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| (name, v.clone())),
    }
}

impl Thresholds {
    /// The defaults, overridden by `CHUNKER_PARALLEL_THRESHOLD` (chunks) and
    /// `CHUNKER_PARALLEL_THRESHOLD_BYTES` (bytes), which are read once per process. A
    /// value that is not a non-negative integer is [`PipelineError::InvalidEnv`].
    pub fn from_env() -> Result<Thresholds, PipelineError> {
        let (chunks, bytes) = env_thresholds();
        let get = |v: &EnvValue| {
            v.clone()
                .map_err(|(variable, value)| PipelineError::InvalidEnv {
                    variable,
                    value,
                    reason: "expected a non-negative integer",
                })
        };
        let d = Thresholds::default();
        Ok(Thresholds {
            chunks: get(chunks)?.unwrap_or(d.chunks),
            bytes: get(bytes)?.unwrap_or(d.bytes),
        })
    }

    /// Input length below which the pipeline runs serially.
    fn limit(&self, options: &ChunkOptions) -> u64 {
        let avg = options.config().avg_size() as u64;
        self.bytes.max(self.chunks.saturating_mul(avg))
    }
}

#[derive(Debug, Clone)]
enum PoolChoice {
    Global,
    Threads(usize),
    Given(Arc<rayon::ThreadPool>),
}

/// The pipeline's settings; its source methods start it. See the [module](self) docs.
#[derive(Debug, Clone)]
pub struct Pipeline {
    work: Work,
    stream_digest: Option<HashAlgorithm>,
    pool: PoolChoice,
    budget: usize,
    read_size: usize,
    thresholds: Option<Thresholds>,
    /// The map window, when [`Pipeline::file`] maps.
    map_window: Option<usize>,
}

impl Pipeline {
    /// Chunk with `options` (digest as they say), no compression, on the global rayon
    /// pool, with the default budget, read size and thresholds.
    pub fn new(options: ChunkOptions) -> Pipeline {
        Pipeline {
            work: Work {
                options,
                compressor: None,
                fault: None,
                #[cfg(feature = "metrics")]
                metrics: None,
            },
            stream_digest: None,
            pool: PoolChoice::Global,
            budget: DEFAULT_BUDGET,
            read_size: DEFAULT_READ_SIZE,
            thresholds: None,
            map_window: None,
        }
    }

    /// Also compress every chunk (one complete frame each) with `compressor`: any codec,
    /// level or dictionary.
    pub fn compress(mut self, compressor: Compressor) -> Pipeline {
        self.work.compressor = Some(compressor);
        self
    }

    /// Also compute a digest of the whole input (for example a NarHash), in order on one
    /// thread, overlapped with the rest; see [`ProcessedChunks::summary`].
    pub fn stream_digest(mut self, algorithm: HashAlgorithm) -> Pipeline {
        self.stream_digest = Some(algorithm);
        self
    }

    /// Run on a pool of `n` threads that the pipeline starts for each input (when it is
    /// above the thresholds) and joins when the output ends or is dropped. `0`: one
    /// thread per CPU.
    pub fn threads(mut self, n: usize) -> Pipeline {
        self.pool = PoolChoice::Threads(n);
        self
    }

    /// Run on the caller's pool (shared with whatever else runs on it).
    pub fn thread_pool(mut self, pool: Arc<rayon::ThreadPool>) -> Pipeline {
        self.pool = PoolChoice::Given(pool);
        self
    }

    /// Run on rayon's global pool (the default; `RAYON_NUM_THREADS` sets its size).
    pub fn global_pool(mut self) -> Pipeline {
        self.pool = PoolChoice::Global;
        self
    }

    /// Bytes of chunk data (and compressed output) in flight between the reader and the
    /// consumer; at least one batch always moves. Default [`DEFAULT_BUDGET`].
    pub fn budget(mut self, bytes: usize) -> Pipeline {
        self.budget = bytes;
        self
    }

    /// The largest read from a reader (clamped to 4 KiB..=256 MiB; default
    /// [`DEFAULT_READ_SIZE`]). Read blocks start at 256 KiB (or this, if smaller) and
    /// double up to 16 MiB (or a quarter of the budget, if less, but at least this and
    /// one maximum chunk), each filled by reads of at most this size.
    pub fn read_size(mut self, bytes: usize) -> Pipeline {
        self.read_size = bytes.clamp(4 << 10, 256 << 20);
        self
    }

    /// Map regular files ([`Pipeline::file`]) instead of reading them (IO-002), in
    /// windows of [`DEFAULT_MAP_WINDOW`] (see [`Pipeline::map_window`]): payloads are
    /// zero-copy slices of the mapping, the kernel is advised of sequential access, and
    /// no read copies the data. Pipes, devices and other special files are read as
    /// usual. The file's length when it is opened is the input's.
    ///
    /// **Hazard:** if another process truncates the file while it is mapped, touching
    /// a page past its new end raises `SIGBUS`, which kills the process (a read would
    /// return an error instead). That is why mapping is off by default; use it only on
    /// files that nobody truncates while they are processed.
    pub fn mmap(mut self, on: bool) -> Pipeline {
        self.map_window = match (on, self.map_window) {
            (false, _) => None,
            (true, Some(w)) => Some(w),
            (true, None) => Some(DEFAULT_MAP_WINDOW),
        };
        self
    }

    /// The most bytes of a file mapped at once with [`Pipeline::mmap`] (at least 4 KiB;
    /// default [`DEFAULT_MAP_WINDOW`]); a window also holds at least the chunk in progress
    /// and one maximum chunk more. Windows bound the address space used, and with it the
    /// mapped pages counted in the resident set. Turns mapping on.
    pub fn map_window(mut self, bytes: usize) -> Pipeline {
        self.map_window = Some(bytes.max(4 << 10));
        self
    }

    /// Serial-path thresholds, instead of [`Thresholds::from_env`].
    pub fn thresholds(mut self, thresholds: Thresholds) -> Pipeline {
        self.thresholds = Some(thresholds);
        self
    }

    /// Test hook: inject a fault (a worker panic, a codec error).
    #[doc(hidden)]
    pub fn fault(mut self, fault: Fault) -> Pipeline {
        self.work.fault = Some(fault);
        self
    }

    /// The chunking options.
    pub fn options(&self) -> &ChunkOptions {
        &self.work.options
    }

    fn limit(&self) -> Result<u64, PipelineError> {
        let t = match self.thresholds {
            Some(t) => t,
            None => Thresholds::from_env()?,
        };
        Ok(t.limit(&self.work.options))
    }

    /// The work of one run (with its metric handles, registered here).
    fn run_work(&self) -> Work {
        #[allow(unused_mut)]
        let mut work = self.work.clone();
        #[cfg(feature = "metrics")]
        {
            work.metrics = Some(metrics::Metrics::register());
        }
        work
    }

    fn serial(&self, data: Bytes, error: Option<PipelineError>) -> ProcessedChunks {
        let limit = if error.is_some() {
            // As a stream: the chunk in progress when the read failed is not one.
            let mut push = self.work.options.chunker().push();
            push.feed(&data)
                .last()
                .map_or(0, |s| (s.offset as usize) + s.length)
        } else {
            data.len()
        };
        ProcessedChunks::serial(Serial {
            limit,
            work: self.run_work(),
            data,
            pos: 0,
            whole: self.stream_digest.map(Hasher::new),
            error,
            chunks: 0,
            #[cfg(feature = "metrics")]
            tally: Default::default(),
        })
    }

    /// The pool to run on (an owned one is started here).
    fn spawner(&self) -> Result<(Spawner, Option<OwnedPool>), PipelineError> {
        Ok(match &self.pool {
            PoolChoice::Global => (Spawner::Global, None),
            PoolChoice::Given(p) => (Spawner::Pool(Arc::clone(p)), None),
            PoolChoice::Threads(n) => {
                let n = if *n == 0 {
                    std::thread::available_parallelism().map_or(1, |n| n.get())
                } else {
                    *n
                };
                let running = Arc::new((Mutex::new(n), Condvar::new()));
                let exit = Arc::clone(&running);
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .thread_name(|i| format!("chunker-pipeline-{i}"))
                    .exit_handler(move |_| {
                        let (count, zero) = &*exit;
                        let mut c = count.lock().unwrap_or_else(|e| e.into_inner());
                        *c -= 1;
                        zero.notify_all();
                    })
                    .build()
                    .map_err(|source| PipelineError::ThreadPool { source })?;
                let pool = Arc::new(pool);
                (
                    Spawner::Pool(Arc::clone(&pool)),
                    Some(OwnedPool { pool, running }),
                )
            }
        })
    }

    fn parallel(
        &self,
        spawner: Spawner,
        owned: Option<OwnedPool>,
        results: crossbeam_channel::Receiver<feed::Msg>,
    ) -> Parallel {
        Parallel {
            work: Arc::new(self.run_work()),
            spawner,
            budget: Arc::new(Budget::new(self.budget)),
            batch_bytes: BATCH_BYTES,
            results,
            memory: None,
            reader: None,
            hasher: None,
            owned,
            pending: Default::default(),
            current: Vec::new().into_iter(),
            next_seq: 0,
            seq: 0,
            end: None,
            chunks: 0,
            yielded: 0,
            taken: 0,
        }
    }

    /// Process `data`, which is in memory: payloads are slices of it. Cut on the pool
    /// when it is above the thresholds.
    pub fn bytes(&self, data: Bytes) -> Result<ProcessedChunks, PipelineError> {
        if (data.len() as u64) < self.limit()? {
            return Ok(self.serial(data, None));
        }
        let (spawner, owned) = self.spawner()?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut p = self.parallel(spawner, owned, rx);
        if let Some(algorithm) = self.stream_digest {
            let (whole, budget) = (data.clone(), Arc::clone(&p.budget));
            p.hasher = Some(spawn_thread("chunker-pipeline-digest", move || {
                let mut h = Hasher::new(algorithm);
                for piece in whole.chunks(1 << 20) {
                    if budget.is_cancelled() {
                        break;
                    }
                    h.update(piece);
                }
                h.finalize()
            })?);
        }
        let chunker = *self.work.options.chunker();
        let spans = p.spawner.install(|| chunker.spans_parallel(&data));
        p.memory = Some(InMemory {
            data,
            spans,
            next: 0,
            results: tx,
        });
        Ok(ProcessedChunks::parallel(p))
    }

    /// Process what `reader` yields, read on a thread of its own. Below the thresholds
    /// (found out by reading up to that many bytes here) it runs on this thread.
    pub fn reader<R: Read + Send + 'static>(
        &self,
        reader: R,
    ) -> Result<ProcessedChunks, PipelineError> {
        self.reader_sized(reader, None)
    }

    /// Process the file at `path`, read on a thread of its own, or mapped with
    /// [`Pipeline::mmap`] (when it is a regular file above the thresholds).
    pub fn file(&self, path: impl AsRef<Path>) -> Result<ProcessedChunks, PipelineError> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| PipelineError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        self.open_file(file)
    }

    /// [`Pipeline::file`] for a file already open: from its current position to its
    /// end (its length now).
    pub fn open_file(&self, mut file: std::fs::File) -> Result<ProcessedChunks, PipelineError> {
        use std::io::Seek;
        let regular = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let at = match regular {
            Some(_) => file.stream_position().ok(),
            None => None,
        };
        let size = regular.zip(at).map(|(len, at)| len.saturating_sub(at));
        match (self.map_window, size, at) {
            (Some(window), Some(size), Some(at)) if size > 0 && size >= self.limit()? => {
                let max = self.work.options.config().max_size();
                // Mapped blocks cost no allocation: full size from the first.
                self.start(MapBlocks::new(file, at, at + size, window, max), usize::MAX)
            }
            _ => self.reader_sized(file, size),
        }
    }

    fn reader_sized<R: Read + Send + 'static>(
        &self,
        mut reader: R,
        size: Option<u64>,
    ) -> Result<ProcessedChunks, PipelineError> {
        let limit = self.limit()?;
        let mut prefix = Vec::new();
        if limit > 0 {
            // Bounded by the threshold (and the file's size), never by untrusted data.
            let first = limit.min(size.map_or(FIRST_READ as u64, |s| s + 1));
            prefix.reserve_exact(first.min(64 << 20) as usize);
            match (&mut reader).take(limit).read_to_end(&mut prefix) {
                Ok(n) if (n as u64) < limit => return Ok(self.serial(Bytes::from(prefix), None)),
                Ok(_) => {}
                Err(source) => {
                    let offset = prefix.len() as u64;
                    let error = PipelineError::Read { offset, source };
                    return Ok(self.serial(Bytes::from(prefix), Some(error)));
                }
            }
        }
        let max = self.work.options.config().max_size();
        let blocks = self.budget / self.block_max() + 8;
        self.start(
            ReadBlocks::new(reader, prefix, BlockPool::new(blocks), self.read_size, max),
            FIRST_READ.min(self.read_size),
        )
    }

    /// Blocks grow to this many new bytes.
    fn block_max(&self) -> usize {
        let max = self.work.options.config().max_size();
        BLOCK_MAX.min(self.budget / 4).max(self.read_size).max(max)
    }

    /// Start the reading thread (and the whole-stream digest's) over `source`, its
    /// blocks growing from `first` new bytes (at most the largest block).
    fn start<S: BlockSource>(
        &self,
        source: S,
        first: usize,
    ) -> Result<ProcessedChunks, PipelineError> {
        let (spawner, owned) = self.spawner()?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut p = self.parallel(spawner, owned, rx);
        let whole = match self.stream_digest {
            None => None,
            Some(algorithm) => {
                let (wtx, wrx) = crossbeam_channel::bounded::<Bytes>(2);
                let budget = Arc::clone(&p.budget);
                p.hasher = Some(spawn_thread("chunker-pipeline-digest", move || {
                    let mut h = Hasher::new(algorithm);
                    for piece in wrx {
                        if !budget.is_cancelled() {
                            h.update(&piece);
                        }
                    }
                    h.finalize()
                })?);
                Some(wtx)
            }
        };
        let feeder = Feeder {
            source,
            work: Arc::clone(&p.work),
            spawner: p.spawner.clone(),
            budget: Arc::clone(&p.budget),
            results: tx,
            whole,
            block_min: first.min(self.block_max()),
            block_max: self.block_max(),
            batch_bytes: p.batch_bytes,
        };
        p.reader = Some(spawn_thread("chunker-pipeline-read", move || feeder.run())?);
        Ok(ProcessedChunks::parallel(p))
    }
}

fn spawn_thread<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<std::thread::JoinHandle<T>, PipelineError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|source| PipelineError::Spawn { source })
}
