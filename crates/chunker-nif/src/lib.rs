//! Erlang/Elixir NIF bindings of [`chunker`]: the native half of the `:chunker` mix
//! project in `elixir/` (module `Chunker.Native`).
//!
//! Thin by design: every function converts terms, calls the library, and maps the
//! result back; no algorithm lives here. One binding module per library module:
//! [`chunk`] (one-shot chunking and the streaming resource), [`hash`], [`compress`],
//! [`nix`].
//!
//! # Scheduling
//! No call holds a normal scheduler for more than about a millisecond. Every function
//! whose work grows with its input comes in two forms: `name` (normal scheduler) and
//! `name_dirty` (a dirty CPU scheduler; `nar_hash` runs on a dirty I/O scheduler). The
//! Elixir side calls the normal form only for inputs of at most
//! `Chunker.Native.small_input_bytes()` (64 KiB: well under 100 µs of SHA-256 or
//! chunking), and compression and key generation always on dirty schedulers (a slow
//! codec at a high level can spend milliseconds on 64 KiB). The figures behind this
//! choice are in `docs/BENCHMARKS.md` ("Elixir NIF").
//!
//! # Errors
//! Failures return `{:error, {kind, message}}` with `kind` an atom (see [`error`]);
//! nothing here raises for bad options, out-of-range sizes or corrupt data. A Rust
//! panic is caught by rustler and surfaces as `:erlang.nif_error(:nif_panicked)`
//! (an `ErlangError` in Elixir); the VM keeps running. The crate must never be built
//! with `panic = "abort"`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// Defines a NIF `$name` on the normal scheduler and `$dirty` on a dirty CPU
/// scheduler, both calling `$imp(env, args…)`: the pair the Elixir side picks from by
/// input size (see the crate docs). Argument types are written `Name` or `Name<'a>`
/// (rustler's attribute does not accept a `ty` fragment).
macro_rules! normal_and_dirty {
    ($(#[$doc:meta])* $name:ident / $dirty:ident => $imp:ident <$lt:lifetime> ($($arg:ident: $ty:ident $(<$tl:lifetime>)?),*)) => {
        $(#[$doc])*
        #[rustler::nif]
        fn $name<$lt>(env: rustler::Env<$lt>, $($arg: $ty $(<$tl>)?),*) -> rustler::Term<$lt> {
            $imp(env, $($arg),*)
        }

        $(#[$doc])*
        /// On a dirty CPU scheduler.
        #[rustler::nif(schedule = "DirtyCpu")]
        fn $dirty<$lt>(env: rustler::Env<$lt>, $($arg: $ty $(<$tl>)?),*) -> rustler::Term<$lt> {
            $imp(env, $($arg),*)
        }
    };
}

pub mod chunk;
pub mod compress;
pub mod error;
pub mod hash;
pub mod nix;

/// Atoms used across the bindings.
pub mod atoms {
    rustler::atoms! {
        /// `:ok`
        ok,
        /// `:error`
        error,
        /// `:nil`
        nil,
        /// `:sha256`
        sha256,
        /// `:blake3`
        blake3,
        /// `:__struct__`
        __struct__,
        /// `:offset`
        offset,
        /// `:length`
        length,
        /// `:digest`
        digest,
        /// `:payload`
        payload,
        /// `:chunks`
        chunks,
        /// `Chunker.Chunk`
        chunk_struct = "Elixir.Chunker.Chunk",
    }
}

/// Inputs up to this many bytes may be handled on a normal scheduler (the Elixir side
/// picks the `_dirty` form above it).
pub const SMALL_INPUT_BYTES: usize = 64 << 10;

/// `Chunker.Native.small_input_bytes/0`: [`SMALL_INPUT_BYTES`], so that the Elixir
/// side and this crate agree on the threshold.
#[rustler::nif]
fn small_input_bytes() -> usize {
    SMALL_INPUT_BYTES
}

/// `Chunker.Native.panic_for_test/0` (feature `test-hooks` only): panics, so that the
/// test suite can check that a Rust panic does not take down the VM.
#[cfg(feature = "test-hooks")]
#[rustler::nif]
fn panic_for_test() -> rustler::Atom {
    panic!("panic_for_test: a deliberate panic inside a NIF")
}

rustler::init!("Elixir.Chunker.Native");
