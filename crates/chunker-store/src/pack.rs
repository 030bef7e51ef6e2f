//! Packs: `packs/<ab>/<pack-id>`, zstd frames of chunks back to back, then a footer
//! index, then a fixed trailer.
//!
//! ```text
//! frame 0 | frame 1 | … | footer | trailer
//! footer  = algorithm u8 | count u32 | count × (digest [32] | offset u64 | clen u32 | len u32)
//! trailer = footer length u32 | version u32 | magic "chstpack"      (16 bytes)
//! ```
//! All integers little-endian. Frames are complete zstd frames without the zstd content
//! checksum: each chunk is checked against its digest after decompression instead. The
//! pack id is the SHA-256 of all the pack's bytes (hex in the name), so concurrent
//! writers of the same pack write the same bytes under the same name. The footer lets an
//! index be rebuilt from the packs alone ([`parse_footer`]).

use bytes::Bytes;
use chunker::hash::{Digest, HashAlgorithm};

use crate::error::{FormatError, ObjectKind};
use crate::wire::{algorithm_code, Put, Reader};

const MAGIC: &[u8; 8] = b"chstpack";
const VERSION: u32 = 1;
/// Bytes of the trailer at the very end of a pack.
pub const TRAILER_LEN: usize = 16;
/// Bytes per footer entry.
pub const ENTRY_LEN: usize = 32 + 8 + 4 + 4;
/// Most entries a footer may declare.
pub const MAX_ENTRIES: u64 = 1 << 22;

/// A pack's name: the SHA-256 of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackId(pub [u8; 32]);

impl PackId {
    /// The id of a pack with these bytes.
    pub fn of(bytes: &[u8]) -> PackId {
        PackId(*chunker::hash(HashAlgorithm::Sha256, bytes).as_bytes())
    }

    /// Lowercase hex (64 characters).
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parse 64 lowercase hex characters.
    pub fn from_hex(s: &str) -> Option<PackId> {
        unhex(s).map(PackId)
    }

    /// The object path relative to the store root: `packs/<ab>/<hex>`.
    pub fn path(&self) -> String {
        let h = self.to_hex();
        format!("packs/{}/{}", &h[..2], h)
    }
}

impl std::fmt::Display for PackId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path())
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(H[(x >> 4) as usize] as char);
        s.push(H[(x & 15) as usize] as char);
    }
    s
}

pub(crate) fn unhex(s: &str) -> Option<[u8; 32]> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let v = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (v(s[2 * i])? << 4) | v(s[2 * i + 1])?;
    }
    Some(out)
}

/// One chunk in a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackEntry {
    /// The chunk's digest (of its uncompressed bytes).
    pub digest: Digest,
    /// Offset of its frame in the pack.
    pub offset: u64,
    /// The frame's length.
    pub clen: u32,
    /// The chunk's (uncompressed) length.
    pub len: u32,
}

/// Builds one pack in memory.
#[derive(Debug)]
pub struct PackBuilder {
    algorithm: HashAlgorithm,
    data: Vec<u8>,
    entries: Vec<PackEntry>,
}

/// A finished pack: its id, its bytes and its entries.
#[derive(Debug, Clone)]
pub struct FinishedPack {
    /// The pack's id.
    pub id: PackId,
    /// All its bytes (frames, footer, trailer).
    pub bytes: Bytes,
    /// Its chunks, in order.
    pub entries: Vec<PackEntry>,
}

impl PackBuilder {
    /// An empty pack for chunks digested with `algorithm`; `capacity` bytes reserved.
    pub fn new(algorithm: HashAlgorithm, capacity: usize) -> PackBuilder {
        PackBuilder {
            algorithm,
            data: Vec::with_capacity(capacity),
            entries: Vec::new(),
        }
    }

    /// Append a chunk's frame; returns its offset.
    pub fn push(&mut self, digest: Digest, frame: &[u8], len: u32) -> u64 {
        let offset = self.data.len() as u64;
        self.data.extend_from_slice(frame);
        self.entries.push(PackEntry {
            digest,
            offset,
            clen: frame.len() as u32,
            len,
        });
        offset
    }

    /// Bytes of frames so far.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether no chunk was pushed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Append the footer and trailer and name the pack.
    pub fn finish(self) -> FinishedPack {
        let PackBuilder {
            algorithm,
            mut data,
            entries,
        } = self;
        let footer_start = data.len();
        data.reserve(5 + entries.len() * ENTRY_LEN + TRAILER_LEN);
        data.put_u8(algorithm_code(algorithm));
        data.put_u32(entries.len() as u32);
        for e in &entries {
            data.extend_from_slice(e.digest.as_bytes());
            data.put_u64(e.offset);
            data.put_u32(e.clen);
            data.put_u32(e.len);
        }
        let footer_len = (data.len() - footer_start) as u32;
        data.put_u32(footer_len);
        data.put_u32(VERSION);
        data.extend_from_slice(MAGIC);
        let id = PackId::of(&data);
        FinishedPack {
            id,
            bytes: Bytes::from(data),
            entries,
        }
    }
}

/// From a pack's last [`TRAILER_LEN`] bytes and its total length: how many bytes at the
/// end of the pack hold the footer and trailer (fetch those and call [`parse_footer`]).
pub fn tail_len(trailer: &[u8], pack_len: u64) -> Result<u64, FormatError> {
    let mut r = Reader::new(ObjectKind::Pack, trailer);
    if trailer.len() != TRAILER_LEN {
        return Err(FormatError::Truncated {
            object: ObjectKind::Pack,
            needed: TRAILER_LEN as u64,
            remaining: trailer.len() as u64,
        });
    }
    let footer_len = u64::from(r.u32()?);
    let version = r.u32()?;
    if r.bytes(8)? != MAGIC {
        return Err(FormatError::BadMagic {
            object: ObjectKind::Pack,
        });
    }
    if version != VERSION {
        return Err(FormatError::UnsupportedVersion {
            object: ObjectKind::Pack,
            version,
        });
    }
    let tail = footer_len + TRAILER_LEN as u64;
    if tail > pack_len {
        return Err(FormatError::Truncated {
            object: ObjectKind::Pack,
            needed: tail,
            remaining: pack_len,
        });
    }
    Ok(tail)
}

