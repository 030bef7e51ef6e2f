//! Stats, verification and index rebuilding.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use chunker::compress::{Codec, Decompressor};
use chunker::hash::Digest;
use futures::StreamExt;

use crate::error::{Result, StoreError};
use crate::index::IndexSegment;
use crate::pack::{parse_footer, tail_len, PackId, TRAILER_LEN};
use crate::store::{load_segments, Store, FETCH_CONCURRENCY};

/// Store-wide figures.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Stats {
    /// NARs (manifests).
    pub nars: u64,
    /// Sum of the NARs' sizes.
    pub logical_bytes: u64,
    /// Bytes of the distinct chunks the NARs reference.
    pub unique_bytes: u64,
    /// Distinct chunks the NARs reference.
    pub unique_chunks: u64,
    /// Compressed bytes of those chunks' frames.
    pub live_stored_bytes: u64,
    /// Bytes of all packs (live or not, footers included).
    pub stored_bytes: u64,
    /// Packs.
    pub packs: u64,
    /// Chunks in the index.
    pub indexed_chunks: u64,
    /// Chunks the manifests reference that the index does not locate.
    pub missing_chunks: u64,
    /// `logical_bytes / unique_bytes`.
    pub dedup_ratio: f64,
    /// `unique_bytes / live_stored_bytes`.
    pub compression_ratio: f64,
    /// `live_stored_bytes / stored_bytes`: how much of the packs is live.
    pub pack_fill: f64,
    /// Per NAR, when asked for.
    pub per_nar: Vec<NarStats>,
}

/// One NAR's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NarStats {
    /// The key.
    pub key: String,
    /// NarSize.
    pub nar_size: u64,
    /// Chunks.
    pub chunks: u64,
    /// Bytes of the chunks no other NAR references (what deleting it would free, before
    /// compression).
    pub exclusive_bytes: u64,
    /// Compressed bytes of those chunks.
    pub exclusive_stored_bytes: u64,
}

/// Something `verify` found wrong.
#[derive(Debug)]
#[non_exhaustive]
pub struct Problem {
    /// The object (`packs/…`, `index/…`, `manifests/…`).
    pub object: String,
    /// What is wrong (it names the chunk where one is at fault).
    pub error: StoreError,
}

