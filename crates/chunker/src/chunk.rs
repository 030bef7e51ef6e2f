//! Chunks, chunk descriptors and eager chunking of data in memory.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::cdc::{self, Config, Kernel, KernelError, Span, Spans};
use crate::hash::{hash, hash_many, Digest, HashAlgorithm};

/// One content-defined chunk with its payload.
///
/// The payload is a zero-copy slice of the buffer the input was read into (or of the
/// [`Bytes`] given to [`ChunkOptions::chunk_bytes`]). Holding a chunk keeps that whole
/// buffer alive: copy the payload (`Bytes::copy_from_slice`) to keep it longer than its
/// neighbours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Offset of the chunk's first byte in the input.
    pub offset: u64,
    /// Length in bytes (equals `payload.len()`).
    pub length: usize,
    /// Digest of the payload, or `None` when hashing is off.
    pub digest: Option<Digest>,
    /// The chunk's bytes.
    pub payload: Bytes,
}

impl Chunk {
    /// The payload-free descriptor of this chunk.
    pub fn info(&self) -> ChunkInfo {
        ChunkInfo {
            offset: self.offset,
            length: self.length,
            digest: self.digest,
        }
    }
}

/// A chunk without its payload: what a manifest stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkInfo {
    /// Offset of the chunk's first byte in the input.
    pub offset: u64,
    /// Length in bytes.
    pub length: usize,
    /// Digest of the chunk's bytes, or `None` when hashing is off.
    pub digest: Option<Digest>,
}

impl From<&Chunk> for ChunkInfo {
    fn from(c: &Chunk) -> Self {
        c.info()
    }
}

/// What to chunk with: boundary configuration, kernel and digest algorithm. The
/// reusable context behind every front end.
///
/// ```
/// use chunker::{ChunkOptions, Config, HashAlgorithm};
/// let opts = ChunkOptions::new(Config::new(1024, 4096, 16384)?).hash(None);
/// let chunks: Vec<_> = opts.chunk_slice(b"hello world").collect();
/// assert_eq!(chunks.len(), 1);
/// assert_eq!(chunks[0].data, b"hello world");
/// assert_eq!(chunks[0].info.digest, None);
/// # Ok::<(), chunker::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkOptions {
    chunker: cdc::Chunker,
    hash: Option<HashAlgorithm>,
}

impl Default for ChunkOptions {
    /// [`Config::default`] (64K/256K/1M) with SHA-256 digests.
    fn default() -> Self {
        ChunkOptions::new(Config::default())
    }
}

impl ChunkOptions {
    /// Chunk with `config`, the fastest kernel, and SHA-256 digests.
    pub fn new(config: Config) -> Self {
        ChunkOptions {
            chunker: cdc::Chunker::new(config),
            hash: Some(HashAlgorithm::Sha256),
        }
    }

    /// Set the digest algorithm, or `None` to skip hashing.
    pub fn hash(mut self, algorithm: Option<HashAlgorithm>) -> Self {
        self.hash = algorithm;
        self
    }

    /// Use a specific boundary kernel; an error if this CPU cannot run it.
    pub fn kernel(mut self, kernel: Kernel) -> Result<Self, KernelError> {
        self.chunker = cdc::Chunker::with_kernel(*self.chunker.config(), kernel)?;
        Ok(self)
    }

    /// The boundary configuration.
    pub fn config(&self) -> &Config {
        self.chunker.config()
    }

    /// The boundary engine.
    pub fn chunker(&self) -> &cdc::Chunker {
        &self.chunker
    }

    /// The digest algorithm, if hashing is on.
    pub fn hash_algorithm(&self) -> Option<HashAlgorithm> {
        self.hash
    }

    pub(crate) fn digest(&self, data: &[u8]) -> Option<Digest> {
        self.hash.map(|a| hash(a, data))
    }

    /// Chunk a complete buffer; payloads are slices of `data` (no copies).
    pub fn chunk_bytes(&self, data: Bytes) -> BytesChunks {
        BytesChunks {
            options: *self,
            data,
            pos: 0,
            ready: VecDeque::new(),
        }
    }

