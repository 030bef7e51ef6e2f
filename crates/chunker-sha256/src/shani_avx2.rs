//! The x86-64 SHA-NI + AVX2 kernel: the rounds on the SHA unit, the message schedule
//! in AVX2 registers.
//!
//! Why: from three lanes on, the SHA-NI kernel (`shani.rs`) is bound by the throughput
//! of the SHA unit, which runs the 32 `sha256rnds2` of a block *and* its 12
//! `sha256msg1` + 12 `sha256msg2` (see `docs/BENCHMARKS.md`). The schedule
//! `W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16]` (FIPS 180-4 §6.2.2) depends on
//! the message block only, never on the state, so it can be computed for eight
//! blocks at once, one block per 32-bit column of a 256-bit register, with ordinary
//! shifts, xors and adds; the SHA unit then runs rounds only.
//!
//! Layout. A *group* is eight (lane, block) columns: `B = 8 / N` consecutive blocks of
//! each of the `N` lanes (spare columns repeat a valid block and are ignored). For a
//! group the kernel
//! 1. loads each column's 16 words, byte-swaps them (big-endian) and stores `W + K` for
//!    `t < 16` in the column's row of `wk`, and a transposed copy (`wt[t]` holds word `t`
//!    of all eight columns) by a 4×4 transpose in each 128-bit half;
//! 2. computes `wt[16..S]` (`S` = 64: all of it; smaller `S` leave `W[S..64]` to
//!    `sha256msg1`/`sha256msg2`, to balance the two units);
//! 3. transposes back four words at a time and stores `W + K` in the rows.
//!
//! The rounds of group `g` read their `W + K` from `wk` with 8-byte loads straight
//! into the round instruction's operand. Software pipelining: while the rounds of group
//! `g` run (a latency-bound chain per lane), the schedule of group `g + 1` is computed
//! in pieces between them (double-buffered `wk`), one call per block of rounds, so the
//! out-of-order core can overlap the two kinds of work at the call boundaries.
//!
//! Measured (`docs/BENCHMARKS.md`): slower than `shani` on the AMD EPYC VM there, so
//! detection never picks it; it stays selectable (`CHUNKER_SHA256_KERNEL=shani-avx2`)
//! and under the same differential tests. The reason is an encoding clash: the SHA
//! instructions exist only in legacy SSE form, and a legacy SSE instruction issued
//! while a YMM register's upper half is dirty cost ~110 ns there
//! (`examples/sse_avx_mix.rs`), so the 256-bit schedule cannot be interleaved with the
//! rounds instruction by instruction, only in phases separated by `vzeroupper`.
//!
//! `unsafe` here: unaligned vector loads from the 64-byte blocks, and loads/stores in
//! the kernel's own fixed-size arrays; every index is in bounds by construction (and
//! said so at each site). The entry point is a safe `#[target_feature]` function;
//! calling it needs the CPU check that `kernel.rs` makes once.

use core::arch::x86_64::{
    __m128i, __m256i, _mm256_add_epi32, _mm256_broadcastsi128_si256, _mm256_castsi256_si128,
    _mm256_extracti128_si256, _mm256_inserti128_si256, _mm256_or_si256, _mm256_set_epi64x,
    _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_slli_epi32, _mm256_srli_epi32,
    _mm256_unpackhi_epi32, _mm256_unpackhi_epi64, _mm256_unpacklo_epi32, _mm256_unpacklo_epi64,
    _mm256_xor_si256, _mm_add_epi32, _mm_alignr_epi8, _mm_loadl_epi64, _mm_loadu_si128,
    _mm_setzero_si128, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32,
    _mm_storeu_si128, _mm_sub_epi32,
};

use crate::shani::{load_state, store_state, K};

/// Whether this CPU has every instruction set the kernel is compiled for.
pub(crate) fn is_available() -> bool {
    crate::shani::is_available() && std::is_x86_feature_detected!("avx2")
}

/// How many schedule words the AVX2 part computes (the rest, if any, come from
/// `sha256msg1`/`sha256msg2`): measured best on the AMD EPYC of `docs/BENCHMARKS.md`.
pub(crate) const SPLIT: usize = 32;

/// `W + K` rows of two groups (double buffer): `wk[buf][column][t]`.
#[repr(C, align(32))]
struct Rows([[[u32; 64]; 8]; 2]);

/// The schedule of one group, transposed: `wt[t]` holds word `t` of the eight columns
/// (columns 0–3 in the low half, 4–7 in the high half).
struct Sched {
    wt: [__m256i; 64],
    rows: Rows,
}

