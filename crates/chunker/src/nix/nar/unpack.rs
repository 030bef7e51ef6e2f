//! Restoring a NAR to the file system.

use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::read::{EntryKind, NarError, NarReader};

/// An error while restoring a NAR.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnpackError {
    /// The NAR is invalid or could not be read.
    #[error(transparent)]
    Nar(#[from] NarError),
    /// The target already exists; `unpack` only creates new trees.
    #[error("{} already exists", path.display())]
    Exists {
        /// The path.
        path: PathBuf,
    },
    /// Creating or writing a file, directory or symlink failed.
    #[error("cannot create {}", path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Unpacking failed (`source`) and the partly written tree could not be removed
    /// either: it is left at `path`.
    #[error("{} is left incomplete (removing it failed: {cleanup})", path.display())]
    LeftIncomplete {
        /// The target given to [`unpack`].
        path: PathBuf,
        /// Why removing it failed.
        cleanup: io::Error,
        /// Why unpacking failed.
        #[source]
        source: Box<UnpackError>,
    },
}

impl UnpackError {
    /// The error that stopped unpacking: for [`UnpackError::LeftIncomplete`] its cause,
    /// else `self`.
    pub fn cause(&self) -> &UnpackError {
        match self {
            UnpackError::LeftIncomplete { source, .. } => source.cause(),
            e => e,
        }
    }
}

fn create_err(path: &Path, source: io::Error) -> UnpackError {
    if source.kind() == io::ErrorKind::AlreadyExists {
        UnpackError::Exists {
            path: path.to_owned(),
        }
    } else {
        UnpackError::Write {
            path: path.to_owned(),
            source,
        }
    }
}

/// Restore the NAR read from `reader` as `dest`, which must not exist (its parent must).
///
/// Like `nix-store --restore`: a NAR of a single file or symlink creates `dest` as that
/// file or symlink. Files are created new (never opened through an existing path),
/// executables get the execute bits the umask allows. Entry names are validated by
/// [`NarReader`] (no `/`, `.`, `..`, duplicates), so nothing is written outside `dest`
/// and no symlink created here is ever followed.
///
/// On error after `dest` was created, `dest` is removed again: it did not exist before
/// and this call made it, so no partial tree is left looking like a complete one. If
/// removing it fails too, the error is [`UnpackError::LeftIncomplete`], naming it.
///
/// ```
/// use chunker::nix::{pack, unpack};
///
/// let base = std::env::temp_dir().join(format!("chunker-unpack-doc-{}", std::process::id()));
/// std::fs::create_dir_all(base.join("src/sub"))?;
/// std::fs::write(base.join("src/sub/f"), b"data")?;
/// let mut nar = Vec::new();
/// let packed = pack(base.join("src"), &mut nar)?;
/// unpack(&nar[..], base.join("out"))?;
/// assert_eq!(std::fs::read(base.join("out/sub/f"))?, b"data");
/// assert_eq!(chunker::nix::nar_hash(base.join("out"))?, packed);
/// // The target must be new.
/// assert!(unpack(&nar[..], base.join("out")).is_err());
/// # std::fs::remove_dir_all(&base)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn unpack(reader: impl Read, dest: impl AsRef<Path>) -> Result<(), UnpackError> {
    let dest = dest.as_ref();
    let mut created = false;
    match restore(reader, dest, &mut created) {
        Err(e) if created => match remove_tree(dest) {
            Ok(()) => Err(e),
            Err(cleanup) => Err(UnpackError::LeftIncomplete {
                path: dest.to_owned(),
                cleanup,
                source: Box::new(e),
            }),
        },
        result => result,
    }
}

/// Remove what [`restore`] made at `dest` (a symlink itself, never its target).
fn remove_tree(dest: &Path) -> io::Result<()> {
    if fs::symlink_metadata(dest)?.is_dir() {
        fs::remove_dir_all(dest)
    } else {
        fs::remove_file(dest)
    }
}

/// The body of [`unpack`]; sets `created` once `dest` exists by its doing.
fn restore(reader: impl Read, dest: &Path, created: &mut bool) -> Result<(), UnpackError> {
    let mut nar = NarReader::new(reader);
    let mut target = PathBuf::new();
    while let Some(entry) = nar.next_entry()? {
        target.clear();
        target.push(dest);
        if !entry.path.is_empty() {
            target.push(std::ffi::OsStr::from_bytes(entry.path));
        }
        let root = entry.path.is_empty();
        match entry.kind {
            EntryKind::Directory => {
                fs::create_dir(&target).map_err(|e| create_err(&target, e))?;
                *created |= root;
            }
            EntryKind::Symlink { target: link } => {
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(link), &target)
                    .map_err(|e| create_err(&target, e))?;
                *created |= root;
            }
            EntryKind::Regular { executable, .. } => {
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(if executable { 0o777 } else { 0o666 })
                    .open(&target)
                    .map_err(|e| create_err(&target, e))?;
                *created |= root;
                io::copy(&mut nar.contents(), &mut file).map_err(|e| {
                    // A NAR error (truncation, read failure) wins over a write error.
                    match e.get_ref().map(|inner| inner.is::<NarError>()) {
                        Some(true) => match e.into_inner().map(|i| i.downcast::<NarError>()) {
                            Some(Ok(n)) => UnpackError::Nar(*n),
                            _ => unreachable!("checked above"),
                        },
                        _ => UnpackError::Write {
                            path: target.clone(),
                            source: e,
                        },
                    }
                })?;
            }
        }
    }
    Ok(())
}