    /// Chunk a borrowed slice; yields sub-slices with their descriptors.
    pub fn chunk_slice<'a>(&self, data: &'a [u8]) -> SliceChunks<'a> {
        SliceChunks {
            options: *self,
            spans: self.chunker.spans(data),
            data,
            ready: VecDeque::new(),
        }
    }
}

/// Iterator over the chunks of a [`Bytes`] buffer; see [`ChunkOptions::chunk_bytes`].
///
/// With hashing on, chunks are cut a few at a time and their digests computed
/// together ([`hash_many`]: SHA-256 runs several chunks in lanes).
#[derive(Debug, Clone)]
pub struct BytesChunks {
    options: ChunkOptions,
    data: Bytes,
    pos: usize,
    /// Chunks cut and hashed, not yet handed out.
    ready: VecDeque<Chunk>,
}

/// Chunks cut ahead and hashed together by [`BytesChunks`]: enough to keep every
/// SHA-256 lane busy while the shortest chunks finish.
const BATCH: usize = 16;

impl BytesChunks {
    /// The next chunk's payload, without its digest.
    fn cut(&mut self) -> Option<Bytes> {
        let len = self.options.chunker.cut(&self.data[self.pos..]);
        if len == 0 {
            return None;
        }
        let payload = self.data.slice(self.pos..self.pos + len);
        self.pos += len;
        Some(payload)
    }
}

impl Iterator for BytesChunks {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        if let Some(chunk) = self.ready.pop_front() {
            return Some(chunk);
        }
        let Some(algorithm) = self.options.hash else {
            let offset = self.pos as u64;
            let payload = self.cut()?;
            return Some(Chunk {
                offset,
                length: payload.len(),
                digest: None,
                payload,
            });
        };
        let mut offsets = [0u64; BATCH];
        let mut payloads = Vec::with_capacity(BATCH);
        while payloads.len() < BATCH {
            offsets[payloads.len()] = self.pos as u64;
            match self.cut() {
                Some(p) => payloads.push(p),
                None => break,
            }
        }
        let digests = hash_many(algorithm, &payloads);
        self.ready
            .extend(payloads.into_iter().zip(offsets).zip(digests).map(
                |((payload, offset), digest)| Chunk {
                    offset,
                    length: payload.len(),
                    digest: Some(digest),
                    payload,
                },
            ));
        self.ready.pop_front()
    }
}

/// A chunk of a borrowed slice: its descriptor and its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceChunk<'a> {
    /// Offset, length and digest.
    pub info: ChunkInfo,
    /// The chunk's bytes, borrowed from the input.
    pub data: &'a [u8],
}

/// Iterator over the chunks of a slice; see [`ChunkOptions::chunk_slice`].
///
/// With hashing on, chunks are cut a few at a time and their digests computed
/// together ([`hash_many`]: SHA-256 runs several chunks in lanes).
#[derive(Debug, Clone)]
pub struct SliceChunks<'a> {
    options: ChunkOptions,
    spans: Spans<'a>,
    data: &'a [u8],
    /// Chunks cut and hashed, not yet handed out.
    ready: VecDeque<SliceChunk<'a>>,
}

impl<'a> Iterator for SliceChunks<'a> {
    type Item = SliceChunk<'a>;

    fn next(&mut self) -> Option<SliceChunk<'a>> {
        if let Some(chunk) = self.ready.pop_front() {
            return Some(chunk);
        }
        let data = self.data;
        let bytes =
            |Span { offset, length }: Span| &data[offset as usize..offset as usize + length];
        let Some(algorithm) = self.options.hash else {
            let span = self.spans.next()?;
            return Some(SliceChunk {
                info: ChunkInfo {
                    offset: span.offset,
                    length: span.length,
                    digest: None,
                },
                data: bytes(span),
            });
        };
        let spans: Vec<Span> = self.spans.by_ref().take(BATCH).collect();
        let payloads: Vec<&[u8]> = spans.iter().map(|&s| bytes(s)).collect();
        let digests = hash_many(algorithm, &payloads);
        self.ready
            .extend(
                spans
                    .into_iter()
                    .zip(payloads)
                    .zip(digests)
                    .map(|((span, data), digest)| SliceChunk {
                        info: ChunkInfo {
                            offset: span.offset,
                            length: span.length,
                            digest: Some(digest),
                        },
                        data,
                    }),
            );
        self.ready.pop_front()
    }
}
