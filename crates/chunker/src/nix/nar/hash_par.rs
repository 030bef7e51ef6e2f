//! NarHash with the file reads spread over threads.
//!
//! SHA-256 is one sequential stream, so one thread (the caller's) hashes. What costs as
//! much on a tree of many small files is the system calls: `lstat`, `open`, `read`,
//! `close` per file, plus the page-cache copies. Here a walker thread lists the tree in
//! NAR order and cuts the NAR into numbered batches of at most [`BATCH`] bytes: header
//! bytes it writes itself, the contents of small files and 1 MiB ranges of large ones as
//! read orders. Reader threads fill the batches (any batch, any reader); the hashing
//! thread takes them back in number order. At most [`IN_FLIGHT`] batch buffers exist, so
//! memory is fixed whatever the tree holds, and an error is reported at the position
//! where the sequential encoder would have met it.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use super::encode::{check_depth, is_executable, read_link, sorted_names, unsupported};
use super::{
    put_dir_start, put_entry_start, put_file_end, put_file_start, put_str, put_symlink, NarSummary,
    PackError, MAGIC,
};
use crate::hash::{HashAlgorithm, Hasher};

/// Bytes of NAR per batch (and the size of each batch buffer).
const BATCH: usize = 1 << 20;
/// Files up to this size are read whole into one batch; larger ones in `BATCH` ranges.
const SMALL: u64 = 256 << 10;
/// Batch buffers in existence: bounds memory to `IN_FLIGHT * BATCH`.
const IN_FLIGHT: usize = 12;
/// Most reader threads used.
const MAX_READERS: usize = 6;

/// Part of a batch.
enum Item {
    /// `head[from..to]` of the batch.
    Head(usize, usize),
    /// The whole contents of a small file.
    Small { path: PathBuf, size: u64 },
    /// `len` bytes at `offset` of a large file.
    Range {
        file: Arc<Large>,
        offset: u64,
        len: usize,
    },
}

/// A file read in ranges, each opened anew (no shared file offset between readers) and
/// checked to be the file the walker saw.
struct Large {
    path: PathBuf,
    size: u64,
    dev: u64,
    ino: u64,
}

/// A numbered piece of the NAR for a reader to fill into `buf`.
struct Job {
    seq: u64,
    head: Vec<u8>,
    items: Vec<Item>,
    buf: Buf,
}

/// A batch buffer: `BATCH` bytes, zeroed once when the pool is made and reused, so that
/// each file is read with a single `read` straight into place.
struct Buf {
    bytes: Box<[u8]>,
    len: usize,
}

impl Buf {
    fn filled(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The next `n` bytes to fill (the walker never puts more than `BATCH` in a batch).
    fn next(&mut self, n: usize) -> &mut [u8] {
        &mut self.bytes[self.len..self.len + n]
    }
}

/// A filled batch, or the error met while filling it.
type Done = (u64, Result<Buf, PackError>);

/// [`nar_hash`](super::nar_hash) with file reads on several threads: the same result,
/// faster on trees of many files, where the system calls per file cost as much as the
/// hashing. Uses one walker thread, `available_parallelism - 1` reader threads (at
/// least 1, at most 6) and the calling thread for SHA-256; memory stays under 12 MiB of buffers
/// plus the directory listings on the current path.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("chunker-narhash-par-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("f"), b"x")?;
/// assert_eq!(chunker::nix::nar::nar_hash_parallel(&dir)?, chunker::nix::nar_hash(&dir)?);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn nar_hash_parallel(path: impl AsRef<Path>) -> Result<NarSummary, PackError> {
    let path = path.as_ref();
    // The walker and the hashing thread keep a CPU each busy; more readers than the
    // CPUs left only add contention (measured: two readers on two CPUs are slower
    // than one).
    let readers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .clamp(1, MAX_READERS);
    // Empty buffers travel hasher -> walker; jobs walker -> readers; filled batches
    // readers (and the walker, for its own errors) -> hasher.
    let (free_tx, free_rx) = sync_channel::<Buf>(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        let bytes = vec![0u8; BATCH].into_boxed_slice();
        free_tx.send(Buf { bytes, len: 0 }).expect("receiver alive");
    }
    let (job_tx, job_rx) = sync_channel::<Job>(IN_FLIGHT);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = channel::<Done>();
    std::thread::scope(|scope| {
        for _ in 0..readers {
            let jobs = Arc::clone(&job_rx);
            let done = done_tx.clone();
            scope.spawn(move || reader(&jobs, &done));
        }
        // Only the readers hold the job receiver: when they stop, the walker's sends fail.
        drop(job_rx);
        let walker_done = done_tx.clone();
        scope.spawn(move || {
            let mut w = Walker::new(free_rx, job_tx);
            if let Err(e) = w.walk(path).and_then(|()| w.flush()) {
                if let Some(seq) = w.fail() {
                    let _ = walker_done.send((seq, Err(e)));
                }
            }
        });
        drop(done_tx);
        // Returning drops `done_rx` and `free_tx`: the walker and readers then stop.
        hash_in_order(done_rx, free_tx)
    })
}

