//! Read blocks from a pool (IO-001).
//!
//! A block is a `Vec<u8>` filled through its spare capacity (never zero-filled), then
//! frozen into [`Bytes`] with [`Bytes::from_owner`]: chunk payloads are slices of it.
//! When the last slice is dropped the owner's `Drop` hands the `Vec` back to the pool,
//! emptied, so a long ingest reuses a bounded set of allocations.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// A bounded free list of block allocations.
#[derive(Debug)]
pub(super) struct BlockPool {
    free: Mutex<Vec<Vec<u8>>>,
    /// Blocks kept for reuse at most; more are freed.
    keep: usize,
    /// The capacity last asked for: smaller blocks coming back are freed (blocks
    /// grow, and one that no later request fits would only hold memory).
    wanted: AtomicUsize,
}

impl BlockPool {
    pub(super) fn new(keep: usize) -> Arc<BlockPool> {
        Arc::new(BlockPool {
            free: Mutex::new(Vec::new()),
            keep,
            wanted: AtomicUsize::new(0),
        })
    }

    /// An empty block with room for `capacity` bytes: a returned one when one is large
    /// enough, else a new allocation (not touched, so not faulted in).
    pub(super) fn take(&self, capacity: usize) -> Vec<u8> {
        self.wanted.store(capacity, Ordering::Relaxed);
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        // Blocks only grow: one too small now would only hold memory.
        free.retain(|b| b.capacity() >= capacity);
        match free.pop() {
            Some(b) => b,
            None => {
                drop(free);
                Vec::with_capacity(capacity)
            }
        }
    }

    fn give_back(&self, mut block: Vec<u8>) {
        if block.capacity() < self.wanted.load(Ordering::Relaxed) {
            return;
        }
        block.clear();
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < self.keep {
            free.push(block);
        }
    }

    /// Freeze `block`: payloads sliced from the result return it here when the last one
    /// is dropped.
    pub(super) fn freeze(self: &Arc<Self>, block: Vec<u8>) -> Bytes {
        Bytes::from_owner(Pooled {
            block,
            pool: Arc::clone(self),
        })
    }

    /// Blocks waiting for reuse.
    #[cfg(test)]
    pub(super) fn idle(&self) -> usize {
        self.free.lock().unwrap().len()
    }
}

/// The owner behind a frozen block.
struct Pooled {
    block: Vec<u8>,
    pool: Arc<BlockPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.block
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.block));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_returns_when_its_last_slice_is_dropped() {
        let pool = BlockPool::new(4);
        let mut b = pool.take(1024);
        b.extend_from_slice(&[7; 100]);
        let ptr = b.as_ptr();
        let frozen = pool.freeze(b);
        let slice = frozen.slice(10..20);
        drop(frozen);
        assert_eq!(pool.idle(), 0, "a slice still holds the block");
        drop(slice);
        assert_eq!(pool.idle(), 1);
        let again = pool.take(512);
        assert_eq!(again.as_ptr(), ptr, "the same allocation is reused");
        assert!(again.is_empty());
        // Blocks grow: one too small for the last request is not kept.
        pool.give_back(again);
        assert_eq!(pool.idle(), 1);
        assert!(pool.take(4096).capacity() >= 4096);
        assert_eq!(pool.idle(), 0, "the smaller free block is freed");
        pool.give_back(Vec::with_capacity(1024));
        assert_eq!(
            pool.idle(),
            0,
            "a block too small for the last request is freed"
        );
    }

    #[test]
    fn the_free_list_is_bounded() {
        let pool = BlockPool::new(2);
        let blocks: Vec<_> = (0..5).map(|_| pool.freeze(pool.take(64))).collect();
        drop(blocks);
        assert_eq!(pool.idle(), 2);
    }
}
