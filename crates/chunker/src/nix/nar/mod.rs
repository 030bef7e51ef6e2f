//! NAR (Nix ARchive): the canonical serialisation of a file system tree that Nix hashes
//! (NarHash) and stores in binary caches.
//!
//! # Format
//! Every item is a string `str(s)`: its length as a little-endian `u64`, the bytes, and
//! zero padding to a multiple of 8. A NAR is `str("nix-archive-1")` followed by one node:
//!
//! ```text
//! node  = "(" "type" ( "regular" ["executable" ""] "contents" <bytes>
//!                    | "symlink" "target" <target>
//!                    | "directory" { "entry" "(" "name" <name> "node" node ")" } ) ")"
//! ```
//!
//! Directory entries are sorted bytewise by name, strictly increasing. Only the owner
//! execute bit of a regular file is kept; no other mode bits, times or owners.
//!
//! # Pieces
//! - [`Encoder`]: a path as a [`Read`](std::io::Read) stream of NAR bytes, reading files
//!   straight into the caller's buffer (memory is bounded by the directory listings on
//!   the current path, never by file sizes).
//! - [`pack`] / [`nar_hash`]: the encoder into any writer with the NarHash (SHA-256) and
//!   NarSize computed in the same pass; [`nar_hash_parallel`] reads the files on several
//!   threads while the calling thread hashes.
//! - [`NarReader`]: a validating streaming parser yielding [`Entry`]s; regular file
//!   contents are read through [`NarReader::contents`] and never buffered whole.
//! - [`unpack`]: restore a NAR to a new directory; never writes outside it.
//!
//! Every limit the reader checks (name and target lengths, [`MAX_DEPTH`]) is also one the
//! writers keep, so what this crate writes it can read back.
//!
//! The bytes are identical to `nix-store --dump` (tested against Nix itself).

mod encode;
mod hash_par;
mod read;
mod unpack;

pub use encode::{nar_hash, pack, Encoder, NarSummary, PackError};
pub use hash_par::nar_hash_parallel;
pub use read::{Contents, Entry, EntryKind, NarError, NarReader};
pub use unpack::{unpack, UnpackError};

/// The string every NAR starts with.
pub const MAGIC: &[u8] = b"nix-archive-1";

/// Longest entry name accepted when reading (bytes), as in Nix.
pub const MAX_NAME_LEN: usize = 255;

/// Longest symlink target accepted when reading (bytes).
pub const MAX_TARGET_LEN: usize = 4096;

/// Deepest entry, in path components below the root, that [`NarReader`] accepts and
/// that [`Encoder`], [`pack`], [`nar_hash`] and [`nar_hash_parallel`] write: a NAR we
/// write we can always read. Deeper trees are a [`PackError::TooDeep`] /
/// [`NarError::TooDeep`].
///
/// Why 1024: real trees are far shallower (deep `node_modules` chains reach tens of
/// levels; `nix-store --restore` accepts any depth), yet the reader's memory stays
/// bounded (at most one 255-byte name per open directory plus the current path, about
/// 0.5 MiB at this depth), and 1024 levels of one-character names keep every path
/// under `PATH_MAX` (4096 bytes), which both Nix 2.8 and this crate need to reach a
/// file by its path. The parsers are iterative, so depth never grows the call stack.
pub const MAX_DEPTH: usize = 1024;

/// Zero bytes that pad a string of `len` bytes to a multiple of 8.
pub(crate) const fn padding(len: u64) -> usize {
    ((8 - (len % 8)) % 8) as usize
}

/// Append `str(s)` to `out`.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s);
    out.extend_from_slice(&[0u8; 8][..padding(s.len() as u64)]);
}

/// `"(" "type" "regular" ["executable" ""] "contents"` and the length of the contents:
/// a regular file's node up to its bytes.
pub(crate) fn put_file_start(out: &mut Vec<u8>, executable: bool, size: u64) {
    put_str(out, b"(");
    put_str(out, b"type");
    put_str(out, b"regular");
    if executable {
        put_str(out, b"executable");
        put_str(out, b"");
    }
    put_str(out, b"contents");
    out.extend_from_slice(&size.to_le_bytes());
}

/// The padding after `size` bytes of contents and the `")"` closing the file's node.
pub(crate) fn put_file_end(out: &mut Vec<u8>, size: u64) {
    out.extend_from_slice(&[0u8; 8][..padding(size)]);
    put_str(out, b")");
}

/// A whole symlink node.
pub(crate) fn put_symlink(out: &mut Vec<u8>, target: &[u8]) {
    put_str(out, b"(");
    put_str(out, b"type");
    put_str(out, b"symlink");
    put_str(out, b"target");
    put_str(out, target);
    put_str(out, b")");
}

/// `"(" "type" "directory"`: a directory's node up to its entries.
pub(crate) fn put_dir_start(out: &mut Vec<u8>) {
    put_str(out, b"(");
    put_str(out, b"type");
    put_str(out, b"directory");
}

/// `"entry" "(" "name" <name> "node"`: a directory entry up to its node.
pub(crate) fn put_entry_start(out: &mut Vec<u8>, name: &[u8]) {
    put_str(out, b"entry");
    put_str(out, b"(");
    put_str(out, b"name");
    put_str(out, name);
    put_str(out, b"node");
}
