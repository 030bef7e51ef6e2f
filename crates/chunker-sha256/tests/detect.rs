//! A CPU with the SHA extensions must get the SHA-NI kernel (unless
//! `CHUNKER_SHA256_KERNEL` says otherwise).

use chunker_sha256::{Kernel, KERNEL_ENV};

#[test]
fn shani_cpu_gets_shani_kernel() {
    #[cfg(target_arch = "x86_64")]
    {
        let has_sha = std::is_x86_feature_detected!("sha")
            && std::is_x86_feature_detected!("sse2")
            && std::is_x86_feature_detected!("ssse3")
            && std::is_x86_feature_detected!("sse4.1");
        assert_eq!(Kernel::ShaNi.is_available(), has_sha);
        if !has_sha {
            eprintln!("skipped: this CPU has no SHA extensions");
            return;
        }
        assert_eq!(Kernel::fastest(), Kernel::ShaNi);
        match std::env::var_os(KERNEL_ENV) {
            Some(v) if !v.is_empty() => {
                eprintln!("{KERNEL_ENV} is set: checking that it is honoured instead");
                assert_eq!(Kernel::detect(), Kernel::from_env().unwrap().unwrap());
            }
            _ => assert_eq!(Kernel::detect(), Kernel::ShaNi),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        assert!(!Kernel::ShaNi.is_available());
        assert_eq!(Kernel::fastest(), Kernel::Portable);
    }
}

/// The AVX2-schedule kernel is available exactly where SHA and AVX2 are; detection
/// still prefers `shani` (measured faster, see `docs/BENCHMARKS.md`).
#[test]
fn shani_avx2_availability() {
    #[cfg(target_arch = "x86_64")]
    {
        let has = Kernel::ShaNi.is_available() && std::is_x86_feature_detected!("avx2");
        assert_eq!(Kernel::ShaNiAvx2.is_available(), has);
        if !has {
            eprintln!("skipped: this CPU lacks SHA or AVX2 for kernel shani-avx2");
            return;
        }
        assert_eq!(Kernel::from_name("shani-avx2"), Ok(Kernel::ShaNiAvx2));
        assert_ne!(Kernel::fastest(), Kernel::ShaNiAvx2);
    }
    #[cfg(not(target_arch = "x86_64"))]
    assert!(!Kernel::ShaNiAvx2.is_available());
}

#[test]
fn names_parse() {
    for k in Kernel::ALL {
        assert_eq!(k.name().parse::<Kernel>(), Ok(*k));
        assert_eq!(k.to_string(), k.name());
    }
    assert_eq!(" SHANI ".parse::<Kernel>(), Ok(Kernel::ShaNi));
    let err = "avx".parse::<Kernel>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown SHA-256 kernel \"avx\" (known: shani, shani-avx2, portable)"
    );
    assert_eq!(Kernel::from_name("portable"), Ok(Kernel::Portable));
    assert!(Kernel::ShaNi.lanes() >= 2);
}
