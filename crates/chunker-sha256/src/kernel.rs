//! The kernels and the single dispatch point that picks one and calls it.
//!
//! The choice is made once: [`Kernel::detect`] honours `CHUNKER_SHA256_KERNEL` (read
//! once, see [`Kernel::from_env`]) and otherwise takes the first available entry of
//! [`Kernel::ALL`], fastest first as measured.

use core::fmt;
use core::str::FromStr;
use std::sync::OnceLock;

/// The environment variable that overrides kernel detection (`portable`, `shani` or `shani-avx2`).
pub const KERNEL_ENV: &str = "CHUNKER_SHA256_KERNEL";

/// The most lanes one kernel call takes.
pub const MAX_LANES: usize = 8;

/// A SHA-256 compression implementation.
///
/// Every kernel produces the same digests (those of FIPS 180-4, as the `sha2` crate
/// computes them); they differ only in speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Kernel {
    /// The `sha2` crate's block function, one lane after another (every target; `sha2`
    /// itself uses the CPU's SHA instructions where it finds them).
    #[default]
    Portable,
    /// x86-64 SHA extensions (`sha256rnds2`, `sha256msg1`, `sha256msg2`), up to
    /// [`MAX_LANES`] messages interleaved in one loop.
    ShaNi,
    /// The SHA-NI rounds with the message schedule computed in AVX2 registers, eight
    /// blocks at a time, so that the SHA unit runs rounds only (x86-64 with SHA and
    /// AVX2).
    ShaNiAvx2,
}

impl Kernel {
    /// All kernels of this build (available on this CPU or not), fastest first.
    pub const ALL: &'static [Kernel] = &[Kernel::ShaNi, Kernel::ShaNiAvx2, Kernel::Portable];

    /// The kernel's name, as accepted by [`FromStr`] and `CHUNKER_SHA256_KERNEL`.
    pub const fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::ShaNi => "shani",
            Kernel::ShaNiAvx2 => "shani-avx2",
        }
    }

    /// How many lanes this kernel runs best with, as measured (see
    /// `docs/BENCHMARKS.md`); the batch functions use this many unless told otherwise.
    pub const fn lanes(self) -> usize {
        match self {
            Kernel::Portable => 1,
            Kernel::ShaNi => 3,
            Kernel::ShaNiAvx2 => 4,
        }
    }

    /// How many lanes to use when one of them is a long stream (see
    /// [`digest_many_with_stream`](crate::digest_many_with_stream)): the stream's lane
    /// is one dependent chain over all its bytes and sets the pace, and each lane added
    /// beside it takes a share of the round unit's throughput, so beyond two lanes the
    /// stream slows by more than the extra lanes gain (measured; see
    /// `docs/BENCHMARKS.md`).
    pub const fn stream_lanes(self) -> usize {
        match self {
            Kernel::Portable => 1,
            Kernel::ShaNi => 2,
            Kernel::ShaNiAvx2 => 2,
        }
    }

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Portable => true,
            Kernel::ShaNi => shani_available(),
            Kernel::ShaNiAvx2 => shani_avx2_available(),
        }
    }

    /// The kernels this CPU can run, fastest first.
    pub fn available() -> impl Iterator<Item = Kernel> {
        Kernel::ALL.iter().copied().filter(|k| k.is_available())
    }

    /// The fastest kernel available on this CPU, ignoring the environment.
    pub fn fastest() -> Kernel {
        Kernel::available().next().unwrap_or(Kernel::Portable)
    }

    /// The kernel to use by default: the one `CHUNKER_SHA256_KERNEL` names if that is
    /// valid and available here, else [`Kernel::fastest`]. An invalid override is
    /// ignored here; front ends report it through [`Kernel::from_env`].
    pub fn detect() -> Kernel {
        static DETECTED: OnceLock<Kernel> = OnceLock::new();
        *DETECTED.get_or_init(|| match Kernel::from_env() {
            Ok(Some(k)) => k,
            Ok(None) | Err(_) => Kernel::fastest(),
        })
    }

    /// The kernel named by `CHUNKER_SHA256_KERNEL` (read once per process): `Ok(None)`
    /// when the variable is unset or empty, an error when it names an unknown kernel or
    /// one this CPU cannot run.
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

    /// Compress the first `nblocks` blocks of `blocks[l]` into `states[l]` for every
    /// lane (at most [`MAX_LANES`]; more are done in groups). A kernel this CPU cannot
    /// run is never entered: the portable one answers instead.
    pub(crate) fn compress(self, states: &mut [[u32; 8]], blocks: &[&[[u8; 64]]], nblocks: usize) {
        debug_assert_eq!(states.len(), blocks.len());
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::ShaNi if shani_available() => {
                for (states, blocks) in states.chunks_mut(MAX_LANES).zip(blocks.chunks(MAX_LANES)) {
                    shani_lanes(false, states, blocks, nblocks);
                }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::ShaNiAvx2 if shani_avx2_available() => {
                for (states, blocks) in states.chunks_mut(MAX_LANES).zip(blocks.chunks(MAX_LANES)) {
                    shani_lanes(nblocks >= AVX2_MIN_BLOCKS, states, blocks, nblocks);
                }
            }
            Kernel::ShaNi | Kernel::ShaNiAvx2 | Kernel::Portable => {
                for (state, blocks) in states.iter_mut().zip(blocks) {
                    sha2::block_api::compress256(state, &blocks[..nblocks]);
                }
            }
        }
    }
}

