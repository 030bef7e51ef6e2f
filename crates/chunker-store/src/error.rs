//! Errors: [`FormatError`] for the binary formats, [`StoreError`] for everything else.

use chunker::compress::CompressionError;
use chunker::hash::Digest;

/// Which stored object a [`FormatError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectKind {
    /// The `config` object.
    Config,
    /// A pack (`packs/…`), its footer index in particular.
    Pack,
    /// An index segment (`index/…`).
    IndexSegment,
    /// A manifest (`manifests/…`).
    Manifest,
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ObjectKind::Config => "store config",
            ObjectKind::Pack => "pack",
            ObjectKind::IndexSegment => "index segment",
            ObjectKind::Manifest => "manifest",
        })
    }
}

/// A stored object's bytes do not parse. Parsing is bounded: no allocation is sized by
/// a length or count read from the object before it is checked against the bytes that
/// remain and a fixed cap.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The object ends before a field or record it declares.
    #[error("{object} truncated: {needed} bytes needed, {remaining} remain")]
    Truncated {
        /// The object.
        object: ObjectKind,
        /// Bytes the next field needs.
        needed: u64,
        /// Bytes left.
        remaining: u64,
    },
    /// The magic bytes are wrong: not an object of this kind.
    #[error("{object}: bad magic bytes")]
    BadMagic {
        /// The object.
        object: ObjectKind,
    },
    /// A format version this build does not read.
    #[error("{object}: unsupported format version {version}")]
    UnsupportedVersion {
        /// The object.
        object: ObjectKind,
        /// The version found.
        version: u32,
    },
    /// A count above the format's cap.
    #[error("{object}: {count} {what} is more than the limit of {max}")]
    TooMany {
        /// The object.
        object: ObjectKind,
        /// What is counted.
        what: &'static str,
        /// The count found.
        count: u64,
        /// The cap.
        max: u64,
    },
    /// A field holds a value the format does not allow.
    #[error("{object}: {reason}")]
    Invalid {
        /// The object.
        object: ObjectKind,
        /// What is wrong.
        reason: &'static str,
    },
    /// The object's compressed body does not decompress (within its size cap).
    #[error("{object}: cannot decompress")]
    Decompress {
        /// The object.
        object: ObjectKind,
        /// The codec's error.
        #[source]
        source: CompressionError,
    },
}

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store URL is not a path, `file://…` or `s3://bucket/prefix`.
    #[error("invalid store URL {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A request to the backend failed.
    #[error("{op} {path}")]
    Backend {
        /// The request (`put`, `get`, `list`, …).
        op: &'static str,
        /// The object path (or prefix).
        path: String,
        /// The backend's error.
        #[source]
        source: object_store::Error,
    },
    /// There is no store at the URL (no `config` object): run `init` first.
    #[error("no chunk store at {url} (no config object; run `store init`)")]
    NotInitialized {
        /// The store URL.
        url: String,
    },
    /// `init` found a store with a different config already there.
    #[error("a store with a different config exists at {url}")]
    AlreadyInitialized {
        /// The store URL.
        url: String,
    },
    /// The store was opened with a config other than the one pinned at `init`.
    #[error("store config mismatch: the store has {stored}, asked for {requested}")]
    ConfigMismatch {
        /// The pinned config.
        stored: Box<crate::StoreConfig>,
        /// The config asked for.
        requested: Box<crate::StoreConfig>,
    },
    /// A store config value is out of range.
    #[error("invalid store config: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// A stored object does not parse.
    #[error("{path}")]
    Format {
        /// The object's path in the store.
        path: String,
        /// What is wrong with it.
        #[source]
        source: FormatError,
    },
    /// No manifest for this key.
    #[error("no NAR {key} in the store")]
    NotFound {
        /// The key (NarHash in nix32).
        key: String,
    },
    /// A key is not a NarHash (`sha256:<nix32>` or the 52 nix32 characters).
    #[error("invalid key {key:?}: {reason}")]
    BadKey {
        /// The key given.
        key: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A manifest names a chunk that no index segment locates.
    #[error("chunk {digest} of NAR {key} is not in the store index")]
    MissingChunk {
        /// The NAR's key.
        key: String,
        /// The chunk.
        digest: Digest,
    },
    /// The index locates a chunk in a pack that does not exist.
    #[error("chunk {digest}: its pack {pack} is missing")]
    MissingPack {
        /// The chunk.
        digest: Digest,
        /// The pack's path.
        pack: String,
    },
    /// A stored chunk does not decompress to its length or its digest does not match.
    #[error("chunk {digest} in pack {pack} at offset {offset} is corrupt: {reason}")]
    CorruptChunk {
        /// The chunk's expected digest.
        digest: Digest,
        /// The pack's path.
        pack: String,
        /// The frame's offset in the pack.
        offset: u64,
        /// What failed.
        reason: &'static str,
    },
    /// The NAR read back does not hash to the manifest's NarHash.
    #[error("NAR {key}: NarHash mismatch (read back {actual})")]
    NarHashMismatch {
        /// The key (= the expected NarHash in nix32).
        key: String,
        /// The hash of what was read.
        actual: Digest,
    },
    /// The stored frames do not hash to the manifest's FileHash.
    #[error("NAR {key}: FileHash mismatch (manifest {expected}, read back {actual})")]
    FileHashMismatch {
        /// The key.
        key: String,
        /// The manifest's FileHash.
        expected: Digest,
        /// The hash of what was read.
        actual: Digest,
    },
    /// A byte range outside the NAR.
    #[error("range {start}-{end} is outside the NAR ({size} bytes)")]
    BadRange {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
        /// NarSize.
        size: u64,
    },
    /// The input could not be read (or packed into a NAR).
    #[error("reading input")]
    Input {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A directory could not be packed into a NAR.
    #[error("packing the input into a NAR")]
    Pack {
        /// The NAR encoder's error.
        #[source]
        source: chunker::nix::PackError,
    },
    /// The ingest pipeline failed (a read error inside it included).
    #[error("chunking the input")]
    Pipeline {
        /// The pipeline's error.
        #[source]
        source: chunker::PipelineError,
    },
    /// Compressing or decompressing failed (an input in an unsupported format included).
    #[error("{what}")]
    Compression {
        /// What was being done.
        what: &'static str,
        /// The codec's error.
        #[source]
        source: CompressionError,
    },
    /// The output could not be written.
    #[error("writing output")]
    Output {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A NAR of a binary cache could not be imported (or exported).
    #[error("{narinfo}: {reason}")]
    Import {
        /// The narinfo.
        narinfo: String,
        /// What is wrong.
        reason: String,
    },
    /// Another process holds a lock that this operation cannot proceed under (a GC
    /// running; or, for a GC, another GC).
    #[error("the store is locked by {lock} (owner {owner})")]
    Locked {
        /// The lock's object path.
        lock: String,
        /// Its holder, `host:pid`.
        owner: String,
    },
    /// The store's own runtime could not start, or a task of it failed.
    #[error("store runtime: {reason}")]
    Runtime {
        /// What failed.
        reason: String,
    },
}

impl StoreError {
    /// Whether this error means stored data failed verification (a corrupt or missing
    /// chunk or pack, or a hash mismatch), as opposed to I/O or usage.
    pub fn is_verification(&self) -> bool {
        matches!(
            self,
            StoreError::MissingChunk { .. }
                | StoreError::MissingPack { .. }
                | StoreError::CorruptChunk { .. }
                | StoreError::NarHashMismatch { .. }
                | StoreError::FileHashMismatch { .. }
                | StoreError::Format { .. }
        )
    }
}

/// Result with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