/// Take the batches back in order and hash them.
fn hash_in_order(done: Receiver<Done>, free: SyncSender<Buf>) -> Result<NarSummary, PackError> {
    let mut hasher = Hasher::new(HashAlgorithm::Sha256);
    let mut size = 0u64;
    let mut next = 0u64;
    let mut early: BTreeMap<u64, Result<Buf, PackError>> = BTreeMap::new();
    // `recv` fails once every reader and the walker have finished.
    while let Ok((seq, batch)) = done.recv() {
        early.insert(seq, batch);
        while let Some(batch) = early.remove(&next) {
            let mut buf = batch?;
            hasher.update(buf.filled());
            size += buf.len as u64;
            buf.len = 0;
            let _ = free.send(buf);
            next += 1;
        }
    }
    debug_assert!(early.is_empty(), "every batch before the end arrived");
    Ok(NarSummary {
        nar_hash: hasher.finalize(),
        nar_size: size,
    })
}

/// Fill jobs until the walker is done.
fn reader(jobs: &Mutex<Receiver<Job>>, done: &Sender<Done>) {
    loop {
        // A poisoned lock means another reader panicked; the scope re-raises it.
        let Ok(job) = jobs.lock().map(|rx| rx.recv()) else {
            return;
        };
        let Ok(Job {
            seq,
            head,
            items,
            mut buf,
        }) = job
        else {
            return;
        };
        let filled = items
            .iter()
            .try_for_each(|item| fill(&head, item, &mut buf))
            .map(|()| buf);
        if done.send((seq, filled)).is_err() {
            return;
        }
    }
}

/// Append one item's bytes to `buf`.
fn fill(head: &[u8], item: &Item, buf: &mut Buf) -> Result<(), PackError> {
    match item {
        Item::Head(from, to) => {
            buf.next(to - from).copy_from_slice(&head[*from..*to]);
            buf.len += to - from;
        }
        Item::Small { path, size } => {
            let read_err = |source| PackError::Read {
                path: path.clone(),
                source,
            };
            let mut file = File::open(path).map_err(read_err)?;
            read_exact(&mut file, buf.next(*size as usize), || PackError::Changed {
                path: path.clone(),
                expected: *size,
            })
            .map_err(|e| e.unwrap_or_else(read_err))?;
            buf.len += *size as usize;
        }
        Item::Range { file, offset, len } => {
            let read_err = |source| PackError::Read {
                path: file.path.clone(),
                source,
            };
            let changed = || PackError::Changed {
                path: file.path.clone(),
                expected: file.size,
            };
            let mut f = File::open(&file.path).map_err(read_err)?;
            let meta = f.metadata().map_err(read_err)?;
            if (meta.dev(), meta.ino()) != (file.dev, file.ino) {
                return Err(changed());
            }
            f.seek(SeekFrom::Start(*offset)).map_err(read_err)?;
            read_exact(&mut f, buf.next(*len), changed).map_err(|e| e.unwrap_or_else(read_err))?;
            buf.len += *len;
        }
    }
    Ok(())
}

/// Fill `out` from `file`: `Err(Ok(changed()))` when the file ends first, `Err(Err(e))`
/// for an I/O error (`Interrupted` is retried).
fn read_exact(
    file: &mut File,
    mut out: &mut [u8],
    changed: impl FnOnce() -> PackError,
) -> Result<(), Result<PackError, std::io::Error>> {
    while !out.is_empty() {
        match file.read(out) {
            Ok(0) => return Err(Ok(changed())),
            Ok(k) => out = &mut out[k..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Err(e)),
        }
    }
    Ok(())
}

/// Lists the tree in NAR order and hands out batches.
struct Walker {
    free: Receiver<Buf>,
    jobs: SyncSender<Job>,
    seq: u64,
    head: Vec<u8>,
    /// Start of the header bytes not yet in `items`.
    head_from: usize,
    items: Vec<Item>,
    /// NAR bytes in the current batch.
    bytes: usize,
    /// Set once the hasher or the readers are gone.
    stopped: bool,
}

impl Walker {
    fn new(free: Receiver<Buf>, jobs: SyncSender<Job>) -> Walker {
        let mut head = Vec::with_capacity(4096);
        put_str(&mut head, MAGIC);
        Walker {
            free,
            jobs,
            seq: 0,
            bytes: head.len(),
            head,
            head_from: 0,
            items: Vec::new(),
            stopped: false,
        }
    }

