//! The AVX-512 kernel (F + BW + VBMI): eight exact lanes in one register, table lookups
//! by byte permutes instead of loads.
//!
//! The layout is the streams kernel's (see `streams.rs`): a region is cut into rounds
//! of [`LANES`] quanta; lane `L` scans quantum `L` after a 47-byte warm-up (lane 0
//! continues the previous round, or the caller's hash, so the first positions follow
//! the exact sequential rule); the earliest match wins. Here the eight lane hashes are
//! the eight 64-bit elements of one `zmm` register and all lanes advance together:
//!
//! 1. Every eight steps, the next eight bytes of each lane form one 64-byte index
//!    vector `D` (element `L` = bytes `j..j+8` of lane `L`).
//! 2. `GEAR` is kept as eight byte planes of 256 bytes (plane `p` = byte `p` of every
//!    entry). `vpermi2b` looks up 64 indices in 128 entries; two of them and a blend on
//!    the index's top bit give plane `p` of `GEAR[byte]` for all 64 bytes of `D`.
//! 3. A byte transpose (unpack bytes, words, dwords, qwords within 128-bit lanes)
//!    turns the eight planes into eight vectors `Q_s`, element `L` = `GEAR` of byte
//!    `j + s` of lane `L`.
//! 4. Per step: `h = (h << 1) + Q_s`, then `vptestnmq` against the mask gives the lanes
//!    that match; a lane that matches is resolved like the streams kernel does.
//!
//! About 100 vector instructions per 64 input bytes, against about 220 scalar µops for
//! the streams kernel. Regions shorter than one round go to the streams kernel.
//!
//! Verification: the same source (the `kernel_body!` macro) is compiled twice, once
//! with the real intrinsics and once (in tests, on any CPU) over a plain-Rust emulation
//! of the intrinsics it uses, written from Intel's definitions; the emulated
//! kernel is held to the portable one. On the real CPU the kernel must also pass a
//! self-test against the portable kernel before [`is_available`] reports it.

#![allow(unsafe_code)]

use std::sync::OnceLock;

use super::{portable, streams};
use crate::gear_table::GEAR;

/// Lanes per round: the 64-bit elements of a `zmm` register.
const LANES: usize = 8;
/// Warm-up bytes (see `streams.rs`): bits below 48 of the hash depend only on the last
/// 48 bytes, and every mask lies below bit 48.
const WARM: usize = 47;
/// Quantum per lane per round (a multiple of 8).
const Q: usize = 2048;
/// Regions shorter than one round go to the streams kernel.
pub(crate) const MIN_LEN: usize = LANES * Q;

/// `GEAR` as byte planes: `PLANES[p][i]` is byte `p` (little-endian) of `GEAR[i]`.
static PLANES: [[u8; 256]; 8] = {
    let mut t = [[0u8; 256]; 8];
    let mut p = 0;
    while p < 8 {
        let mut i = 0;
        while i < 256 {
            t[p][i] = (GEAR[i] >> (8 * p)) as u8;
            i += 1;
        }
        p += 1;
    }
    t
};

/// Whether this CPU has AVX-512 F, BW and VBMI and the kernel passed its self-test
/// here (both checked once).
pub(crate) fn is_available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| has_features() && self_test())
}

/// Whether this CPU has the instructions the kernel uses.
pub(crate) fn has_features() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vbmi")
}

/// The kernel against the portable one on 3 rounds and a tail of pseudo-random bytes,
/// with masks that match often (every lane and step) and rarely.
fn self_test() -> bool {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let data: Vec<u8> = (0..3 * MIN_LEN + 777)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    [0x1u64, 0x0180_4110, 0x0000_d903_0353_0000, 0xff00_0000_0000]
        .into_iter()
        .all(|mask| {
            let mut from = 0;
            loop {
                let (mut a, mut b) = (from as u64, from as u64);
                let want = portable::scan(&mut a, &data[from..], mask);
                let got = scan_checked(&mut b, &data[from..], mask);
                if (want, a) != (got, b) {
                    return false;
                }
                match want {
                    Some(i) if from + i + 1 < data.len() => from += i + 1,
                    _ => return true,
                }
            }
        })
}

#[inline(always)]
fn step(h: u64, b: u8) -> u64 {
    (h << 1).wrapping_add(GEAR[b as usize])
}

