//! Memory-mapped file input (IO-002): the only `unsafe` code of the crate.
//!
//! The file is mapped one window at a time (each window starts at the page holding the
//! chunk in progress, so a chunk never spans two windows and every payload is a
//! zero-copy slice of a window), with sequential access advice. A window stays mapped
//! while a payload from it is alive.
//!
//! **Hazard:** when the file shrinks while it is mapped (another process truncates it),
//! touching a page past its new end raises `SIGBUS`, which kills the process. This is
//! why mapping is opt-in ([`Pipeline::mmap`](super::Pipeline::mmap)): use it only on
//! files nobody truncates while they are read.
#![allow(unsafe_code)]

use std::fs::File;

use bytes::Bytes;
use memmap2::{Advice, Mmap, MmapOptions};

use super::error::PipelineError;
use super::feed::{Block, BlockSource};

/// Blocks sliced from windows of a mapped regular file.
pub(super) struct MapBlocks {
    file: File,
    /// The file offset of the input's first byte.
    origin: u64,
    /// The file's length when it was opened: the input ends there.
    len: u64,
    /// Bytes mapped at once at most (but at least a block and a maximum chunk before
    /// it).
    window: usize,
    max_chunk: usize,
    /// The current window and the file offset of its first byte.
    map: Option<(Bytes, u64)>,
    /// Stream offset of the next new byte.
    offset: u64,
}

impl MapBlocks {
    pub(super) fn new(
        file: File,
        origin: u64,
        len: u64,
        window: usize,
        max_chunk: usize,
    ) -> MapBlocks {
        MapBlocks {
            file,
            origin,
            len,
            window,
            max_chunk,
            map: None,
            offset: 0,
        }
    }

    /// Map `len` bytes at `offset` (a multiple of the page size).
    fn map(&self, offset: u64, len: usize) -> std::io::Result<Mmap> {
        // SAFETY: the mapping is read-only and private to this pipeline; its bytes are
        // only read through `Bytes` slices while it is alive. The one way its contents
        // can become invalid is another process truncating the file, which raises
        // SIGBUS instead of undefined behaviour in Rust terms; mapping is opt-in and
        // that hazard is documented on `Pipeline::mmap`.
        let map = unsafe { MmapOptions::new().offset(offset).len(len).map(&self.file)? };
        // Advice is a hint: a failure changes nothing.
        let _ = map.advise(Advice::Sequential);
        Ok(map)
    }
}

/// The page size mappings are aligned to (a multiple of every page size in use).
const ALIGN: u64 = 64 << 10;

impl BlockSource for MapBlocks {
    fn next_block(&mut self, want: usize) -> Block {
        // Stream offsets: the block repeats up to a maximum chunk before `offset`.
        let keep = self.offset.min(self.max_chunk as u64);
        let start = self.offset - keep;
        // File offsets from here on.
        let (lo, end) = (
            self.origin + start,
            (self.origin + self.offset + want as u64).min(self.len),
        );
        let mapped = self
            .map
            .as_ref()
            .filter(|(m, at)| *at <= lo && at + m.len() as u64 >= end);
        if mapped.is_none() {
            self.map = None;
            let at = lo - lo % ALIGN;
            let len = (end - at).max((self.window as u64).min(self.len - at));
            match self.map(at, len as usize) {
                Ok(m) => self.map = Some((Bytes::from_owner(m), at)),
                Err(source) => {
                    return Block {
                        data: Bytes::new(),
                        start: self.offset,
                        fresh: 0,
                        outcome: Err(PipelineError::Read {
                            offset: self.offset,
                            source,
                        }),
                    }
                }
            }
        }
        let (map, at) = self.map.as_ref().expect("mapped above");
        let data = map.slice((lo - at) as usize..(end - at) as usize);
        self.offset = end - self.origin;
        Block {
            data,
            start,
            fresh: keep as usize,
            outcome: Ok(end == self.len),
        }
    }
}
