//! The one error type of the pipeline.

use std::io;
use std::path::PathBuf;

use crate::compress::CompressionError;

/// Why a [`Pipeline`](super::Pipeline) could not start, or why it stopped.
///
/// While running, an error is one `Err` item of the output, at its place in the input
/// order (the chunks before it were yielded, none after it are); the output ends after
/// it and every thread the pipeline started is stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The input could not be opened.
    #[error("cannot open {}", path.display())]
    Open {
        /// The path given.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The reader failed. The chunks that ended before `offset` were yielded; the bytes
    /// from the end of the last of them up to `offset` were read but belong to no chunk.
    #[error("read failed at offset {offset}")]
    Read {
        /// Bytes read successfully before the failure.
        offset: u64,
        /// The reader's error.
        #[source]
        source: io::Error,
    },
    /// Compressing the chunk at `offset` failed.
    #[error("compressing the chunk at offset {offset} ({length} bytes) failed")]
    Compress {
        /// Offset of the chunk.
        offset: u64,
        /// Its length.
        length: usize,
        /// The codec's error.
        #[source]
        source: CompressionError,
    },
    /// A pipeline thread panicked while working on the data at `offset` (a worker on
    /// the chunk there, a cutting task on the block whose chunk in progress starts
    /// there, or the reader on the read there).
    #[error("a pipeline {stage} panicked at offset {offset}: {message}")]
    Panicked {
        /// `"worker"`, `"cutter"` or `"reader"`.
        stage: &'static str,
        /// Offset of the chunk (worker, cutter) or of the read (reader).
        offset: u64,
        /// The panic message, when it was a string.
        message: String,
    },
    /// An environment variable holds a value that is not a threshold.
    #[error("invalid {variable}={value:?}: {reason}")]
    InvalidEnv {
        /// The variable's name.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What is expected.
        reason: &'static str,
    },
    /// A setting is out of range.
    #[error("invalid pipeline setting {name}: {reason}")]
    InvalidSetting {
        /// The setting's name.
        name: &'static str,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// A thread (the reader's, or the owned pool's) could not be started.
    #[error("cannot start a pipeline thread")]
    Spawn {
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The owned thread pool could not be built.
    #[error("cannot build the pipeline's thread pool")]
    ThreadPool {
        /// Rayon's error.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
}

impl PipelineError {
    /// The offset in the input the error is about, for errors met while running.
    pub fn offset(&self) -> Option<u64> {
        match self {
            PipelineError::Read { offset, .. }
            | PipelineError::Compress { offset, .. }
            | PipelineError::Panicked { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

/// The message of a caught panic.
pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a non-string panic payload)".to_string()
    }
}