/// Parse a pack's footer from its last bytes `tail` (at least footer + trailer; the
/// whole pack will do) given the pack's total length. Entries must tile the frame area
/// exactly, in order, with no empty frame or chunk.
pub fn parse_footer(tail: &[u8], pack_len: u64) -> Result<Vec<PackEntry>, FormatError> {
    if tail.len() < TRAILER_LEN || tail.len() as u64 > pack_len {
        return Err(FormatError::Truncated {
            object: ObjectKind::Pack,
            needed: TRAILER_LEN as u64,
            remaining: tail.len() as u64,
        });
    }
    let need = tail_len(&tail[tail.len() - TRAILER_LEN..], pack_len)? as usize;
    if need > tail.len() {
        return Err(FormatError::Truncated {
            object: ObjectKind::Pack,
            needed: need as u64,
            remaining: tail.len() as u64,
        });
    }
    let footer = &tail[tail.len() - need..tail.len() - TRAILER_LEN];
    let body_len = pack_len - need as u64;
    let mut r = Reader::new(ObjectKind::Pack, footer);
    let algorithm = r.algorithm()?;
    let n = r.count("pack entries", ENTRY_LEN, MAX_ENTRIES)?;
    let mut entries = Vec::with_capacity(n);
    let mut next = 0u64;
    for _ in 0..n {
        let digest = r.digest(algorithm)?;
        let (offset, clen, len) = (r.u64()?, r.u32()?, r.u32()?);
        if offset != next {
            return Err(r.invalid("entries do not tile the frames in order"));
        }
        if clen == 0 || len == 0 {
            return Err(r.invalid("empty frame or chunk"));
        }
        next = offset + u64::from(clen);
        if next > body_len {
            return Err(r.invalid("a frame extends past the footer"));
        }
        entries.push(PackEntry {
            digest,
            offset,
            clen,
            len,
        });
    }
    r.end()?;
    if next != body_len {
        return Err(FormatError::Invalid {
            object: ObjectKind::Pack,
            reason: "bytes between the last frame and the footer",
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack() -> FinishedPack {
        let mut b = PackBuilder::new(HashAlgorithm::Sha256, 0);
        for i in 0..3u8 {
            let d = Digest::new(HashAlgorithm::Sha256, [i; 32]);
            b.push(d, &vec![i; 10 + i as usize], 100);
        }
        b.finish()
    }

    #[test]
    fn round_trip() {
        let p = pack();
        assert_eq!(p.id, PackId::of(&p.bytes));
        let e = parse_footer(&p.bytes, p.bytes.len() as u64).unwrap();
        assert_eq!(e, p.entries);
        assert_eq!(e[2].offset, 21);
        // Only the tail is needed.
        let n = p.bytes.len();
        let t = tail_len(&p.bytes[n - TRAILER_LEN..], n as u64).unwrap() as usize;
        assert_eq!(parse_footer(&p.bytes[n - t..], n as u64).unwrap(), e);
        assert_eq!(PackId::from_hex(&p.id.to_hex()), Some(p.id));
    }

    #[test]
    fn hostile_footers_are_typed_errors() {
        let p = pack();
        let n = p.bytes.len();
        let t = tail_len(&p.bytes[n - TRAILER_LEN..], n as u64).unwrap() as usize;
        // Every tail shorter than footer + trailer; every truncated pack.
        for cut in 0..n {
            let short_tail = parse_footer(&p.bytes[cut..], n as u64);
            assert_eq!(short_tail.is_err(), cut > n - t, "{cut}");
            assert!(parse_footer(&p.bytes[..cut], cut as u64).is_err(), "{cut}");
            assert!(
                parse_footer(&p.bytes[cut + 1..], (n - cut - 1) as u64).is_err(),
                "{cut}"
            );
        }
        // A huge count.
        let mut b = p.bytes.to_vec();
        let footer_start = n - TRAILER_LEN - (5 + 3 * ENTRY_LEN);
        b[footer_start + 1..footer_start + 5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            parse_footer(&b, n as u64),
            Err(FormatError::TooMany { .. })
        ));
        // A count that does not fit the bytes.
        b[footer_start + 1..footer_start + 5].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(
            parse_footer(&b, n as u64),
            Err(FormatError::Truncated { .. })
        ));
        // A footer length past the start.
        let mut b = p.bytes.to_vec();
        b[n - 16..n - 12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            parse_footer(&b, n as u64),
            Err(FormatError::Truncated { .. })
        ));
        // Bad magic, bad version.
        let mut b = p.bytes.to_vec();
        b[n - 1] ^= 1;
        assert!(matches!(
            parse_footer(&b, n as u64),
            Err(FormatError::BadMagic { .. })
        ));
        let mut b = p.bytes.to_vec();
        b[n - 12] = 9;
        assert!(matches!(
            parse_footer(&b, n as u64),
            Err(FormatError::UnsupportedVersion { .. })
        ));
        // An offset that does not tile.
        let mut b = p.bytes.to_vec();
        b[footer_start + 5 + ENTRY_LEN + 32] ^= 1;
        assert!(matches!(
            parse_footer(&b, n as u64),
            Err(FormatError::Invalid { .. })
        ));
    }
}