/// What `verify` checked and found.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Packs read.
    pub packs: u64,
    /// Chunks checked in them.
    pub chunks: u64,
    /// NARs read back and checked against their NarHash.
    pub nars: u64,
    /// Bytes of packs read.
    pub pack_bytes: u64,
    /// Everything wrong, in the order found.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing was wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Figures over every manifest, the index and the packs; `per_nar` adds
    /// [`NarStats`] for each NAR.
    pub fn stats(&self, per_nar: bool) -> Result<Stats> {
        let manifests = self.manifests()?;
        let packs = self.block_on(self.backend.list("packs"))?;
        let index = self.lock_index().clone();
        let mut refs: HashMap<[u8; 32], (u32, u32)> = HashMap::new(); // digest -> (len, nars)
        let mut logical = 0u64;
        for m in &manifests {
            logical += m.nar_size;
            let mut own = HashSet::new();
            for (d, len) in &m.chunks {
                if own.insert(*d.as_bytes()) {
                    refs.entry(*d.as_bytes()).or_insert((*len, 0)).1 += 1;
                }
            }
        }
        let mut s = Stats {
            nars: manifests.len() as u64,
            logical_bytes: logical,
            unique_bytes: 0,
            unique_chunks: refs.len() as u64,
            live_stored_bytes: 0,
            stored_bytes: packs.iter().map(|p| p.size).sum(),
            packs: packs.len() as u64,
            indexed_chunks: index.len() as u64,
            missing_chunks: 0,
            dedup_ratio: 0.0,
            compression_ratio: 0.0,
            pack_fill: 0.0,
            per_nar: Vec::new(),
        };
        let clen = |d: &[u8; 32]| {
            index
                .get(&Digest::new(self.config.digest(), *d))
                .map(|l| l.clen)
        };
        for (d, (len, _)) in &refs {
            s.unique_bytes += u64::from(*len);
            match clen(d) {
                Some(c) => s.live_stored_bytes += u64::from(c),
                None => s.missing_chunks += 1,
            }
        }
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        s.dedup_ratio = ratio(s.logical_bytes, s.unique_bytes);
        s.compression_ratio = ratio(s.unique_bytes, s.live_stored_bytes);
        s.pack_fill = ratio(s.live_stored_bytes, s.stored_bytes);
        if per_nar {
            for m in &manifests {
                let mut own = HashSet::new();
                let mut n = NarStats {
                    key: m.key(),
                    nar_size: m.nar_size,
                    chunks: m.chunks.len() as u64,
                    exclusive_bytes: 0,
                    exclusive_stored_bytes: 0,
                };
                for (d, len) in &m.chunks {
                    let b = d.as_bytes();
                    if own.insert(*b) && refs[b].1 == 1 {
                        n.exclusive_bytes += u64::from(*len);
                        n.exclusive_stored_bytes += u64::from(clen(b).unwrap_or(0));
                    }
                }
                s.per_nar.push(n);
            }
        }
        Ok(s)
    }

    /// Re-read every pack and check every chunk in it, check that every index entry
    /// points into an existing pack at a chunk its footer lists, and read back every
    /// NAR checking its chunks and NarHash. Problems are collected, not returned early.
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let algorithm = self.config.digest();
        let packs = self.block_on(self.backend.list("packs"))?;
        let mut footers: HashMap<PackId, HashSet<(u64, [u8; 32])>> = HashMap::new();
        let backend = &self.backend;
        let checked: Vec<(String, Result<CheckedPack>)> = self.block_on(
            futures::stream::iter(packs.iter().map(|p| p.path.clone()))
                .map(|path| async move {
                    let r = async {
                        let id = path
                            .rsplit('/')
                            .next()
                            .and_then(PackId::from_hex)
                            .ok_or_else(|| StoreError::Url {
                                url: path.clone(),
                                reason: "not a pack name",
                            })?;
                        let bytes = backend
                            .get(&path)
                            .await?
                            .ok_or_else(|| StoreError::NotFound { key: path.clone() })?;
                        let p2 = path.clone();
                        tokio::task::spawn_blocking(move || check_pack(algorithm, id, &p2, bytes))
                            .await
                            .map_err(|e| StoreError::Runtime {
                                reason: format!("a verify task failed: {e}"),
                            })?
                    }
                    .await;
                    (path, r)
                })
                .buffered(4)
                .collect(),
        );
        for (path, r) in checked {
            match r {
                Ok((id, size, entries, problems)) => {
                    report.packs += 1;
                    report.pack_bytes += size;
                    report.chunks += entries.len() as u64;
                    footers.insert(
                        id,
                        entries
                            .iter()
                            .map(|e| (e.offset, *e.digest.as_bytes()))
                            .collect(),
                    );
                    report.problems.extend(problems);
                }
                Err(error) => report.problems.push(Problem {
                    object: path,
                    error,
                }),
            }
        }
        // The index: every entry where a pack's footer says it is.
        // Superseded segments are not read (a GC deletes them later).
        let segments = self.block_on(load_segments(&self.backend))?;
        let live: Vec<_> = crate::Index::from_segments(segments.clone())
            .segments()
            .to_vec();
        for (seg_id, seg) in segments.into_iter().filter(|(id, _)| live.contains(id)) {
            for (d, loc) in &seg.entries {
                let ok = footers
                    .get(&loc.pack)
                    .is_some_and(|f| f.contains(&(loc.offset, *d.as_bytes())));
                if !ok {
                    let error = if footers.contains_key(&loc.pack) {
                        StoreError::CorruptChunk {
                            digest: *d,
                            pack: loc.pack.path(),
                            offset: loc.offset,
                            reason: "the index locates it where the pack's footer does not",
                        }
                    } else {
                        StoreError::MissingPack {
                            digest: *d,
                            pack: loc.pack.path(),
                        }
                    };
                    report.problems.push(Problem {
                        object: seg_id.path(),
                        error,
                    });
                }
            }
        }
        // Every NAR, read back.
        for key in self.keys()? {
            let object = format!("manifests/{key}");
            match self.check(&key) {
                Ok(_) => report.nars += 1,
                Err(error) => report.problems.push(Problem { object, error }),
            }
        }
        Ok(report)
    }

    /// Rebuild the index from the pack footers: one new segment listing every chunk of
    /// every pack, superseding every segment there now. Returns its id.
    pub fn rebuild_index(&self) -> Result<crate::SegmentId> {
        let packs = self.block_on(self.backend.list("packs"))?;
        let old = self.block_on(load_segments(&self.backend))?;
        let backend = &self.backend;
        let footers: Vec<Result<(PackId, Vec<crate::PackEntry>)>> = self.block_on(
            futures::stream::iter(packs)
                .filter_map(|p| async move {
                    let id = p.path.rsplit('/').next().and_then(PackId::from_hex)?;
                    Some((id, p))
                })
                .map(|(id, p)| async move {
                    let path = p.path.clone();
                    let format = |source| StoreError::Format {
                        path: path.clone(),
                        source,
                    };
                    if p.size < TRAILER_LEN as u64 {
                        return Err(format(crate::FormatError::Truncated {
                            object: crate::ObjectKind::Pack,
                            needed: TRAILER_LEN as u64,
                            remaining: p.size,
                        }));
                    }
                    let trailer = backend
                        .get_range(&path, p.size - TRAILER_LEN as u64..p.size)
                        .await?
                        .unwrap_or_default();
                    let tail = tail_len(&trailer, p.size).map_err(format)?;
                    let tail = backend
                        .get_range(&path, p.size - tail..p.size)
                        .await?
                        .unwrap_or_default();
                    Ok((id, parse_footer(&tail, p.size).map_err(format)?))
                })
                .buffered(FETCH_CONCURRENCY)
                .collect(),
        );
        let footers = footers.into_iter().collect::<Result<Vec<_>>>()?;
        let mut segment = IndexSegment::from_packs(
            self.config.digest(),
            footers.iter().map(|(id, e)| (*id, e.as_slice())),
        );
        segment.supersedes = old.iter().map(|(id, _)| *id).collect();
        let (id, bytes) = segment.encode();
        self.block_on(self.backend.put(&id.path(), Bytes::from(bytes), true))?;
        self.reload_index()?;
        Ok(id)
    }
}

