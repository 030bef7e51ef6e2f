//! The portable kernel: `h = (h << 1) + GEAR[byte]`, test `h & mask == 0` after each byte.
//! This is the specification every other kernel is tested against.
//!
//! It walks byte pairs: `t = (h << 2) + (GEAR[a] << 1)` is `2·h_a`, so testing
//! `t & (mask << 1)` tests `h_a & mask` (masks lie below bit 48), and `t + GEAR[b]` is
//! `h_b` exactly. Each pair costs one `lea` and one `add` on the dependency chain, which
//! compilers emit more reliably than a per-byte `shl` + `add`.

use crate::gear_table::GEAR;

/// `GEAR[i] << 1`.
static GEAR_LS: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = GEAR[i] << 1;
        i += 1;
    }
    t
};

/// See [`super::Kernel::scan`].
#[inline]
pub(crate) fn scan(hash: &mut u64, data: &[u8], mask: u64) -> Option<usize> {
    debug_assert!(mask >> 48 == 0, "masks lie below bit 48");
    let mask_ls = mask << 1;
    let mut h = *hash;
    let mut quads = data.chunks_exact(4);
    let mut i = 0usize;
    for q in &mut quads {
        // Two pairs per iteration: (q[0], q[1]) then (q[2], q[3]).
        let t = (h << 2).wrapping_add(GEAR_LS[q[0] as usize]);
        if t & mask_ls == 0 {
            *hash = (h << 1).wrapping_add(GEAR[q[0] as usize]);
            return Some(i);
        }
        h = t.wrapping_add(GEAR[q[1] as usize]);
        if h & mask == 0 {
            *hash = h;
            return Some(i + 1);
        }
        let t = (h << 2).wrapping_add(GEAR_LS[q[2] as usize]);
        if t & mask_ls == 0 {
            *hash = (h << 1).wrapping_add(GEAR[q[2] as usize]);
            return Some(i + 2);
        }
        h = t.wrapping_add(GEAR[q[3] as usize]);
        if h & mask == 0 {
            *hash = h;
            return Some(i + 3);
        }
        i += 4;
    }
    for &b in quads.remainder() {
        h = (h << 1).wrapping_add(GEAR[b as usize]);
        if h & mask == 0 {
            *hash = h;
            return Some(i);
        }
        i += 1;
    }
    *hash = h;
    None
}

/// Byte at a time, for any mask (the pair walk above needs bit 63 of `mask` clear).
pub(crate) fn scan_any_mask(hash: &mut u64, data: &[u8], mask: u64) -> Option<usize> {
    let mut h = *hash;
    for (i, &b) in data.iter().enumerate() {
        h = (h << 1).wrapping_add(GEAR[b as usize]);
        if h & mask == 0 {
            *hash = h;
            return Some(i);
        }
    }
    *hash = h;
    None
}
