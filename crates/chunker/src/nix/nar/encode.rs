//! The NAR encoder: a file system path as a stream of NAR bytes.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{
    put_dir_start, put_entry_start, put_file_end, put_file_start, put_str, put_symlink, MAGIC,
    MAX_DEPTH,
};
use crate::hash::{Digest, HashAlgorithm, Hasher};

/// An error while serialising a path as a NAR.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// A path could not be inspected or read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A file type NAR cannot hold (socket, device, FIFO).
    #[error("{}: unsupported file type ({kind}); NAR holds only regular files, symlinks and directories", path.display())]
    UnsupportedType {
        /// The path.
        path: PathBuf,
        /// What it is, e.g. `"socket"`.
        kind: &'static str,
    },
    /// A regular file became shorter while it was read.
    #[error("{} shrank while being archived (expected {expected} bytes)", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
        /// Its size when the NAR header was written.
        expected: u64,
    },
    /// A directory entry deeper than [`MAX_DEPTH`](super::MAX_DEPTH) path components
    /// below the root: refused, since [`NarReader`](super::NarReader) would refuse it.
    #[error("{}: nested deeper than {limit} levels below the archived path", path.display())]
    TooDeep {
        /// The first entry too deep.
        path: PathBuf,
        /// The limit.
        limit: usize,
    },
    /// Writing the NAR failed.
    #[error("writing NAR output")]
    Write(#[source] io::Error),
}

impl PackError {
    /// Wrap into an [`io::Error`] for [`Read`], keeping the kind of an I/O cause.
    fn into_io(self) -> io::Error {
        let kind = match &self {
            PackError::Read { source, .. } | PackError::Write(source) => source.kind(),
            PackError::UnsupportedType { .. } => io::ErrorKind::Unsupported,
            PackError::TooDeep { .. } => io::ErrorKind::InvalidInput,
            PackError::Changed { .. } => io::ErrorKind::UnexpectedEof,
        };
        io::Error::new(kind, self)
    }

    /// Recover a `PackError` from an error returned by [`Encoder`]'s `read`.
    pub fn from_io(e: io::Error) -> PackError {
        if e.get_ref().is_some_and(|inner| inner.is::<PackError>()) {
            match e.into_inner().map(|inner| inner.downcast::<PackError>()) {
                Some(Ok(p)) => *p,
                _ => unreachable!("checked above"),
            }
        } else {
            PackError::Write(e)
        }
    }
}

/// NarHash and NarSize of a serialised path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NarSummary {
    /// SHA-256 of the NAR bytes (`sha256:<nix32>` when displayed).
    pub nar_hash: Digest,
    /// Length of the NAR in bytes.
    pub nar_size: u64,
}

/// A regular file whose contents are being copied out.
#[derive(Debug)]
struct OpenFile {
    file: File,
    path: PathBuf,
    size: u64,
    remaining: u64,
}

/// A directory being listed.
#[derive(Debug)]
struct Dir {
    path: PathBuf,
    names: std::vec::IntoIter<OsString>,
}

#[derive(Debug)]
enum Next {
    /// The magic and the root node, not yet looked at.
    Root(PathBuf),
    Node(PathBuf),
    Entry,
    Done,
}

/// A file system path as a stream of NAR bytes: [`Read`] it to get exactly what
/// `nix-store --dump PATH` writes.
///
/// [`Encoder::new`] touches nothing until the first read; [`Encoder::open`] looks at the
/// root path first, so that a missing or unreadable path is an error before any reading
/// starts. Either way no byte is produced for a root that cannot be read. Regular file
/// contents are read straight into the caller's buffer; memory holds only the sorted
/// listings of the directories on the current path. Errors are [`io::Error`]s wrapping a
/// [`PackError`] (recover it with [`PackError::from_io`]); an error ends the stream.
///
/// ```
/// use std::io::Read;
/// use chunker::nix::Encoder;
///
/// let file = std::env::temp_dir().join(format!("chunker-enc-doc-{}", std::process::id()));
/// std::fs::write(&file, b"hi")?;
/// let mut nar = Vec::new();
/// Encoder::new(&file).read_to_end(&mut nar)?;
/// assert_eq!(&nar[..8], &[13, 0, 0, 0, 0, 0, 0, 0]);
/// assert_eq!(&nar[8..21], b"nix-archive-1");
/// assert_eq!(nar.len(), 120);
/// # std::fs::remove_file(&file)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Encoder {
    /// Header bytes not yet handed out.
    pending: Vec<u8>,
    pending_pos: usize,
    file: Option<OpenFile>,
    stack: Vec<Dir>,
    next: Next,
    /// An error met after some bytes of a read were produced; returned next.
    deferred: Option<io::Error>,
    failed: bool,
    produced: u64,
}

