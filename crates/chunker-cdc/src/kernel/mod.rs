//! Boundary-search kernels and the single dispatch point that picks one.
//!
//! A kernel answers one question: given the gear hash so far and a run of bytes that
//! are all tested against the same mask, where is the first byte after which
//! `hash & mask == 0`? Everything else (min/avg/max rules, streaming) lives in the
//! drivers, so every kernel yields the same cut points by construction once it agrees
//! with the portable kernel on this question.
//!
//! The choice is made once: [`Kernel::detect`] honours `CHUNKER_CDC_KERNEL` (read once,
//! see [`Kernel::from_env`]) and otherwise takes the first available entry of
//! [`Kernel::ALL`], which lists kernels fastest first as measured.
//!
//! SIMD: `avx512` (x86-64 with AVX-512 F, BW and VBMI) does the table lookups with byte
//! permutes; see `avx512.rs` for how it is verified. There is no AVX2 kernel: on the AVX2-only machines measured, every AVX2
//! form of the lookup (`vpgatherdd`, or scalar loads inserted into vectors) costs at
//! least as many µops per byte as the whole scalar streams loop; see `streams.rs`.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
pub(crate) mod portable;
pub(crate) mod streams;

use core::fmt;
use core::str::FromStr;
use std::sync::OnceLock;

/// The environment variable that overrides kernel detection.
pub const KERNEL_ENV: &str = "CHUNKER_CDC_KERNEL";

/// A boundary-search implementation.
///
/// Every kernel produces exactly the same cut points; they differ only in speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Kernel {
    /// The reference byte-at-a-time gear hash, written for clarity and portability.
    #[default]
    Portable,
    /// Four interleaved scalar streams (safe Rust, every target).
    Streams,
    /// Eight lanes in one AVX-512 register, lookups by byte permutes (x86-64 with
    /// AVX-512 F, BW and VBMI; available only after passing a self-test against the
    /// portable kernel on this CPU).
    Avx512,
}

impl Kernel {
    /// All kernels this build knows about (available on this CPU or not), in the order
    /// [`Kernel::fastest`] prefers them: fastest first as measured. `avx512` comes after
    /// `streams` until it has been measured on AVX-512 hardware (it has been verified
    /// under emulation and checks itself against the portable kernel on first use);
    /// select it with `CHUNKER_CDC_KERNEL=avx512` or [`Kernel::Avx512`].
    pub const ALL: &'static [Kernel] = &[Kernel::Streams, Kernel::Avx512, Kernel::Portable];

    /// The kernel's name, as accepted by [`FromStr`] and `CHUNKER_CDC_KERNEL`.
    pub const fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Streams => "streams",
            Kernel::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Portable | Kernel::Streams => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => avx512::is_available(),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx512 => false,
        }
    }

    /// The kernels this CPU can run, fastest first.
    pub fn available() -> impl Iterator<Item = Kernel> {
        Kernel::ALL.iter().copied().filter(|k| k.is_available())
    }

    /// The kernel to use by default: the one `CHUNKER_CDC_KERNEL` names if that is valid
    /// and available here, else the fastest kernel available on this CPU. An invalid
    /// override is ignored here; front ends report it through [`Kernel::from_env`].
    pub fn detect() -> Kernel {
        static DETECTED: OnceLock<Kernel> = OnceLock::new();
        *DETECTED.get_or_init(|| match Kernel::from_env() {
            Ok(Some(k)) => k,
            Ok(None) | Err(_) => Kernel::fastest(),
        })
    }

    /// The fastest kernel available on this CPU, ignoring the environment.
    pub fn fastest() -> Kernel {
        Kernel::available().next().unwrap_or(Kernel::Portable)
    }

    /// The kernel named by `CHUNKER_CDC_KERNEL` (read once per process): `Ok(None)` when
    /// the variable is unset or empty, an error when it names an unknown kernel or one
    /// this CPU cannot run.
    pub fn from_env() -> Result<Option<Kernel>, KernelError> {
        static FROM_ENV: OnceLock<Result<Option<Kernel>, KernelError>> = OnceLock::new();
        FROM_ENV
            .get_or_init(|| match std::env::var(KERNEL_ENV) {
                Ok(v) if !v.trim().is_empty() => Kernel::from_name(&v).map(Some),
                Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
                Err(std::env::VarError::NotUnicode(v)) => Err(KernelError::Unknown {
                    name: v.to_string_lossy().into_owned(),
                }),
            })
            .clone()
    }

    /// The kernel called `name` if this CPU can run it: [`FromStr`] plus
    /// [`Kernel::is_available`].
    pub fn from_name(name: &str) -> Result<Kernel, KernelError> {
        let kernel: Kernel = name.parse()?;
        if kernel.is_available() {
            Ok(kernel)
        } else {
            Err(KernelError::Unavailable { kernel })
        }
    }

    /// The boundary-search primitive every kernel implements, exposed so callers (and
    /// the differential tests) can hold kernels to it directly.
    ///
    /// Scan `data`, updating `hash` byte by byte with `hash = (hash << 1) + GEAR[byte]`;
    /// return the index of the first byte after which `hash & mask == 0`, with `hash`
    /// updated through that byte, or `None` with `hash` updated through the whole of
    /// `data`. Every kernel returns exactly what [`Kernel::Portable`] returns. The fast
    /// kernels rely on the masks of [`Config`](crate::Config) lying below bit 48; a mask
    /// with higher bits is scanned byte at a time.
    ///
    /// A kernel this CPU cannot run (see [`Kernel::is_available`]) is never entered:
    /// the portable kernel answers instead, with the same result. Constructors that
    /// take a kernel by name ([`Kernel::from_name`], `CHUNKER_CDC_KERNEL`) report an
    /// unavailable one as an error first.
    ///
    /// ```
    /// use chunker_cdc::{Config, Kernel};
    ///
    /// let data: Vec<u8> = (0..100_000u32).map(|i| (i.wrapping_mul(2654435761) >> 9) as u8).collect();
    /// let mask = Config::new(1024, 4096, 16384)?.mask_small();
    /// let (mut h1, mut h2) = (42, 42);
    /// let expected = Kernel::Portable.scan(&mut h1, &data, mask);
    /// assert_eq!(Kernel::detect().scan(&mut h2, &data, mask), expected);
    /// assert_eq!(h1, h2);
    /// # Ok::<(), chunker_cdc::ConfigError>(())
    /// ```
    #[inline]
    pub fn scan(self, hash: &mut u64, data: &[u8], mask: u64) -> Option<usize> {
        if mask >> 48 != 0 {
            return portable::scan_any_mask(hash, data, mask);
        }
        match self {
            Kernel::Portable => portable::scan(hash, data, mask),
            Kernel::Streams => streams::scan(hash, data, mask),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 if avx512::is_available() => avx512::scan(hash, data, mask),
            Kernel::Avx512 => portable::scan(hash, data, mask),
        }
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A kernel name that is not known, or not usable on this CPU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    /// The name is not a kernel of this build.
    #[error("unknown kernel {name:?} (known: avx512, streams, portable)")]
    Unknown {
        /// The name given.
        name: String,
    },
    /// The kernel exists but this CPU lacks the instructions it needs.
    #[error("kernel {kernel} is not available on this CPU")]
    Unavailable {
        /// The kernel asked for.
        kernel: Kernel,
    },
}

impl FromStr for Kernel {
    type Err = KernelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kernel::ALL
            .iter()
            .copied()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| KernelError::Unknown { name: s.to_owned() })
    }
}
