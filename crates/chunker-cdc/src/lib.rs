//! Exact FastCDC (v2020) content-defined chunking: the boundary engine of `chunker`.
//!
//! Sans-IO and hash-free: this crate finds cut points and nothing else. Its cut points
//! are bit-identical to the `fastcdc` crate's `v2020::FastCDC` (normalization level 1,
//! standard gear table) for every configuration [`Config`] accepts; the differential
//! tests in `tests/` hold it to that.
//!
//! ```
//! use chunker_cdc::{Chunker, Config, Preset};
//!
//! let data = vec![7u8; 3 << 20];
//! let chunker = Chunker::new(Preset::Medium.config());
//! // Uniform data never matches the mask: every chunk is cut at the maximum size.
//! let lengths: Vec<usize> = chunker.spans(&data).map(|s| s.length).collect();
//! assert_eq!(lengths, vec![1 << 20; 3]);
//! ```
//!
//! # The algorithm
//! FastCDC (Xia et al., USENIX ATC 2016; the 2020 TPDS version) rolls a "gear" hash
//! `h = (h << 1) + GEAR[byte]` over the input. No cut is made before the minimum size;
//! from there a byte ends a chunk (and is the first byte of the next one) when
//! `h & mask == 0`, using a mask with more bits before the average size and fewer after
//! it ("normalized chunking"), and a chunk is cut at the maximum size if nothing
//! matched. Only the last 64 bytes influence `h`.
//!
//! Three drivers share one rule ([`Chunker::cut`] / the push chunker's state machine):
//! [`Chunker::spans`] and [`Chunker::slices`] for a whole slice, and [`PushChunker`] for
//! input that arrives in pieces.
//!
//! # Kernels
//! The drivers ask a [`Kernel`] for the first match of one mask in a run of bytes:
//! [`Kernel::Portable`] (the specification, one byte pair at a time),
//! [`Kernel::Streams`] (four interleaved streams, the default) or [`Kernel::Avx512`]
//! (eight lanes in one AVX-512 register, on x86-64 with AVX-512 F, BW and VBMI; not yet
//! the default). [`Kernel::detect`] picks one once per process; the environment
//! variable `CHUNKER_CDC_KERNEL` (`portable`, `streams` or `avx512`) overrides it, and
//! [`Kernel::from_env`] reports a bad or unavailable value.
// `unsafe` is allowed only in `kernel/avx512.rs` (SIMD), each block with a SAFETY note.
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod engine;
mod gear_table;
mod kernel;
#[cfg(feature = "rayon")]
mod parallel;

pub use config::{
    Config, ConfigBuilder, ConfigError, Preset, SizeField, UnknownPreset, AVG_SIZE_MAX,
    AVG_SIZE_MIN, MAX_SIZE_MAX, MAX_SIZE_MIN, MIN_SIZE_MAX, MIN_SIZE_MIN,
};
pub use engine::{Chunker, Feed, PushChunker, Span, Spans};
pub use gear_table::GEAR;
pub use kernel::{Kernel, KernelError, KERNEL_ENV};
