//! Nix formats: NAR archives, narinfo files and Ed25519 signatures, byte-exact with Nix.
//!
//! - [`nar`]: a streaming NAR encoder (a filesystem path as a [`std::io::Read`]), [`pack`]
//!   with the NarHash and NarSize in the same pass, a validating streaming
//!   [`NarReader`], [`unpack`] to a directory.
//! - [`narinfo`]: [`NarInfo`] parsing and rendering in Nix's field order, fingerprints,
//!   signing and strict verification.
//! - [`keys`]: Ed25519 [`SecretKey`] / [`PublicKey`] / [`Signature`] in Nix's
//!   `name:base64` formats, key generation from OS randomness.
//!
//! ```
//! use chunker::nix::{pack, NarReader, EntryKind};
//!
//! let dir = std::env::temp_dir().join(format!("chunker-nix-doc-{}", std::process::id()));
//! std::fs::create_dir_all(dir.join("bin"))?;
//! std::fs::write(dir.join("bin/hello"), b"#!/bin/sh\necho hi\n")?;
//!
//! let mut nar = Vec::new();
//! let summary = pack(&dir, &mut nar)?;
//! assert_eq!(summary.nar_size, nar.len() as u64);
//! assert!(summary.nar_hash.to_string().starts_with("sha256:"));
//!
//! let mut reader = NarReader::new(&nar[..]);
//! let mut paths = Vec::new();
//! while let Some(entry) = reader.next_entry()? {
//!     paths.push((entry.path_lossy(), matches!(entry.kind, EntryKind::Directory)));
//! }
//! assert_eq!(paths, [("/".into(), true), ("/bin".into(), true), ("/bin/hello".into(), false)]);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod keys;
pub mod nar;
pub mod narinfo;

pub use keys::{KeyError, PublicKey, SecretKey, Signature};
pub use nar::{
    nar_hash, pack, unpack, Contents, Encoder, Entry, EntryKind, NarError, NarReader, NarSummary,
    PackError, UnpackError,
};
pub use narinfo::{NarInfo, NarInfoError, VerifyError};