impl Sched {
    /// Zeroed buffers.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn new() -> Sched {
        Sched {
            wt: [_mm256_setzero_si256(); 64],
            rows: Rows([[[0; 64]; 8]; 2]),
        }
    }
}

/// Compress `blocks[l][b]` into `states[l]` for every lane `l` and every block index
/// `b < nblocks`, lanes interleaved; `S` schedule words come from AVX2 (16..=64, a
/// multiple of 16).
///
/// Panics (never reads out of bounds) if a lane has fewer than `nblocks` blocks.
///
/// # Safety
/// The CPU must have the SHA extensions, SSE4.1 and AVX2 (see [`is_available`]).
// Lane, column and word indices address several parallel arrays at once.
#[allow(clippy::needless_range_loop)]
//
// No AVX here, on purpose: `sha256rnds2` has only the legacy SSE encoding, and on the
// AMD EPYC of `docs/BENCHMARKS.md` (a VM) a legacy SSE instruction issued while the
// upper halves of the YMM registers are dirty costs ~140 ns (measured). With AVX
// enabled the compiler emits 256-bit moves for array copies anywhere in this function;
// so the AVX2 work lives in `pieces`, a separate function the compiler cannot inline
// here and leaves with `vzeroupper`.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub(crate) unsafe fn compress<const N: usize, const S: usize>(
    states: &mut [[u32; 8]; N],
    blocks: [&[[u8; 64]]; N],
    nblocks: usize,
) {
    const { assert!(N >= 1 && N <= 8 && S >= 16 && S <= 64 && S.is_multiple_of(16)) };
    for lane in &blocks {
        assert!(lane.len() >= nblocks, "every lane has nblocks blocks");
    }
    if nblocks == 0 {
        return;
    }
    // Blocks per lane in a group.
    let per = 8 / N;
    let zero = _mm_setzero_si128();
    let mut abef = [zero; N];
    let mut cdgh = [zero; N];
    for l in 0..N {
        (abef[l], cdgh[l]) = load_state(&states[l]);
    }

    // SAFETY: as for `pieces` below.
    let mut sched = unsafe { Sched::new() };
    // The eight column blocks of the group starting at block `base`.
    let columns = |base: usize| -> [&[u8; 64]; 8] {
        core::array::from_fn(|c| {
            let (l, j) = (c / per, c % per);
            if l < N && base + j < nblocks {
                &blocks[l][base + j]
            } else {
                &blocks[0][base]
            }
        })
    };

    // Prologue: the whole schedule of the first group.
    // SAFETY: `pieces` needs AVX2 (and what `compress` has); checked with the rest.
    unsafe { pieces::<S>(&mut sched, 0, &columns(0), 0, PIECES) };

    let mut base = 0;
    let mut buf = 0;
    while base < nblocks {
        let here = per.min(nblocks - base);
        let next = base + per;
        let next_columns = (next < nblocks).then(|| columns(next));
        for j in 0..here {
            let (saved_abef, saved_cdgh) = (abef, cdgh);
            let mut m = [[zero; 4]; N];
            for q in 0..16 {
                if 4 * q < S {
                    for l in 0..N {
                        let row = &sched.rows.0[buf][l * per + j];
                        // SAFETY: `4 * q + 2 <= 62`, so the 8 bytes at word `4 * q`
                        // lie inside the 64-word row; `_mm_loadl_epi64` reads 8 bytes,
                        // unaligned.
                        let wk = unsafe { _mm_loadl_epi64(row.as_ptr().add(4 * q).cast()) };
                        cdgh[l] = _mm_sha256rnds2_epu32(cdgh[l], abef[l], wk);
                    }
                    for l in 0..N {
                        let row = &sched.rows.0[buf][l * per + j];
                        // SAFETY: as above, words `4 * q + 2` and `+ 3` (≤ 63).
                        let wk = unsafe { _mm_loadl_epi64(row.as_ptr().add(4 * q + 2).cast()) };
                        abef[l] = _mm_sha256rnds2_epu32(abef[l], cdgh[l], wk);
                    }
                } else {
                    let k = k4(q);
                    if 4 * q == S {
                        // Seed the SHA-unit schedule with W[S-16..S] (rows hold W + K).
                        for l in 0..N {
                            let row = &sched.rows.0[buf][l * per + j];
                            for i in 0..4 {
                                let t = S - 16 + 4 * i;
                                // SAFETY: `t + 4 <= S <= 64`: inside the row.
                                let v = unsafe { _mm_loadu_si128(row.as_ptr().add(t).cast()) };
                                m[l][i] = _mm_sub_epi32(v, k4(t / 4));
                            }
                        }
                    }
                    let a = q % 4;
                    let mut wk = [zero; N];
                    for l in 0..N {
                        let s0 = _mm_sha256msg1_epu32(m[l][a], m[l][(a + 1) % 4]);
                        let t7 = _mm_alignr_epi8::<4>(m[l][(a + 3) % 4], m[l][(a + 2) % 4]);
                        m[l][a] = _mm_sha256msg2_epu32(_mm_add_epi32(s0, t7), m[l][(a + 3) % 4]);
                        wk[l] = _mm_add_epi32(m[l][a], k);
                    }
                    for l in 0..N {
                        cdgh[l] = _mm_sha256rnds2_epu32(cdgh[l], abef[l], wk[l]);
                    }
                    for l in 0..N {
                        let hi = core::arch::x86_64::_mm_shuffle_epi32::<0x0e>(wk[l]);
                        abef[l] = _mm_sha256rnds2_epu32(abef[l], cdgh[l], hi);
                    }
                }
                // Between the rounds: a share of the next group's schedule.
                if let (Some(cols), true) =
                    (&next_columns, q % QUADS_PER_CALL == QUADS_PER_CALL - 1)
                {
                    let u = (j * 16 + q) / QUADS_PER_CALL;
                    let units = per * 16 / QUADS_PER_CALL;
                    let (from, to) = (u * PIECES / units, (u + 1) * PIECES / units);
                    // SAFETY: as for the prologue.
                    unsafe { pieces::<S>(&mut sched, buf ^ 1, cols, from, to) };
                }
            }
            for l in 0..N {
                abef[l] = _mm_add_epi32(abef[l], saved_abef[l]);
                cdgh[l] = _mm_add_epi32(cdgh[l], saved_cdgh[l]);
            }
        }
        base = next;
        buf ^= 1;
    }

    for l in 0..N {
        states[l] = store_state(abef[l], cdgh[l]);
    }
}

