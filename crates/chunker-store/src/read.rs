//! Reads: a NAR (whole or a byte range) or its `.nar.zst` form, every chunk verified
//! before a byte of it is written.
//!
//! Every chunk is resolved in the index before anything is fetched. Adjacent frames of
//! one pack are fetched with one range GET (up to [`MAX_REQUEST`] bytes); up to
//! [`READ_AHEAD`] requests are in flight, and their frames are decompressed (with an
//! output limit equal to the chunk's length) and digest-checked on the runtime's
//! blocking threads while the output is written in order. The NarHash (or, for the
//! `.nar.zst` form, the FileHash) is checked at the end: since every chunk was already
//! checked against the manifest, a mismatch there means the manifest itself is wrong,
//! and by then the output has received the NAR the manifest describes.

use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use chunker::compress::{Codec, Decompressor};
use chunker::hash::{Digest, HashAlgorithm, Hasher};
use futures::StreamExt;

use crate::error::{Result, StoreError};
use crate::index::Location;
use crate::manifest::Manifest;
use crate::store::{parse_key, Store};

/// Most bytes one range GET asks for.
pub const MAX_REQUEST: u64 = 8 << 20;
/// Range GETs in flight during a read.
pub const READ_AHEAD: usize = 8;

/// What a read wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadReport {
    /// Bytes written.
    pub bytes: u64,
    /// Chunks read (and verified).
    pub chunks: u64,
    /// Range GETs made.
    pub requests: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Nar,
    Frames,
}

#[derive(Debug)]
struct Request {
    loc: Location,
    end: u64,
    chunks: Vec<(Digest, Location)>,
}

impl Store {
    /// Write the NAR `key` to `out`. Every chunk is verified before it is written; the
    /// NarHash is checked at the end (see the [module](crate::read) docs).
    pub fn cat(&self, key: &str, out: &mut dyn Write) -> Result<ReadReport> {
        let m = self.manifest(key)?;
        self.read(&m, 0..m.chunks.len(), Form::Nar, None, out)
    }

    /// Write bytes `start..=end` of the NAR `key` (inclusive, as an HTTP range; `end`
    /// is clamped to the NAR's last byte). Only the chunks that overlap are read, each
    /// verified; the NarHash is not checked (the whole NAR is not read).
    pub fn cat_range(
        &self,
        key: &str,
        start: u64,
        end: u64,
        out: &mut dyn Write,
    ) -> Result<ReadReport> {
        let m = self.manifest(key)?;
        let last = m.nar_size - 1;
        if start > end || start > last {
            return Err(StoreError::BadRange {
                start,
                end,
                size: m.nar_size,
            });
        }
        let end = end.min(last);
        let offsets = m.offsets();
        // Chunk i covers offsets[i]..offsets[i+1].
        let first = offsets.partition_point(|&o| o <= start) - 1;
        let past = offsets.partition_point(|&o| o <= end);
        let window = (start - offsets[first], end + 1 - offsets[first]);
        self.read(&m, first..past, Form::Nar, Some(window), out)
    }

    /// Write the `.nar.zst` form of `key`: the stored frames back to back, each
    /// verified (decompressed and digest-checked) before it is written; the FileHash is
    /// checked at the end.
    pub fn cat_zst(&self, key: &str, out: &mut dyn Write) -> Result<ReadReport> {
        let m = self.manifest(key)?;
        self.read(&m, 0..m.chunks.len(), Form::Frames, None, out)
    }

