//! The one error type of the `compress` module.

use std::io;

use super::Codec;

/// Why compression or decompression failed.
///
/// Decoding errors are distinct: an output over the limit is [`SizeExceeded`], damaged
/// input is [`Corrupt`], input that ends early is [`Truncated`] (never a shorter output),
/// input whose format is not recognised is [`UnknownFormat`].
///
/// Streaming forms report errors as [`io::Error`]s that wrap this type; get it back with
/// [`CompressionError::from`] (or `io::Error::get_ref` + `downcast_ref`).
///
/// [`SizeExceeded`]: CompressionError::SizeExceeded
/// [`Corrupt`]: CompressionError::Corrupt
/// [`Truncated`]: CompressionError::Truncated
/// [`UnknownFormat`]: CompressionError::UnknownFormat
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompressionError {
    /// The decompressed output would be larger than `limit` bytes. Raised before any
    /// allocation beyond the limit.
    #[error("decompressed output exceeds the limit of {limit} bytes")]
    SizeExceeded {
        /// The output limit in force, in bytes.
        limit: usize,
    },
    /// The input is not a valid stream of `codec`.
    #[error("corrupt {} data: {reason}", codec.name())]
    Corrupt {
        /// The codec whose decoder rejected the input.
        codec: Codec,
        /// What the decoder reported.
        reason: &'static str,
    },
    /// The input ended before the end of the `codec` stream.
    #[error("truncated {} data: input ended before the end of the stream", codec.name())]
    Truncated {
        /// The codec being decoded.
        codec: Codec,
    },
    /// A `codec` stream ended at byte `offset` of the input, and what follows is not
    /// another stream (trailing garbage; xz: nor stream padding).
    #[error(
        "trailing data after the end of the {} stream at byte {offset} (not another {} stream)",
        codec.name(),
        codec.name()
    )]
    TrailingData {
        /// The codec being decoded.
        codec: Codec,
        /// Where the last complete stream ended (bytes of input).
        offset: u64,
    },
    /// No supported format's magic bytes were found at the start of the input.
    #[error("unknown compression format (no zstd, xz, bzip2 or lz4 frame magic)")]
    UnknownFormat,
    /// A known format this crate does not decode (e.g. `gzip`).
    #[error("unsupported compression format: {format}")]
    Unsupported {
        /// The recognised format's name.
        format: &'static str,
    },
    /// A zstd frame needs the dictionary `id`, which is not in the registry.
    #[error("unknown zstd dictionary id {id}")]
    UnknownDictionary {
        /// The dictionary ID written in the frame header.
        id: u32,
    },
    /// Bytes given as a dictionary are not a zstd dictionary with an ID.
    #[error("not a zstd dictionary with an id (magic 37 a4 30 ec, non-zero id)")]
    InvalidDictionary,
    /// Bytes given as a dictionary are more than [`Dictionary::MAX_SIZE`].
    ///
    /// [`Dictionary::MAX_SIZE`]: super::Dictionary::MAX_SIZE
    #[error("a zstd dictionary has at most {max} bytes; this has {size}")]
    DictionaryTooLarge {
        /// The size given, in bytes (at least; a reader may have stopped early).
        size: u64,
        /// [`Dictionary::MAX_SIZE`](super::Dictionary::MAX_SIZE).
        max: usize,
    },
    /// Dictionary training failed (too few or too small samples, usually).
    #[error("dictionary training failed: {reason}")]
    Training {
        /// What zstd reported.
        reason: &'static str,
    },
    /// A dictionary was given for a codec that has none here (only zstd has).
    #[error("{} does not support dictionaries", codec.name())]
    DictionaryUnsupported {
        /// The codec.
        codec: Codec,
    },
    /// The level is outside the codec's range.
    #[error("level {level} is out of range for {} ({min}..={max})", codec.name())]
    InvalidLevel {
        /// The codec.
        codec: Codec,
        /// The level asked for.
        level: i32,
        /// Lowest accepted level.
        min: i32,
        /// Highest accepted level.
        max: i32,
    },
    /// A setting other than the level is out of range.
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting {
        /// The setting's name.
        name: &'static str,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// The codec is not compiled in (its cargo feature is off).
    #[error("{} support is not compiled in (cargo feature off)", codec.name())]
    Disabled {
        /// The codec.
        codec: Codec,
    },
    /// The decoder would need more memory than allowed (xz dictionary, zstd window).
    #[error("{} stream needs more decoder memory than allowed", codec.name())]
    MemoryLimit {
        /// The codec.
        codec: Codec,
    },
    /// An I/O error of the underlying reader or writer (streaming forms).
    #[error(transparent)]
    Io(io::Error),
}

impl From<io::Error> for CompressionError {
    /// Unwraps a `CompressionError` carried inside an `io::Error` (as the streaming
    /// forms return them); anything else becomes [`CompressionError::Io`].
    fn from(e: io::Error) -> Self {
        if e.get_ref().is_some_and(|i| i.is::<CompressionError>()) {
            let inner = e.into_inner().expect("checked above");
            match inner.downcast::<CompressionError>() {
                Ok(c) => *c,
                Err(other) => CompressionError::Io(io::Error::other(other)),
            }
        } else {
            CompressionError::Io(e)
        }
    }
}

impl From<CompressionError> for io::Error {
    fn from(e: CompressionError) -> io::Error {
        match e {
            CompressionError::Io(io) => io,
            other => {
                let kind = match other {
                    CompressionError::Truncated { .. } => io::ErrorKind::UnexpectedEof,
                    CompressionError::InvalidLevel { .. }
                    | CompressionError::InvalidSetting { .. }
                    | CompressionError::DictionaryUnsupported { .. }
                    | CompressionError::Disabled { .. } => io::ErrorKind::InvalidInput,
                    _ => io::ErrorKind::InvalidData,
                };
                io::Error::new(kind, other)
            }
        }
    }
}