/// See [`super::Kernel::scan`]; the caller has checked [`is_available`] (asserted:
/// entering the kernel without the features would be undefined behaviour).
pub(crate) fn scan(hash: &mut u64, data: &[u8], mask: u64) -> Option<usize> {
    assert!(
        is_available(),
        "the avx512 kernel needs AVX-512 F, BW and VBMI"
    );
    scan_checked(hash, data, mask)
}

/// [`scan`] once the CPU features are known to be present.
fn scan_checked(hash: &mut u64, data: &[u8], mask: u64) -> Option<usize> {
    scan_rounds(hash, data, mask, |h, data, start, mask| {
        // SAFETY: callers checked that the CPU has AVX-512 F, BW and VBMI, the features
        // `hw::round` is compiled for; it reads only through bounds-checked slices and
        // 64-byte arrays.
        unsafe { hw::round(h, data, start, mask) }
    })
}

/// The kernel's driver over any implementation of one round (real or emulated).
fn scan_rounds(
    hash: &mut u64,
    data: &[u8],
    mask: u64,
    round: impl Fn(u64, &[u8], usize, u64) -> Result<u64, usize>,
) -> Option<usize> {
    debug_assert!(mask >> 48 == 0, "masks lie below bit 48");
    if data.len() < MIN_LEN {
        return streams::scan(hash, data, mask);
    }
    // `h` is exact below bit 48 from here on.
    let mut h = *hash;
    let mut pos = 0;
    let found = 'found: {
        while data.len() - pos >= LANES * Q {
            match round(h, data, pos, mask) {
                Ok(end) => h = end,
                Err(i) => break 'found Some(i),
            }
            pos += LANES * Q;
        }
        streams::scan(&mut h, &data[pos..], mask).map(|i| pos + i)
    };
    *hash = streams::exact_hash(*hash, data, found.unwrap_or(data.len() - 1));
    found
}

/// Lane `hash[l]` has tested bytes `..=at` of its quantum; `hit` has a bit for every lane
/// whose byte `at` matched. Lanes before the first such lane continue with the portable
/// kernel (their bytes come first); the first match wins, else the hit does.
#[cold]
#[inline(never)]
fn resolve(
    hash: &[u64; LANES],
    hit: u8,
    block: &[u8],
    at: usize,
    mask: u64,
    start: usize,
) -> usize {
    let first = hit.trailing_zeros() as usize;
    for (l, &h) in hash.iter().enumerate().take(first) {
        let mut h = h;
        let lane = &block[l * Q..(l + 1) * Q];
        if let Some(i) = portable::scan(&mut h, &lane[at + 1..], mask) {
            return start + l * Q + at + 1 + i;
        }
    }
    start + first * Q + at
}

