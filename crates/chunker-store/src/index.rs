//! Index segments: `index/<segment-id>`, immutable maps chunk → (pack, offset, clen,
//! len), and the in-memory [`Index`] merged from all of them.
//!
//! ```text
//! magic "chstidx\0" | version u32 | algorithm u8
//! | n u32 | n × superseded segment id [32]
//! | p u32 | p × pack id [32]
//! | e u32 | e × (digest [32] | pack number u32 | offset u64 | clen u32 | len u32)
//! ```
//! The segment id is the SHA-256 of its bytes (hex in the name). A segment that lists
//! others as superseded replaces them: readers skip superseded segments (GC writes a
//! merged segment that supersedes the ones it merged, then deletes those). Every
//! segment can be rebuilt from pack footers.

use std::collections::{HashMap, HashSet};

use chunker::hash::{Digest, HashAlgorithm};

use crate::error::{FormatError, ObjectKind};
use crate::pack::{hex, unhex, PackEntry, PackId};
use crate::wire::{algorithm_code, Put, Reader};

const MAGIC: &[u8; 8] = b"chstidx\0";
const VERSION: u32 = 1;
const ENTRY_LEN: usize = 32 + 4 + 8 + 4 + 4;
/// Most entries a segment may hold.
pub const MAX_ENTRIES: u64 = 1 << 26;
/// Most packs (and superseded segments) a segment may name.
pub const MAX_NAMES: u64 = 1 << 22;

/// A segment's name: the SHA-256 of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentId(pub [u8; 32]);

impl SegmentId {
    /// Lowercase hex (64 characters).
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parse 64 lowercase hex characters.
    pub fn from_hex(s: &str) -> Option<SegmentId> {
        unhex(s).map(SegmentId)
    }

    /// The object path relative to the store root: `index/<hex>`.
    pub fn path(&self) -> String {
        format!("index/{}", self.to_hex())
    }
}

/// Where a chunk is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The pack.
    pub pack: PackId,
    /// Offset of the chunk's frame in the pack.
    pub offset: u64,
    /// The frame's length.
    pub clen: u32,
    /// The chunk's length.
    pub len: u32,
}

/// One index segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSegment {
    /// The chunk digest algorithm.
    pub algorithm: HashAlgorithm,
    /// Segments this one replaces.
    pub supersedes: Vec<SegmentId>,
    /// Chunk locations.
    pub entries: Vec<(Digest, Location)>,
}

impl IndexSegment {
    /// A segment for the chunks of `packs` (their footers' entries).
    pub fn from_packs<'a>(
        algorithm: HashAlgorithm,
        packs: impl IntoIterator<Item = (PackId, &'a [PackEntry])>,
    ) -> IndexSegment {
        let mut entries = Vec::new();
        for (pack, es) in packs {
            entries.extend(es.iter().map(|e| {
                (
                    e.digest,
                    Location {
                        pack,
                        offset: e.offset,
                        clen: e.clen,
                        len: e.len,
                    },
                )
            }));
        }
        IndexSegment {
            algorithm,
            supersedes: Vec::new(),
            entries,
        }
    }

    /// The binary form and its id.
    pub fn encode(&self) -> (SegmentId, Vec<u8>) {
        let mut packs: Vec<PackId> = Vec::new();
        let mut numbers: HashMap<PackId, u32> = HashMap::new();
        for (_, l) in &self.entries {
            numbers.entry(l.pack).or_insert_with(|| {
                packs.push(l.pack);
                (packs.len() - 1) as u32
            });
        }
        let mut out = Vec::with_capacity(
            32 + 32 * (self.supersedes.len() + packs.len()) + ENTRY_LEN * self.entries.len(),
        );
        out.extend_from_slice(MAGIC);
        out.put_u32(VERSION);
        out.put_u8(algorithm_code(self.algorithm));
        out.put_u32(self.supersedes.len() as u32);
        for s in &self.supersedes {
            out.extend_from_slice(&s.0);
        }
        out.put_u32(packs.len() as u32);
        for p in &packs {
            out.extend_from_slice(&p.0);
        }
        out.put_u32(self.entries.len() as u32);
        for (d, l) in &self.entries {
            out.extend_from_slice(d.as_bytes());
            out.put_u32(numbers[&l.pack]);
            out.put_u64(l.offset);
            out.put_u32(l.clen);
            out.put_u32(l.len);
        }
        let id = SegmentId(*chunker::hash(HashAlgorithm::Sha256, &out).as_bytes());
        (id, out)
    }

