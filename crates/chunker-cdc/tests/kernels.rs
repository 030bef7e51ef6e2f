//! Every kernel against the specification of [`Kernel::scan`], position by position:
//! the index of the first match *and* the hash left behind, for region lengths around
//! every internal boundary of the fast kernels, every start alignment, arbitrary incoming
//! hashes and the masks of every valid configuration. A naive byte-at-a-time loop written
//! here is the oracle; the portable kernel is held to it too.

mod common;
use common::kernels;

use chunker_cdc::{Config, Kernel, GEAR};
use chunker_testdata::{generate, Kind, Rng};
use proptest::prelude::*;

/// The specification, byte at a time.
fn naive(hash: u64, data: &[u8], mask: u64) -> (Option<usize>, u64) {
    let mut h = hash;
    for (i, &b) in data.iter().enumerate() {
        h = (h << 1).wrapping_add(GEAR[b as usize]);
        if h & mask == 0 {
            return (Some(i), h);
        }
    }
    (None, h)
}

fn check_with(kernels: &[Kernel], hash: u64, data: &[u8], mask: u64, what: &str) {
    let expected = naive(hash, data, mask);
    for &k in kernels {
        let mut h = hash;
        let got = k.scan(&mut h, data, mask);
        assert_eq!(
            (got, h),
            expected,
            "kernel {k}, {what}: len {}, mask {mask:#x}, hash {hash:#x}",
            data.len()
        );
    }
}

fn check(hash: u64, data: &[u8], mask: u64, what: &str) {
    check_with(&kernels(), hash, data, mask, what);
}

/// The masks of configurations across the valid range (powers of two and not).
fn config_masks() -> Vec<u64> {
    let mut masks = Vec::new();
    let mut avg = 256usize;
    while avg <= 4 << 20 {
        for a in [avg, avg + avg / 3] {
            let a = a.min(4 << 20);
            let cfg = Config::new(64, a, a.max(1024)).unwrap();
            masks.extend([cfg.mask_small(), cfg.mask_large()]);
        }
        avg *= 2;
    }
    masks.sort_unstable();
    masks.dedup();
    assert!(masks.iter().all(|m| m >> 48 == 0));
    masks
}

/// Masks that match often, so that matches land in every lane, round and warm-up zone;
/// those with only high bits catch a warm-up too short to make bits 40..48 exact.
const DENSE_MASKS: [u64; 10] = [
    0,
    1,
    0x3,
    0x1_0001,
    0x0180_4110,
    0xff,
    1 << 47,
    0xff00_0000_0000,
    0x8000_0000_0001,
    0xd900_0000_0000,
];

/// Region lengths around the internal boundaries of the fast kernels (quanta of 256 and
/// 2048 bytes, four lanes (streams) or eight (avx512), 48/64-byte warm-up), and a few
/// large ones.
fn boundary_lengths() -> Vec<usize> {
    let mut lens: Vec<usize> = (0..=300).collect();
    for base in [
        512,
        1024,
        2048,
        4096,
        8192,
        8192 + 1024,
        8192 + 3 * 1024,
        2 * 8192,
        3 * 8192 + 2 * 1024,
        32768,
        32768 + 3 * 2048,
        49152 + 2048,
        65536,
        100_000,
    ] {
        for d in [
            -65isize, -64, -49, -48, -47, -3, -2, -1, 0, 1, 2, 3, 47, 48, 49, 63, 64, 65,
        ] {
            lens.push((base as isize + d) as usize);
        }
    }
    lens.sort_unstable();
    lens.dedup();
    lens
}

#[test]
fn every_length_every_mask_every_kind() {
    let ks = kernels();
    let masks: Vec<u64> = config_masks().into_iter().chain(DENSE_MASKS).collect();
    let lens = boundary_lengths();
    let max = *lens.last().unwrap();
    for (seed, kind) in Kind::ALL.into_iter().enumerate() {
        let data = generate(kind, max + 64, seed as u64);
        for &len in &lens {
            for (mi, &mask) in masks.iter().enumerate() {
                let hash = if mi % 2 == 0 { 0 } else { GEAR[len % 256] };
                check_with(&ks, hash, &data[..len], mask, kind.name());
            }
        }
    }
}