/// One round and its helpers, over whatever `__m512i` and `_mm512_*` are in scope, each
/// function carrying the attributes given (the target features, for the real ones).
macro_rules! kernel_body {
    ($(#[$attr:meta])*) => {
        /// Load 64 bytes of a plane.
        $(#[$attr])*
        #[inline]
        fn plane(p: usize, quarter: usize) -> __m512i {
            let bytes: &[u8; 64] = PLANES[p][quarter * 64..quarter * 64 + 64]
                .try_into()
                .expect("64 bytes");
            // SAFETY: `bytes` is 64 readable bytes; the load has no alignment requirement.
            unsafe { _mm512_loadu_si512(bytes.as_ptr().cast()) }
        }

        /// One round: eight quanta of `Q` bytes from `data[start..]`, with `h0` the hash
        /// (exact below bit 48) through `data[start - 1]`. Returns the hash through the
        /// round's last byte, or the index into `data` of the first match.
        $(#[$attr])*
        pub(super) fn round(h0: u64, data: &[u8], start: usize, mask: u64) -> Result<u64, usize> {
            let block = &data[start..start + LANES * Q];
            let mut init = [h0; LANES];
            for (l, h) in init.iter_mut().enumerate().skip(1) {
                let s = start + l * Q;
                *h = data[s - WARM..s].iter().fold(0, |h, &b| step(h, b));
            }
            // SAFETY: `init` is 64 readable bytes.
            let mut h = unsafe { _mm512_loadu_si512(init.as_ptr().cast()) };
            let maskv = _mm512_set1_epi64(mask as i64);
            let word = |l: usize, j: usize| -> i64 {
                let at = l * Q + j;
                i64::from_le_bytes(block[at..at + 8].try_into().expect("8 bytes"))
            };
            let mut j = 0;
            while j < Q {
                // Element `l` = bytes `j..j + 8` of lane `l`; byte `s` is step `s`.
                let d = _mm512_set_epi64(
                    word(7, j),
                    word(6, j),
                    word(5, j),
                    word(4, j),
                    word(3, j),
                    word(2, j),
                    word(1, j),
                    word(0, j),
                );
                let high = _mm512_movepi8_mask(d);
                let mut p = [_mm512_setzero_si512(); 8];
                for (i, out) in p.iter_mut().enumerate() {
                    let low = _mm512_permutex2var_epi8(plane(i, 0), d, plane(i, 1));
                    let top = _mm512_permutex2var_epi8(plane(i, 2), d, plane(i, 3));
                    *out = _mm512_mask_blend_epi8(high, low, top);
                }
                let q = transpose(&p);
                for (s, g) in q.iter().enumerate() {
                    h = _mm512_add_epi64(_mm512_slli_epi64::<1>(h), *g);
                    let hit = _mm512_testn_epi64_mask(h, maskv);
                    if hit != 0 {
                        let mut lanes = [0u64; LANES];
                        // SAFETY: `lanes` is 64 writable bytes.
                        unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), h) };
                        return Err(super::resolve(&lanes, hit, block, j + s, mask, start));
                    }
                }
                j += 8;
            }
            let mut lanes = [0u64; LANES];
            // SAFETY: `lanes` is 64 writable bytes.
            unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), h) };
            Ok(lanes[LANES - 1])
        }

        /// The eight planes (`p[k]` byte `8L + s` = byte `k` of `GEAR` of byte `s` of
        /// lane `L`) as eight step vectors (element `L` of result `s` = that entry).
        /// Unpacks work within 128-bit lanes; in lane `c`, bytes 0..8 belong to lane
        /// `2c` and bytes 8..16 to lane `2c + 1`.
        $(#[$attr])*
        #[inline]
        fn transpose(p: &[__m512i; 8]) -> [__m512i; 8] {
            // Bytes -> words of planes (0, 1), (2, 3), (4, 5), (6, 7): even lanes from
            // the low halves, odd lanes from the high halves.
            let even = quads(
                _mm512_unpacklo_epi8(p[0], p[1]),
                _mm512_unpacklo_epi8(p[2], p[3]),
                _mm512_unpacklo_epi8(p[4], p[5]),
                _mm512_unpacklo_epi8(p[6], p[7]),
            );
            let odd = quads(
                _mm512_unpackhi_epi8(p[0], p[1]),
                _mm512_unpackhi_epi8(p[2], p[3]),
                _mm512_unpackhi_epi8(p[4], p[5]),
                _mm512_unpackhi_epi8(p[6], p[7]),
            );
            // Qwords of the even and odd lanes -> one vector per step, lanes in order.
            [
                _mm512_unpacklo_epi64(even[0], odd[0]),
                _mm512_unpackhi_epi64(even[0], odd[0]),
                _mm512_unpacklo_epi64(even[1], odd[1]),
                _mm512_unpackhi_epi64(even[1], odd[1]),
                _mm512_unpacklo_epi64(even[2], odd[2]),
                _mm512_unpackhi_epi64(even[2], odd[2]),
                _mm512_unpacklo_epi64(even[3], odd[3]),
                _mm512_unpackhi_epi64(even[3], odd[3]),
            ]
        }

        /// Words of planes (0, 1), (2, 3), (4, 5), (6, 7) for steps 0..8 of one lane
        /// per 64-bit half -> qwords (whole `GEAR` entries) for steps (0, 1), (2, 3),
        /// (4, 5), (6, 7).
        $(#[$attr])*
        #[inline]
        fn quads(w01: __m512i, w23: __m512i, w45: __m512i, w67: __m512i) -> [__m512i; 4] {
            // Words -> dwords: planes 0..4 and 4..8, steps 0..4 (lo) and 4..8 (hi).
            let d03_s03 = _mm512_unpacklo_epi16(w01, w23);
            let d03_s47 = _mm512_unpackhi_epi16(w01, w23);
            let d47_s03 = _mm512_unpacklo_epi16(w45, w67);
            let d47_s47 = _mm512_unpackhi_epi16(w45, w67);
            // Dwords -> qwords.
            [
                _mm512_unpacklo_epi32(d03_s03, d47_s03),
                _mm512_unpackhi_epi32(d03_s03, d47_s03),
                _mm512_unpacklo_epi32(d03_s47, d47_s47),
                _mm512_unpackhi_epi32(d03_s47, d47_s47),
            ]
        }
    };
}

