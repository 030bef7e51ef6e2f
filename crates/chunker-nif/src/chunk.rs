//! Chunking: `Chunker.chunk/2` (one call over a whole binary) and `Chunker.Stream`
//! (a resource over [`chunker::cdc::PushChunker`]).
//!
//! Chunks are `%Chunker.Chunk{offset, length, digest, payload}` structs built here.
//! Payloads are sub-binaries of the input (no copy); in a stream, the one chunk per
//! `feed` that began in an earlier piece is the exception: its bytes are kept between
//! calls (less than one maximum chunk size) and handed out as a resource binary over
//! that buffer, again without a further copy.

use std::sync::{Mutex, TryLockError};

use chunker::cdc::{Preset, PushChunker, Span};
use chunker::{ChunkOptions, Config, HashAlgorithm, Hasher};
use rustler::{Atom, Binary, Encoder, Env, NewBinary, Resource, ResourceArc, Term};

use crate::atoms;
use crate::error::{to_term, NifError};

/// Owned bytes handed to the VM as a resource binary (no copy into a fresh binary).
pub struct Bytes(pub Vec<u8>);

#[rustler::resource_impl]
impl Resource for Bytes {}

/// `bytes` as a binary term, moving the buffer into a resource.
pub fn owned_binary(env: Env<'_>, mut bytes: Vec<u8>) -> Binary<'_> {
    if bytes.is_empty() {
        return NewBinary::new(env, 0).into();
    }
    bytes.shrink_to_fit();
    ResourceArc::new(Bytes(bytes)).make_binary(env, |b| &b.0[..])
}

/// A digest's 32 bytes as a binary term.
pub fn digest_binary<'a>(env: Env<'a>, digest: &chunker::Digest) -> Binary<'a> {
    NewBinary::from_slice(env, digest.as_bytes()).into()
}

/// The chunk options of `Chunker.chunk/2` and `Chunker.Stream.new/1`, checked on the
/// Elixir side for types: `{preset, min, avg, max, hash, payloads}` where `preset` is a
/// name or `nil` (then medium), sizes override the preset's, and `hash` is `:sha256`,
/// `:blake3` or `nil`.
pub type OptionsArg = (
    Option<String>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Atom,
    bool,
);

/// What an [`OptionsArg`] asks for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Boundary configuration and chunk digest.
    pub chunk: ChunkOptions,
    /// Whether chunks carry their payload.
    pub payloads: bool,
}

/// `:sha256`, `:blake3` or `nil`.
pub fn algorithm(atom: Atom) -> Result<Option<HashAlgorithm>, NifError> {
    if atom == atoms::sha256() {
        Ok(Some(HashAlgorithm::Sha256))
    } else if atom == atoms::blake3() {
        Ok(Some(HashAlgorithm::Blake3))
    } else if atom == atoms::nil() {
        Ok(None)
    } else {
        Err(NifError::invalid_option(
            "hash must be :sha256, :blake3 or nil",
        ))
    }
}

fn size(value: Option<u64>) -> Option<usize> {
    // Saturating: an over-large value is still out of range for Config.
    value.map(|v| usize::try_from(v).unwrap_or(usize::MAX))
}

impl Options {
    /// Validate the options (sizes through [`Config::builder`]).
    pub fn parse(arg: OptionsArg) -> Result<Options, NifError> {
        let (preset, min, avg, max, hash, payloads) = arg;
        let preset: Preset = match preset {
            Some(name) => name.parse()?,
            None => Preset::default(),
        };
        let mut builder = Config::builder().preset(preset);
        if let Some(v) = size(min) {
            builder = builder.min(v);
        }
        if let Some(v) = size(avg) {
            builder = builder.avg(v);
        }
        if let Some(v) = size(max) {
            builder = builder.max(v);
        }
        let config = builder.build()?;
        Ok(Options {
            chunk: ChunkOptions::new(config).hash(algorithm(hash)?),
            payloads,
        })
    }
}

/// Builds `%Chunker.Chunk{}` terms.
struct ChunkTerms<'a> {
    env: Env<'a>,
    keys: [Term<'a>; 5],
    tag: Term<'a>,
}

impl<'a> ChunkTerms<'a> {
    fn new(env: Env<'a>) -> Self {
        ChunkTerms {
            env,
            keys: [
                atoms::__struct__().encode(env),
                atoms::offset().encode(env),
                atoms::length().encode(env),
                atoms::digest().encode(env),
                atoms::payload().encode(env),
            ],
            tag: atoms::chunk_struct().encode(env),
        }
    }

