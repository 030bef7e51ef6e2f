//! Manifests: `manifests/<narhash-nix32>`, one per NAR, the commit point of an ingest.
//!
//! zstd-compressed:
//! ```text
//! magic "chstman\0" | version u32 | store config (fixed, see StoreConfig::encode)
//! | NarSize u64 | NarHash [32] | FileSize u64 | FileHash [32]
//! | n u32 | n × (chunk digest [32] | length u32)
//! ```
//! FileSize and FileHash (SHA-256) are those of the `.nar.zst` formed by concatenating
//! the chunks' stored frames in order.

use chunker::compress::{Codec, Compressor, Decompressor};
use chunker::hash::{Digest, HashAlgorithm};

use crate::config::{StoreConfig, ENCODED_LEN};
use crate::error::{FormatError, ObjectKind};
use crate::wire::{Put, Reader};

const MAGIC: &[u8; 8] = b"chstman\0";
const VERSION: u32 = 1;
const ENTRY_LEN: usize = 32 + 4;
/// Most bytes a manifest may decompress to (256 MiB: about 7.4 M chunks).
pub const MAX_DECODED: usize = 256 << 20;

/// A NAR's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Manifest {
    /// The config the NAR was chunked with.
    pub config: StoreConfig,
    /// NAR size in bytes.
    pub nar_size: u64,
    /// SHA-256 of the NAR.
    pub nar_hash: Digest,
    /// Size of the `.nar.zst` made of the stored frames.
    pub file_size: u64,
    /// SHA-256 of that `.nar.zst`.
    pub file_hash: Digest,
    /// (digest, length) of each chunk, in order.
    pub chunks: Vec<(Digest, u32)>,
}

impl Manifest {
    /// A manifest from its parts.
    pub fn new(
        config: StoreConfig,
        nar_size: u64,
        nar_hash: Digest,
        file_size: u64,
        file_hash: Digest,
        chunks: Vec<(Digest, u32)>,
    ) -> Manifest {
        Manifest {
            config,
            nar_size,
            nar_hash,
            file_size,
            file_hash,
            chunks,
        }
    }

    /// The key: NarHash in nix32 (also the object's name).
    pub fn key(&self) -> String {
        self.nar_hash.to_nix32()
    }

    /// The object path relative to the store root.
    pub fn path(&self) -> String {
        format!("manifests/{}", self.key())
    }

    /// Offset of each chunk in the NAR, plus NarSize at the end.
    pub fn offsets(&self) -> Vec<u64> {
        let mut out = Vec::with_capacity(self.chunks.len() + 1);
        let mut o = 0u64;
        out.push(0);
        for (_, l) in &self.chunks {
            o += u64::from(*l);
            out.push(o);
        }
        out
    }

    /// The stored (zstd-compressed) form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENCODED_LEN + 100 + self.chunks.len() * ENTRY_LEN);
        out.extend_from_slice(MAGIC);
        out.put_u32(VERSION);
        out.extend_from_slice(&self.config.encode());
        out.put_u64(self.nar_size);
        out.extend_from_slice(self.nar_hash.as_bytes());
        out.put_u64(self.file_size);
        out.extend_from_slice(self.file_hash.as_bytes());
        out.put_u32(self.chunks.len() as u32);
        for (d, l) in &self.chunks {
            out.extend_from_slice(d.as_bytes());
            out.put_u32(*l);
        }
        Compressor::new(Codec::Zstd)
            .compress(&out)
            .expect("zstd compression of an in-memory buffer")
    }

    /// Parse the stored form: decompressed with a cap of [`MAX_DECODED`], then every
    /// count and length checked (chunk lengths within the config's maximum, summing to
    /// NarSize).
    pub fn decode(data: &[u8]) -> Result<Manifest, FormatError> {
        let raw = Decompressor::new()
            .codec(Codec::Zstd)
            .max_output(MAX_DECODED)
            .decompress(data)
            .map_err(|source| FormatError::Decompress {
                object: ObjectKind::Manifest,
                source,
            })?;
        Self::decode_raw(&raw)
    }

    /// Parse the decompressed form.
    pub fn decode_raw(raw: &[u8]) -> Result<Manifest, FormatError> {
        let mut r = Reader::new(ObjectKind::Manifest, raw);
        r.magic(MAGIC, &[VERSION])?;
        let config = StoreConfig::read(&mut r)?;
        let nar_size = r.u64()?;
        let nar_hash = r.digest(HashAlgorithm::Sha256)?;
        let file_size = r.u64()?;
        let file_hash = r.digest(HashAlgorithm::Sha256)?;
        let n = r.count("chunks", ENTRY_LEN, u64::from(u32::MAX))?;
        if n == 0 {
            return Err(r.invalid("no chunks"));
        }
        let max = config.chunking().max_size() as u32;
        let mut chunks = Vec::with_capacity(n);
        let mut total = 0u64;
        for _ in 0..n {
            let d = r.digest(config.digest())?;
            let len = r.u32()?;
            if len == 0 || len > max {
                return Err(r.invalid("chunk length is zero or above the config's maximum"));
            }
            total += u64::from(len);
            chunks.push((d, len));
        }
        r.end()?;
        if total != nar_size {
            return Err(r.invalid("chunk lengths do not sum to NarSize"));
        }
        Ok(Manifest {
            config,
            nar_size,
            nar_hash,
            file_size,
            file_hash,
            chunks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let d = |i: u8| Digest::new(HashAlgorithm::Sha256, [i; 32]);
        Manifest::new(
            StoreConfig::default(),
            300,
            d(9),
            120,
            d(8),
            vec![(d(1), 100), (d(2), 200)],
        )
    }

    #[test]
    fn round_trip() {
        let m = manifest();
        assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
        assert_eq!(m.offsets(), vec![0, 100, 300]);
    }

    #[test]
    fn hostile_manifests_are_typed_errors() {
        let m = manifest();
        let raw = Decompressor::new().decompress(&m.encode()).unwrap();
        for cut in 0..raw.len() {
            assert!(Manifest::decode_raw(&raw[..cut]).is_err(), "{cut}");
        }
        assert!(matches!(
            Manifest::decode(b"not zstd"),
            Err(FormatError::Decompress { .. })
        ));
        // Lengths that do not sum to NarSize.
        let mut b = raw.clone();
        let last = b.len() - 4;
        b[last..].copy_from_slice(&201u32.to_le_bytes());
        assert!(matches!(
            Manifest::decode_raw(&b),
            Err(FormatError::Invalid { .. })
        ));
        // A length above the maximum.
        b[last..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Manifest::decode_raw(&b),
            Err(FormatError::Invalid { .. })
        ));
        // A count above what remains.
        let count_at = raw.len() - 2 * ENTRY_LEN - 4;
        let mut b = raw.clone();
        b[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Manifest::decode_raw(&b),
            Err(FormatError::Truncated { .. })
        ));
        // A zstd bomb stops at the cap.
        let bomb = Compressor::new(Codec::Zstd)
            .compress(&vec![0u8; MAX_DECODED + 1])
            .unwrap();
        assert!(matches!(
            Manifest::decode(&bomb),
            Err(FormatError::Decompress { .. })
        ));
    }
}