#[test]
fn every_start_alignment() {
    let ks = kernels();
    let data = generate(Kind::Binary, 40_000, 7);
    let masks = config_masks();
    for start in 0..64 {
        for len in [0, 1, 63, 64, 1023, 1024, 1025, 8192 + 77, 30_000] {
            for &mask in masks.iter().step_by(3).chain(&DENSE_MASKS[3..]) {
                check_with(
                    &ks,
                    0x1234_5678_9abc_def0,
                    &data[start..start + len],
                    mask,
                    "aligned",
                );
            }
        }
    }
}

/// Plant a match at every position of a region (by truncating the data right after the
/// first match of a longer scan), including the first 64 bytes and the last byte.
#[test]
fn match_at_every_position_and_at_the_last_byte() {
    let ks = kernels();
    let mut rng = Rng::new(11);
    let mask = 0x0180_4110; // ~1 match per 32 bytes
    let mut planted = 0;
    while planted < 3000 {
        let len = 1 + rng.below(20_000) as usize;
        let data = generate(Kind::Random, len, rng.next_u64());
        let hash = rng.next_u64();
        check_with(&ks, hash, &data, mask, "random");
        // Shift the region start so that the first match falls at many offsets.
        for skip in [0, 1, 17, 48, 63, 64, 65, 300, 1023, 1024, 2047, 8191, 8192] {
            if skip >= data.len() {
                break;
            }
            let region = &data[skip..];
            if let (Some(i), _) = naive(hash, region, mask) {
                check_with(&ks, hash, &region[..=i], mask, "match at the last byte");
                planted += 1;
            }
        }
        // Rare masks: the only match is near the end of a long region.
        let sparse = Config::new(64, 1 << 20, 4 << 20).unwrap().mask_large();
        let (first, _) = naive(hash, &data, sparse);
        if let Some(i) = first {
            check_with(
                &ks,
                hash,
                &data[..=i],
                sparse,
                "sparse match at the last byte",
            );
        }
    }
}

#[test]
fn no_match_at_all_and_uniform_data() {
    let ks = kernels();
    let data = generate(Kind::Text, 1 << 20, 5);
    check_with(&ks, 99, &data, (1 << 48) - 1, "no match");
    for byte in [0u8, 0xff, b'a', 0x80] {
        let uniform = vec![byte; 70_000];
        for mask in config_masks().into_iter().chain(DENSE_MASKS) {
            for len in [0, 1, 64, 1024, 8192 + 5, 70_000] {
                check_with(&ks, 0, &uniform[..len], mask, "uniform");
                check_with(&ks, u64::MAX, &uniform[..len], mask, "uniform");
            }
        }
    }
}

/// Masks with bits at or above bit 48 are outside every `Config`, but the public
/// primitive still answers them exactly.
#[test]
fn masks_with_high_bits() {
    let data = generate(Kind::Random, 50_000, 8);
    for mask in [
        1u64 << 63,
        (1 << 63) | 1,
        1 << 48,
        u64::MAX,
        0xffff_0000_0000_0000,
    ] {
        for len in [0, 5, 1000, 50_000] {
            check(3, &data[..len], mask, "high mask");
        }
    }
}

/// A region that ends exactly at a page boundary, followed by a page that faults on
/// access: no kernel may read past the end of its slice.
#[cfg(target_os = "linux")]
#[test]
fn no_read_past_the_end_of_a_slice() {
    let ks = kernels();
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap();
    let len = 8 * page;
    // SAFETY: an anonymous private mapping of `len + page` bytes; arguments are valid.
    let base = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len + page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(base, libc::MAP_FAILED);
    // SAFETY: `base + len` is page-aligned and the page lies inside the mapping.
    let rc = unsafe { libc::mprotect(base.cast::<u8>().add(len).cast(), page, libc::PROT_NONE) };
    assert_eq!(rc, 0);
    // SAFETY: the first `len` bytes of the mapping are readable and writable, and no
    // other reference to them exists while `buf` lives.
    let buf = unsafe { core::slice::from_raw_parts_mut(base.cast::<u8>(), len) };
    buf.copy_from_slice(&generate(Kind::Binary, len, 3));
    let mut tails: Vec<usize> = (0..=300).collect();
    tails.extend([
        1023,
        1024,
        1025,
        2048,
        4095,
        4096,
        8191,
        8192,
        8193,
        len - 1,
        len,
    ]);
    for mask in [(1u64 << 48) - 1, 0x0000_d90f_0353_0000, 1] {
        for &t in &tails {
            check_with(&ks, 0, &buf[len - t..], mask, "ends at an unmapped page");
        }
    }
    // SAFETY: `buf` is no longer used; unmapping the whole mapping made above.
    assert_eq!(unsafe { libc::munmap(base, len + page) }, 0);
}