impl Encoder {
    /// An encoder for `path` (a file, a symlink — not followed — or a directory). The
    /// path is first looked at by the first read.
    pub fn new(path: impl Into<PathBuf>) -> Encoder {
        Encoder {
            pending: Vec::with_capacity(256),
            pending_pos: 0,
            file: None,
            stack: Vec::new(),
            next: Next::Root(path.into()),
            deferred: None,
            failed: false,
            produced: 0,
        }
    }

    /// An encoder for `path` that looks at the root now (and lists it, or opens it if it
    /// is a file): a path that does not exist or cannot be read is a
    /// [`PackError::Read`] naming it, rather than an error from the first read.
    ///
    /// ```
    /// use chunker::nix::{Encoder, PackError};
    ///
    /// let missing = std::env::temp_dir().join("chunker-enc-open-doc-missing");
    /// let err = Encoder::open(&missing).unwrap_err();
    /// assert!(matches!(err, PackError::Read { ref path, .. } if *path == missing));
    /// assert!(err.to_string().starts_with("cannot read "));
    /// ```
    pub fn open(path: impl Into<PathBuf>) -> Result<Encoder, PackError> {
        let mut encoder = Encoder::new(path);
        encoder.step()?;
        Ok(encoder)
    }

    /// NAR bytes produced so far.
    pub fn position(&self) -> u64 {
        self.produced
    }

    fn push_pending(&mut self) {
        if self.pending_pos == self.pending.len() {
            self.pending.clear();
            self.pending_pos = 0;
        }
    }

    /// Emit the header of the node at `path`.
    fn start_node(&mut self, path: PathBuf) -> Result<(), PackError> {
        let meta = fs::symlink_metadata(&path).map_err(|source| PackError::Read {
            path: path.clone(),
            source,
        })?;
        let ft = meta.file_type();
        self.push_pending();
        if ft.is_file() {
            let size = meta.len();
            put_file_start(&mut self.pending, is_executable(&meta), size);
            let file = File::open(&path).map_err(|source| PackError::Read {
                path: path.clone(),
                source,
            })?;
            self.file = Some(OpenFile {
                file,
                path,
                size,
                remaining: size,
            });
            // `next` is set when the contents are done.
        } else if ft.is_symlink() {
            let target = read_link(&path)?;
            put_symlink(&mut self.pending, target.as_os_str().as_bytes());
            self.node_done();
        } else if ft.is_dir() {
            let names = sorted_names(&path)?;
            put_dir_start(&mut self.pending);
            self.stack.push(Dir {
                path,
                names: names.into_iter(),
            });
            self.next = Next::Entry;
        } else {
            return Err(unsupported(path, ft));
        }
        Ok(())
    }

    /// A node is complete: close its directory entry, if any.
    fn node_done(&mut self) {
        if self.stack.is_empty() {
            self.next = Next::Done;
        } else {
            put_str(&mut self.pending, b")");
            self.next = Next::Entry;
        }
    }

    /// Produce more header bytes or open a file; `false` when the NAR is complete.
    fn step(&mut self) -> Result<bool, PackError> {
        match std::mem::replace(&mut self.next, Next::Done) {
            Next::Done => Ok(false),
            Next::Root(path) => {
                // The magic goes out with the root's header, or not at all.
                self.push_pending();
                put_str(&mut self.pending, MAGIC);
                self.start_node(path).map(|()| true)
            }
            Next::Node(path) => self.start_node(path).map(|()| true),
            Next::Entry => {
                self.push_pending();
                // An entry of the innermost open directory is this deep below the root.
                let depth = self.stack.len();
                let dir = self
                    .stack
                    .last_mut()
                    .expect("Entry only inside a directory");
                match dir.names.next() {
                    Some(name) => {
                        let path = dir.path.join(&name);
                        check_depth(depth, &path)?;
                        put_entry_start(&mut self.pending, name.as_bytes());
                        self.next = Next::Node(path);
                    }
                    None => {
                        self.stack.pop();
                        put_str(&mut self.pending, b")");
                        self.node_done();
                    }
                }
                Ok(true)
            }
        }
    }

