//! The boundary engine: one cut rule, driven over whole slices or pushed bytes.

use crate::config::Config;
use crate::kernel::{Kernel, KernelError};

/// A chunk's position in the input: `offset` from the start of the stream, `length` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// Offset of the chunk's first byte from the start of the input.
    pub offset: u64,
    /// Length of the chunk in bytes (1..=max size).
    pub length: usize,
}

impl Span {
    /// Offset one past the chunk's last byte.
    pub const fn end(&self) -> u64 {
        self.offset + self.length as u64
    }

    /// The chunk's bytes within `input`, when `input` starts at stream offset 0.
    ///
    /// Returns `None` if the span lies outside `input`.
    pub fn slice<'a>(&self, input: &'a [u8]) -> Option<&'a [u8]> {
        let start = usize::try_from(self.offset).ok()?;
        input.get(start..start.checked_add(self.length)?)
    }
}

/// A configuration bound to a kernel: the reusable context behind every front end.
///
/// ```
/// use chunker_cdc::{Chunker, Config};
///
/// let data: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
/// let chunker = Chunker::new(Config::new(4096, 16384, 65536)?);
/// let spans: Vec<_> = chunker.spans(&data).collect();
/// assert_eq!(spans.iter().map(|s| s.length).sum::<usize>(), data.len());
/// assert!(spans.iter().all(|s| s.length <= 65536));
/// # Ok::<(), chunker_cdc::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunker {
    config: Config,
    kernel: Kernel,
}

impl Chunker {
    /// A chunker using the fastest kernel this CPU supports.
    pub fn new(config: Config) -> Self {
        Chunker {
            config,
            kernel: Kernel::detect(),
        }
    }

    /// A chunker using a given kernel; an error if this CPU cannot run it.
    pub fn with_kernel(config: Config, kernel: Kernel) -> Result<Self, KernelError> {
        if kernel.is_available() {
            Ok(Chunker { config, kernel })
        } else {
            Err(KernelError::Unavailable { kernel })
        }
    }

    /// The configuration.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// The kernel in use.
    pub const fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Scan chunk-relative positions `start..start + bytes.len()` (all below the scan
    /// end), switching from the small to the large mask at the average point.
    #[inline]
    fn scan_positions(&self, hash: &mut u64, start: usize, bytes: &[u8]) -> Option<usize> {
        let switch = self.config.mask_switch();
        let mut pos = start;
        let mut rest = bytes;
        if pos < switch {
            let k = (switch - pos).min(rest.len());
            if let Some(j) = self.kernel.scan(hash, &rest[..k], self.config.mask_small()) {
                return Some(pos + j);
            }
            pos += k;
            rest = &rest[k..];
        }
        if !rest.is_empty() {
            if let Some(j) = self.kernel.scan(hash, rest, self.config.mask_large()) {
                return Some(pos + j);
            }
        }
        None
    }

    /// Length of the first chunk of `data`, where `data` is everything that remains of
    /// the input. Returns 0 only for empty `data`.
    pub fn cut(&self, data: &[u8]) -> usize {
        let n = data.len();
        if n <= self.config.min_size() {
            return n;
        }
        let end = n.min(self.config.max_size());
        let limit = end & !1;
        let start = self.config.scan_start();
        let mut hash = 0;
        self.scan_positions(&mut hash, start, &data[start..limit])
            .unwrap_or(end)
    }

    /// Iterate over the chunk spans of a complete input.
    pub fn spans<'a>(&self, data: &'a [u8]) -> Spans<'a> {
        Spans {
            chunker: *self,
            data,
            pos: 0,
        }
    }

    /// Iterate over the chunks of a complete input as sub-slices (zero-copy).
    pub fn slices<'a>(&self, data: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let chunker = *self;
        let mut rest = data;
        core::iter::from_fn(move || {
            let len = chunker.cut(rest);
            if len == 0 {
                return None;
            }
            let (head, tail) = rest.split_at(len);
            rest = tail;
            Some(head)
        })
    }

    /// A push chunker for input that arrives in pieces.
    pub fn push(&self) -> PushChunker {
        PushChunker::new(*self)
    }
}

/// Iterator over the [`Span`]s of a complete input; see [`Chunker::spans`].
#[derive(Debug, Clone)]
pub struct Spans<'a> {
    chunker: Chunker,
    data: &'a [u8],
    pos: usize,
}

impl Iterator for Spans<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        let len = self.chunker.cut(&self.data[self.pos..]);
        if len == 0 {
            return None;
        }
        let span = Span {
            offset: self.pos as u64,
            length: len,
        };
        self.pos += len;
        Some(span)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let rest = self.data.len() - self.pos;
        let min = self.chunker.config.max_size();
        (
            rest.div_ceil(min),
            Some(rest.div_ceil(self.chunker.config.scan_start().max(1))),
        )
    }
}