/// The kernel over the real instructions.
mod hw {
    use super::{step, LANES, PLANES, Q, WARM};
    use core::arch::x86_64::*;

    kernel_body!(#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]);
}

/// The same kernel over a plain-Rust model of the intrinsics, so that its logic is
/// tested on every machine.
#[cfg(test)]
mod emulated {
    use super::{step, LANES, PLANES, Q, WARM};
    use emu::*;

    kernel_body!();

    /// Intel's definitions of the intrinsics the kernel uses, element by element.
    #[allow(non_camel_case_types, clippy::missing_safety_doc)]
    mod emu {
        #[derive(Clone, Copy)]
        #[repr(transparent)]
        pub struct __m512i([u8; 64]);

        fn lanes<const W: usize>(v: __m512i) -> impl Iterator<Item = u64> {
            (0..64 / W).map(move |i| {
                v.0[i * W..(i + 1) * W]
                    .iter()
                    .rev()
                    .fold(0u64, |a, &b| a << 8 | u64::from(b))
            })
        }

        fn from_lanes<const W: usize>(e: impl Iterator<Item = u64>) -> __m512i {
            let mut v = [0u8; 64];
            for (i, x) in e.enumerate() {
                v[i * W..(i + 1) * W].copy_from_slice(&x.to_le_bytes()[..W]);
            }
            __m512i(v)
        }

        fn qwords(v: __m512i) -> Vec<u64> {
            lanes::<8>(v).collect()
        }

        pub unsafe fn _mm512_loadu_si512(p: *const __m512i) -> __m512i {
            // SAFETY: the caller passes 64 readable bytes.
            unsafe { p.read_unaligned() }
        }

        pub unsafe fn _mm512_storeu_si512(p: *mut __m512i, a: __m512i) {
            // SAFETY: the caller passes 64 writable bytes.
            unsafe { p.write_unaligned(a) }
        }

        pub fn _mm512_set1_epi64(a: i64) -> __m512i {
            from_lanes::<8>((0..8).map(|_| a as u64))
        }

        /// Element 0 is the last argument.
        #[allow(clippy::too_many_arguments)]
        pub fn _mm512_set_epi64(
            e7: i64,
            e6: i64,
            e5: i64,
            e4: i64,
            e3: i64,
            e2: i64,
            e1: i64,
            e0: i64,
        ) -> __m512i {
            from_lanes::<8>(
                [e0, e1, e2, e3, e4, e5, e6, e7]
                    .into_iter()
                    .map(|x| x as u64),
            )
        }

        pub fn _mm512_setzero_si512() -> __m512i {
            __m512i([0; 64])
        }

        /// Bit `i` = the top bit of byte `i`.
        pub fn _mm512_movepi8_mask(a: __m512i) -> u64 {
            (0..64).fold(0, |k, i| k | u64::from(a.0[i] >> 7) << i)
        }

        /// Byte `i` = `(idx[i] & 64 ? b : a)[idx[i] & 63]`.
        pub fn _mm512_permutex2var_epi8(a: __m512i, idx: __m512i, b: __m512i) -> __m512i {
            let mut v = [0u8; 64];
            for (i, out) in v.iter_mut().enumerate() {
                let j = usize::from(idx.0[i] & 63);
                *out = if idx.0[i] & 64 != 0 { b.0[j] } else { a.0[j] };
            }
            __m512i(v)
        }

        /// Byte `i` = `k` bit `i` ? `b[i]` : `a[i]`.
        pub fn _mm512_mask_blend_epi8(k: u64, a: __m512i, b: __m512i) -> __m512i {
            let mut v = a.0;
            for (i, out) in v.iter_mut().enumerate() {
                if k >> i & 1 == 1 {
                    *out = b.0[i];
                }
            }
            __m512i(v)
        }

