//! Garbage collection: mark and sweep with a grace period, repacking, and deletion in
//! two passes.
//!
//! A run ([`Store::gc`]):
//! 1. takes the exclusive GC lock ([`crate::lock`]), breaks stale locks, and notes the
//!    live ingest leases (while there are any, the run deletes nothing); in a local
//!    store it deletes the staging files (`NAME#N`) of writes a killed process left,
//!    once they are older than the grace period;
//! 2. marks: every chunk a manifest (a root) names is live; each live chunk has one
//!    *home* pack (the index's location unless that pack is on its way out); a
//!    narinfo kept by `import` whose NAR is gone (removed) is deleted once it is older
//!    than the grace period;
//! 3. repacks packs whose live fraction is under the threshold: their live frames are
//!    copied as they are into new packs;
//! 4. writes one index segment that supersedes every segment it read (the locations of
//!    every pack that stays), then a record `condemned/<run-id>` naming the packs that
//!    hold no live chunk (dead, older than the grace period, or just repacked) and the
//!    superseded segments;
//! 5. deletes what the records of *earlier* runs condemned once they are older than the
//!    grace period, re-checking first: a condemned pack that is some live chunk's home
//!    again (an ingest deduplicated against it meanwhile) is kept.
//!
//! No object younger than the grace period is condemned, and no record is acted on
//! before it is older than the grace period; packs written after the run listed the
//! store are not seen at all. With a zero grace period (tests), the first run condemns
//! and the second deletes.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chunker::compress::{Codec, Decompressor};
use chunker::hash::Digest;
use chunker::nix::narinfo::NarInfo;
use futures::StreamExt;

use crate::backend::{ObjectInfo, Requests};
use crate::error::{Result, StoreError};
use crate::import::MAX_NARINFO;
use crate::index::{Index, IndexSegment, Location, SegmentId};
use crate::lock::{fresh_id, list_locks, LockKind};
use crate::pack::{FinishedPack, PackBuilder, PackId};
use crate::store::{load_segments, Store, FETCH_CONCURRENCY};

const RECORD_HEADER: &str = "chunker-store condemned 1";
/// Most entries a condemned record may hold (more are ignored).
const MAX_RECORD_ENTRIES: usize = 1 << 22;

/// Settings of a GC run.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct GcOptions {
    /// Objects younger than this are never condemned, and a condemned record is acted
    /// on only once it is this old. Default 24 h.
    pub grace: Duration,
    /// Packs whose live bytes are under this fraction of their size are repacked.
    /// Default 0.5; 0 never repacks.
    pub repack_below: f64,
    /// Only report: no lock, no writes, no deletions.
    pub dry_run: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            grace: Duration::from_secs(24 * 3600),
            repack_below: 0.5,
            dry_run: false,
        }
    }
}

impl GcOptions {
    /// Set the grace period.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Set the repack threshold (a live fraction, 0..=1).
    pub fn repack_below(mut self, fraction: f64) -> Self {
        self.repack_below = fraction;
        self
    }

    /// Only report.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }
}

