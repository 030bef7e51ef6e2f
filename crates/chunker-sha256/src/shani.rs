//! The x86-64 SHA-NI kernel: `N` independent SHA-256 compressions interleaved.
//!
//! Written from FIPS 180-4 (§6.2.2, the compression function) and Intel's description
//! of the SHA extensions. The state of each lane lives in two registers, `ABEF` (words
//! a, b, e, f from the high dword down) and `CDGH`. `sha256rnds2(cdgh, abef, wk)` runs
//! two rounds with the message-plus-constant words in the low two dwords of `wk` and
//! returns the new `ABEF`; the old `ABEF` is then the new `CDGH`, so after each pair of
//! calls the two registers have their roles back. The schedule
//! `W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16]` is computed four words at a time:
//! `sha256msg1` adds `σ0`, an `alignr` supplies `W[t-7..t-4]`, and `sha256msg2` adds
//! `σ1` (which needs the words just made, hence its own instruction).
//!
//! Why lanes: one lane is a dependent chain of `sha256rnds2`, bound by its latency; the
//! rounds of independent messages have no dependencies between them, so the CPU
//! overlaps them. Every step below is written "for each lane", one instruction kind at a
//! time, so the lanes' chains sit next to each other in the instruction stream.
//!
//! This is the only file of the crate with `unsafe`: the unaligned 16-byte loads from
//! 64-byte blocks, and nothing else. The entry point is a safe `#[target_feature]`
//! function; calling it needs the CPU check that `kernel.rs` makes once.

use core::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_loadu_si128, _mm_set_epi32, _mm_set_epi64x,
    _mm_setzero_si128, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32,
    _mm_shuffle_epi32, _mm_shuffle_epi8, _mm_storeu_si128,
};

/// Whether this CPU has every instruction set the kernel is compiled for.
pub(crate) fn is_available() -> bool {
    std::is_x86_feature_detected!("sha")
        && std::is_x86_feature_detected!("sse2")
        && std::is_x86_feature_detected!("ssse3")
        && std::is_x86_feature_detected!("sse4.1")
}

