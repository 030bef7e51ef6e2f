//! Compression for chunks and NARs: zstd, lz4 (frame format), xz and bzip2 — the
//! formats Nix binary caches use — with bounded decoding, pooled zstd contexts, zstd
//! dictionaries and adaptive codec selection.
//!
//! ```
//! use chunker::compress::{Codec, Compressor, Decompressor};
//!
//! let data = b"a NAR chunk, a NAR chunk, a NAR chunk".repeat(100);
//! let frame = Compressor::new(Codec::Zstd).compress(&data)?;
//! // The format is detected from the magic bytes; output is capped (64 MiB default).
//! let back = Decompressor::new().max_output(1 << 20).decompress(&frame)?;
//! assert_eq!(back, data);
//! # Ok::<(), chunker::compress::CompressionError>(())
//! ```
//!
//! # Forms
//! Each codec has the same three forms, for compressing ([`Compressor`]) and
//! decompressing ([`Decompressor`]):
//! - one-shot: [`Compressor::compress`], [`Decompressor::decompress`];
//! - into a caller's buffer: [`Compressor::compress_into`] and
//!   [`Decompressor::decompress_into`] append to a `Vec` (reusing its capacity),
//!   [`Decompressor::decompress_to_slice`] fills a slice;
//! - streaming: [`Compressor::writer`] ([`Encoder`], a `Write`);
//!   [`Decompressor::reader`] ([`Decoder`], a `Read`) and [`Decompressor::writer`]
//!   ([`DecompressWriter`], a `Write`).
//!
//! # Limits
//! Every decoder has an output limit: [`Decompressor::max_output`], by default
//! [`DEFAULT_MAX_OUTPUT`]. Output of exactly the limit succeeds; one byte more is
//! [`CompressionError::SizeExceeded`], raised before anything beyond the limit is
//! allocated. Input that ends inside a stream is [`CompressionError::Truncated`], never
//! a shorter output; bytes after the last stream that cannot begin another (xz: nor
//! are stream padding) are [`CompressionError::TrailingData`], with the offset where
//! the stream ended. Decoder memory is bounded too: zstd windows up to
//! `max(limit, 128 MiB)` (2 GiB at most), xz decoder memory up to `max(limit, 96 MiB)`
//! (enough for `xz -9`); beyond, [`CompressionError::MemoryLimit`].
//!
//! # Pooled contexts
//! zstd compression and decompression contexts are kept per thread and reused: after
//! the first call on a thread, [`Compressor::compress_into`] into a `Vec` with room and
//! [`Decompressor::decompress_into`] allocate nothing (`tests/compress_alloc.rs`
//! proves it with a counting allocator). The zstd streaming decoders ([`Decoder`],
//! [`DecompressWriter`]) borrow a pooled context too; the streaming [`Encoder`]s and the
//! xz, bzip2 and lz4 codecs set up their state per stream or call.
//!
//! # Dictionaries
//! [`Compressor::dictionary`] compresses with a zstd [`Dictionary`]; frames carry its
//! ID, and decoding looks the ID up in a [`DictionaryRegistry`] (by default the shipped
//! ones, [`Dictionary::nar_v1`]).
//!
//! # Adaptive
//! [`Adaptive`] classifies a chunk (magic bytes of compressed and media formats,
//! entropy of a sample), skips or uses a fast codec on incompressible data, and keeps
//! the compressed output only when it saves enough; it returns the codec used.

mod adaptive;
mod detect;
mod dict;
mod error;
mod raw;

#[cfg(feature = "bzip2")]
mod bz2;
#[cfg(feature = "lz4")]
mod lz4;
#[cfg(feature = "xz")]
mod xz;
#[cfg(feature = "zstd")]
mod zst;

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;
use std::sync::Arc;

pub use adaptive::{classify, Adaptive, Class};
pub use detect::{detect, DETECT_LEN};
pub use dict::{Dictionary, DictionaryRegistry};
pub use error::CompressionError;
pub use raw::{Decoder, DecompressWriter};

/// The output limit of a [`Decompressor`] unless set: 64 MiB, four times the largest
/// chunk the engine cuts (16 MiB).
pub const DEFAULT_MAX_OUTPUT: usize = 64 << 20;