/// The schedule of a group in this many pieces: 4 loads/transposes of 4 words, then
/// for each later group of 4 words its 4 words and their transpose back.
const PIECES: usize = 4 + 12 * 5;

/// `K[4q..4q + 4]` as a vector.
#[inline]
#[target_feature(enable = "sse2")]
fn k4(q: usize) -> __m128i {
    let k = &K[4 * q..4 * q + 4];
    // SAFETY: `k` is 4 words, 16 readable bytes; unaligned load.
    unsafe { _mm_loadu_si128(k.as_ptr().cast()) }
}

/// How many quads of rounds run between two calls of [`pieces`].
const QUADS_PER_CALL: usize = 16;

/// Pieces `from..to` of the schedule of the group whose blocks are `cols`, into row
/// buffer `buf`.
///
/// # Safety
/// The CPU must have AVX2.
#[inline(never)]
#[target_feature(enable = "sse2,ssse3,sse4.1,avx2")]
unsafe fn pieces<const S: usize>(
    sched: &mut Sched,
    buf: usize,
    cols: &[&[u8; 64]; 8],
    from: usize,
    to: usize,
) {
    for p in from..to {
        piece::<S>(sched, buf, cols, p);
    }
}

/// Piece `p` (< [`PIECES`]) of the schedule of the group whose blocks are `cols`, into
/// row buffer `buf`. Pieces run in order; each needs only the ones before it.
#[inline]
#[target_feature(enable = "sse2,ssse3,sse4.1,avx2")]
fn piece<const S: usize>(sched: &mut Sched, buf: usize, cols: &[&[u8; 64]; 8], p: usize) {
    if p < 4 {
        load_words::<S>(sched, buf, cols, p);
        return;
    }
    let (g, k) = (4 + (p - 4) / 5, (p - 4) % 5);
    if 4 * g >= S {
        return;
    }
    if k < 4 {
        next_word(&mut sched.wt, 4 * g + k);
    } else {
        store_rows(sched, buf, g);
    }
}