    fn make(
        &self,
        span: Span,
        digest: Option<chunker::Digest>,
        payload: Option<Binary<'a>>,
    ) -> Term<'a> {
        let env = self.env;
        let nil = atoms::nil().encode(env);
        let values = [
            self.tag,
            span.offset.encode(env),
            span.length.encode(env),
            digest.map_or(nil, |d| digest_binary(env, &d).encode(env)),
            payload.map_or(nil, |p| p.encode(env)),
        ];
        Term::map_from_term_arrays(env, &self.keys, &values)
            .expect("five distinct atom keys make a map")
    }
}

fn chunk_impl<'a>(env: Env<'a>, data: Binary<'a>, options: OptionsArg) -> Term<'a> {
    let result = Options::parse(options).map(|options| {
        let terms = ChunkTerms::new(env);
        let list: Vec<Term<'a>> = options
            .chunk
            .chunk_slice(data.as_slice())
            .map(|c| {
                let span = Span {
                    offset: c.info.offset,
                    length: c.info.length,
                };
                let payload = options.payloads.then(|| {
                    data.make_subbinary(c.info.offset as usize, c.info.length)
                        .expect("chunks lie within the input")
                });
                terms.make(span, c.info.digest, payload)
            })
            .collect();
        list.encode(env)
    });
    to_term(env, result)
}

normal_and_dirty! {
    /// `Chunker.Native.chunk/2` (`chunk_dirty/2`): `{:ok, [%Chunker.Chunk{}]}`.
    chunk / chunk_dirty => chunk_impl<'a>(data: Binary<'a>, options: OptionsArg)
}

/// Same-run peer for the throughput benchmark (feature `test-hooks`): the library's own
/// loop over the same binary, without building terms. Returns `{chunks, bytes}`.
#[cfg(feature = "test-hooks")]
#[rustler::nif(schedule = "DirtyCpu")]
fn rust_chunk_count<'a>(env: Env<'a>, data: Binary<'a>, options: OptionsArg) -> Term<'a> {
    let result = Options::parse(options).map(|options| {
        let (mut n, mut bytes) = (0u64, 0u64);
        for c in options.chunk.chunk_slice(data.as_slice()) {
            n += 1;
            bytes += c.info.length as u64 + u64::from(c.info.digest.is_some());
        }
        (n, bytes).encode(env)
    });
    to_term(env, result)
}

/// The state of one `Chunker.Stream`.
struct StreamState {
    options: Options,
    push: PushChunker,
    /// The bytes of the chunk in progress fed in earlier calls (from stream offset
    /// `push.chunk_start()`): always shorter than the maximum chunk size. Kept only
    /// when chunks need their bytes (a digest or the payload).
    carry: Vec<u8>,
    whole: Option<Hasher>,
    chunks: u64,
    finished: bool,
}

impl StreamState {
    fn keeps_bytes(&self) -> bool {
        self.options.payloads || self.options.chunk.hash_algorithm().is_some()
    }

    /// The chunk of `length` bytes that begins at `carry[0]` and ends either inside
    /// `carry` (the chunker can make a cut final only when later bytes arrive) or in
    /// `data`, whose first byte follows `carry`'s last: its digest and payload. Its
    /// bytes leave `carry`.
    fn take_carried<'a>(
        &mut self,
        env: Env<'a>,
        length: usize,
        data: &[u8],
    ) -> (Option<chunker::Digest>, Option<Binary<'a>>) {
        if !self.keeps_bytes() {
            return (None, None);
        }
        let bytes = if length <= self.carry.len() {
            let rest = self.carry.split_off(length);
            std::mem::replace(&mut self.carry, rest)
        } else {
            let from_data = length - self.carry.len();
            self.carry.extend_from_slice(&data[..from_data]);
            std::mem::take(&mut self.carry)
        };
        let digest = self
            .options
            .chunk
            .hash_algorithm()
            .map(|a| chunker::hash(a, &bytes));
        let payload = self.options.payloads.then(|| owned_binary(env, bytes));
        (digest, payload)
    }

    fn feed<'a>(&mut self, env: Env<'a>, data: Binary<'a>) -> Result<Term<'a>, NifError> {
        if self.finished {
            return Err(NifError::closed());
        }
        let bytes = data.as_slice();
        if let Some(h) = self.whole.as_mut() {
            h.update(bytes);
        }
        let base = self.push.position();
        let spans: Vec<Span> = self.push.feed(bytes).collect();
        let terms = ChunkTerms::new(env);
        let mut out = Vec::with_capacity(spans.len());
        for span in spans {
            let (digest, payload) = if span.offset >= base {
                let start = (span.offset - base) as usize;
                let piece = &bytes[start..start + span.length];
                let digest = self
                    .options
                    .chunk
                    .hash_algorithm()
                    .map(|a| chunker::hash(a, piece));
                let payload = self.options.payloads.then(|| {
                    data.make_subbinary(start, span.length)
                        .expect("chunks lie within the input")
                });
                (digest, payload)
            } else {
                self.take_carried(env, span.length, bytes)
            };
            out.push(terms.make(span, digest, payload));
        }
        self.chunks += out.len() as u64;
        if self.keeps_bytes() {
            let start = self.push.chunk_start();
            if start >= base {
                self.carry.clear();
                self.carry
                    .extend_from_slice(&bytes[(start - base) as usize..]);
            } else {
                self.carry.extend_from_slice(bytes);
            }
        }
        Ok(out.encode(env))
    }

    fn finish<'a>(&mut self, env: Env<'a>) -> Result<Term<'a>, NifError> {
        if self.finished {
            return Err(NifError::closed());
        }
        self.finished = true;
        let length = self.push.position();
        let terms = ChunkTerms::new(env);
        let mut out = Vec::new();
        if let Some(span) = self.push.finish() {
            let (digest, payload) = self.take_carried(env, span.length, &[]);
            out.push(terms.make(span, digest, payload));
            self.chunks += 1;
        }
        self.carry = Vec::new();
        let nil = atoms::nil().encode(env);
        let digest = self
            .whole
            .as_ref()
            .map_or(nil, |h| digest_binary(env, &h.finalize()).encode(env));
        let summary = Term::map_from_term_arrays(
            env,
            &[
                atoms::length().encode(env),
                atoms::chunks().encode(env),
                atoms::digest().encode(env),
            ],
            &[length.encode(env), self.chunks.encode(env), digest],
        )
        .expect("three distinct atom keys make a map");
        Ok((out, summary).encode(env))
    }
}