/// A compression format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// Stored as is.
    None,
    /// zstd frames (`.zst`).
    Zstd,
    /// lz4 frame format (`.lz4`), as Nix writes it.
    Lz4,
    /// xz (`.xz`, LZMA2).
    Xz,
    /// bzip2 (`.bz2`).
    Bzip2,
}

impl Codec {
    /// Every codec, `None` first.
    pub const ALL: [Codec; 5] = [
        Codec::None,
        Codec::Zstd,
        Codec::Lz4,
        Codec::Xz,
        Codec::Bzip2,
    ];

    /// The name Nix uses in narinfo `Compression:` fields.
    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Zstd => "zstd",
            Codec::Lz4 => "lz4",
            Codec::Xz => "xz",
            Codec::Bzip2 => "bzip2",
        }
    }

    /// File name suffix (`.zst`, `.lz4`, `.xz`, `.bz2`; empty for `None`).
    pub fn extension(self) -> &'static str {
        match self {
            Codec::None => "",
            Codec::Zstd => ".zst",
            Codec::Lz4 => ".lz4",
            Codec::Xz => ".xz",
            Codec::Bzip2 => ".bz2",
        }
    }

    /// Accepted levels. lz4 (`lz4_flex`) has a single speed: level 1.
    pub fn levels(self) -> std::ops::RangeInclusive<i32> {
        match self {
            Codec::None => 0..=0,
            Codec::Zstd => 1..=22,
            Codec::Lz4 => 1..=1,
            Codec::Xz => 0..=9,
            Codec::Bzip2 => 1..=9,
        }
    }

    /// The level used unless one is given (zstd 3, xz 6, bzip2 9, as their CLIs).
    pub fn default_level(self) -> i32 {
        match self {
            Codec::None => 0,
            Codec::Zstd => 3,
            Codec::Lz4 => 1,
            Codec::Xz => 6,
            Codec::Bzip2 => 9,
        }
    }

    /// Whether this build decodes and encodes it (its cargo feature is on).
    pub fn is_enabled(self) -> bool {
        match self {
            Codec::None => true,
            Codec::Zstd => cfg!(feature = "zstd"),
            Codec::Lz4 => cfg!(feature = "lz4"),
            Codec::Xz => cfg!(feature = "xz"),
            Codec::Bzip2 => cfg!(feature = "bzip2"),
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown codec {0:?} (none, zstd, lz4, xz, bzip2)")]
pub struct UnknownCodec(pub String);

impl FromStr for Codec {
    type Err = UnknownCodec;
    fn from_str(s: &str) -> Result<Codec, UnknownCodec> {
        Ok(match s {
            "none" => Codec::None,
            "zstd" | "zst" => Codec::Zstd,
            "lz4" => Codec::Lz4,
            "xz" => Codec::Xz,
            "bzip2" | "bz2" => Codec::Bzip2,
            _ => return Err(UnknownCodec(s.to_string())),
        })
    }
}

/// Compression settings: codec, level, dictionary (zstd), content checksum (zstd),
/// threads (xz). Cheap to clone; one value can compress any number of inputs from any
/// number of threads.
///
/// # Integrity
/// Every format written here carries a check of the decompressed content, so that a
/// damaged stream is an error when decoded, never wrong bytes: xz a CRC64, bzip2 its
/// CRCs, lz4 frames a content checksum, and zstd frames (by default) a content
/// checksum (XXH64, what `zstd` writes) and, where known, the content size. The zstd
/// checksum costs 4 bytes per frame and a fast hash; [`Compressor::checksum`]`(false)`
/// leaves it out for callers whose data is verified anyway: chunks addressed by their
/// SHA-256 or BLAKE3 digest (checked after decompression) and NARs whose NarHash is
/// checked. Decoders always verify a checksum that is present.
#[derive(Debug, Clone)]
pub struct Compressor {
    codec: Codec,
    level: i32,
    dictionary: Option<Arc<Dictionary>>,
    threads: u32,
    checksum: bool,
}

impl Compressor {
    /// `codec` at its [default level](Codec::default_level).
    pub fn new(codec: Codec) -> Compressor {
        Compressor {
            codec,
            level: codec.default_level(),
            dictionary: None,
            threads: 1,
            checksum: true,
        }
    }

    /// `codec` at `level`, checked against [`Codec::levels`].
    pub fn with_level(codec: Codec, level: i32) -> Result<Compressor, CompressionError> {
        let range = codec.levels();
        if !range.contains(&level) {
            return Err(CompressionError::InvalidLevel {
                codec,
                level,
                min: *range.start(),
                max: *range.end(),
            });
        }
        Ok(Compressor {
            level,
            ..Compressor::new(codec)
        })
    }

    /// Compress with a zstd dictionary (its ID goes into every frame). Other codecs:
    /// [`CompressionError::DictionaryUnsupported`].
    pub fn dictionary(
        mut self,
        dictionary: Arc<Dictionary>,
    ) -> Result<Compressor, CompressionError> {
        if self.codec != Codec::Zstd {
            return Err(CompressionError::DictionaryUnsupported { codec: self.codec });
        }
        self.dictionary = Some(dictionary);
        Ok(self)
    }

    /// Whether zstd frames carry a content checksum (XXH64 of the decompressed bytes,
    /// as the `zstd` tool writes by default): on by default. Turn it off only where
    /// something else verifies the decompressed bytes (a chunk digest, a NarHash):
    /// without it a damaged frame can decode to wrong bytes without an error. Other
    /// codecs always carry their own check; this setting does not change them.
    ///
    /// ```
    /// use chunker::compress::{Codec, Compressor};
    ///
    /// let data = b"chunk addressed by its digest ".repeat(50);
    /// let with = Compressor::new(Codec::Zstd).compress(&data)?;
    /// let without = Compressor::new(Codec::Zstd).checksum(false).compress(&data)?;
    /// assert_eq!(with.len(), without.len() + 4);
    /// # Ok::<(), chunker::compress::CompressionError>(())
    /// ```
    pub fn checksum(mut self, on: bool) -> Compressor {
        self.checksum = on;
        self
    }

    /// Whether zstd frames carry a content checksum (see [`Compressor::checksum`]).
    pub fn has_checksum(&self) -> bool {
        self.checksum
    }

    /// xz encoder threads (liblzma's multithreaded encoder, which splits the input into
    /// independent blocks). More than 1 needs the cargo feature `xz-parallel`.
    pub fn xz_threads(mut self, threads: u32) -> Result<Compressor, CompressionError> {
        if threads == 0 {
            return Err(CompressionError::InvalidSetting {
                name: "xz_threads",
                reason: "must be at least 1",
            });
        }
        if threads > 1 && !cfg!(feature = "xz-parallel") {
            return Err(CompressionError::InvalidSetting {
                name: "xz_threads",
                reason: "the multithreaded xz encoder needs the cargo feature xz-parallel",
            });
        }
        self.threads = threads;
        Ok(self)
    }

    /// The codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The level.
    pub fn level(&self) -> i32 {
        self.level
    }

    /// The dictionary, if any.
    pub fn dictionary_ref(&self) -> Option<&Arc<Dictionary>> {
        self.dictionary.as_ref()
    }

    /// Compress `data` into a new `Vec`.
    pub fn compress(&self, data: &[u8]) -> Result<Vec<u8>, CompressionError> {
        let mut out = Vec::new();
        self.compress_into(data, &mut out)?;
        Ok(out)
    }

    /// Compress `data`, appending to `out` (its capacity is reused: with zstd, no
    /// allocation when it has room for the output, nor any per call after a thread's
    /// first). Returns the number of bytes appended. On error `out` is unchanged.
    pub fn compress_into(&self, data: &[u8], out: &mut Vec<u8>) -> Result<usize, CompressionError> {
        let start = out.len();
        let level = self.level;
        let _ = level;
        let result = match self.codec {
            Codec::None => {
                out.extend_from_slice(data);
                Ok(data.len())
            }
            #[cfg(feature = "zstd")]
            Codec::Zstd => {
                zst::compress_into(level, self.dictionary.as_deref(), self.checksum, data, out)
            }
            #[cfg(feature = "lz4")]
            Codec::Lz4 => lz4::compress_into(data, out),
            #[cfg(feature = "xz")]
            Codec::Xz => xz::compress_into(level as u32, self.threads, data, out),
            #[cfg(feature = "bzip2")]
            Codec::Bzip2 => bz2::compress_into(level as u32, data, out),
            #[allow(unreachable_patterns)]
            other => Err(CompressionError::Disabled { codec: other }),
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// A streaming encoder writing to `w`; call [`Encoder::finish`] at the end.
    pub fn writer<W: Write>(&self, w: W) -> Result<Encoder<W>, CompressionError> {
        self.writer_sized(w, None)
    }

    /// A streaming encoder writing to `w` that will be given exactly `size` bytes when
    /// that is known (`None`: unknown, as [`Compressor::writer`]). zstd and lz4 record
    /// the size in the frame header, and a different number of bytes written is an
    /// error (of [`Encoder::finish`] at the latest); xz and bzip2 ignore it.
    pub fn writer_sized<W: Write>(
        &self,
        w: W,
        size: Option<u64>,
    ) -> Result<Encoder<W>, CompressionError> {
        let level = self.level;
        let _ = (level, size);
        let inner = match self.codec {
            Codec::None => EncoderInner::None(w),
            #[cfg(feature = "zstd")]
            Codec::Zstd => {
                let mut e = match &self.dictionary {
                    Some(d) => {
                        zstd::stream::write::Encoder::with_dictionary(w, level, d.as_bytes())?
                    }
                    None => zstd::stream::write::Encoder::new(w, level)?,
                };
                e.include_checksum(self.checksum)?;
                e.set_pledged_src_size(size)?;
                EncoderInner::Zstd(e)
            }
            #[cfg(feature = "lz4")]
            Codec::Lz4 => EncoderInner::Lz4(lz4_flex::frame::FrameEncoder::with_frame_info(
                lz4::frame_info(size),
                w,
            )),
            #[cfg(feature = "xz")]
            Codec::Xz => EncoderInner::Xz(liblzma::write::XzEncoder::new_stream(
                w,
                xz::encoder_stream(level as u32, self.threads)?,
            )),
            #[cfg(feature = "bzip2")]
            Codec::Bzip2 => EncoderInner::Bzip2(bzip2::write::BzEncoder::new(
                w,
                bzip2::Compression::new(level as u32),
            )),
            #[allow(unreachable_patterns)]
            other => return Err(CompressionError::Disabled { codec: other }),
        };
        Ok(Encoder {
            inner,
            codec: self.codec,
        })
    }
}

enum EncoderInner<W: Write> {
    None(W),
    #[cfg(feature = "zstd")]
    Zstd(zstd::stream::write::Encoder<'static, W>),
    #[cfg(feature = "lz4")]
    Lz4(lz4_flex::frame::FrameEncoder<W>),
    #[cfg(feature = "xz")]
    Xz(liblzma::write::XzEncoder<W>),
    #[cfg(feature = "bzip2")]
    Bzip2(bzip2::write::BzEncoder<W>),
}

/// A streaming compressor: bytes written to it come out compressed in the inner
/// writer. [`Encoder::finish`] writes the end of the stream and returns the writer;
/// dropping an unfinished encoder leaves a truncated stream.
pub struct Encoder<W: Write> {
    inner: EncoderInner<W>,
    codec: Codec,
}

impl<W: Write> Encoder<W> {
    /// The codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// End the stream and return the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self.inner {
            EncoderInner::None(mut w) => {
                w.flush()?;
                Ok(w)
            }
            #[cfg(feature = "zstd")]
            EncoderInner::Zstd(e) => e.finish(),
            #[cfg(feature = "lz4")]
            EncoderInner::Lz4(e) => e.finish().map_err(io::Error::from),
            #[cfg(feature = "xz")]
            EncoderInner::Xz(e) => e.finish(),
            #[cfg(feature = "bzip2")]
            EncoderInner::Bzip2(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            EncoderInner::None(w) => w.write(buf),
            #[cfg(feature = "zstd")]
            EncoderInner::Zstd(e) => e.write(buf),
            #[cfg(feature = "lz4")]
            EncoderInner::Lz4(e) => e.write(buf),
            #[cfg(feature = "xz")]
            EncoderInner::Xz(e) => e.write(buf),
            #[cfg(feature = "bzip2")]
            EncoderInner::Bzip2(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            EncoderInner::None(w) => w.flush(),
            #[cfg(feature = "zstd")]
            EncoderInner::Zstd(e) => e.flush(),
            #[cfg(feature = "lz4")]
            EncoderInner::Lz4(e) => e.flush(),
            #[cfg(feature = "xz")]
            EncoderInner::Xz(e) => e.flush(),
            #[cfg(feature = "bzip2")]
            EncoderInner::Bzip2(e) => e.flush(),
        }
    }
}

/// Decompression settings: the codec (or detection from magic bytes, the default),
/// the output limit, and the dictionaries zstd frames may name.
#[derive(Debug, Clone)]
pub struct Decompressor {
    codec: Option<Codec>,
    max_output: usize,
    dictionaries: Arc<DictionaryRegistry>,
}

impl Default for Decompressor {
    fn default() -> Self {
        Decompressor::new()
    }
}

impl Decompressor {
    /// Detect the format; limit [`DEFAULT_MAX_OUTPUT`]; the shipped dictionaries.
    pub fn new() -> Decompressor {
        Decompressor {
            codec: None,
            max_output: DEFAULT_MAX_OUTPUT,
            dictionaries: DictionaryRegistry::shared_builtin(),
        }
    }

    /// Decode `codec` only (no detection). `Codec::None` copies the input (bounded).
    pub fn codec(mut self, codec: Codec) -> Decompressor {
        self.codec = Some(codec);
        self
    }

    /// Detect the format from magic bytes (the default).
    pub fn auto(mut self) -> Decompressor {
        self.codec = None;
        self
    }

    /// The most bytes a decode may produce; more is [`CompressionError::SizeExceeded`].
    pub fn max_output(mut self, limit: usize) -> Decompressor {
        self.max_output = limit;
        self
    }

    /// The dictionaries zstd frames are looked up in.
    pub fn dictionaries(mut self, registry: Arc<DictionaryRegistry>) -> Decompressor {
        self.dictionaries = registry;
        self
    }

    /// The output limit in force.
    pub fn limit(&self) -> usize {
        self.max_output
    }

    fn raw(&self, input: &[u8]) -> Result<(Codec, raw::Raw), CompressionError> {
        let codec = match self.codec {
            Some(c) => c,
            None => detect(&input[..input.len().min(DETECT_LEN)])?,
        };
        Ok((codec, raw::Raw::new(codec, input, self)?))
    }

    fn hint(codec: Codec, input: &[u8]) -> Option<u64> {
        let _ = input;
        match codec {
            Codec::None => Some(input.len() as u64),
            #[cfg(feature = "zstd")]
            Codec::Zstd => zst::content_size(input),
            _ => None,
        }
    }

    /// Decompress all of `input` into a new `Vec`.
    pub fn decompress(&self, input: &[u8]) -> Result<Vec<u8>, CompressionError> {
        let mut out = Vec::new();
        self.decompress_into(input, &mut out)?;
        Ok(out)
    }

    /// Decompress all of `input`, appending at most the limit to `out` (its capacity is
    /// reused). Returns the bytes appended; on error `out` is unchanged.
    pub fn decompress_into(
        &self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, CompressionError> {
        let (codec, mut raw) = self.raw(input)?;
        raw::decode_vec(
            &mut raw,
            codec,
            input,
            out,
            self.max_output,
            Self::hint(codec, input),
        )
    }

    /// Decompress all of `input` into `out`; the limit is the smaller of the
    /// configured one and `out.len()`. Returns the bytes written.
    pub fn decompress_to_slice(
        &self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CompressionError> {
        let (codec, mut raw) = self.raw(input)?;
        raw::decode_slice(&mut raw, codec, input, out, self.max_output)
    }

    /// A streaming decoder that writes decompressed bytes to `writer`; call
    /// [`DecompressWriter::finish`] at the end of the input.
    pub fn writer<W: Write>(&self, writer: W) -> DecompressWriter<W> {
        DecompressWriter::new(writer, self)
    }

    /// A streaming decoder over `reader`. Detection (and a zstd frame's dictionary ID)
    /// reads the first bytes here, however short the reader's reads are.
    pub fn reader<R: io::Read>(&self, reader: R) -> Result<Decoder<R>, CompressionError> {
        Decoder::new(reader, self)
    }
}

/// Compress `data` with `codec` at its default level.
pub fn compress(codec: Codec, data: &[u8]) -> Result<Vec<u8>, CompressionError> {
    Compressor::new(codec).compress(data)
}

/// Decompress `data`, detecting the format, with the [`DEFAULT_MAX_OUTPUT`] limit.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, CompressionError> {
    Decompressor::new().decompress(data)
}