/// What a GC run found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GcReport {
    /// This run's id (its condemned record is `condemned/<run_id>`).
    pub run_id: String,
    /// Whether it only reported.
    pub dry_run: bool,
    /// NARs (roots).
    pub nars: u64,
    /// Distinct chunks the NARs reference.
    pub live_chunks: u64,
    /// Live chunks no pack holds (a damaged store; GC deletes nothing they could need).
    pub missing_chunks: u64,
    /// Packs in the store when the run listed it.
    pub packs: u64,
    /// Bytes of those packs.
    pub pack_bytes: u64,
    /// Packs younger than the grace period (left alone).
    pub young_packs: u64,
    /// Packs holding no live chunk, old enough to condemn.
    pub dead_packs: u64,
    /// Packs condemned by this run (dead ones and repacked ones).
    pub condemned_packs: u64,
    /// Packs repacked by this run (or that would be, in a dry run).
    pub repacked_packs: u64,
    /// New packs written by repacking.
    pub new_packs: u64,
    /// Live bytes copied by repacking.
    pub repacked_bytes: u64,
    /// Packs deleted (condemned by an earlier run, still dead).
    pub deleted_packs: u64,
    /// Bytes of those packs.
    pub deleted_bytes: u64,
    /// Index segments deleted (superseded ones condemned by an earlier run).
    pub deleted_segments: u64,
    /// Condemned records finished and deleted.
    pub deleted_records: u64,
    /// Condemned packs that were live again at deletion time (kept).
    pub rescued_packs: u64,
    /// Bytes a GC can free from what is there now: dead packs (past the grace period,
    /// condemned or not) and the dead part of packs under the repack threshold.
    pub reclaimable_bytes: u64,
    /// Bytes this run deleted or, in a dry run, would delete now.
    pub deletable_bytes: u64,
    /// Why nothing was deleted (live ingest leases), if so.
    pub deletion_postponed: Option<String>,
    /// Stale locks deleted (or, in a dry run, that would be).
    pub broken_locks: Vec<String>,
    /// Staging files of local writes that never finished (a process killed mid-write),
    /// older than the grace period: deleted (found, in a dry run or while deletion is
    /// postponed).
    pub staging_files: u64,
    /// Bytes of those files.
    pub staging_bytes: u64,
    /// Narinfos kept by `import` whose NAR is no longer in the store (removed), older
    /// than the grace period: deleted (found, in a dry run or while deletion is
    /// postponed).
    pub orphan_narinfos: u64,
    /// The index segment this run wrote.
    pub segment: Option<SegmentId>,
    /// Requests this run made.
    pub requests: Requests,
}

/// A `condemned/<run-id>` record.
#[derive(Debug, Default)]
struct Record {
    packs: Vec<PackId>,
    segments: Vec<SegmentId>,
}

impl Record {
    fn encode(&self) -> Bytes {
        let mut s = String::from(RECORD_HEADER);
        s.push('\n');
        for p in &self.packs {
            s.push_str("pack ");
            s.push_str(&p.to_hex());
            s.push('\n');
        }
        for g in &self.segments {
            s.push_str("segment ");
            s.push_str(&g.to_hex());
            s.push('\n');
        }
        Bytes::from(s)
    }

    /// `None` when it is not a record (it is then left alone).
    fn decode(data: &[u8]) -> Option<Record> {
        let text = std::str::from_utf8(data).ok()?;
        let mut lines = text.lines();
        if lines.next()? != RECORD_HEADER {
            return None;
        }
        let mut r = Record::default();
        for line in lines.take(MAX_RECORD_ENTRIES) {
            match line.split_once(' ')? {
                ("pack", h) => r.packs.push(PackId::from_hex(h)?),
                ("segment", h) => r.segments.push(SegmentId::from_hex(h)?),
                _ => return None,
            }
        }
        Some(r)
    }
}

fn pack_id_of(path: &str) -> Option<PackId> {
    path.rsplit('/').next().and_then(PackId::from_hex)
}

fn age(now: SystemTime, then: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}