/// A `Chunker.Stream`: the push chunker's state behind a mutex. Concurrent calls on
/// one stream are serialized (see `stream_feed`); separate streams are independent.
pub struct ChunkStream(Mutex<StreamState>);

#[rustler::resource_impl]
impl Resource for ChunkStream {}

/// `Chunker.Native.stream_new/2`: a stream with the chunk options and an optional
/// whole-stream digest (`:sha256`, `:blake3` or `nil`).
#[rustler::nif]
fn stream_new(env: Env<'_>, options: OptionsArg, stream_hash: Atom) -> Term<'_> {
    let result = Options::parse(options).and_then(|options| {
        let whole = algorithm(stream_hash)?.map(Hasher::new);
        let state = StreamState {
            push: options.chunk.chunker().push(),
            options,
            carry: Vec::new(),
            whole,
            chunks: 0,
            finished: false,
        };
        Ok(ResourceArc::new(ChunkStream(Mutex::new(state))).encode(env))
    });
    to_term(env, result)
}

mod busy {
    rustler::atoms! { busy }
}

/// Run `f` on the stream's state, waiting for a call in progress (dirty schedulers).
fn with_state<'a>(
    env: Env<'a>,
    stream: &ChunkStream,
    f: impl FnOnce(&mut StreamState) -> Result<Term<'a>, NifError>,
) -> Term<'a> {
    let result = match stream.0.lock() {
        Ok(mut state) => f(&mut state),
        Err(_) => Err(NifError::poisoned()),
    };
    to_term(env, result)
}

/// `Chunker.Native.stream_feed/2` on a normal scheduler (small pieces): never waits;
/// returns `:busy` when another call holds the stream, and the caller retries with
/// `stream_feed_dirty/2`, which waits on a dirty scheduler.
#[rustler::nif]
fn stream_feed<'a>(env: Env<'a>, stream: ResourceArc<ChunkStream>, data: Binary<'a>) -> Term<'a> {
    let result = match stream.0.try_lock() {
        Ok(mut state) => state.feed(env, data),
        Err(TryLockError::WouldBlock) => return busy::busy().encode(env),
        Err(TryLockError::Poisoned(_)) => Err(NifError::poisoned()),
    };
    to_term(env, result)
}

/// `Chunker.Native.stream_feed_dirty/2` on a dirty CPU scheduler.
#[rustler::nif(schedule = "DirtyCpu")]
fn stream_feed_dirty<'a>(
    env: Env<'a>,
    stream: ResourceArc<ChunkStream>,
    data: Binary<'a>,
) -> Term<'a> {
    with_state(env, &stream, |state| state.feed(env, data))
}

/// `Chunker.Native.stream_finish/1` on a dirty CPU scheduler (the last chunk may be
/// up to the maximum size to hash): `{:ok, {chunks, summary}}`.
#[rustler::nif(schedule = "DirtyCpu")]
fn stream_finish(env: Env<'_>, stream: ResourceArc<ChunkStream>) -> Term<'_> {
    with_state(env, &stream, |state| state.finish(env))
}