    /// Fill `buf` from `*n` on; `*n` counts the bytes placed even when an error ends it.
    fn fill(&mut self, buf: &mut [u8], n: &mut usize) -> Result<(), PackError> {
        while *n < buf.len() {
            let n0 = *n;
            if self.pending_pos < self.pending.len() {
                let k = (self.pending.len() - self.pending_pos).min(buf.len() - n0);
                buf[n0..n0 + k]
                    .copy_from_slice(&self.pending[self.pending_pos..self.pending_pos + k]);
                self.pending_pos += k;
                *n += k;
                continue;
            }
            if let Some(f) = self.file.as_mut() {
                if f.remaining > 0 {
                    let want =
                        (buf.len() - n0).min(usize::try_from(f.remaining).unwrap_or(usize::MAX));
                    match f.file.read(&mut buf[n0..n0 + want]) {
                        Ok(0) => {
                            return Err(PackError::Changed {
                                path: f.path.clone(),
                                expected: f.size,
                            })
                        }
                        Ok(k) => {
                            f.remaining -= k as u64;
                            *n += k;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(source) => {
                            return Err(PackError::Read {
                                path: f.path.clone(),
                                source,
                            })
                        }
                    }
                    continue;
                }
                let size = f.size;
                self.file = None;
                self.push_pending();
                put_file_end(&mut self.pending, size);
                self.node_done();
                continue;
            }
            if !self.step()? {
                break;
            }
        }
        Ok(())
    }
}

impl Read for Encoder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        if self.failed || buf.is_empty() {
            return Ok(0);
        }
        let mut written = 0;
        let result = self.fill(buf, &mut written);
        self.produced += written as u64;
        match result {
            Ok(()) => Ok(written),
            Err(e) => {
                // Bytes produced before an error are returned first; the error comes next.
                self.failed = true;
                let e = e.into_io();
                if written > 0 {
                    self.deferred = Some(e);
                    Ok(written)
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// Size of the copy buffer of [`pack`] and [`nar_hash`].
const PACK_BUFFER: usize = 256 << 10;

/// Write the NAR of `path` to `out`, computing its NarHash and NarSize in the same pass.
///
/// The output is byte-identical to `nix-store --dump PATH`; the hash equals
/// `nix-hash --type sha256 --base32 PATH`. Memory is a fixed 256 KiB buffer plus
/// directory listings.
///
/// ```
/// use chunker::nix::pack;
///
/// let file = std::env::temp_dir().join(format!("chunker-pack-doc-{}", std::process::id()));
/// std::fs::write(&file, b"")?;
/// let mut nar = Vec::new();
/// let s = pack(&file, &mut nar)?;
/// assert_eq!(s.nar_size, 112);
/// assert_eq!(s.nar_hash, chunker::hash(chunker::HashAlgorithm::Sha256, &nar));
/// # std::fs::remove_file(&file)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pack(path: impl AsRef<Path>, mut out: impl Write) -> Result<NarSummary, PackError> {
    let mut encoder = Encoder::new(path.as_ref());
    let mut hasher = Hasher::new(HashAlgorithm::Sha256);
    let mut buf = vec![0u8; PACK_BUFFER];
    let mut size = 0u64;
    loop {
        let n = match encoder.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return Err(PackError::from_io(e)),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(PackError::Write)?;
        size += n as u64;
    }
    out.flush().map_err(PackError::Write)?;
    Ok(NarSummary {
        nar_hash: hasher.finalize(),
        nar_size: size,
    })
}

/// NarHash and NarSize of `path` without writing the NAR anywhere: equals
/// `nix-hash --type sha256 --base32 PATH` and the NarSize Nix records.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("chunker-narhash-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let s = chunker::nix::nar_hash(&dir)?; // an empty directory
/// assert_eq!(s.nar_size, 96);
/// # std::fs::remove_dir(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn nar_hash(path: impl AsRef<Path>) -> Result<NarSummary, PackError> {
    pack(path, io::sink())
}

/// Whether NAR marks a regular file executable: the owner execute bit, as Nix does.
pub(super) fn is_executable(meta: &fs::Metadata) -> bool {
    meta.permissions().mode() & 0o100 != 0
}

/// Refuse an entry `depth` components below the root when the reader would refuse it.
pub(super) fn check_depth(depth: usize, path: &Path) -> Result<(), PackError> {
    if depth > MAX_DEPTH {
        return Err(PackError::TooDeep {
            path: path.to_path_buf(),
            limit: MAX_DEPTH,
        });
    }
    Ok(())
}

/// A symlink's target, unchanged.
pub(super) fn read_link(path: &Path) -> Result<PathBuf, PackError> {
    fs::read_link(path).map_err(|source| PackError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// A directory's entry names, sorted bytewise as NAR requires.
pub(super) fn sorted_names(path: &Path) -> Result<Vec<OsString>, PackError> {
    let read_err = |source| PackError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in fs::read_dir(path).map_err(read_err)? {
        names.push(entry.map_err(read_err)?.file_name());
    }
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// The error for a file type NAR cannot hold.
pub(super) fn unsupported(path: PathBuf, ft: fs::FileType) -> PackError {
    use std::os::unix::fs::FileTypeExt;
    let kind = if ft.is_socket() {
        "socket"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_char_device() {
        "character device"
    } else {
        "unknown"
    };
    PackError::UnsupportedType { path, kind }
}
