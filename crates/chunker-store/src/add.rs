//! Ingest: a NAR → chunks → new packs → index segment → manifest (the commit point).

use std::collections::HashSet;
use std::io::{Cursor, Read};
use std::path::Path;

use bytes::Bytes;
use chunker::compress::{detect, Decompressor};
use chunker::hash::{Digest, HashAlgorithm, Hasher};
use chunker::pipeline::Pipeline;

use crate::backend::{Requests, Written};
use crate::error::{Result, StoreError};
use crate::index::{IndexSegment, Location};
use crate::manifest::Manifest;
use crate::pack::{FinishedPack, PackBuilder};
use crate::store::Store;

/// PUTs of packs in flight at once during an ingest.
const PUTS_IN_FLIGHT: usize = 4;
/// The 16 bytes every NAR starts with: `str("nix-archive-1")`'s length and 8 bytes of it.
pub(crate) const NAR_START: &[u8; 16] = b"\x0d\0\0\0\0\0\0\0nix-arch";

/// What one ingest did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddReport {
    /// The key: NarHash in nix32 (the manifest's name).
    pub key: String,
    /// NarHash.
    pub nar_hash: Digest,
    /// NAR size (bytes ingested).
    pub nar_size: u64,
    /// Chunks in the NAR.
    pub chunks: u64,
    /// Chunks that were not in the store before (each counted once).
    pub new_chunks: u64,
    /// Bytes of those new chunks (uncompressed).
    pub new_bytes: u64,
    /// Bytes written to packs for them (compressed frames, footers included).
    pub stored_bytes: u64,
    /// Packs written.
    pub packs: u64,
    /// Size of the `.nar.zst` form (all the NAR's frames).
    pub file_size: u64,
    /// Whether the manifest was already there (the same NAR was ingested before).
    pub existed: bool,
    /// Requests this ingest made.
    pub requests: Requests,
}

/// A test hook: stop an ingest after this many packs were written (before the index
/// segment and manifest), as a crash there would.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default)]
pub struct AddFault {
    /// Stop (with an error) once this many packs are written.
    pub stop_after_packs: Option<u64>,
}

