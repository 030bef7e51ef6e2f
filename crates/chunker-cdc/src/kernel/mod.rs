//! Boundary-search kernels and the single dispatch point that picks one.
//!
//! A kernel answers one question: given the gear hash so far and a run of bytes that
//! are all tested against the same mask, where is the first byte after which
//! `hash & mask == 0`? Everything else (min/avg/max rules, streaming) lives in the
//! drivers, so every kernel yields the same cut points by construction once it agrees
//! with the portable kernel on this question.

pub(crate) mod portable;

use core::fmt;
use core::str::FromStr;

/// A boundary-search implementation.
///
/// Every kernel produces exactly the same cut points; they differ only in speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Kernel {
    /// The reference byte-at-a-time gear hash, written for clarity and portability.
    #[default]
    Portable,
}

impl Kernel {
    /// All kernels this build knows about (available on this CPU or not).
    pub const ALL: &'static [Kernel] = &[Kernel::Portable];

    /// The kernel's name, as accepted by [`FromStr`] and `CHUNKER_CDC_KERNEL`.
    pub const fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
        }
    }

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Portable => true,
        }
    }

    /// The kernels this CPU can run, fastest first.
    pub fn available() -> impl Iterator<Item = Kernel> {
        Kernel::ALL.iter().copied().filter(|k| k.is_available())
    }

    /// The fastest kernel available on this CPU.
    pub fn detect() -> Kernel {
        Kernel::available().next().unwrap_or(Kernel::Portable)
    }

    /// Scan `data`, updating `hash` byte by byte; return the index of the first byte
    /// after which `hash & mask == 0`, with `hash` updated through that byte, or `None`
    /// with `hash` updated through the whole of `data`.
    #[inline]
    pub(crate) fn scan(self, hash: &mut u64, data: &[u8], mask: u64) -> Option<usize> {
        match self {
            Kernel::Portable => portable::scan(hash, data, mask),
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
    #[error("unknown kernel {name:?} (known: portable)")]
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
