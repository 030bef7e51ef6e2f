//! The store config, pinned at `init` in the `config` object.

use std::fmt;

use chunker::compress::{Codec, Compressor};
use chunker::hash::HashAlgorithm;
use chunker::{ChunkOptions, Config};

use crate::error::{FormatError, ObjectKind, StoreError};
use crate::wire::{algorithm_code, Put, Reader};

const MAGIC: &[u8; 8] = b"chstcfg\0";
/// The store format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Encoded length of a config (fixed).
pub(crate) const ENCODED_LEN: usize = 8 + 4 + 12 + 1 + 1 + 4 + 8;
/// Smallest pack target (64 KiB): a pack holds at least one chunk anyway.
pub const MIN_PACK_TARGET: u64 = 64 << 10;
/// Largest pack target (4 GiB).
pub const MAX_PACK_TARGET: u64 = 4 << 30;
/// Default pack target: 32 MiB, so 1 GiB of new data is about 32 PUTs.
pub const DEFAULT_PACK_TARGET: u64 = 32 << 20;
/// Default zstd level.
pub const DEFAULT_LEVEL: i32 = 3;

/// What a store is pinned to: chunking parameters, chunk digest, pack target size and
/// the codec (zstd) with its level.
///
/// ```
/// use chunker_store::StoreConfig;
///
/// let c = StoreConfig::default();
/// assert_eq!(c.chunking().avg_size(), 256 << 10);
/// assert_eq!(c.pack_target(), 32 << 20);
/// assert_eq!(StoreConfig::decode(&c.encode())?, c);
/// # Ok::<(), chunker_store::FormatError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    chunking: Config,
    digest: HashAlgorithm,
    level: i32,
    pack_target: u64,
}

impl Default for StoreConfig {
    /// 64K/256K/1M, SHA-256, zstd level 3, 32 MiB packs.
    fn default() -> Self {
        StoreConfig {
            chunking: chunker::Preset::Medium.config(),
            digest: HashAlgorithm::Sha256,
            level: DEFAULT_LEVEL,
            pack_target: DEFAULT_PACK_TARGET,
        }
    }
}

impl StoreConfig {
    /// A config from its parts, checked: a zstd level in range and a pack target in
    /// [`MIN_PACK_TARGET`]..=[`MAX_PACK_TARGET`] (the chunking config is valid by type).
    pub fn new(
        chunking: Config,
        digest: HashAlgorithm,
        level: i32,
        pack_target: u64,
    ) -> Result<StoreConfig, StoreError> {
        if !Codec::Zstd.levels().contains(&level) {
            return Err(StoreError::InvalidConfig {
                reason: format!("zstd level {level} is out of range"),
            });
        }
        if !(MIN_PACK_TARGET..=MAX_PACK_TARGET).contains(&pack_target) {
            return Err(StoreError::InvalidConfig {
                reason: format!(
                    "pack target {pack_target} is outside {MIN_PACK_TARGET}..={MAX_PACK_TARGET}"
                ),
            });
        }
        Ok(StoreConfig {
            chunking,
            digest,
            level,
            pack_target,
        })
    }

    /// Chunking parameters.
    pub fn chunking(&self) -> &Config {
        &self.chunking
    }

    /// Chunk digest algorithm.
    pub fn digest(&self) -> HashAlgorithm {
        self.digest
    }

    /// zstd level of the stored frames.
    pub fn level(&self) -> i32 {
        self.level
    }

    /// Pack target size in bytes (a pack is closed when it reaches it).
    pub fn pack_target(&self) -> u64 {
        self.pack_target
    }

    /// Chunking options: the chunking config and the chunk digest.
    pub fn chunk_options(&self) -> ChunkOptions {
        ChunkOptions::new(self.chunking).hash(Some(self.digest))
    }

    /// The compressor of stored frames: zstd at the level, without the zstd content
    /// checksum (every chunk is checked against its digest after decompression).
    pub fn compressor(&self) -> Compressor {
        Compressor::with_level(Codec::Zstd, self.level)
            .unwrap_or_else(|_| Compressor::new(Codec::Zstd))
            .checksum(false)
    }

    /// The binary form stored in the `config` object (fixed length, versioned).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENCODED_LEN);
        out.extend_from_slice(MAGIC);
        out.put_u32(FORMAT_VERSION);
        out.put_u32(self.chunking.min_size() as u32);
        out.put_u32(self.chunking.avg_size() as u32);
        out.put_u32(self.chunking.max_size() as u32);
        out.put_u8(algorithm_code(self.digest));
        out.put_u8(1); // codec: zstd
        out.put_i32(self.level);
        out.put_u64(self.pack_target);
        out
    }

    /// Parse the binary form (exactly; trailing bytes are an error).
    pub fn decode(data: &[u8]) -> Result<StoreConfig, FormatError> {
        let mut r = Reader::new(ObjectKind::Config, data);
        let c = Self::read(&mut r)?;
        r.end()?;
        Ok(c)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<StoreConfig, FormatError> {
        r.magic(MAGIC, &[FORMAT_VERSION])?;
        let (min, avg, max) = (r.u32()?, r.u32()?, r.u32()?);
        let chunking = Config::new(min as usize, avg as usize, max as usize)
            .map_err(|_| r.invalid("chunk sizes out of range"))?;
        let digest = r.algorithm()?;
        if r.u8()? != 1 {
            return Err(r.invalid("unknown codec"));
        }
        let level = r.i32()?;
        let pack_target = r.u64()?;
        StoreConfig::new(chunking, digest, level, pack_target)
            .map_err(|_| r.invalid("zstd level or pack target out of range"))
    }
}

impl fmt::Display for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "chunks {}/{}/{}, {}, zstd level {}, packs {} bytes",
            self.chunking.min_size(),
            self.chunking.avg_size(),
            self.chunking.max_size(),
            self.digest,
            self.level,
            self.pack_target
        )
    }
}