    /// Write the NAR `key` to the file `path`: into a temporary file next to it, renamed
    /// to `path` only once the NarHash verified. On error nothing is left at `path`.
    pub fn get_to_file(&self, key: &str, path: &Path) -> Result<ReadReport> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.chunker-tmp-{}", std::process::id()));
        let output = |source| StoreError::Output { source };
        let file = std::fs::File::create(&tmp).map_err(output)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        let r = self.cat(key, &mut w).and_then(|r| {
            w.flush().map_err(output)?;
            w.get_ref().sync_all().map_err(output)?;
            Ok(r)
        });
        drop(w);
        match r {
            Ok(r) => {
                std::fs::rename(&tmp, path).map_err(output)?;
                Ok(r)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Read and verify the whole NAR `key` without writing it anywhere.
    pub fn check(&self, key: &str) -> Result<ReadReport> {
        self.cat(key, &mut std::io::sink())
    }

    fn read(
        &self,
        m: &Manifest,
        range: std::ops::Range<usize>,
        form: Form,
        window: Option<(u64, u64)>,
        out: &mut dyn Write,
    ) -> Result<ReadReport> {
        let key = m.key();
        let whole = range.len() == m.chunks.len() && window.is_none();
        // Resolve every chunk first.
        let mut located = Vec::with_capacity(range.len());
        {
            let index = self.lock_index();
            for (digest, len) in &m.chunks[range] {
                let loc = *index.get(digest).ok_or_else(|| StoreError::MissingChunk {
                    key: key.clone(),
                    digest: *digest,
                })?;
                if loc.len != *len {
                    return Err(StoreError::CorruptChunk {
                        digest: *digest,
                        pack: loc.pack.path(),
                        offset: loc.offset,
                        reason: "the index and the manifest disagree on its length",
                    });
                }
                located.push((*digest, loc));
            }
        }
        let requests = plan(located);
        let n_requests = requests.len() as u64;
        let algorithm = self.config.digest();
        let backend = &self.backend;
        let mut hasher = Hasher::new(HashAlgorithm::Sha256);
        let mut report = ReadReport {
            bytes: 0,
            chunks: 0,
            requests: n_requests,
        };
        // Bytes of the range still to skip at the front and to write.
        let (mut skip, mut want) = match window {
            Some((a, b)) => (a, b - a),
            None => (0, u64::MAX),
        };
        self.block_on(async {
            let mut fetched = futures::stream::iter(requests)
                .map(|r| async move {
                    let path = r.loc.pack.path();
                    let data = backend
                        .get_range(&path, r.loc.offset..r.end)
                        .await?
                        .ok_or_else(|| StoreError::MissingPack {
                            digest: r.chunks[0].0,
                            pack: path.clone(),
                        })?;
                    tokio::task::spawn_blocking(move || decode(algorithm, &r, data, form))
                        .await
                        .map_err(|e| StoreError::Runtime {
                            reason: format!("a decode task failed: {e}"),
                        })?
                })
                .buffered(READ_AHEAD);
            while let Some(pieces) = fetched.next().await {
                for piece in pieces? {
                    report.chunks += 1;
                    if whole {
                        hasher.update(&piece);
                    }
                    let len = piece.len() as u64;
                    if skip >= len {
                        skip -= len;
                        continue;
                    }
                    let part = &piece[skip as usize..(skip + want).min(len) as usize];
                    skip = 0;
                    want -= part.len() as u64;
                    out.write_all(part)
                        .map_err(|source| StoreError::Output { source })?;
                    report.bytes += part.len() as u64;
                }
            }
            Ok::<(), StoreError>(())
        })?;
        out.flush()
            .map_err(|source| StoreError::Output { source })?;
        if whole {
            let actual = hasher.finalize();
            match form {
                Form::Nar if actual != m.nar_hash => {
                    return Err(StoreError::NarHashMismatch { key, actual })
                }
                Form::Frames if actual != m.file_hash => {
                    return Err(StoreError::FileHashMismatch {
                        key,
                        expected: m.file_hash,
                        actual,
                    })
                }
                _ => {}
            }
        }
        Ok(report)
    }
}

/// Group chunks into range requests: consecutive chunks stored back to back in one pack
/// share a request, up to [`MAX_REQUEST`] bytes.
fn plan(located: Vec<(Digest, Location)>) -> Vec<Request> {
    let mut out: Vec<Request> = Vec::new();
    for (d, loc) in located {
        let end = loc.offset + u64::from(loc.clen);
        if let Some(r) = out.last_mut() {
            if r.loc.pack == loc.pack && r.end == loc.offset && end - r.loc.offset <= MAX_REQUEST {
                r.end = end;
                r.chunks.push((d, loc));
                continue;
            }
        }
        out.push(Request {
            loc,
            end,
            chunks: vec![(d, loc)],
        });
    }
    out
}

/// Decompress and verify every chunk of a fetched range; the chunks (or their frames).
fn decode(algorithm: HashAlgorithm, r: &Request, data: Bytes, form: Form) -> Result<Vec<Bytes>> {
    let mut out = Vec::with_capacity(r.chunks.len());
    for (digest, loc) in &r.chunks {
        let start = (loc.offset - r.loc.offset) as usize;
        let frame = data.slice(start..start + loc.clen as usize);
        let corrupt = |reason| StoreError::CorruptChunk {
            digest: *digest,
            pack: loc.pack.path(),
            offset: loc.offset,
            reason,
        };
        let mut chunk = Vec::with_capacity(loc.len as usize);
        Decompressor::new()
            .codec(Codec::Zstd)
            .max_output(loc.len as usize)
            .decompress_into(&frame, &mut chunk)
            .map_err(|_| corrupt("its frame does not decompress within its length"))?;
        if chunk.len() != loc.len as usize {
            return Err(corrupt("it decompresses to the wrong length"));
        }
        if chunker::hash(algorithm, &chunk) != *digest {
            return Err(corrupt("digest mismatch"));
        }
        out.push(match form {
            Form::Nar => Bytes::from(chunk),
            Form::Frames => frame,
        });
    }
    Ok(out)
}

/// The key's nix32 form (re-exported for callers that name manifests).
pub fn manifest_path(key: &str) -> Result<String> {
    Ok(format!("manifests/{}", parse_key(key)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::PackId;

    fn request(frames: &[(&[u8], Digest, u32)]) -> (Request, Bytes) {
        let mut data = Vec::new();
        let mut chunks = Vec::new();
        for (frame, digest, len) in frames {
            let loc = Location {
                pack: PackId([1; 32]),
                offset: data.len() as u64,
                clen: frame.len() as u32,
                len: *len,
            };
            data.extend_from_slice(frame);
            chunks.push((*digest, loc));
        }
        let r = Request {
            loc: chunks[0].1,
            end: data.len() as u64,
            chunks,
        };
        (r, Bytes::from(data))
    }

    #[test]
    fn decode_checks_digest_and_length() {
        let zstd = chunker::compress::Compressor::new(Codec::Zstd).checksum(false);
        let (a, b) = (vec![1u8; 1000], vec![2u8; 1000]);
        let (fa, fb) = (zstd.compress(&a).unwrap(), zstd.compress(&b).unwrap());
        let da = chunker::hash(HashAlgorithm::Sha256, &a);
        let db = chunker::hash(HashAlgorithm::Sha256, &b);
        let (r, data) = request(&[(&fa, da, 1000), (&fb, db, 1000)]);
        let out = decode(HashAlgorithm::Sha256, &r, data, Form::Nar).unwrap();
        assert_eq!((&out[0][..], &out[1][..]), (&a[..], &b[..]));
        // A valid frame of other bytes: the digest check names the chunk.
        let (r, data) = request(&[(&fa, da, 1000), (&fa, db, 1000)]);
        match decode(HashAlgorithm::Sha256, &r, data, Form::Frames) {
            Err(StoreError::CorruptChunk {
                digest,
                reason,
                offset,
                ..
            }) => {
                assert_eq!(
                    (digest, reason, offset),
                    (db, "digest mismatch", fa.len() as u64)
                );
            }
            r => panic!("expected a digest mismatch, got {r:?}"),
        }
        // A frame longer than its recorded length stops at the limit.
        let (r, data) = request(&[(&fa, da, 999)]);
        assert!(matches!(
            decode(HashAlgorithm::Sha256, &r, data, Form::Nar),
            Err(StoreError::CorruptChunk { .. })
        ));
    }
}