    /// Depth-first in NAR order; `stack` holds the sorted names left in each open
    /// directory.
    fn walk(&mut self, root: &Path) -> Result<(), PackError> {
        let mut stack: Vec<(PathBuf, std::vec::IntoIter<std::ffi::OsString>)> = Vec::new();
        let mut next = Some(root.to_path_buf());
        loop {
            if let Some(path) = next.take() {
                if let Some(dir) = self.node(path)? {
                    stack.push(dir);
                } else if stack.is_empty() {
                    return Ok(());
                } else {
                    self.add_head(|h| put_str(h, b")"))?;
                }
                continue;
            }
            let depth = stack.len();
            let Some((dir, names)) = stack.last_mut() else {
                return Ok(());
            };
            match names.next() {
                Some(name) => {
                    let path = dir.join(&name);
                    check_depth(depth, &path)?;
                    self.add_head(|h| put_entry_start(h, name.as_bytes()))?;
                    next = Some(path);
                }
                None => {
                    stack.pop();
                    // Close the directory, and its entry when it has one.
                    self.add_head(|h| put_str(h, b")"))?;
                    if !stack.is_empty() {
                        self.add_head(|h| put_str(h, b")"))?;
                    }
                }
            }
            if self.stopped {
                return Ok(());
            }
        }
    }

    /// Emit the node at `path`; a directory is returned with its sorted names for the
    /// caller to descend into, anything else is complete.
    #[allow(clippy::type_complexity)]
    fn node(
        &mut self,
        path: PathBuf,
    ) -> Result<Option<(PathBuf, std::vec::IntoIter<std::ffi::OsString>)>, PackError> {
        let meta = fs::symlink_metadata(&path).map_err(|source| PackError::Read {
            path: path.clone(),
            source,
        })?;
        let ft = meta.file_type();
        if ft.is_file() {
            let size = meta.len();
            self.add_head(|h| put_file_start(h, is_executable(&meta), size))?;
            if size <= SMALL {
                self.add(Item::Small { path, size }, size as usize)?;
            } else {
                let file = Arc::new(Large {
                    path,
                    size,
                    dev: meta.dev(),
                    ino: meta.ino(),
                });
                let mut offset = 0;
                while offset < size {
                    let len = (size - offset).min(BATCH as u64) as usize;
                    let item = Item::Range {
                        file: Arc::clone(&file),
                        offset,
                        len,
                    };
                    self.add(item, len)?;
                    offset += len as u64;
                }
            }
            self.add_head(|h| put_file_end(h, size))?;
            Ok(None)
        } else if ft.is_symlink() {
            let target = read_link(&path)?;
            self.add_head(|h| put_symlink(h, target.as_os_str().as_bytes()))?;
            Ok(None)
        } else if ft.is_dir() {
            let names = sorted_names(&path)?;
            self.add_head(put_dir_start)?;
            Ok(Some((path, names.into_iter())))
        } else {
            Err(unsupported(path, ft))
        }
    }

    /// Append header bytes to the current batch (sending it first if they would not
    /// fit).
    fn add_head(&mut self, put: impl FnOnce(&mut Vec<u8>)) -> Result<(), PackError> {
        let before = self.head.len();
        put(&mut self.head);
        let added = self.head.len() - before;
        if self.bytes + added > BATCH {
            // Move the new bytes to the next batch.
            let new: Vec<u8> = self.head.drain(before..).collect();
            self.send()?;
            self.head.extend_from_slice(&new);
        }
        self.bytes += added;
        Ok(())
    }

    /// Add a read order of `len` bytes.
    fn add(&mut self, item: Item, len: usize) -> Result<(), PackError> {
        if self.bytes + len > BATCH {
            self.send()?;
        }
        self.close_head();
        self.items.push(item);
        self.bytes += len;
        Ok(())
    }

    /// Turn header bytes written since the last item into an item.
    fn close_head(&mut self) {
        if self.head_from < self.head.len() {
            self.items.push(Item::Head(self.head_from, self.head.len()));
            self.head_from = self.head.len();
        }
    }

    /// Send the current batch (when it holds anything).
    fn send(&mut self) -> Result<(), PackError> {
        self.close_head();
        if self.items.is_empty() || self.stopped {
            return Ok(());
        }
        let (Ok(buf), false) = (self.free.recv(), self.stopped) else {
            self.stopped = true;
            return Ok(());
        };
        let job = Job {
            seq: self.seq,
            head: std::mem::replace(&mut self.head, Vec::with_capacity(4096)),
            items: std::mem::take(&mut self.items),
            buf,
        };
        self.head_from = 0;
        self.bytes = 0;
        self.seq += 1;
        if self.jobs.send(job).is_err() {
            self.stopped = true;
        }
        Ok(())
    }

    /// Send what is left.
    fn flush(&mut self) -> Result<(), PackError> {
        self.send()
    }

    /// After an error: the batch number the error takes (its bytes come after every
    /// batch sent), or `None` when nobody listens any more.
    fn fail(&mut self) -> Option<u64> {
        // Bytes gathered before the error still precede it, like the encoder's.
        let _ = self.send();
        (!self.stopped).then_some(self.seq)
    }
}