/// Chunk boundaries for input that arrives in pieces of any size.
///
/// The push chunker holds no input bytes: it keeps the gear hash and a position, so
/// memory is constant and every byte is hashed at most once however the input is split.
/// The caller keeps the bytes of the chunk in progress (at most the maximum size).
///
/// ```
/// use chunker_cdc::{Chunker, Config};
///
/// let data: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2654435761) >> 11) as u8).collect();
/// let chunker = Chunker::new(Config::new(2048, 8192, 32768)?);
/// let mut push = chunker.push();
/// let mut spans = Vec::new();
/// for piece in data.chunks(1000) {
///     spans.extend(push.feed(piece));
/// }
/// spans.extend(push.finish());
/// assert_eq!(spans, chunker.spans(&data).collect::<Vec<_>>());
/// # Ok::<(), chunker_cdc::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PushChunker {
    chunker: Chunker,
    /// Bytes fed so far.
    total: u64,
    /// Stream offset where the chunk in progress starts.
    chunk_start: u64,
    /// Next chunk-relative position to hash.
    scanned: usize,
    hash: u64,
    /// The byte at `scanned - 1` matched, but it is a cut only if more input follows
    /// (the reference never tests the last byte of an odd-length remainder).
    pending: bool,
    /// Bytes handed to the kernel so far (each byte at most once).
    hashed: u64,
}

impl PushChunker {
    /// A push chunker at stream offset 0.
    pub fn new(chunker: Chunker) -> Self {
        PushChunker {
            chunker,
            total: 0,
            chunk_start: 0,
            scanned: 0,
            hash: 0,
            pending: false,
            hashed: 0,
        }
    }

    /// The engine this push chunker drives.
    pub const fn chunker(&self) -> &Chunker {
        &self.chunker
    }

    /// Total bytes fed so far.
    pub const fn position(&self) -> u64 {
        self.total
    }

    /// Bytes hashed so far. Never more than [`PushChunker::position`]: however the input
    /// is split, no byte is scanned twice (bytes before each chunk's minimum size are
    /// not scanned at all).
    pub const fn bytes_hashed(&self) -> u64 {
        self.hashed
    }

    /// Stream offset where the chunk in progress starts; bytes before it belong to
    /// chunks already returned and need not be kept.
    pub const fn chunk_start(&self) -> u64 {
        self.chunk_start
    }

    /// Feed the next piece of input; the returned iterator yields the chunks that are
    /// now final, in order.
    ///
    /// The iterator scans lazily; if it is dropped before the end, the rest of the piece
    /// is scanned on drop and its chunks are lost to the caller, so drain it.
    pub fn feed<'a>(&'a mut self, data: &'a [u8]) -> Feed<'a> {
        let base = self.total;
        self.total += data.len() as u64;
        Feed {
            push: self,
            data,
            base,
        }
    }

    /// Signal the end of input: returns the final chunk, if any bytes remain, and resets
    /// the chunker for a new stream at offset 0.
    pub fn finish(&mut self) -> Option<Span> {
        let n = self.total - self.chunk_start;
        let last = (n > 0).then_some(Span {
            offset: self.chunk_start,
            length: n as usize,
        });
        *self = PushChunker::new(self.chunker);
        last
    }

    fn cut(&mut self, length: usize) -> Span {
        let span = Span {
            offset: self.chunk_start,
            length,
        };
        self.chunk_start += length as u64;
        self.scanned = 0;
        self.hash = 0;
        self.pending = false;
        span
    }

    /// The next final chunk within the bytes fed so far, where `data` holds stream
    /// offsets `base..self.total`.
    fn next_in(&mut self, data: &[u8], base: u64) -> Option<Span> {
        let n = self.total - self.chunk_start;
        if self.pending {
            if n > self.scanned as u64 {
                return Some(self.cut(self.scanned - 1));
            }
            return None;
        }
        let cfg = self.chunker.config;
        let limit = n.min(cfg.scan_end() as u64) as usize;
        let start = self.scanned.max(cfg.scan_start());
        if start < limit {
            let abs = self.chunk_start + start as u64;
            debug_assert!(abs >= base, "positions before this piece were scanned");
            let off = (abs - base) as usize;
            let bytes = &data[off..off + (limit - start)];
            match self.chunker.scan_positions(&mut self.hash, start, bytes) {
                Some(i) => {
                    self.hashed += (i + 1 - start) as u64;
                    if i % 2 == 0 && i as u64 + 1 == n {
                        self.pending = true;
                        self.scanned = i + 1;
                        return None;
                    }
                    return Some(self.cut(i));
                }
                None => {
                    self.hashed += bytes.len() as u64;
                    self.scanned = limit;
                }
            }
        }
        if n >= cfg.max_size() as u64 {
            return Some(self.cut(cfg.max_size()));
        }
        None
    }
}

/// Iterator over the chunks made final by one [`PushChunker::feed`] call.
#[derive(Debug)]
pub struct Feed<'a> {
    push: &'a mut PushChunker,
    data: &'a [u8],
    base: u64,
}

impl Iterator for Feed<'_> {
    type Item = Span;

    #[inline]
    fn next(&mut self) -> Option<Span> {
        self.push.next_in(self.data, self.base)
    }
}

impl Drop for Feed<'_> {
    fn drop(&mut self) {
        while self.next().is_some() {}
    }
}
