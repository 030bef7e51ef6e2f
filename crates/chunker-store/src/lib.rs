//! A deduplicated store of NARs: content-defined chunks, each stored once as a zstd
//! frame in packs, on a local directory or S3-compatible object storage.
//!
//! ```
//! use chunker_store::{Store, StoreConfig};
//!
//! let dir = std::env::temp_dir().join(format!("chunker-store-libdoc-{}", std::process::id()));
//! let store = Store::init(dir.to_str().unwrap(), StoreConfig::default())?;
//! let tree = std::env::temp_dir().join(format!("chunker-store-libdoc-tree-{}", std::process::id()));
//! std::fs::create_dir_all(&tree)?;
//! std::fs::write(tree.join("a"), vec![7u8; 300_000])?;
//! let first = store.add_path(&tree)?;
//! let again = store.add_path(&tree)?;
//! assert!(again.existed);
//! assert_eq!(again.new_bytes, 0);
//! let mut nar = Vec::new();
//! store.cat(&first.key, &mut nar)?;
//! assert_eq!(nar.len() as u64, first.nar_size);
//! # std::fs::remove_dir_all(&dir)?; std::fs::remove_dir_all(&tree)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//! Under the store's root (a directory, or `s3://bucket/prefix`):
//! - `config`: the [`StoreConfig`] pinned at [`Store::init`].
//! - `packs/<ab>/<pack-id>`: zstd frames of chunks and a footer index ([`pack`]).
//! - `index/<segment-id>`: immutable index segments ([`index`]).
//! - `manifests/<narhash-nix32>`: one per NAR ([`manifest`]), the commit point.
//!
//! An ingest ([`Store::add_path`], [`Store::add_reader`]) writes packs, then one index
//! segment, then the manifest; a crash before the manifest leaves only unreferenced
//! packs (and maybe a segment pointing at them), which a GC removes. Every name is
//! derived from the content, so concurrent identical writes are harmless whether or not
//! the backend honours create-only PUTs.
//!
//! # Keys
//! A NAR's key is its NarHash: `sha256:<nix32>` or the 52 nix32 characters alone.
//! There is no map from store-path names to keys.
//!
//! # API shape
//! The API is synchronous: a [`Store`] owns a small tokio runtime and blocks on it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod add;
pub mod backend;
pub mod config;
mod error;
pub mod gc;
pub mod import;
pub mod index;
pub mod lock;
pub mod manifest;
pub mod pack;
pub mod read;
mod report;
pub mod simulate;
mod store;
mod wire;

pub use add::{AddFault, AddReport};
pub use backend::{Backend, ObjectInfo, Requests};
pub use config::StoreConfig;
pub use error::{FormatError, ObjectKind, Result, StoreError};
pub use gc::{GcOptions, GcReport};
pub use index::{Index, IndexSegment, Location, SegmentId};
pub use manifest::Manifest;
pub use pack::{PackEntry, PackId};
pub use read::ReadReport;
pub use report::{NarStats, Problem, Stats, VerifyReport};
pub use store::{load_segments, parse_key, Store, CONFIG_PATH};