    /// Parse the binary form (bounded: counts are checked against the bytes present).
    pub fn decode(data: &[u8]) -> Result<IndexSegment, FormatError> {
        let mut r = Reader::new(ObjectKind::IndexSegment, data);
        r.magic(MAGIC, &[VERSION])?;
        let algorithm = r.algorithm()?;
        let n = r.count("superseded segments", 32, MAX_NAMES)?;
        let mut supersedes = Vec::with_capacity(n);
        for _ in 0..n {
            supersedes.push(SegmentId(r.array()?));
        }
        let p = r.count("packs", 32, MAX_NAMES)?;
        let mut packs = Vec::with_capacity(p);
        for _ in 0..p {
            packs.push(PackId(r.array()?));
        }
        let e = r.count("entries", ENTRY_LEN, MAX_ENTRIES)?;
        let mut entries = Vec::with_capacity(e);
        for _ in 0..e {
            let digest = r.digest(algorithm)?;
            let number = r.u32()? as usize;
            let (offset, clen, len) = (r.u64()?, r.u32()?, r.u32()?);
            let pack = *packs
                .get(number)
                .ok_or_else(|| r.invalid("entry names a pack number out of range"))?;
            if clen == 0 || len == 0 || offset.checked_add(u64::from(clen)).is_none() {
                return Err(r.invalid("empty or overflowing chunk location"));
            }
            entries.push((
                digest,
                Location {
                    pack,
                    offset,
                    clen,
                    len,
                },
            ));
        }
        r.end()?;
        Ok(IndexSegment {
            algorithm,
            supersedes,
            entries,
        })
    }
}

/// The store's chunk index: every live segment merged.
#[derive(Debug, Default, Clone)]
pub struct Index {
    map: HashMap<[u8; 32], Location>,
    segments: Vec<SegmentId>,
}

impl Index {
    /// Merge segments (given with their ids): those superseded by another are skipped;
    /// for a chunk in several, the first segment in id order wins.
    pub fn from_segments(mut segments: Vec<(SegmentId, IndexSegment)>) -> Index {
        segments.sort_by_key(|(id, _)| *id);
        let superseded: HashSet<SegmentId> = segments
            .iter()
            .flat_map(|(_, s)| s.supersedes.iter().copied())
            .collect();
        let mut index = Index::default();
        for (id, s) in segments {
            if superseded.contains(&id) {
                continue;
            }
            index.segments.push(id);
            for (d, l) in s.entries {
                index.map.entry(*d.as_bytes()).or_insert(l);
            }
        }
        index
    }

    /// Where a chunk is stored.
    pub fn get(&self, digest: &Digest) -> Option<&Location> {
        self.map.get(digest.as_bytes())
    }

    /// Whether the chunk is stored.
    pub fn contains(&self, digest: &Digest) -> bool {
        self.map.contains_key(digest.as_bytes())
    }

    /// Record a location (first one wins).
    pub fn insert(&mut self, digest: &Digest, location: Location) {
        self.map.entry(*digest.as_bytes()).or_insert(location);
    }

    /// Number of chunks.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The live (not superseded) segments it was built from.
    pub fn segments(&self) -> &[SegmentId] {
        &self.segments
    }

    /// Every (digest bytes, location).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8; 32], &Location)> {
        self.map.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg() -> IndexSegment {
        let d = |i: u8| Digest::new(HashAlgorithm::Sha256, [i; 32]);
        let loc = |p: u8, o: u64| Location {
            pack: PackId([p; 32]),
            offset: o,
            clen: 5,
            len: 9,
        };
        IndexSegment {
            algorithm: HashAlgorithm::Sha256,
            supersedes: vec![SegmentId([7; 32])],
            entries: vec![(d(1), loc(1, 0)), (d(2), loc(2, 0)), (d(3), loc(1, 5))],
        }
    }

    #[test]
    fn round_trip_and_supersede() {
        let s = seg();
        let (id, bytes) = s.encode();
        assert_eq!(IndexSegment::decode(&bytes).unwrap(), s);
        let old = IndexSegment {
            supersedes: vec![],
            ..s.clone()
        };
        let index = Index::from_segments(vec![(SegmentId([7; 32]), old), (id, s)]);
        assert_eq!(index.segments(), &[id]);
        assert_eq!(index.len(), 3);
    }

    #[test]
    fn hostile_segments_are_typed_errors() {
        let (_, bytes) = seg().encode();
        for cut in 0..bytes.len() {
            assert!(IndexSegment::decode(&bytes[..cut]).is_err(), "{cut}");
        }
        let mut b = bytes.clone();
        b.push(0);
        assert!(matches!(
            IndexSegment::decode(&b),
            Err(FormatError::Invalid { .. })
        ));
        // Huge superseded count.
        let mut b = bytes.clone();
        b[13..17].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            IndexSegment::decode(&b),
            Err(FormatError::TooMany { .. })
        ));
        // Pack number out of range (first entry's pack number).
        let mut b = bytes.clone();
        let first = 8 + 4 + 1 + 4 + 32 + 4 + 64 + 4;
        b[first + 32..first + 36].copy_from_slice(&9u32.to_le_bytes());
        assert!(matches!(
            IndexSegment::decode(&b),
            Err(FormatError::Invalid { .. })
        ));
    }
}