impl Store {
    /// Ingest the NAR (plain, or compressed with zstd, xz, bzip2 or lz4) that `reader`
    /// yields.
    pub fn add_reader<R: Read + Send + 'static>(&self, reader: R) -> Result<AddReport> {
        self.ingest(nar_reader(Box::new(reader))?, AddFault::default())
    }

    /// Ingest `path`: a NAR file (plain or compressed) is ingested as it is; a
    /// directory or symlink (a store path, say) is packed into a NAR on the fly. A
    /// regular file that is not a NAR is packed too (as `nix-store --dump` would).
    pub fn add_path(&self, path: &Path) -> Result<AddReport> {
        self.add_path_with(path, AddFault::default())
    }

    /// [`Store::add_path`], calling `progress` with the number of NAR bytes read each
    /// time the pipeline reads some (for a progress display).
    pub fn add_path_progress(
        &self,
        path: &Path,
        progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<AddReport> {
        self.add_path_inner(path, AddFault::default(), Some(Box::new(progress)))
    }

    #[doc(hidden)]
    pub fn add_path_with(&self, path: &Path, fault: AddFault) -> Result<AddReport> {
        self.add_path_inner(path, fault, None)
    }

    fn add_path_inner(
        &self,
        path: &Path,
        fault: AddFault,
        progress: Option<Progress>,
    ) -> Result<AddReport> {
        let meta =
            std::fs::symlink_metadata(path).map_err(|source| StoreError::Input { source })?;
        if meta.is_file() {
            let file = std::fs::File::open(path).map_err(|source| StoreError::Input { source })?;
            let (head, reader) = peek(Box::new(file))?;
            if head.starts_with(NAR_START) || detect(&head).is_ok() {
                return self.ingest(counted(nar_reader(reader)?, progress), fault);
            }
        }
        let encoder =
            chunker::nix::Encoder::open(path).map_err(|source| StoreError::Pack { source })?;
        self.ingest(counted(Box::new(encoder), progress), fault)
    }

    /// Ingest the NAR bytes of `nar` as they are (no format detection).
    pub fn add_nar_reader<R: Read + Send + 'static>(&self, nar: R) -> Result<AddReport> {
        self.ingest(Box::new(nar), AddFault::default())
    }

    fn ingest(&self, nar: Box<dyn Read + Send>, fault: AddFault) -> Result<AddReport> {
        let before = self.requests();
        // Before any chunk is looked up: a lease that keeps a GC from deleting (crate::lock).
        let lease = self.ingest_lease()?;
        let config = self.config;
        let pipeline = Pipeline::new(config.chunk_options())
            .compress(config.compressor())
            .stream_digest(HashAlgorithm::Sha256);
        let chunks = pipeline
            .reader(nar)
            .map_err(|source| StoreError::Pipeline { source })?;
        let target = config.pack_target() as usize;
        let mut seen: HashSet<[u8; 32]> = HashSet::new();
        let mut entries: Vec<(Digest, u32)> = Vec::new();
        let mut file_hash = Hasher::new(HashAlgorithm::Sha256);
        let mut file_size = 0u64;
        let mut pack = PackBuilder::new(config.digest(), 0);
        let mut finished: Vec<FinishedPack> = Vec::new();
        let mut in_flight = Vec::new();
        let mut report = AddReport {
            key: String::new(),
            nar_hash: Digest::new(HashAlgorithm::Sha256, [0; 32]),
            nar_size: 0,
            chunks: 0,
            new_chunks: 0,
            new_bytes: 0,
            stored_bytes: 0,
            packs: 0,
            file_size: 0,
            existed: false,
            requests: Requests::default(),
        };
        let mut chunks = chunks;
        let result: Result<()> = (|| {
            for item in chunks.by_ref() {
                let c = item.map_err(|source| StoreError::Pipeline { source })?;
                let digest = c.digest.expect("the store's chunk options digest");
                let frame = c.compressed.expect("the store's pipeline compresses").data;
                file_hash.update(&frame);
                file_size += frame.len() as u64;
                entries.push((digest, c.length as u32));
                if self.lock_index().contains(&digest) || !seen.insert(*digest.as_bytes()) {
                    continue;
                }
                report.new_chunks += 1;
                report.new_bytes += c.length as u64;
                if pack.is_empty() {
                    pack = PackBuilder::new(config.digest(), target + target / 8);
                }
                pack.push(digest, &frame, c.length as u32);
                if pack.len() >= target {
                    let full = std::mem::replace(&mut pack, PackBuilder::new(config.digest(), 0));
                    self.put_pack(full.finish(), &mut finished, &mut in_flight, &mut report)?;
                    if fault.stop_after_packs.is_some_and(|n| report.packs >= n) {
                        self.drain(&mut in_flight)?;
                        return Err(StoreError::Runtime {
                            reason: "ingest stopped by a test fault".into(),
                        });
                    }
                }
            }
            if !pack.is_empty() {
                let last = std::mem::replace(&mut pack, PackBuilder::new(config.digest(), 0));
                self.put_pack(last.finish(), &mut finished, &mut in_flight, &mut report)?;
            }
            self.drain(&mut in_flight)
        })();
        if let Err(e) = result {
            // Packs already written are garbage until a GC removes them.
            let _ = self.drain(&mut in_flight);
            return Err(e);
        }
        let summary = chunks
            .summary()
            .expect("the chunk output ended without error");
        let nar_hash = summary.digest.expect("the pipeline computes the NarHash");
        // Packs are all stored: now the index segment, then the manifest.
        if !finished.is_empty() {
            let mut segment = IndexSegment::from_packs(
                config.digest(),
                finished.iter().map(|p| (p.id, p.entries.as_slice())),
            );
            // A nonce, so that this segment's name is its own (crate::lock::nonce_id).
            segment.supersedes.push(crate::lock::nonce_id());
            let (id, bytes) = segment.encode();
            self.block_on(self.backend.put(&id.path(), Bytes::from(bytes), true))?;
            let mut index = self.lock_index();
            for p in &finished {
                for e in &p.entries {
                    index.insert(
                        &e.digest,
                        Location {
                            pack: p.id,
                            offset: e.offset,
                            clen: e.clen,
                            len: e.len,
                        },
                    );
                }
            }
        }
        report.chunks = entries.len() as u64;
        self.before_manifest_hook();
        let manifest = Manifest::new(
            config,
            summary.length,
            nar_hash,
            file_size,
            file_hash.finalize(),
            entries,
        );
        let written = self.block_on(self.backend.put(
            &manifest.path(),
            Bytes::from(manifest.encode()),
            true,
        ))?;
        report.existed = written == Written::Existed;
        lease.release()?;
        report.key = manifest.key();
        report.nar_hash = nar_hash;
        report.nar_size = summary.length;
        report.file_size = file_size;
        report.requests = self.requests().since(&before);
        Ok(report)
    }

    fn put_pack(
        &self,
        pack: FinishedPack,
        finished: &mut Vec<FinishedPack>,
        in_flight: &mut Vec<tokio::task::JoinHandle<Result<Written>>>,
        report: &mut AddReport,
    ) -> Result<()> {
        report.packs += 1;
        report.stored_bytes += pack.bytes.len() as u64;
        let backend = self.backend.clone();
        let (path, bytes) = (pack.id.path(), pack.bytes.clone());
        in_flight.push(
            self.rt
                .spawn(async move { backend.put(&path, bytes, true).await }),
        );
        finished.push(FinishedPack {
            bytes: Bytes::new(),
            ..pack
        });
        while in_flight.len() >= PUTS_IN_FLIGHT {
            let first = in_flight.remove(0);
            join(self.block_on(first))?;
        }
        Ok(())
    }

    fn drain(&self, in_flight: &mut Vec<tokio::task::JoinHandle<Result<Written>>>) -> Result<()> {
        let mut first_err = None;
        for h in in_flight.drain(..) {
            if let Err(e) = join(self.block_on(h)) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

fn join(r: std::result::Result<Result<Written>, tokio::task::JoinError>) -> Result<()> {
    r.map_err(|e| StoreError::Runtime {
        reason: format!("a pack upload task failed: {e}"),
    })?
    .map(|_| ())
}

pub(crate) type BoxRead = Box<dyn Read + Send>;
type Progress = Box<dyn FnMut(u64) + Send>;

struct Counted {
    inner: BoxRead,
    progress: Progress,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }
}

fn counted(inner: BoxRead, progress: Option<Progress>) -> BoxRead {
    match progress {
        None => inner,
        Some(progress) => Box::new(Counted { inner, progress }),
    }
}

/// Read up to 16 bytes and give them back in front of the rest.
pub(crate) fn peek(mut r: BoxRead) -> Result<(Vec<u8>, BoxRead)> {
    let mut head = Vec::with_capacity(16);
    (&mut r)
        .take(16)
        .read_to_end(&mut head)
        .map_err(|source| StoreError::Input { source })?;
    let back: BoxRead = Box::new(Cursor::new(head.clone()).chain(r));
    Ok((head, back))
}

/// A NAR as it is, or decompressed when it starts with a zstd, xz, bzip2 or lz4 frame.
/// Anything else is taken as a NAR (the pipeline does not parse it).
pub(crate) fn nar_reader(r: BoxRead) -> Result<BoxRead> {
    let (head, r) = peek(r)?;
    if head.starts_with(NAR_START) {
        return Ok(r);
    }
    match detect(&head) {
        Ok(_) => {
            let d = Decompressor::new()
                .max_output(usize::MAX)
                .reader(r)
                .map_err(|source| StoreError::Compression {
                    what: "reading a compressed NAR",
                    source,
                })?;
            Ok(Box::new(d))
        }
        Err(_) => Ok(r),
    }
}