        /// Within each 128-bit lane, interleave the elements of width `W` bytes of the
        /// low (`HI = false`) or high half of `a` and `b`: a0 b0 a1 b1 ...
        fn unpack<const W: usize, const HI: bool>(a: __m512i, b: __m512i) -> __m512i {
            let per = 16 / W;
            let mut v = [0u8; 64];
            for c in 0..4 {
                for j in 0..per / 2 {
                    let src = c * 16 + (j + if HI { per / 2 } else { 0 }) * W;
                    let dst = c * 16 + 2 * j * W;
                    v[dst..dst + W].copy_from_slice(&a.0[src..src + W]);
                    v[dst + W..dst + 2 * W].copy_from_slice(&b.0[src..src + W]);
                }
            }
            __m512i(v)
        }

        pub fn _mm512_unpacklo_epi8(a: __m512i, b: __m512i) -> __m512i {
            unpack::<1, false>(a, b)
        }
        pub fn _mm512_unpackhi_epi8(a: __m512i, b: __m512i) -> __m512i {
            unpack::<1, true>(a, b)
        }
        pub fn _mm512_unpacklo_epi16(a: __m512i, b: __m512i) -> __m512i {
            unpack::<2, false>(a, b)
        }
        pub fn _mm512_unpackhi_epi16(a: __m512i, b: __m512i) -> __m512i {
            unpack::<2, true>(a, b)
        }
        pub fn _mm512_unpacklo_epi32(a: __m512i, b: __m512i) -> __m512i {
            unpack::<4, false>(a, b)
        }
        pub fn _mm512_unpackhi_epi32(a: __m512i, b: __m512i) -> __m512i {
            unpack::<4, true>(a, b)
        }
        pub fn _mm512_unpacklo_epi64(a: __m512i, b: __m512i) -> __m512i {
            unpack::<8, false>(a, b)
        }
        pub fn _mm512_unpackhi_epi64(a: __m512i, b: __m512i) -> __m512i {
            unpack::<8, true>(a, b)
        }

        pub fn _mm512_slli_epi64<const IMM8: u32>(a: __m512i) -> __m512i {
            from_lanes::<8>(
                qwords(a)
                    .into_iter()
                    .map(|x| x.checked_shl(IMM8).unwrap_or(0)),
            )
        }

        pub fn _mm512_add_epi64(a: __m512i, b: __m512i) -> __m512i {
            from_lanes::<8>(
                qwords(a)
                    .into_iter()
                    .zip(qwords(b))
                    .map(|(x, y)| x.wrapping_add(y)),
            )
        }

        /// Bit `i` set when `a[i] & b[i] == 0` (64-bit elements).
        pub fn _mm512_testn_epi64_mask(a: __m512i, b: __m512i) -> u8 {
            qwords(a)
                .into_iter()
                .zip(qwords(b))
                .enumerate()
                .fold(0, |k, (i, (x, y))| k | u8::from(x & y == 0) << i)
        }
    }

    /// The emulated kernel.
    pub(super) fn scan(hash: &mut u64, data: &[u8], mask: u64) -> Option<usize> {
        super::scan_rounds(hash, data, mask, round)
    }
}

#[cfg(test)]
mod tests {
    use super::{emulated, portable, MIN_LEN, Q};
    use crate::Config;

