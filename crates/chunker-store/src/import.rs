//! Import a Nix binary cache (narinfo + NAR files, as `nix copy --to file://DIR`
//! writes them) from a directory or over HTTP, and export the store as one.
//!
//! Each NAR streams in (never held whole in memory) and is decompressed (xz, zstd, bzip2,
//! lz4 or none) while it is ingested; its NarHash and NarSize, and its FileHash and
//! FileSize when the narinfo has them, are checked at its end: a mismatch fails that
//! NAR's ingest before its manifest is written. A compressed NAR longer than its
//! FileSize (or, without one, than 1.5 × NarSize + 1 MiB), or a NAR longer than its
//! NarSize, fails as soon as the excess is read. Narinfos are read up to 1 MiB. The
//! narinfo text is kept as it was (signatures included) at `narinfo/<store-path-hash>`.
//!
//! Over HTTP the cache must let its narinfos be found: a WebDAV listing, or an HTML
//! directory index (as `python3 -m http.server` serves) whose links name them.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes};
use chunker::hash::{Digest, HashAlgorithm, Hasher};
use chunker::nix::narinfo::NarInfo;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::add::nar_reader;
use crate::backend::Requests;
use crate::error::{Result, StoreError};
use crate::store::Store;

/// Most bytes of a narinfo that are read.
pub(crate) const MAX_NARINFO: usize = 1 << 20;
/// Most bytes of an HTTP directory index page that are read.
const MAX_INDEX_PAGE: usize = 64 << 20;

/// One NAR imported.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Imported {
    /// The narinfo's name without `.narinfo` (the store path's hash part).
    pub name: String,
    /// The store path.
    pub store_path: String,
    /// The NAR's key in the store.
    pub key: String,
    /// NarSize.
    pub nar_size: u64,
    /// New unique bytes it added.
    pub new_bytes: u64,
    /// Whether the store had it already.
    pub existed: bool,
}

/// What an import did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ImportReport {
    /// NARs imported (or already there).
    pub imported: Vec<Imported>,
    /// NARs that failed: narinfo name and why. The others are imported regardless.
    pub failed: Vec<(String, StoreError)>,
    /// Requests made to the store.
    pub requests: Requests,
}

/// A cache to import from.
struct Source {
    store: Arc<dyn ObjectStore>,
    url: String,
    http: bool,
}

fn source_err(url: &str, op: &'static str, source: object_store::Error) -> StoreError {
    StoreError::Backend {
        op,
        path: url.to_string(),
        source,
    }
}

impl Source {
    fn open(url: &str) -> Result<Source> {
        if url.starts_with("http://") || url.starts_with("https://") {
            return Source::open_http(url);
        }
        let dir = url.strip_prefix("file://").unwrap_or(url);
        let local = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| source_err(url, "open cache", e))?;
        Ok(Source {
            store: Arc::new(local),
            url: url.to_string(),
            http: false,
        })
    }

    #[cfg(feature = "http")]
    fn open_http(url: &str) -> Result<Source> {
        let store = object_store::http::HttpBuilder::new()
            .with_url(url)
            .with_client_options(object_store::ClientOptions::new().with_allow_http(true))
            .build()
            .map_err(|e| source_err(url, "open cache", e))?;
        Ok(Source {
            store: Arc::new(store),
            url: url.to_string(),
            http: true,
        })
    }

    #[cfg(not(feature = "http"))]
    fn open_http(url: &str) -> Result<Source> {
        Err(StoreError::Url {
            url: url.to_string(),
            reason: "this build has no HTTP support (cargo feature `http`)",
        })
    }

    /// The object at `rel`, as it arrives.
    async fn stream(&self, rel: &str) -> Result<BoxStream<'static, object_store::Result<Bytes>>> {
        let path = ObjPath::parse(rel).map_err(|_| StoreError::Url {
            url: format!("{}/{rel}", self.url),
            reason: "not a valid path in the cache",
        })?;
        let r = self
            .store
            .get(&path)
            .await
            .map_err(|e| source_err(rel, "get", e))?;
        Ok(r.into_stream())
    }

    /// The object at `rel` whole, or `None` when it is longer than `limit` bytes (found
    /// out while reading it: what the server says of its length is not trusted).
    async fn get_limited(&self, rel: &str, limit: usize) -> Result<Option<Bytes>> {
        let mut stream = self.stream(rel).await?;
        let mut out = Vec::new();
        while let Some(piece) = stream.next().await {
            let piece = piece.map_err(|e| source_err(rel, "get", e))?;
            if out.len() + piece.len() > limit {
                return Ok(None);
            }
            out.extend_from_slice(&piece);
        }
        Ok(Some(Bytes::from(out)))
    }

    /// The narinfo names (without `.narinfo`), sorted.
    async fn narinfos(&self) -> Result<Vec<String>> {
        let listed = self.store.list_with_delimiter(None).await;
        let mut names: Vec<String> = match listed {
            Ok(l) => l
                .objects
                .iter()
                .filter_map(|o| o.location.filename()?.strip_suffix(".narinfo"))
                .map(str::to_string)
                .collect(),
            Err(e) if self.http => {
                // No WebDAV: read the directory index and take the links.
                let page = match self.get_limited("", MAX_INDEX_PAGE).await {
                    Ok(Some(page)) => page,
                    Ok(None) => {
                        return Err(StoreError::Url {
                            url: self.url.clone(),
                            reason: "the directory index page is larger than 64 MiB",
                        })
                    }
                    Err(_) => return Err(source_err(&self.url, "list", e)),
                };
                links(&String::from_utf8_lossy(&page))
            }
            Err(e) => return Err(source_err(&self.url, "list", e)),
        };
        names.sort();
        names.dedup();
        Ok(names)
    }
}

