//! Hashing: SHA-256 and BLAKE3 digests and their text forms, including Nix
//! base32.
//!
//! ```
//! use chunker::hash::{hash, HashAlgorithm};
//!
//! let digest = hash(HashAlgorithm::Sha256, b"abc");
//! println!("{}", digest.to_nix32());
//! assert_eq!(digest.to_nix32(), "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s");
//! // Display is the form Nix prints for `NarHash`.
//! assert_eq!(
//!     digest.to_string(),
//!     "sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s"
//! );
//! ```
//!
//! - [`hash`] hashes a slice in one call; [`hash_many`] hashes a batch of
//!   independent messages (SHA-256 several at once, in lanes); [`Hasher`] hashes incrementally
//!   (also from an [`std::io::Read`] or as an [`std::io::Write`]).
//! - [`Digest`] is a 32-byte value tagged with its [`HashAlgorithm`]. It
//!   prints as hex, Nix base32 or SRI ([`Encoding`]) and parses from
//!   `sha256:<nix32>`, `sha256:<hex>` and `sha256-<base64>` (likewise for
//!   `blake3`).
//! - [`nix32`] is the Nix base32 codec itself, for byte strings of any length.
//!
//! All Nix base32 output is checked against `nix-hash` (see
//! `tests/nix32_vectors.rs` and `tests/data/nix32-vectors.txt`).

#![forbid(unsafe_code)]

mod digest;
pub mod nix32;

pub(crate) use digest::hash_many_and_update;
pub use digest::{
    hash, hash_many, AlgorithmParseError, Digest, DigestParseError, Encoding, EncodingParseError,
    HashAlgorithm, Hasher,
};