/// Compress `blocks[l][b]` into `states[l]` for every lane `l` and every block index
/// `b < nblocks`, lanes interleaved.
///
/// Panics (never reads out of bounds) if a lane has fewer than `nblocks` blocks.
// Block and lane indices address several parallel arrays at once.
#[allow(clippy::needless_range_loop)]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub(crate) fn compress<const N: usize>(
    states: &mut [[u32; 8]; N],
    blocks: [&[[u8; 64]]; N],
    nblocks: usize,
) {
    for lane in &blocks {
        assert!(lane.len() >= nblocks, "every lane has nblocks blocks");
    }
    // Reverses the bytes of each dword: message words are big-endian.
    let bswap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
    let zero = _mm_setzero_si128();

    let mut abef = [zero; N];
    let mut cdgh = [zero; N];
    for l in 0..N {
        (abef[l], cdgh[l]) = load_state(&states[l]);
    }

    // One group of four rounds on the message words in `$m` (an array of lanes).
    macro_rules! quad {
        ($k:expr, $m:ident) => {{
            let k = _mm_set_epi32(
                K[4 * $k + 3] as i32,
                K[4 * $k + 2] as i32,
                K[4 * $k + 1] as i32,
                K[4 * $k] as i32,
            );
            let mut wk = [zero; N];
            for l in 0..N {
                wk[l] = _mm_add_epi32($m[l], k);
            }
            for l in 0..N {
                cdgh[l] = _mm_sha256rnds2_epu32(cdgh[l], abef[l], wk[l]);
            }
            for l in 0..N {
                wk[l] = _mm_shuffle_epi32::<0x0e>(wk[l]);
            }
            for l in 0..N {
                abef[l] = _mm_sha256rnds2_epu32(abef[l], cdgh[l], wk[l]);
            }
        }};
    }
    // The next four schedule words into `$a` (which held W[t-16..t-13]); `$b`, `$c`,
    // `$d` hold W[t-12..t-9], W[t-8..t-5], W[t-4..t-1].
    macro_rules! schedule {
        ($a:ident, $b:ident, $c:ident, $d:ident) => {{
            for l in 0..N {
                let s0 = _mm_sha256msg1_epu32($a[l], $b[l]);
                let t7 = _mm_alignr_epi8::<4>($d[l], $c[l]);
                $a[l] = _mm_sha256msg2_epu32(_mm_add_epi32(s0, t7), $d[l]);
            }
        }};
    }

    for b in 0..nblocks {
        let (saved_abef, saved_cdgh) = (abef, cdgh);
        let mut m = [[zero; N]; 4];
        for l in 0..N {
            let block = &blocks[l][b];
            for (j, word) in m.iter_mut().enumerate() {
                // SAFETY: `block` is a `&[u8; 64]`, so the 16 bytes at `16 * j` (j < 4)
                // are in bounds; `_mm_loadu_si128` has no alignment requirement.
                let v = unsafe { _mm_loadu_si128(block.as_ptr().add(16 * j).cast()) };
                word[l] = _mm_shuffle_epi8(v, bswap);
            }
        }
        let [mut m0, mut m1, mut m2, mut m3] = m;
        quad!(0, m0);
        quad!(1, m1);
        quad!(2, m2);
        quad!(3, m3);
        schedule!(m0, m1, m2, m3);
        quad!(4, m0);
        schedule!(m1, m2, m3, m0);
        quad!(5, m1);
        schedule!(m2, m3, m0, m1);
        quad!(6, m2);
        schedule!(m3, m0, m1, m2);
        quad!(7, m3);
        schedule!(m0, m1, m2, m3);
        quad!(8, m0);
        schedule!(m1, m2, m3, m0);
        quad!(9, m1);
        schedule!(m2, m3, m0, m1);
        quad!(10, m2);
        schedule!(m3, m0, m1, m2);
        quad!(11, m3);
        schedule!(m0, m1, m2, m3);
        quad!(12, m0);
        schedule!(m1, m2, m3, m0);
        quad!(13, m1);
        schedule!(m2, m3, m0, m1);
        quad!(14, m2);
        schedule!(m3, m0, m1, m2);
        quad!(15, m3);
        for l in 0..N {
            abef[l] = _mm_add_epi32(abef[l], saved_abef[l]);
            cdgh[l] = _mm_add_epi32(cdgh[l], saved_cdgh[l]);
        }
    }

    for l in 0..N {
        states[l] = store_state(abef[l], cdgh[l]);
    }
}

/// A state `a..h` as the two registers of the round instruction: `ABEF` (a, b, e, f
/// from the high dword down) and `CDGH`.
#[inline]
#[target_feature(enable = "sse2")]
pub(crate) fn load_state(state: &[u32; 8]) -> (__m128i, __m128i) {
    let s = state.map(|w| w as i32);
    (
        _mm_set_epi32(s[0], s[1], s[4], s[5]),
        _mm_set_epi32(s[2], s[3], s[6], s[7]),
    )
}

/// The inverse of [`load_state`].
#[inline]
#[target_feature(enable = "sse2")]
pub(crate) fn store_state(abef: __m128i, cdgh: __m128i) -> [u32; 8] {
    // Dwords from low to high: f, e, b, a and h, g, d, c.
    let mut lo = [0u32; 4];
    let mut hi = [0u32; 4];
    // SAFETY: each destination is a `[u32; 4]`, 16 writable bytes; unaligned store.
    unsafe {
        _mm_storeu_si128(lo.as_mut_ptr().cast::<__m128i>(), abef);
        _mm_storeu_si128(hi.as_mut_ptr().cast::<__m128i>(), cdgh);
    }
    [lo[3], lo[2], hi[3], hi[2], lo[1], lo[0], hi[1], hi[0]]
}

/// The round constants of FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts
/// of the cube roots of the first 64 primes.
pub(crate) const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];