/// Narinfo names linked from an HTML page (`href="NAME.narinfo"`).
fn links(page: &str) -> Vec<String> {
    page.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.strip_suffix(".narinfo"))
        .map(|s| s.trim_start_matches("./").to_string())
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()))
        .collect()
}

/// Passes a NAR through, hashing it; at its end, a NarHash or NarSize other than the
/// narinfo's, or a FileHash or FileSize other than its compressed form's (`file`), is a
/// read error (so the ingest fails before its manifest). More bytes than NarSize are
/// an error at once.
struct Checked<R> {
    inner: R,
    hasher: Option<Hasher>,
    size: u64,
    want_hash: Digest,
    want_size: u64,
    /// The compressed NAR this one is decompressed from, checked after it.
    file: Option<Tap>,
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let Some(hasher) = self.hasher.take() else {
                return Ok(0);
            };
            let got = hasher.finalize();
            if got != self.want_hash || self.size != self.want_size {
                return Err(invalid(format!(
                    "the NAR does not match its narinfo: NarHash {got} (narinfo {}), NarSize {} (narinfo {})",
                    self.want_hash, self.size, self.want_size
                )));
            }
            if let Some(file) = &self.file {
                file.finish()?;
            }
            return Ok(0);
        }
        self.size += n as u64;
        if self.size > self.want_size {
            self.hasher = None;
            return Err(invalid(format!(
                "the NAR is longer than its narinfo's NarSize ({})",
                self.want_size
            )));
        }
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// A cache object read as it arrives, on the store's runtime (from a thread outside it).
struct ObjectReader {
    rt: tokio::runtime::Handle,
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    piece: Bytes,
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.piece.is_empty() {
            match self.rt.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(piece)) => self.piece = piece,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.piece.len());
        buf[..n].copy_from_slice(&self.piece[..n]);
        self.piece.advance(n);
        Ok(n)
    }
}

/// The compressed NAR as it streams in, shared by the decompressor that reads it and the
/// [`Checked`] reader that, at the NAR's end, drains what the decompressor left and
/// checks FileSize and FileHash.
#[derive(Clone)]
struct Tap(Arc<Mutex<TapState>>);

struct TapState {
    inner: Box<dyn Read + Send>,
    url: String,
    /// FileHash's hasher (when the narinfo has one).
    hasher: Option<Hasher>,
    size: u64,
    /// More bytes than this is an error at once.
    max: u64,
    want_hash: Option<Digest>,
    want_size: Option<u64>,
}