    fn data(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 29) as u8
            })
            .collect()
    }

    /// The emulated kernel equals the portable one: match index and hash, lengths around
    /// every round boundary, matches in every lane and step (dense masks), config masks.
    #[test]
    fn emulated_kernel_equals_portable() {
        let mut masks = vec![0u64, 1, 0x3, 0x0180_4110, 0xff00_0000_0000, 1 << 47];
        for avg in [256usize, 4096, 65536, 1 << 20] {
            let c = Config::new(64, avg, avg.max(1024)).unwrap();
            masks.extend([c.mask_small(), c.mask_large()]);
        }
        let lens = [
            MIN_LEN - 1,
            MIN_LEN,
            MIN_LEN + 1,
            MIN_LEN + 7 * Q + 5,
            2 * MIN_LEN,
            2 * MIN_LEN + 63,
            3 * MIN_LEN + 1000,
        ];
        for (seed, &len) in lens.iter().enumerate() {
            let data = data(len, seed as u64 + 1);
            for &mask in &masks {
                // Scan the whole region as the engine does: cut, restart after the cut.
                let mut from = 0;
                while from < data.len() {
                    let hash = 0x1234_5678_9abc_def0 ^ from as u64;
                    let (mut a, mut b) = (hash, hash);
                    let want = portable::scan(&mut a, &data[from..], mask);
                    let got = emulated::scan(&mut b, &data[from..], mask);
                    assert_eq!(
                        (got, b),
                        (want, a),
                        "len {len}, mask {mask:#x}, from {from}"
                    );
                    match want {
                        Some(i) => from += i + 1 + (i % 97) * 13,
                        None => break,
                    }
                }
            }
        }
    }

    /// Matches planted at the start of every lane (inside its warm-up-dependent first 48
    /// positions), at its end and in the middle: regions start at `m - (l·Q + d)` for
    /// each match `m` of a sparse mask, so the region's first match falls there.
    #[test]
    fn emulated_kernel_matches_at_lane_edges() {
        let data = data(400_000, 99);
        let mask = Config::new(64, 32 << 10, 128 << 10).unwrap().mask_large();
        let mut matches = Vec::new();
        let (mut h, mut from) = (0u64, 0);
        while let Some(i) = portable::scan(&mut h, &data[from..], mask) {
            matches.push(from + i);
            from += i + 1;
        }
        assert!(matches.len() > 20, "{} matches", matches.len());
        let mut tested = 0;
        for &m in &matches {
            for l in 0..8 {
                for d in [0usize, 1, 2, 23, 46, 47, 48, 63, 64, Q - 1] {
                    let Some(from) = m.checked_sub(l * Q + d) else {
                        continue;
                    };
                    let hash = (m as u64).wrapping_mul(0x9e37_79b9) ^ d as u64;
                    let (mut a, mut b) = (hash, hash);
                    let want = portable::scan(&mut a, &data[from..], mask);
                    let got = emulated::scan(&mut b, &data[from..], mask);
                    assert_eq!((got, b), (want, a), "match {m}, lane {l}, offset {d}");
                    tested += usize::from(want == Some(l * Q + d));
                }
            }
        }
        assert!(
            tested > 100,
            "only {tested} regions had the planted match first"
        );
    }

    /// Arbitrary data (random, or low-entropy bytes that make the hash repeat),
    /// lengths across several rounds, incoming hashes and masks (configuration masks,
    /// dense ones that match every few bytes in every lane, arbitrary bit sets below
    /// bit 48): the emulated kernel returns what the portable one does, and so does every
    /// scan restarted after a match.
    mod prop {
        use super::super::{emulated, portable, MIN_LEN};
        use crate::Config;
        use proptest::prelude::*;

        fn arb_mask() -> impl Strategy<Value = u64> {
            prop_oneof![
                (64usize..=(4 << 20)).prop_map(|avg| {
                    let c = Config::new(64, avg, avg.max(1024)).unwrap();
                    if avg % 2 == 0 {
                        c.mask_small()
                    } else {
                        c.mask_large()
                    }
                }),
                // One to six bits anywhere below bit 48: matches every 2..64 bytes.
                proptest::collection::vec(0u32..48, 1..=6)
                    .prop_map(|bits| bits.iter().fold(0u64, |m, &b| m | 1 << b)),
                any::<u64>().prop_map(|m| m & ((1 << 48) - 1)),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn emulated_kernel_equals_portable_on_arbitrary_input(
                seed in any::<u64>(),
                alphabet in prop_oneof![Just(256u32), 1u32..4],
                len in 0usize..(3 * MIN_LEN + 5000),
                hash in any::<u64>(),
                mask in arb_mask(),
            ) {
                let mut x = seed | 1;
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        ((x >> 29) % u64::from(alphabet)) as u8
                    })
                    .collect();
                let mut from = 0;
                // At most a few hundred restarts: dense masks match every few bytes.
                for _ in 0..300 {
                    let (mut a, mut b) = (hash ^ from as u64, hash ^ from as u64);
                    let want = portable::scan(&mut a, &data[from..], mask);
                    let got = emulated::scan(&mut b, &data[from..], mask);
                    prop_assert_eq!((got, b), (want, a), "from {}", from);
                    match want {
                        Some(i) if from + i + 1 < data.len() => {
                            from += i + 1 + (i * 7919) % 3001;
                            if from >= data.len() {
                                break;
                            }
                        }
                        _ => break,
                    }
                }
            }
        }
    }

    #[test]
    fn planes_rebuild_the_table() {
        for (i, &g) in crate::gear_table::GEAR.iter().enumerate() {
            let rebuilt = (0..8).fold(0u64, |a, p| a | u64::from(super::PLANES[p][i]) << (8 * p));
            assert_eq!(rebuilt, g);
        }
    }
}
