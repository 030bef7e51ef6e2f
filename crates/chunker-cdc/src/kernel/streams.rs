//! The streams kernel: several independent gear-hash streams interleaved, in safe Rust.
//!
//! A single stream is bound by its `shl → add` dependency chain (one or two cycles per
//! byte). The bits of `h` below bit 48 depend only on the last 48 bytes, and every mask
//! lies below bit 48, so a stream can start anywhere at least 47 bytes into the region:
//! hash the 47 bytes before its start from zero ("warm-up", no tests) and its mask tests
//! are exact from its first byte on.
//!
//! The region is cut into rounds of [`LANES`] consecutive quanta; in a round, lane `L`
//! scans quantum `L` after its warm-up, all lanes in lock step, so the CPU overlaps
//! their chains. Lane 0 needs no warm-up: it continues the previous round's last lane
//! (or, in the first round, the caller's hash, which makes the first 48 positions follow
//! the exact sequential rule). When a lane matches, lower lanes still finish their quanta
//! (their positions come first); the earliest match wins, so at most one round of work is
//! wasted per cut. Short regions and the last few hundred bytes go to the portable
//! kernel.
//!
//! Lane hashes are exact only below bit 48 (which is all the tests need); the returned
//! hash is recomputed exactly from the (at most 64) bytes that determine it.

use super::portable;
use crate::gear_table::GEAR;

/// Independent streams per round.
const LANES: usize = 4;
/// Warm-up bytes: the bits of `h` below bit 48 after byte `s` depend only on bytes
/// `s - 47..=s`, and every mask lies below bit 48, so hashing the 47 bytes before a
/// lane's first byte makes all of its tests exact.
const WARM: usize = 47;
/// Quantum of the main rounds.
const Q_BIG: usize = 2048;
/// Quantum of the rounds that finish a region.
const Q_SMALL: usize = 256;
/// Regions shorter than this go to the portable kernel.
pub(crate) const MIN_LEN: usize = LANES * Q_SMALL;

/// `GEAR` followed by `GEAR[i] << 1`: one base register for both lookups.
static TABLE: [u64; 512] = {
    let mut t = [0u64; 512];
    let mut i = 0;
    while i < 256 {
        t[i] = GEAR[i];
        t[256 + i] = GEAR[i] << 1;
        i += 1;
    }
    t
};

#[inline(always)]
fn step(h: u64, b: u8) -> u64 {
    (h << 1).wrapping_add(GEAR[b as usize])
}

/// The gear hash of `bytes` from zero; exact for the position after `bytes` when
/// `bytes.len() >= 64`, and exact below bit `bytes.len()` otherwise.
#[inline(always)]
fn hash_from_zero(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |h, &b| step(h, b))
}

/// See [`super::Kernel::scan`].
pub(crate) fn scan(hash: &mut u64, data: &[u8], mask: u64) -> Option<usize> {
    debug_assert!(mask >> 48 == 0, "masks lie below bit 48");
    if data.len() < MIN_LEN {
        return portable::scan(hash, data, mask);
    }
    // `h` is exact below bit 48 from here on.
    let mut h = *hash;
    let mut pos = 0;
    let found = 'found: {
        while data.len() - pos >= LANES * Q_BIG {
            match round::<Q_BIG>(h, data, pos, mask) {
                Ok(end) => h = end,
                Err(i) => break 'found Some(i),
            }
            pos += LANES * Q_BIG;
        }
        while data.len() - pos >= LANES * Q_SMALL {
            match round::<Q_SMALL>(h, data, pos, mask) {
                Ok(end) => h = end,
                Err(i) => break 'found Some(i),
            }
            pos += LANES * Q_SMALL;
        }
        portable::scan(&mut h, &data[pos..], mask).map(|i| pos + i)
    };
    *hash = exact_hash(*hash, data, found.unwrap_or(data.len() - 1));
    found
}

/// The exact hash through `data[last]`, given `incoming` (exact) before `data[0]`: lane
/// hashes are exact below bit 48 only, so the one a kernel returns is recomputed from
/// the (at most 64) bytes that determine it.
pub(crate) fn exact_hash(incoming: u64, data: &[u8], last: usize) -> u64 {
    match last.checked_sub(63) {
        Some(first) => hash_from_zero(&data[first..=last]),
        None => data[..=last].iter().fold(incoming, |h, &b| step(h, b)),
    }
}