/// Words `4g..4g + 4` of every column: byte-swapped, `W + K` into the rows, `W`
/// transposed into `wt`.
#[inline]
#[target_feature(enable = "sse2,ssse3,sse4.1,avx2")]
fn load_words<const S: usize>(sched: &mut Sched, buf: usize, cols: &[&[u8; 64]; 8], g: usize) {
    // Reverses the bytes of each dword: message words are big-endian.
    let bswap = _mm256_set_epi64x(
        0x0c0d_0e0f_0809_0a0b,
        0x0405_0607_0001_0203,
        0x0c0d_0e0f_0809_0a0b,
        0x0405_0607_0001_0203,
    );
    let k = _mm256_broadcastsi128_si256(k4(g));
    let mut r = [_mm256_setzero_si256(); 4];
    for c in 0..4 {
        // SAFETY: each column block is a `&[u8; 64]` and `16 * g + 16 <= 64`; unaligned
        // 16-byte loads.
        let (lo, hi) = unsafe {
            (
                _mm_loadu_si128(cols[c].as_ptr().add(16 * g).cast()),
                _mm_loadu_si128(cols[c + 4].as_ptr().add(16 * g).cast()),
            )
        };
        let v = _mm256_inserti128_si256::<1>(core::arch::x86_64::_mm256_castsi128_si256(lo), hi);
        r[c] = _mm256_shuffle_epi8(v, bswap);
        store_pair(&mut sched.rows.0[buf], c, 4 * g, _mm256_add_epi32(r[c], k));
    }
    if S > 16 {
        let w = transpose(r);
        sched.wt[4 * g..4 * g + 4].copy_from_slice(&w);
    }
}

/// Word `t` (16 ≤ t < 64) of every column from the words before it.
#[inline]
#[target_feature(enable = "avx2")]
fn next_word(wt: &mut [__m256i; 64], t: usize) {
    let x = wt[t - 15];
    // σ0(x) = (x ⋙ 7) ⊕ (x ⋙ 18) ⊕ (x ≫ 3)
    let s0 = _mm256_xor_si256(
        _mm256_xor_si256(
            _mm256_or_si256(_mm256_srli_epi32::<7>(x), _mm256_slli_epi32::<25>(x)),
            _mm256_or_si256(_mm256_srli_epi32::<18>(x), _mm256_slli_epi32::<14>(x)),
        ),
        _mm256_srli_epi32::<3>(x),
    );
    let y = wt[t - 2];
    // σ1(y) = (y ⋙ 17) ⊕ (y ⋙ 19) ⊕ (y ≫ 10)
    let s1 = _mm256_xor_si256(
        _mm256_xor_si256(
            _mm256_or_si256(_mm256_srli_epi32::<17>(y), _mm256_slli_epi32::<15>(y)),
            _mm256_or_si256(_mm256_srli_epi32::<19>(y), _mm256_slli_epi32::<13>(y)),
        ),
        _mm256_srli_epi32::<10>(y),
    );
    wt[t] = _mm256_add_epi32(
        _mm256_add_epi32(wt[t - 16], s0),
        _mm256_add_epi32(wt[t - 7], s1),
    );
}

/// Transpose words `4g..4g + 4` of `wt` back into the rows, as `W + K`.
#[inline]
#[target_feature(enable = "avx2")]
fn store_rows(sched: &mut Sched, buf: usize, g: usize) {
    let k = _mm256_broadcastsi128_si256(k4(g));
    let w = [
        sched.wt[4 * g],
        sched.wt[4 * g + 1],
        sched.wt[4 * g + 2],
        sched.wt[4 * g + 3],
    ];
    for (c, row) in transpose(w).into_iter().enumerate() {
        store_pair(&mut sched.rows.0[buf], c, 4 * g, _mm256_add_epi32(row, k));
    }
}

/// A 4×4 transpose of 32-bit words in each 128-bit half (its own inverse): four rows
/// `[c: t..t+4 | c+4: t..t+4]` become four words `[t: c0..c4 | t: c4..c8]`.
#[inline]
#[target_feature(enable = "avx2")]
fn transpose(r: [__m256i; 4]) -> [__m256i; 4] {
    let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    [
        _mm256_unpacklo_epi64(t0, t2),
        _mm256_unpackhi_epi64(t0, t2),
        _mm256_unpacklo_epi64(t1, t3),
        _mm256_unpackhi_epi64(t1, t3),
    ]
}

/// Store the low half of `v` at `rows[c][t..t + 4]` and the high half at
/// `rows[c + 4][t..t + 4]`.
#[inline]
#[target_feature(enable = "avx2")]
fn store_pair(rows: &mut [[u32; 64]; 8], c: usize, t: usize, v: __m256i) {
    let (lo, hi) = rows.split_at_mut(4);
    let (lo, hi) = (&mut lo[c][t..t + 4], &mut hi[c][t..t + 4]);
    // SAFETY: `lo` and `hi` are 4 words each, 16 writable bytes; unaligned stores.
    unsafe {
        _mm_storeu_si128(lo.as_mut_ptr().cast(), _mm256_castsi256_si128(v));
        _mm_storeu_si128(hi.as_mut_ptr().cast(), _mm256_extracti128_si256::<1>(v));
    }
}
