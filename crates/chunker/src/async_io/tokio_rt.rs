//! The tokio side: [`TokioReader`] and [`TokioBlocking`].

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BufMut;
use tokio::runtime::Handle;

use super::{private, AsyncChunkStream, AsyncSource, Job, Offload};
use crate::chunk::ChunkOptions;

/// A `tokio::io::AsyncRead` as an [`AsyncSource`]: reads go straight into the spare
/// capacity of the block (never zero-filled). See [`AsyncChunkStream::tokio`].
pub struct TokioReader<R>(pub R);

impl<R> fmt::Debug for TokioReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokioReader").finish_non_exhaustive()
    }
}

impl<R: tokio::io::AsyncRead + Unpin> private::Fill for TokioReader<R> {
    fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        block: &mut Vec<u8>,
        want: usize,
    ) -> Poll<io::Result<usize>> {
        let mut room = block.limit(want);
        tokio_util::io::poll_read_buf(Pin::new(&mut self.0), cx, &mut room)
    }
}

impl<R: tokio::io::AsyncRead + Unpin> AsyncSource for TokioReader<R> {}

/// Runs jobs on tokio's blocking thread pool (`spawn_blocking`) of a runtime.
#[derive(Debug, Clone)]
pub struct TokioBlocking(Handle);

impl TokioBlocking {
    /// The blocking pool of the runtime `handle` belongs to.
    pub fn new(handle: Handle) -> Self {
        TokioBlocking(handle)
    }

    /// The blocking pool of the current runtime; an error outside a runtime.
    pub fn current() -> Result<Self, tokio::runtime::TryCurrentError> {
        Handle::try_current().map(TokioBlocking)
    }
}

impl Offload for TokioBlocking {
    fn spawn(&self, job: Job) {
        // A job the runtime drops at shutdown ends its stream with an error.
        drop(self.0.spawn_blocking(job));
    }
}

impl<R: tokio::io::AsyncRead + Unpin> AsyncChunkStream<TokioReader<R>> {
    /// A stream over a `tokio::io::AsyncRead`, with CPU work on the blocking pool of
    /// the current runtime ([`TokioBlocking`]); an error when called outside a tokio
    /// runtime. Use [`AsyncChunkStream::tokio_with`] for another [`Offload`].
    pub fn tokio(
        reader: R,
        options: ChunkOptions,
    ) -> Result<Self, tokio::runtime::TryCurrentError> {
        let offload = TokioBlocking::current()?;
        Ok(Self::tokio_with(reader, options, Arc::new(offload)))
    }

    /// A stream over a `tokio::io::AsyncRead`, with CPU work run by `offload`.
    pub fn tokio_with(reader: R, options: ChunkOptions, offload: Arc<dyn Offload>) -> Self {
        AsyncChunkStream::with_source(TokioReader(reader), options, offload)
    }
}