/// One round: `LANES` quanta of `Q` bytes from `data[start..]`, with `h0` the hash
/// (exact below bit 48) through `data[start - 1]`. Returns the hash through the round's
/// last byte, or the index into `data` of the first match.
///
/// Each lane walks byte pairs like the portable kernel: `t = (h << 2) + (GEAR[a] << 1)`
/// is `2·h_a`, so `t & (mask << 1)` tests `h_a & mask`, and `t + GEAR[b]` is `h_b`.
#[inline(always)]
fn round<const Q: usize>(h0: u64, data: &[u8], start: usize, mask: u64) -> Result<u64, usize> {
    const { assert!(Q >= WARM && Q.is_multiple_of(4) && LANES == 4) };
    let block = &data[start..start + LANES * Q];
    let (q0, rest) = block.split_at(Q);
    let (q1, rest) = rest.split_at(Q);
    let (q2, q3) = rest.split_at(Q);
    let warm = |l: usize| {
        let s = start + l * Q;
        &data[s - WARM..s]
    };
    let (mut h1, mut h2, mut h3) = (0u64, 0u64, 0u64);
    for ((&a, &b), &c) in warm(1).iter().zip(warm(2)).zip(warm(3)) {
        h1 = step(h1, a);
        h2 = step(h2, b);
        h3 = step(h3, c);
    }
    let mut h0 = h0;
    let mask_ls = mask << 1;
    // One byte pair of one lane; on a match at byte `j` or `j + 1` of lane `$lane`, the
    // lanes before it (which finished this pair) are finished first.
    macro_rules! pair {
        ($h:ident, $p:expr, $lane:literal, $j:expr, [$(($e:ident, $eq:ident)),*]) => {{
            let (a, b) = ($p[0], $p[1]);
            $h = ($h << 2).wrapping_add(TABLE[256 + a as usize]);
            if $h & mask_ls == 0 {
                let earlier: [(u64, &[u8]); $lane] = [$(($e, $eq)),*];
                return Err(resolve(earlier, $j + 2, mask, start, Q, start + $lane * Q + $j));
            }
            $h = $h.wrapping_add(TABLE[b as usize]);
            if $h & mask == 0 {
                let earlier: [(u64, &[u8]); $lane] = [$(($e, $eq)),*];
                return Err(resolve(earlier, $j + 2, mask, start, Q, start + $lane * Q + $j + 1));
            }
        }};
    }
    // Two byte pairs per lane per iteration (Q is a multiple of 4).
    let quads = q0
        .chunks_exact(4)
        .zip(q1.chunks_exact(4))
        .zip(q2.chunks_exact(4))
        .zip(q3.chunks_exact(4));
    for (p, (((p0, p1), p2), p3)) in quads.enumerate() {
        let j = 4 * p;
        pair!(h0, p0, 0, j, []);
        pair!(h1, p1, 1, j, [(h0, q0)]);
        pair!(h2, p2, 2, j, [(h0, q0), (h1, q1)]);
        pair!(h3, p3, 3, j, [(h0, q0), (h1, q1), (h2, q2)]);
        let (p0, p1, p2, p3) = (&p0[2..], &p1[2..], &p2[2..], &p3[2..]);
        pair!(h0, p0, 0, j + 2, []);
        pair!(h1, p1, 1, j + 2, [(h0, q0)]);
        pair!(h2, p2, 2, j + 2, [(h0, q0), (h1, q1)]);
        pair!(h3, p3, 3, j + 2, [(h0, q0), (h1, q1), (h2, q2)]);
    }
    Ok(h3)
}

/// Lanes `(hash, quantum)` before the lane that matched at index `hit` of `data`: they
/// finished byte `from - 1` of their quanta without a match; continue each in order, the
/// first match wins, else `hit` does.
#[cold]
#[inline(never)]
fn resolve<const N: usize>(
    lanes: [(u64, &[u8]); N],
    from: usize,
    mask: u64,
    start: usize,
    q: usize,
    hit: usize,
) -> usize {
    for (l, (mut h, lane)) in lanes.into_iter().enumerate() {
        if let Some(i) = portable::scan(&mut h, &lane[from..], mask) {
            return start + l * q + from + i;
        }
    }
    hit
}
