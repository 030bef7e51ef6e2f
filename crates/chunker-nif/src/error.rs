//! Library errors as `{:error, {kind, message}}` terms.
//!
//! `kind` is an atom callers can match on; `message` is a one-line string (the error
//! and its causes, each said once). The kinds:
//!
//! | kind | when |
//! |---|---|
//! | `:invalid_config` | chunk sizes out of range or unordered, unknown preset |
//! | `:invalid_option` | a compression level or setting out of range (bad option types are caught in Elixir, same kind) |
//! | `:invalid_encoding` | bad Nix base32 or hex text |
//! | `:invalid_digest` | a digest string that does not parse |
//! | `:size_exceeded` | decompressed output over the caller's limit |
//! | `:corrupt` | compressed data that its decoder rejects |
//! | `:truncated` | compressed data that ends early |
//! | `:unknown_format` | no known compression magic, or a format not decoded here |
//! | `:unsupported` | a codec not compiled in, or a dictionary for a codec without one |
//! | `:memory_limit` | a stream that needs more decoder memory than allowed |
//! | `:invalid_key` | an Ed25519 key or signature string that does not parse |
//! | `:invalid_narinfo` | narinfo text that does not parse |
//! | `:verify_failed` | no signature by a trusted key verifies |
//! | `:io` | a path that cannot be read |
//! | `:unsupported_file_type` | a socket, device or FIFO inside a path to hash as a NAR |
//! | `:closed` | a `Chunker.Stream` used after `finish/1` |
//! | `:poisoned` | a `Chunker.Stream` whose state was lost to an earlier panic |

use std::error::Error;
use std::fmt::Write as _;

use chunker::compress::CompressionError;
use chunker::nix::{KeyError, NarInfoError, PackError, VerifyError};
use chunker::ConfigError;
use rustler::{Atom, Encoder, Env, Term};

use crate::atoms;

mod kinds {
    rustler::atoms! {
        invalid_config,
        invalid_option,
        invalid_encoding,
        invalid_digest,
        size_exceeded,
        corrupt,
        truncated,
        unknown_format,
        unsupported,
        memory_limit,
        invalid_key,
        invalid_narinfo,
        verify_failed,
        io,
        unsupported_file_type,
        closed,
        poisoned,
    }
}

/// An error kind atom and its message, ready to become `{:error, {kind, message}}`.
#[derive(Debug)]
pub struct NifError {
    kind: Atom,
    message: String,
}

impl NifError {
    /// An error of `kind` with `message`.
    pub fn new(kind: Atom, message: impl Into<String>) -> NifError {
        NifError {
            kind,
            message: message.into(),
        }
    }

    /// `error` and its `source()` chain, joined by `": "`, as an error of `kind`.
    pub fn from_error(kind: Atom, error: &dyn Error) -> NifError {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            let _ = write!(message, ": {cause}");
            source = cause.source();
        }
        NifError::new(kind, message)
    }

    /// `:closed`: the stream was finished.
    pub fn closed() -> NifError {
        NifError::new(kinds::closed(), "the stream is finished")
    }

    /// `:poisoned`: a panic interrupted an earlier call on this stream.
    pub fn poisoned() -> NifError {
        NifError::new(
            kinds::poisoned(),
            "the stream's state was lost to a panic in an earlier call",
        )
    }

    /// `:invalid_encoding` with `message`.
    pub fn invalid_encoding(message: impl Into<String>) -> NifError {
        NifError::new(kinds::invalid_encoding(), message)
    }

    /// `:invalid_option` with `message`.
    pub fn invalid_option(message: impl Into<String>) -> NifError {
        NifError::new(kinds::invalid_option(), message)
    }

    /// `:invalid_digest` with `message`.
    pub fn invalid_digest(error: &dyn Error) -> NifError {
        NifError::from_error(kinds::invalid_digest(), error)
    }
}

impl Encoder for NifError {
    fn encode<'a>(&self, env: Env<'a>) -> Term<'a> {
        (atoms::error(), (self.kind, self.message.as_str())).encode(env)
    }
}

/// `{:ok, value}` or `{:error, {kind, message}}`.
pub fn to_term<'a>(env: Env<'a>, result: Result<Term<'a>, NifError>) -> Term<'a> {
    match result {
        Ok(value) => (atoms::ok(), value).encode(env),
        Err(e) => e.encode(env),
    }
}

impl From<ConfigError> for NifError {
    fn from(e: ConfigError) -> NifError {
        NifError::from_error(kinds::invalid_config(), &e)
    }
}

impl From<chunker::cdc::UnknownPreset> for NifError {
    fn from(e: chunker::cdc::UnknownPreset) -> NifError {
        NifError::from_error(kinds::invalid_config(), &e)
    }
}

impl From<chunker::hash::nix32::Nix32Error> for NifError {
    fn from(e: chunker::hash::nix32::Nix32Error) -> NifError {
        NifError::from_error(kinds::invalid_encoding(), &e)
    }
}

impl From<CompressionError> for NifError {
    fn from(e: CompressionError) -> NifError {
        let kind = match &e {
            CompressionError::SizeExceeded { .. } => kinds::size_exceeded(),
            CompressionError::Corrupt { .. } => kinds::corrupt(),
            CompressionError::Truncated { .. } => kinds::truncated(),
            CompressionError::UnknownFormat | CompressionError::Unsupported { .. } => {
                kinds::unknown_format()
            }
            CompressionError::UnknownDictionary { .. } | CompressionError::InvalidDictionary => {
                kinds::corrupt()
            }
            CompressionError::InvalidLevel { .. } | CompressionError::InvalidSetting { .. } => {
                kinds::invalid_option()
            }
            CompressionError::MemoryLimit { .. } => kinds::memory_limit(),
            CompressionError::Io(_) => kinds::io(),
            _ => kinds::unsupported(),
        };
        NifError::from_error(kind, &e)
    }
}

impl From<KeyError> for NifError {
    fn from(e: KeyError) -> NifError {
        NifError::from_error(kinds::invalid_key(), &e)
    }
}

impl From<NarInfoError> for NifError {
    fn from(e: NarInfoError) -> NifError {
        NifError::from_error(kinds::invalid_narinfo(), &e)
    }
}

impl From<VerifyError> for NifError {
    fn from(e: VerifyError) -> NifError {
        NifError::from_error(kinds::verify_failed(), &e)
    }
}

impl From<PackError> for NifError {
    fn from(e: PackError) -> NifError {
        let kind = match &e {
            PackError::UnsupportedType { .. } => kinds::unsupported_file_type(),
            _ => kinds::io(),
        };
        NifError::from_error(kind, &e)
    }
}
