//! The cost of a legacy-SSE `sha256rnds2` while the upper halves of the YMM registers
//! are dirty, against the same loop with them clean, same run:
//! `cargo run --release -p chunker-sha256 --example sse_avx_mix [ITERATIONS]`.
//!
//! Why it matters: `sha256rnds2` has no VEX form, so a kernel that interleaves AVX2
//! (256-bit) work with SHA-NI rounds issues legacy SSE instructions with dirty upper
//! state unless a `vzeroupper` separates them (see `src/shani_avx2.rs` and
//! `docs/BENCHMARKS.md`).

#[cfg(target_arch = "x86_64")]
mod probe {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm256_add_epi32, _mm256_castsi256_si128, _mm256_set1_epi32,
        _mm256_zeroupper, _mm_add_epi32, _mm_cvtsi128_si32, _mm_set1_epi32, _mm_sha256rnds2_epu32,
        _mm_xor_si128,
    };
    use std::hint::black_box;
    use std::time::Instant;

    /// `n` pairs of dependent `sha256rnds2`; with `dirty`, a 256-bit value stays live in
    /// a YMM register across the loop (upper state dirty), else the loop runs after a
    /// `vzeroupper` with nothing 256-bit live.
    #[target_feature(enable = "sha,sse2,avx2")]
    fn rounds(n: usize, dirty: bool) -> i32 {
        let (mut a, mut b, mut k): (__m128i, __m128i, __m128i) =
            (_mm_set1_epi32(1), _mm_set1_epi32(2), _mm_set1_epi32(3));
        let mut keep = _mm_set1_epi32(0);
        if dirty {
            let y: __m256i =
                _mm256_add_epi32(_mm256_set1_epi32(black_box(5)), _mm256_set1_epi32(7));
            for i in 0..n {
                k = _mm_add_epi32(k, _mm_set1_epi32(i as i32));
                a = _mm_sha256rnds2_epu32(a, b, k);
                b = _mm_sha256rnds2_epu32(b, a, k);
            }
            keep = _mm256_castsi256_si128(black_box(y));
        } else {
            _mm256_zeroupper();
            for i in 0..n {
                k = _mm_add_epi32(k, _mm_set1_epi32(i as i32));
                a = _mm_sha256rnds2_epu32(a, b, k);
                b = _mm_sha256rnds2_epu32(b, a, k);
            }
        }
        _mm_cvtsi128_si32(_mm_xor_si128(_mm_xor_si128(a, b), keep))
    }

    pub fn main() {
        let n: usize = std::env::args()
            .nth(1)
            .map_or(1_000_000, |s| s.parse().expect("ITERATIONS"));
        if !(std::is_x86_feature_detected!("sha") && std::is_x86_feature_detected!("avx2")) {
            println!("skipped: this CPU lacks SHA or AVX2");
            return;
        }
        for _ in 0..3 {
            for dirty in [false, true] {
                let t = Instant::now();
                // SAFETY: SHA and AVX2 were detected above.
                let sink = unsafe { rounds(n, dirty) };
                let ns = t.elapsed().as_secs_f64() * 1e9 / (2 * n) as f64;
                let state = if dirty {
                    "dirty upper YMM"
                } else {
                    "clean (vzeroupper)"
                };
                println!("{state:20} {ns:8.2} ns per sha256rnds2 (sink {sink})");
            }
        }
    }
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    probe::main();
    #[cfg(not(target_arch = "x86_64"))]
    println!("skipped: x86-64 only");
}