/// SHA-NI detection, done once.
fn shani_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static SHANI: OnceLock<bool> = OnceLock::new();
        *SHANI.get_or_init(crate::shani::is_available)
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// SHA-NI + AVX2 detection, done once.
fn shani_avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static SHANI_AVX2: OnceLock<bool> = OnceLock::new();
        *SHANI_AVX2.get_or_init(crate::shani_avx2::is_available)
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Below this many blocks per lane the AVX2-schedule kernel hands a call to the plain
/// SHA-NI one: its schedule of the first group cannot overlap any rounds, and it sets
/// up 6 KiB of schedule buffers per call (measured; see `docs/BENCHMARKS.md`).
#[cfg(target_arch = "x86_64")]
const AVX2_MIN_BLOCKS: usize = 4;

/// One call of a SHA-NI kernel (`avx2`: the AVX2-schedule one) over 1..=MAX_LANES
/// lanes. Callers have checked [`shani_available`] (and, with `avx2`,
/// [`shani_avx2_available`]).
#[cfg(target_arch = "x86_64")]
fn shani_lanes(avx2: bool, states: &mut [[u32; 8]], blocks: &[&[[u8; 64]]], nblocks: usize) {
    macro_rules! lanes {
        ($n:literal) => {{
            let states: &mut [[u32; 8]; $n] = states.try_into().expect("lane count");
            let blocks: [&[[u8; 64]]; $n] = core::array::from_fn(|i| blocks[i]);
            if avx2 {
                // SAFETY: this `compress` needs the SHA, SSE2, SSSE3, SSE4.1 and AVX2
                // instructions; the only caller, `Kernel::compress`, has checked
                // `shani_avx2_available()` before passing `avx2`.
                unsafe { crate::shani_avx2::compress::<$n, AVX2_SPLIT>(states, blocks, nblocks) }
            } else {
                // SAFETY: this `compress` needs the SHA, SSE2, SSSE3 and SSE4.1
                // instructions; the only caller, `Kernel::compress`, has checked
                // `shani_available()`.
                unsafe { crate::shani::compress::<$n>(states, blocks, nblocks) }
            }
        }};
    }
    match states.len() {
        0 => {}
        1 => lanes!(1),
        2 => lanes!(2),
        3 => lanes!(3),
        4 => lanes!(4),
        5 => lanes!(5),
        6 => lanes!(6),
        7 => lanes!(7),
        _ => lanes!(8),
    }
}

/// How many schedule words the AVX2 kernel computes itself.
#[cfg(target_arch = "x86_64")]
const AVX2_SPLIT: usize = crate::shani_avx2::SPLIT;

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A kernel name that is not known, or not usable on this CPU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    /// The name is not a kernel of this build.
    #[error("unknown SHA-256 kernel {name:?} (known: shani, shani-avx2, portable)")]
    Unknown {
        /// The name given.
        name: String,
    },
    /// The kernel exists but this CPU lacks the instructions it needs.
    #[error("SHA-256 kernel {kernel} is not available on this CPU")]
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
