//! Every kernel and lane count against the `sha2` crate (the spec): FIPS 180-4 vectors,
//! every length 0..=1100 beside every length class, random lengths up to 4 MiB, every
//! alignment, streams split at random points, and a proptest.

use chunker_sha256::{Kernel, Sha256, MAX_LANES};
use proptest::prelude::*;
use sha2::Digest as _;

fn reference(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

/// The kernels this CPU runs; the others are named on stderr as skipped.
fn kernels() -> Vec<Kernel> {
    Kernel::ALL
        .iter()
        .copied()
        .filter(|k| {
            let ok = k.is_available();
            if !ok {
                eprintln!("skipped: kernel {k} is not available on this CPU");
            }
            ok
        })
        .collect()
}

/// splitmix64: deterministic test data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn hex(d: &[u8; 32]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn fips_180_4_vectors() {
    let million_a = vec![b'a'; 1_000_000];
    let vectors: [(&[u8], &str); 4] = [
        (
            b"",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            b"abc",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
        (
            &million_a,
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
        ),
    ];
    for kernel in kernels() {
        for (msg, want) in vectors {
            assert_eq!(hex(&kernel.digest(msg)), want, "{kernel}");
            let all: Vec<&[u8]> = vectors.iter().map(|v| v.0).collect();
            for lanes in 1..=MAX_LANES {
                let got = kernel.digest_many_lanes(lanes, &all);
                for (g, (_, w)) in got.iter().zip(vectors) {
                    assert_eq!(hex(g), w, "{kernel} lanes {lanes}");
                }
            }
        }
    }
    assert_eq!(
        hex(&chunker_sha256::digest(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

/// Lengths around every padding and block boundary, and longer ones.
const CLASSES: [usize; 14] = [
    0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 65_539,
];

#[test]
fn every_length_beside_every_class() {
    let mut rng = Rng(1);
    let data = rng.bytes(70_000);
    let other = rng.bytes(70_000);
    for kernel in kernels() {
        for len in 0..=1100 {
            let a = &data[..len];
            let want_a = reference(a);
            for &c in &CLASSES {
                let b = &other[..c];
                let want_b = reference(b);
                let got = kernel.digest_array([a, b]);
                assert_eq!(got, [want_a, want_b], "{kernel} x2 len {len} class {c}");
                let got = kernel.digest_array([b, a]);
                assert_eq!(got, [want_b, want_a], "{kernel} x2 class {c} len {len}");
            }
            let c4: [&[u8]; 4] = [
                a,
                &other[..len / 2],
                &other[..CLASSES[len % 14]],
                &data[len..],
            ];
            let want: Vec<[u8; 32]> = c4.iter().map(|m| reference(m)).collect();
            assert_eq!(
                kernel.digest_array(c4).to_vec(),
                want,
                "{kernel} x4 len {len}"
            );
        }
        // The batch form, every lane count, all lengths at once.
        let msgs: Vec<&[u8]> = (0..=1100).map(|n| &data[n % 7..n % 7 + n]).collect();
        let want: Vec<[u8; 32]> = msgs.iter().map(|m| reference(m)).collect();
        for lanes in 1..=MAX_LANES {
            assert_eq!(
                kernel.digest_many_lanes(lanes, &msgs),
                want,
                "{kernel} lanes {lanes}"
            );
        }
    }
    // The free functions (detected kernel).
    let [x, y] = chunker_sha256::digest_x2(&data[..100], &other[..1000]);
    assert_eq!([x, y], [reference(&data[..100]), reference(&other[..1000])]);
    let four: [&[u8]; 4] = [&data[..1], &data[..64], &other[..65], b""];
    let want: Vec<[u8; 32]> = four.iter().map(|m| reference(m)).collect();
    assert_eq!(chunker_sha256::digest_x4(four).to_vec(), want);
}

#[test]
fn random_lengths_to_4_mib() {
    let mut rng = Rng(2);
    let data = rng.bytes(4 << 20);
    for kernel in kernels() {
        for round in 0..3 {
            let msgs: Vec<&[u8]> = (0..7)
                .map(|i| {
                    let len = if i == round {
                        4 << 20
                    } else {
                        rng.below(4 << 20)
                    };
                    let start = rng.below((4 << 20) - len + 1);
                    &data[start..start + len]
                })
                .collect();
            let want: Vec<[u8; 32]> = msgs.iter().map(|m| reference(m)).collect();
            for lanes in [1, 2, 3, 4, 8] {
                assert_eq!(
                    kernel.digest_many_lanes(lanes, &msgs),
                    want,
                    "{kernel} lanes {lanes}"
                );
            }
        }
    }
}

#[test]
fn every_alignment() {
    let mut rng = Rng(3);
    let data = rng.bytes(8192);
    for kernel in kernels() {
        for offset in 0..64 {
            for len in [0, 1, 55, 56, 64, 100, 1000, 4096] {
                let a = &data[offset..offset + len];
                let b = &data[63 - offset..63 - offset + len + 3];
                assert_eq!(
                    kernel.digest_array([a, b]),
                    [reference(a), reference(b)],
                    "{kernel} offset {offset} len {len}"
                );
                let mut h = Sha256::with_kernel(kernel);
                h.update(a);
                assert_eq!(h.finalize(), reference(a));
            }
        }
    }
}

/// Split `data` at random points into pieces (some empty).
fn split<'a>(rng: &mut Rng, data: &'a [u8], pieces: usize) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = (0..pieces - 1).map(|_| rng.below(data.len() + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0;
    for c in cuts.into_iter().chain([data.len()]) {
        out.push(&data[at..c]);
        at = c;
    }
    out
}

#[test]
fn streams_split_at_random_points() {
    let mut rng = Rng(4);
    for kernel in kernels() {
        for round in 0..40 {
            let n = 1 + round % 6;
            let datas: Vec<Vec<u8>> = (0..n)
                .map(|_| {
                    let len = rng.below(if round % 2 == 0 { 300 } else { 200_000 });
                    rng.bytes(len)
                })
                .collect();
            let splits: Vec<Vec<&[u8]>> = datas
                .iter()
                .map(|d| {
                    let pieces = 1 + rng.below(12);
                    split(&mut rng, d, pieces)
                })
                .collect();
            let mut hashers: Vec<Sha256> = (0..n).map(|_| Sha256::with_kernel(kernel)).collect();
            let steps = splits.iter().map(Vec::len).max().unwrap();
            for step in 0..steps {
                let inputs: Vec<&[u8]> = splits
                    .iter()
                    .map(|s| s.get(step).copied().unwrap_or(&[]))
                    .collect();
                let mut refs: Vec<&mut Sha256> = hashers.iter_mut().collect();
                kernel.update_lanes(1 + round % MAX_LANES, &mut refs, &inputs);
            }
            for (h, d) in hashers.iter().zip(&datas) {
                assert_eq!(h.finalize(), reference(d), "{kernel} round {round}");
                assert_eq!(h.len(), d.len() as u64);
            }
        }
    }
}

#[test]
fn batch_with_stream_lane() {
    let mut rng = Rng(5);
    let data = rng.bytes(3 << 20);
    for kernel in kernels() {
        for lanes in 1..=MAX_LANES {
            let mut stream = Sha256::with_kernel(kernel);
            let mut all = Vec::new();
            // The stream takes the pieces' bytes, a batch at a time, in uneven batches.
            let pieces = split(&mut rng, &data, 200);
            let mut at = 0;
            let mut i = 0;
            while i < pieces.len() {
                let k = (1 + rng.below(30)).min(pieces.len() - i);
                let batch = &pieces[i..i + k];
                let len: usize = batch.iter().map(|p| p.len()).sum();
                kernel.digest_many_with_stream(
                    lanes,
                    &mut stream,
                    &data[at..at + len],
                    batch,
                    &mut all,
                );
                at += len;
                i += k;
            }
            assert_eq!(
                stream.finalize(),
                reference(&data),
                "{kernel} lanes {lanes}"
            );
            let want: Vec<[u8; 32]> = pieces.iter().map(|p| reference(p)).collect();
            assert_eq!(all, want, "{kernel} lanes {lanes}");
        }
    }
    let mut s = Sha256::new();
    let d = chunker_sha256::digest_many_with_stream(&mut s, b"xyz", &[&b"x"[..], b"yz"]);
    assert_eq!(d, vec![reference(b"x"), reference(b"yz")]);
    assert_eq!(s.finalize(), reference(b"xyz"));
}

#[test]
fn hasher_reset_and_continue() {
    for kernel in kernels() {
        let mut h = Sha256::with_kernel(kernel);
        assert!(h.is_empty());
        h.update(&[1; 100]);
        let snapshot = h.finalize();
        h.update(&[2; 30]);
        let mut both = vec![1u8; 100];
        both.extend([2u8; 30]);
        assert_eq!(snapshot, reference(&[1; 100]));
        assert_eq!(h.finalize(), reference(&both));
        h.reset();
        assert_eq!(h.finalize(), reference(b""));
    }
}

proptest! {
    #[test]
    fn proptest_batches(msgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..700), 0..12),
                        lanes in 1..=MAX_LANES) {
        let want: Vec<[u8; 32]> = msgs.iter().map(|m| reference(m)).collect();
        for kernel in kernels() {
            prop_assert_eq!(&kernel.digest_many_lanes(lanes, &msgs), &want);
        }
    }
}