fn arb_mask() -> impl Strategy<Value = u64> {
    prop_oneof![
        prop::sample::select(config_masks()),
        prop::sample::select(DENSE_MASKS.to_vec()),
        // Random masks below bit 48 with 1..=20 bits.
        prop::collection::vec(0u32..48, 1..=20)
            .prop_map(|bits| bits.into_iter().fold(0u64, |m, b| m | 1 << b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any incoming hash, any data kind, any length and start, any valid mask.
    #[test]
    fn kernels_equal_the_specification(
        hash in any::<u64>(),
        kind in prop::sample::select(Kind::ALL.to_vec()),
        seed in any::<u64>(),
        start in 0usize..64,
        len in prop_oneof![0usize..=300, 0usize..40_000],
        mask in arb_mask(),
    ) {
        let data = generate(kind, start + len, seed);
        let region = &data[start..];
        let expected = naive(hash, region, mask);
        for k in kernels() {
            let mut h = hash;
            let got = k.scan(&mut h, region, mask);
            prop_assert_eq!((got, h), expected, "kernel {}", k);
        }
    }
}

#[test]
fn names_round_trip_and_detection_is_available() {
    for &k in Kernel::ALL {
        assert_eq!(k.name().parse::<Kernel>().unwrap(), k);
        assert_eq!(k.to_string(), k.name());
    }
    assert!(Kernel::detect().is_available());
    assert!(Kernel::fastest().is_available());
    assert_eq!(Kernel::fastest(), Kernel::available().next().unwrap());
    assert!("nope".parse::<Kernel>().is_err());
    assert!(Kernel::from_name(" Streams ").is_ok());
}

/// The avx512 kernel is offered exactly where the CPU has AVX-512 F, BW and VBMI: it
/// reports itself unavailable if its start-up self-test against the portable kernel
/// fails, and that must fail this test rather than pass as a skip.
#[test]
fn avx512_is_available_wherever_the_cpu_has_it() {
    #[cfg(target_arch = "x86_64")]
    let has = std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vbmi");
    #[cfg(not(target_arch = "x86_64"))]
    let has = false;
    if has {
        assert!(
            Kernel::Avx512.is_available(),
            "the avx512 kernel failed its self-test against the portable kernel on this CPU"
        );
    } else {
        eprintln!(
            "skipped: this CPU lacks AVX-512 F/BW/VBMI; the avx512 kernel is tested only under \
             emulation here (chunker-cdc unit tests)"
        );
        assert!(!Kernel::Avx512.is_available());
    }
}

/// `Kernel::scan` on a kernel this CPU cannot run never enters it (that would be an
/// illegal instruction, or worse): the portable kernel answers, with the same result.
#[test]
fn an_unavailable_kernel_scans_like_the_portable_one() {
    let data = generate(Kind::Text, 200_000, 7);
    let mask = Config::new(1024, 4096, 16384).unwrap().mask_small();
    let unavailable: Vec<Kernel> = Kernel::ALL
        .iter()
        .copied()
        .filter(|k| !k.is_available())
        .collect();
    if unavailable.is_empty() {
        eprintln!("skipped: this CPU runs every kernel of the build");
    }
    for k in unavailable {
        check_with(&[k], 99, &data, mask, "unavailable kernel");
        assert!(matches!(
            Kernel::from_name(k.name()),
            Err(chunker_cdc::KernelError::Unavailable { kernel }) if kernel == k
        ));
    }
}
