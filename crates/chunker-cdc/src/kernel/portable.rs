//! The portable kernel: `h = (h << 1) + GEAR[byte]`, test `h & mask == 0` after each byte.
//! This is the specification every other kernel is tested against.

use crate::gear_table::GEAR;

#[inline(always)]
fn step(h: u64, b: u8) -> u64 {
    (h << 1).wrapping_add(GEAR[b as usize])
}

/// See [`super::Kernel::scan`].
#[inline]
pub(crate) fn scan(hash: &mut u64, data: &[u8], mask: u64) -> Option<usize> {
    let mut h = *hash;
    let mut quads = data.chunks_exact(4);
    let mut base = 0usize;
    for q in &mut quads {
        h = step(h, q[0]);
        if h & mask == 0 {
            *hash = h;
            return Some(base);
        }
        h = step(h, q[1]);
        if h & mask == 0 {
            *hash = h;
            return Some(base + 1);
        }
        h = step(h, q[2]);
        if h & mask == 0 {
            *hash = h;
            return Some(base + 2);
        }
        h = step(h, q[3]);
        if h & mask == 0 {
            *hash = h;
            return Some(base + 3);
        }
        base += 4;
    }
    for (k, &b) in quads.remainder().iter().enumerate() {
        h = step(h, b);
        if h & mask == 0 {
            *hash = h;
            return Some(base + k);
        }
    }
    *hash = h;
    None
}