/// A pack read back: its id, size, footer entries and the problems found in it.
type CheckedPack = (PackId, u64, Vec<crate::PackEntry>, Vec<Problem>);

fn check_pack(
    algorithm: chunker::hash::HashAlgorithm,
    id: PackId,
    path: &str,
    bytes: Bytes,
) -> Result<CheckedPack> {
    let size = bytes.len() as u64;
    let entries = parse_footer(&bytes, size).map_err(|source| StoreError::Format {
        path: path.to_string(),
        source,
    })?;
    let mut problems = Vec::new();
    for e in &entries {
        let frame = &bytes[e.offset as usize..(e.offset + u64::from(e.clen)) as usize];
        let corrupt = |reason| Problem {
            object: path.to_string(),
            error: StoreError::CorruptChunk {
                digest: e.digest,
                pack: path.to_string(),
                offset: e.offset,
                reason,
            },
        };
        match Decompressor::new()
            .codec(Codec::Zstd)
            .max_output(e.len as usize)
            .decompress(frame)
        {
            Ok(chunk) if chunk.len() == e.len as usize => {
                if chunker::hash(algorithm, &chunk) != e.digest {
                    problems.push(corrupt("digest mismatch"));
                }
            }
            Ok(_) => problems.push(corrupt("it decompresses to the wrong length")),
            Err(_) => problems.push(corrupt("its frame does not decompress within its length")),
        }
    }
    if PackId::of(&bytes) != id {
        problems.push(Problem {
            object: path.to_string(),
            error: StoreError::Format {
                path: path.to_string(),
                source: crate::FormatError::Invalid {
                    object: crate::ObjectKind::Pack,
                    reason: "the pack's bytes do not hash to its name",
                },
            },
        });
    }
    Ok((id, size, entries, problems))
}