impl Tap {
    fn new(inner: Box<dyn Read + Send>, url: &str, info: &NarInfo) -> Tap {
        let max = info.file_size.unwrap_or_else(|| {
            info.nar_size
                .saturating_add(info.nar_size / 2)
                .saturating_add(1 << 20)
        });
        Tap(Arc::new(Mutex::new(TapState {
            inner,
            url: url.to_string(),
            hasher: info.file_hash.map(|h| Hasher::new(h.algorithm())),
            size: 0,
            max,
            want_hash: info.file_hash,
            want_size: info.file_size,
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TapState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Read the rest, then check FileSize and FileHash.
    fn finish(&self) -> std::io::Result<()> {
        let mut s = self.lock();
        let mut rest = [0u8; 16 << 10];
        while s.read(&mut rest)? > 0 {}
        if let Some(want) = s.want_size {
            if s.size != want {
                return Err(invalid(format!(
                    "{} is {} bytes, FileSize says {want}",
                    s.url, s.size
                )));
            }
        }
        if let (Some(want), Some(h)) = (s.want_hash, s.hasher.take()) {
            let got = h.finalize();
            if got != want {
                return Err(invalid(format!(
                    "{} has FileHash {got}, narinfo {want}",
                    s.url
                )));
            }
        }
        Ok(())
    }
}

impl Read for Tap {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.lock().read(buf)
    }
}

impl TapState {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.size += n as u64;
        if self.size > self.max {
            return Err(invalid(format!(
                "{} is longer than {} bytes (its FileSize, or 1.5 × NarSize + 1 MiB without one)",
                self.url, self.max
            )));
        }
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

impl Store {
    /// Import every narinfo and NAR of the binary cache at `source`: a directory,
    /// `file://DIR`, or `http(s)://…`. NARs that fail are listed in the report; the
    /// others are imported.
    pub fn import(&self, source: &str) -> Result<ImportReport> {
        let before = self.requests();
        let src = Source::open(source)?;
        let names = self.block_on(src.narinfos())?;
        let mut report = ImportReport::default();
        for name in names {
            match self.import_one(&src, &name) {
                Ok(i) => report.imported.push(i),
                Err(e) => report.failed.push((name, e)),
            }
        }
        report.requests = self.requests().since(&before);
        Ok(report)
    }

    fn import_one(&self, src: &Source, name: &str) -> Result<Imported> {
        let file = format!("{name}.narinfo");
        let bad = |reason: String| StoreError::Import {
            narinfo: file.clone(),
            reason,
        };
        let text = self
            .block_on(src.get_limited(&file, MAX_NARINFO))?
            .ok_or_else(|| bad("the narinfo is larger than 1 MiB".into()))?;
        let text = std::str::from_utf8(&text)
            .map_err(|_| bad("the narinfo is not UTF-8".into()))?
            .to_string();
        let info = NarInfo::parse(&text).map_err(|e| bad(e.to_string()))?;
        if info.nar_hash.algorithm() != HashAlgorithm::Sha256 {
            return Err(bad("NarHash is not SHA-256".into()));
        }
        let stream = self.block_on(src.stream(&info.url))?;
        let object = ObjectReader {
            rt: self.rt.handle().clone(),
            stream,
            piece: Bytes::new(),
        };
        let tap = Tap::new(Box::new(object), &info.url, &info);
        let reader = nar_reader(Box::new(tap.clone()))?;
        let checked = Checked {
            inner: reader,
            hasher: Some(Hasher::new(HashAlgorithm::Sha256)),
            size: 0,
            want_hash: info.nar_hash,
            want_size: info.nar_size,
            file: Some(tap),
        };
        let added = self.add_nar_reader(checked)?;
        if added.nar_hash != info.nar_hash {
            return Err(bad(format!(
                "NarHash {} read back, narinfo {}",
                added.nar_hash, info.nar_hash
            )));
        }
        self.block_on(self.backend.put(
            &format!("narinfo/{name}"),
            Bytes::from(text.into_bytes()),
            false,
        ))?;
        Ok(Imported {
            name: name.to_string(),
            store_path: info.store_path.clone(),
            key: added.key,
            nar_size: added.nar_size,
            new_bytes: added.new_bytes,
            existed: added.existed,
        })
    }

    /// Export every imported narinfo whose NAR is in the store as a binary cache in the
    /// directory `dir`: `nix-cache-info`, `<name>.narinfo` (the narinfo kept at import
    /// with URL, Compression, FileHash and FileSize rewritten; signatures stay valid,
    /// as they do not cover those) and `nar/<filehash>.nar.zst` (the stored frames).
    /// Returns the number of NARs written.
    pub fn export(&self, dir: &Path) -> Result<u64> {
        let out = |source| StoreError::Output { source };
        std::fs::create_dir_all(dir.join("nar")).map_err(out)?;
        let objects = self.block_on(self.backend.list("narinfo"))?;
        let mut store_dir = None;
        let mut n = 0;
        for o in objects {
            let Some(name) = o.path.strip_prefix("narinfo/") else {
                continue;
            };
            let Some(text) = self.block_on(self.backend.get(&o.path))? else {
                continue;
            };
            let file = format!("{name}.narinfo");
            let bad = |reason: String| StoreError::Import {
                narinfo: o.path.clone(),
                reason,
            };
            let text = String::from_utf8_lossy(&text[..text.len().min(MAX_NARINFO)]).into_owned();
            let mut info = NarInfo::parse(&text).map_err(|e| bad(e.to_string()))?;
            let key = info.nar_hash.to_nix32();
            let m = match self.manifest(&key) {
                Ok(m) => m,
                Err(StoreError::NotFound { .. }) => continue, // removed since: not exported
                Err(e) => return Err(e),
            };
            let nar_file = format!("nar/{}.nar.zst", m.file_hash.to_nix32());
            let tmp = dir.join(format!("{nar_file}.tmp"));
            let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(out)?);
            self.cat_zst(&key, &mut w)?;
            std::io::Write::flush(&mut w).map_err(out)?;
            drop(w);
            std::fs::rename(&tmp, dir.join(&nar_file)).map_err(out)?;
            info.url = nar_file;
            info.compression = "zstd".to_string();
            info.file_hash = Some(m.file_hash);
            info.file_size = Some(m.file_size);
            store_dir.get_or_insert_with(|| info.store_dir().to_string());
            std::fs::write(dir.join(file), info.to_string()).map_err(out)?;
            n += 1;
        }
        let info = format!(
            "StoreDir: {}\nWantMassQuery: 1\nPriority: 40\n",
            store_dir.as_deref().unwrap_or("/nix/store")
        );
        std::fs::write(dir.join("nix-cache-info"), info).map_err(out)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn links_from_an_index_page() {
        let page = r#"<li><a href="nar/">nar/</a></li>
<li><a href="abc123.narinfo">abc123.narinfo</a></li>
<li><a href="nix-cache-info">nix-cache-info</a></li>
<li><a href="./zz9.narinfo">x</a></li><a href="../evil/x.narinfo">"#;
        assert_eq!(links(page), vec!["abc123", "zz9"]);
    }

    #[test]
    fn checked_reader_refuses_a_wrong_nar() {
        let data = b"some nar bytes".to_vec();
        let good = chunker::hash(HashAlgorithm::Sha256, &data);
        let mut ok = Checked {
            inner: Cursor::new(data.clone()),
            hasher: Some(Hasher::new(HashAlgorithm::Sha256)),
            size: 0,
            want_hash: good,
            want_size: data.len() as u64,
            file: None,
        };
        let mut out = Vec::new();
        ok.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        let mut bad = Checked {
            inner: Cursor::new(b"other bytes!!!".to_vec()),
            hasher: Some(Hasher::new(HashAlgorithm::Sha256)),
            size: 0,
            want_hash: good,
            want_size: data.len() as u64,
            file: None,
        };
        let e = bad.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    }

    fn narinfo(nar_size: u64, file_size: Option<u64>) -> NarInfo {
        let mut text = format!(
            "StorePath: /nix/store/00000000000000000000000000000000-x\nURL: nar/x.nar\n\
             Compression: none\nNarHash: sha256:{}\nNarSize: {nar_size}\nReferences: \n",
            chunker::hash(HashAlgorithm::Sha256, b"").to_nix32()
        );
        if let Some(f) = file_size {
            text.push_str(&format!("FileSize: {f}\n"));
        }
        NarInfo::parse(&text).unwrap()
    }

    /// An endless or oversized stream stops at its bound, without reading (or holding)
    /// the rest.
    #[test]
    fn tap_stops_past_file_size_or_its_default_bound() {
        let endless = || Box::new(std::io::repeat(7)) as Box<dyn Read + Send>;
        let mut with_size = Tap::new(endless(), "nar/x.nar", &narinfo(100, Some(1000)));
        let e = std::io::copy(&mut with_size, &mut std::io::sink()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("longer than 1000 bytes"), "{e}");
        // No FileSize: 1.5 x NarSize + 1 MiB.
        let mut without = Tap::new(endless(), "nar/x.nar", &narinfo(1 << 20, None));
        let e = std::io::copy(&mut without, &mut std::io::sink()).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("longer than {} bytes", (3 << 19) + (1 << 20))),
            "{e}"
        );
    }

    #[test]
    fn checked_reader_stops_past_nar_size() {
        let mut c = Checked {
            inner: std::io::repeat(1),
            hasher: Some(Hasher::new(HashAlgorithm::Sha256)),
            size: 0,
            want_hash: chunker::hash(HashAlgorithm::Sha256, b""),
            want_size: 4096,
            file: None,
        };
        let e = std::io::copy(&mut c, &mut std::io::sink()).unwrap_err();
        assert!(
            e.to_string()
                .contains("longer than its narinfo's NarSize (4096)"),
            "{e}"
        );
    }

    /// FileSize and FileHash are checked at the end, after what the decompressor left
    /// unread is drained.
    #[test]
    fn tap_finish_drains_and_checks_file_hash() {
        let data = b"compressed bytes, say".to_vec();
        let mut info = narinfo(10, Some(data.len() as u64));
        info.file_hash = Some(chunker::hash(HashAlgorithm::Sha256, &data));
        let mut tap = Tap::new(Box::new(Cursor::new(data.clone())), "nar/x.nar", &info);
        let mut head = [0u8; 5];
        tap.read_exact(&mut head).unwrap();
        tap.finish().unwrap();
        info.file_hash = Some(chunker::hash(HashAlgorithm::Sha256, b"other"));
        let tap = Tap::new(Box::new(Cursor::new(data)), "nar/x.nar", &info);
        let e = tap.finish().unwrap_err();
        assert!(e.to_string().contains("FileHash"), "{e}");
    }
}