impl Store {
    /// Run a GC (see the module docs). Returns what it found and did.
    pub fn gc(&self, options: GcOptions) -> Result<GcReport> {
        let before = self.requests();
        let mut report = GcReport {
            run_id: fresh_id(),
            dry_run: options.dry_run,
            ..GcReport::default()
        };
        // 1. The lock; "now" is the backend's clock (the lock's own time).
        let (lease, ingests, stale) = if options.dry_run {
            let locks = self.block_on(list_locks(&self.backend))?;
            let (stale, live): (Vec<_>, Vec<_>) = locks.into_iter().partition(|l| l.stale);
            (None, live, stale)
        } else {
            let (lease, live, stale) = self.gc_lock()?;
            (Some(lease), live, stale)
        };
        let now = match &lease {
            Some(l) => self
                .block_on(self.backend.head(l.path()))?
                .map_or_else(SystemTime::now, |o| o.last_modified),
            None => SystemTime::now(),
        };
        for l in &stale {
            if !options.dry_run {
                self.block_on(self.backend.delete(&l.path))?;
            }
            report.broken_locks.push(l.path.clone());
        }
        let live_ingests: Vec<_> = ingests
            .iter()
            .filter(|l| l.kind == Some(LockKind::Ingest) || l.kind.is_none())
            .collect();
        if !live_ingests.is_empty() {
            report.deletion_postponed = Some(format!(
                "{} ingest(s) in progress ({})",
                live_ingests.len(),
                live_ingests[0].path
            ));
        }
        let may_delete = !options.dry_run && live_ingests.is_empty();

        // Staging files that killed writers left in a local store (listing never shows
        // them): past the grace period, no write can still be using one.
        let staging = self.backend.stale_staging(options.grace);
        report.staging_files = staging.len() as u64;
        report.staging_bytes = staging.iter().map(|(_, n)| n).sum();
        if may_delete {
            for (path, _) in &staging {
                match std::fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(StoreError::Backend {
                            op: "delete staging file",
                            path: path.display().to_string(),
                            source: object_store::Error::Generic {
                                store: "LocalFileSystem",
                                source: Box::new(e),
                            },
                        })
                    }
                }
            }
        }

        // 2. Mark.
        let manifests = self.manifests()?;
        report.nars = manifests.len() as u64;
        let mut live: HashSet<[u8; 32]> = HashSet::new();
        for m in &manifests {
            live.extend(m.chunks.iter().map(|(d, _)| *d.as_bytes()));
        }
        report.live_chunks = live.len() as u64;
        let keys: HashSet<String> = manifests.iter().map(|m| m.key()).collect();
        let orphan_narinfos = self.orphan_narinfos(&keys, now, options.grace)?;
        report.orphan_narinfos = orphan_narinfos.len() as u64;
        if may_delete {
            self.delete_all(orphan_narinfos)?;
        }
        let segments = self.block_on(load_segments(&self.backend))?;
        let index = Index::from_segments(segments.clone());
        let packs: HashMap<PackId, ObjectInfo> = self
            .block_on(self.backend.list("packs"))?
            .into_iter()
            .filter_map(|o| Some((pack_id_of(&o.path)?, o)))
            .collect();
        report.packs = packs.len() as u64;
        report.pack_bytes = packs.values().map(|o| o.size).sum();
        let records = self.load_records()?;
        let in_records: HashSet<PackId> = records
            .iter()
            .flat_map(|(_, _, r)| r.packs.iter().copied())
            .collect();
        let due: Vec<&(String, SystemTime, Record)> = records
            .iter()
            .filter(|(_, t, _)| age(now, *t) >= options.grace)
            .collect();
        let doomed: HashSet<PackId> = due
            .iter()
            .flat_map(|(_, _, r)| r.packs.iter().copied())
            .filter(|p| packs.contains_key(p))
            .collect();
        // Every location of every chunk in an existing pack.
        let mut contents: HashMap<PackId, HashMap<[u8; 32], Location>> = HashMap::new();
        let mut locations: HashMap<[u8; 32], Vec<Location>> = HashMap::new();
        for (_, seg) in &segments {
            for (d, l) in &seg.entries {
                if !packs.contains_key(&l.pack) {
                    continue;
                }
                let fresh = contents
                    .entry(l.pack)
                    .or_default()
                    .insert(*d.as_bytes(), *l)
                    .is_none();
                if fresh {
                    locations.entry(*d.as_bytes()).or_default().push(*l);
                }
            }
        }
        // Homes of live chunks: the index's location unless its pack is doomed.
        let mut home: HashMap<[u8; 32], Location> = HashMap::new();
        for d in &live {
            let Some(ls) = locations.get(d) else {
                report.missing_chunks += 1;
                continue;
            };
            let indexed = index
                .get(&Digest::new(self.config.digest(), *d))
                .filter(|l| ls.contains(l) && !doomed.contains(&l.pack));
            let pick = indexed
                .or_else(|| ls.iter().find(|l| !doomed.contains(&l.pack)))
                .unwrap_or(&ls[0]);
            home.insert(*d, *pick);
        }
        let mut live_bytes: HashMap<PackId, u64> = HashMap::new();
        for l in home.values() {
            *live_bytes.entry(l.pack).or_default() += u64::from(l.clen);
        }
        let young = |p: &PackId| {
            packs
                .get(p)
                .is_some_and(|o| age(now, o.last_modified) < options.grace)
        };

        // 3. Repack sparse packs (old enough, not already condemned).
        let mut sparse: Vec<PackId> = packs
            .iter()
            .filter(|(id, o)| {
                let lb = live_bytes.get(id).copied().unwrap_or(0);
                lb > 0
                    && !young(id)
                    && !in_records.contains(id)
                    && (lb as f64) < options.repack_below * o.size as f64
            })
            .map(|(id, _)| *id)
            .collect();
        sparse.sort();
        for id in &sparse {
            report.reclaimable_bytes += packs[id].size - live_bytes[id];
        }
        report.repacked_packs = sparse.len() as u64;
        let mut new_packs: Vec<FinishedPack> = Vec::new();
        if !options.dry_run && !sparse.is_empty() {
            new_packs = self.repack(&sparse, &home, &mut report)?;
            for p in &new_packs {
                for e in &p.entries {
                    let l = Location {
                        pack: p.id,
                        offset: e.offset,
                        clen: e.clen,
                        len: e.len,
                    };
                    home.insert(*e.digest.as_bytes(), l);
                    contents
                        .entry(p.id)
                        .or_default()
                        .insert(*e.digest.as_bytes(), l);
                }
            }
            for id in &sparse {
                live_bytes.remove(id);
            }
        }

        // Classify: deleted now, condemned now, kept.
        let homed = |p: &PackId| live_bytes.get(p).copied().unwrap_or(0) > 0;
        let delete_now: Vec<PackId> = doomed.iter().filter(|p| !homed(p)).copied().collect();
        report.rescued_packs = doomed.len() as u64 - delete_now.len() as u64;
        let mut condemn: Vec<PackId> = Vec::new();
        for (id, o) in &packs {
            if young(id) {
                report.young_packs += 1;
                continue;
            }
            if homed(id) {
                continue;
            }
            if !sparse.contains(id) {
                report.dead_packs += 1;
                report.reclaimable_bytes += o.size;
            }
            if !in_records.contains(id) {
                condemn.push(*id);
            }
        }
        condemn.sort();
        report.condemned_packs = condemn.len() as u64;
        let deleting: HashSet<PackId> = if may_delete {
            delete_now.iter().copied().collect()
        } else {
            HashSet::new()
        };
        report.deletable_bytes = if options.dry_run || may_delete {
            delete_now.iter().map(|p| packs[p].size).sum()
        } else {
            0
        };
        if options.dry_run {
            report.requests = self.requests().since(&before);
            return Ok(report);
        }

        // 4. One segment for every pack that stays, superseding all those read.
        let live_segments = index.segments().len();
        let stale_entries = segments
            .iter()
            .any(|(_, s)| s.entries.iter().any(|(_, l)| !packs.contains_key(&l.pack)));
        let need_segment = !deleting.is_empty()
            || !new_packs.is_empty()
            || live_segments > 1
            || (stale_entries && !segments.is_empty());
        let mut superseded: Vec<SegmentId> = Vec::new();
        if need_segment {
            let mut entries: Vec<(Digest, Location)> = Vec::new();
            let mut done: HashSet<[u8; 32]> = HashSet::new();
            for (d, l) in &home {
                if !deleting.contains(&l.pack) && done.insert(*d) {
                    entries.push((Digest::new(self.config.digest(), *d), *l));
                }
            }
            // Dead chunks stay findable (an ingest may still dedup against them) as
            // long as their pack stays.
            let mut rest: Vec<(&PackId, &HashMap<[u8; 32], Location>)> = contents
                .iter()
                .filter(|(p, _)| !deleting.contains(p))
                .collect();
            rest.sort_by_key(|(p, _)| (condemn.binary_search(p).is_ok(), **p));
            for (_, chunks) in rest {
                for (d, l) in chunks {
                    if done.insert(*d) {
                        entries.push((Digest::new(self.config.digest(), *d), *l));
                    }
                }
            }
            entries.sort_by_key(|(_, l)| (l.pack, l.offset));
            superseded = segments.iter().map(|(id, _)| *id).collect();
            superseded.sort();
            let seg = IndexSegment {
                algorithm: self.config.digest(),
                supersedes: superseded.clone(),
                entries,
            };
            let (id, bytes) = seg.encode();
            self.block_on(self.backend.put(&id.path(), Bytes::from(bytes), true))?;
            report.segment = Some(id);
            superseded.retain(|s| *s != id);
        }
        if !condemn.is_empty() || !superseded.is_empty() {
            let record = Record {
                packs: condemn,
                segments: superseded,
            };
            let path = format!("condemned/{}", report.run_id);
            self.block_on(self.backend.put(&path, record.encode(), false))?;
        }

        // 5. Delete what earlier runs condemned, past the grace period, still dead.
        if may_delete {
            let mut gone: Vec<String> = Vec::new();
            for p in &delete_now {
                report.deleted_packs += 1;
                report.deleted_bytes += packs[p].size;
                gone.push(p.path());
            }
            let present: HashSet<SegmentId> = segments.iter().map(|(id, _)| *id).collect();
            for (_, _, r) in &due {
                for s in &r.segments {
                    // Only segments the index no longer reads (superseded by one that
                    // is there) go.
                    if present.contains(s) && !index.segments().contains(s) {
                        report.deleted_segments += 1;
                        gone.push(s.path());
                    }
                }
            }
            self.delete_all(gone)?;
            let records: Vec<String> = due.iter().map(|(p, _, _)| p.clone()).collect();
            report.deleted_records = records.len() as u64;
            self.delete_all(records)?;
        }
        if report.segment.is_some() {
            self.reload_index()?;
        }
        if let Some(l) = lease {
            l.release()?;
        }
        report.requests = self.requests().since(&before);
        Ok(report)
    }

    /// The `narinfo/` objects older than `grace` whose NarHash names no NAR in `keys`.
    /// One that does not parse is left alone.
    fn orphan_narinfos(
        &self,
        keys: &HashSet<String>,
        now: SystemTime,
        grace: Duration,
    ) -> Result<Vec<String>> {
        let objects: Vec<ObjectInfo> = self
            .block_on(self.backend.list("narinfo"))?
            .into_iter()
            .filter(|o| age(now, o.last_modified) >= grace)
            .collect();
        let backend = &self.backend;
        let got: Vec<Result<Option<String>>> = self.block_on(
            futures::stream::iter(objects)
                .map(|o| async move {
                    let Some(text) = backend.get(&o.path).await? else {
                        return Ok(None);
                    };
                    let text = String::from_utf8_lossy(&text[..text.len().min(MAX_NARINFO)]);
                    let Ok(info) = NarInfo::parse(&text) else {
                        return Ok(None);
                    };
                    let gone = !keys.contains(&info.nar_hash.to_nix32());
                    Ok(gone.then_some(o.path))
                })
                .buffered(FETCH_CONCURRENCY)
                .collect(),
        );
        got.into_iter().filter_map(|r| r.transpose()).collect()
    }

    fn delete_all(&self, paths: Vec<String>) -> Result<()> {
        let backend = &self.backend;
        self.block_on(
            futures::stream::iter(paths)
                .map(|p| async move { backend.delete(&p).await })
                .buffer_unordered(FETCH_CONCURRENCY)
                .collect::<Vec<Result<()>>>(),
        )
        .into_iter()
        .collect()
    }

    /// Every condemned record: (path, when written, record). Unreadable ones are left
    /// out (and left alone).
    fn load_records(&self) -> Result<Vec<(String, SystemTime, Record)>> {
        let objects = self.block_on(self.backend.list("condemned"))?;
        let backend = &self.backend;
        let got: Vec<Result<Option<(String, SystemTime, Record)>>> = self.block_on(
            futures::stream::iter(objects)
                .map(|o| async move {
                    let Some(b) = backend.get(&o.path).await? else {
                        return Ok(None);
                    };
                    Ok(Record::decode(&b).map(|r| (o.path.clone(), o.last_modified, r)))
                })
                .buffered(FETCH_CONCURRENCY)
                .collect(),
        );
        got.into_iter().filter_map(|r| r.transpose()).collect()
    }

    /// Copy the live frames (those whose home is one of `sparse`) into new packs, each
    /// verified on the way; write the packs. Returns them (without their bytes).
    fn repack(
        &self,
        sparse: &[PackId],
        home: &HashMap<[u8; 32], Location>,
        report: &mut GcReport,
    ) -> Result<Vec<FinishedPack>> {
        let mut by_pack: HashMap<PackId, Vec<([u8; 32], Location)>> = HashMap::new();
        for (d, l) in home {
            if sparse.contains(&l.pack) {
                by_pack.entry(l.pack).or_default().push((*d, *l));
            }
        }
        let target = self.config.pack_target() as usize;
        let algorithm = self.config.digest();
        let mut builder = PackBuilder::new(algorithm, 0);
        let mut out = Vec::new();
        let flush = |b: PackBuilder, out: &mut Vec<FinishedPack>| -> Result<()> {
            let p = b.finish();
            self.block_on(self.backend.put(&p.id.path(), p.bytes.clone(), true))?;
            out.push(FinishedPack {
                bytes: Bytes::new(),
                ..p
            });
            Ok(())
        };
        for id in sparse {
            let Some(mut chunks) = by_pack.remove(id) else {
                continue;
            };
            chunks.sort_by_key(|(_, l)| l.offset);
            let path = id.path();
            let bytes =
                self.block_on(self.backend.get(&path))?
                    .ok_or_else(|| StoreError::MissingPack {
                        digest: Digest::new(algorithm, chunks[0].0),
                        pack: path.clone(),
                    })?;
            for (d, l) in chunks {
                let digest = Digest::new(algorithm, d);
                let corrupt = |reason| StoreError::CorruptChunk {
                    digest,
                    pack: path.clone(),
                    offset: l.offset,
                    reason,
                };
                let end = l.offset + u64::from(l.clen);
                if end > bytes.len() as u64 {
                    return Err(corrupt("its frame extends past the pack"));
                }
                let frame = bytes.slice(l.offset as usize..end as usize);
                let chunk = Decompressor::new()
                    .codec(Codec::Zstd)
                    .max_output(l.len as usize)
                    .decompress(&frame)
                    .map_err(|_| corrupt("its frame does not decompress within its length"))?;
                if chunk.len() != l.len as usize || chunker::hash(algorithm, &chunk) != digest {
                    return Err(corrupt("digest mismatch"));
                }
                if builder.is_empty() {
                    builder = PackBuilder::new(algorithm, target + target / 8);
                }
                builder.push(digest, &frame, l.len);
                report.repacked_bytes += u64::from(l.clen);
                if builder.len() >= target {
                    let full = std::mem::replace(&mut builder, PackBuilder::new(algorithm, 0));
                    flush(full, &mut out)?;
                }
            }
        }
        if !builder.is_empty() {
            flush(builder, &mut out)?;
        }
        report.new_packs = out.len() as u64;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_garbage() {
        let r = Record {
            packs: vec![PackId([1; 32]), PackId([2; 32])],
            segments: vec![SegmentId([3; 32])],
        };
        let d = Record::decode(&r.encode()).unwrap();
        assert_eq!(d.packs, r.packs);
        assert_eq!(d.segments, r.segments);
        assert!(Record::decode(b"nope").is_none());
        assert!(Record::decode(b"chunker-store condemned 1\npack zz\n").is_none());
        assert!(Record::decode(b"chunker-store condemned 1\nother 00\n").is_none());
        assert!(Record::decode(&[0xff, 0xfe]).is_none());
    }
}
