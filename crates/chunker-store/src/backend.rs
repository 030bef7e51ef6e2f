//! Backends: one [`ObjectStore`] (local directory or S3-compatible) under a prefix, with
//! a request meter. Every request the store makes goes through [`Backend`].

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::error::{Result, StoreError};

/// Requests made (and bytes moved) through a [`Backend`], counted by the store itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Requests {
    /// PUT requests.
    pub puts: u64,
    /// Bytes PUT.
    pub put_bytes: u64,
    /// Whole-object GET requests.
    pub gets: u64,
    /// Range GET requests.
    pub range_gets: u64,
    /// Bytes received by GETs of both kinds.
    pub get_bytes: u64,
    /// HEAD requests.
    pub heads: u64,
    /// LIST requests (one per listing; the backend may page it).
    pub lists: u64,
    /// DELETE requests.
    pub deletes: u64,
}

impl Requests {
    /// Requests made between `earlier` and `self`.
    pub fn since(&self, earlier: &Requests) -> Requests {
        Requests {
            puts: self.puts - earlier.puts,
            put_bytes: self.put_bytes - earlier.put_bytes,
            gets: self.gets - earlier.gets,
            range_gets: self.range_gets - earlier.range_gets,
            get_bytes: self.get_bytes - earlier.get_bytes,
            heads: self.heads - earlier.heads,
            lists: self.lists - earlier.lists,
            deletes: self.deletes - earlier.deletes,
        }
    }

    /// All requests of every kind.
    pub fn total(&self) -> u64 {
        self.puts + self.gets + self.range_gets + self.heads + self.lists + self.deletes
    }
}

#[derive(Debug, Default)]
struct Meter {
    puts: AtomicU64,
    put_bytes: AtomicU64,
    gets: AtomicU64,
    range_gets: AtomicU64,
    get_bytes: AtomicU64,
    heads: AtomicU64,
    lists: AtomicU64,
    deletes: AtomicU64,
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// An object listed in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectInfo {
    /// Path relative to the store root, e.g. `packs/ab/ab12…`.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was last written (the backend's clock).
    pub last_modified: SystemTime,
}

/// What a create-if-absent PUT did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The object was written.
    Created,
    /// An object was already there (the backend honours create-only writes); it was
    /// left as it is.
    Existed,
}

/// A store location: the object store, the prefix under it, and the request meter.
#[derive(Debug, Clone)]
pub struct Backend {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    url: String,
    meter: Arc<Meter>,
    /// The directory of a local store.
    local: Option<std::path::PathBuf>,
}

impl Backend {
    /// Open a URL: a path or `file://PATH` (a local directory; created when `create`),
    /// or `s3://BUCKET[/PREFIX]` (endpoint, region and credentials from the `AWS_*`
    /// environment variables as `AmazonS3Builder::from_env` reads them; path-style
    /// requests).
    pub fn open(url: &str, create: bool) -> Result<Backend> {
        let bad = |reason| StoreError::Url {
            url: url.to_string(),
            reason,
        };
        let mut local_dir = None;
        let (store, prefix): (Arc<dyn ObjectStore>, Path) =
            if let Some(rest) = url.strip_prefix("s3://") {
                s3(url, rest)?
            } else if url.contains("://") && !url.starts_with("file://") {
                return Err(bad("expected a path, file://PATH or s3://BUCKET/PREFIX"));
            } else {
                let dir = url.strip_prefix("file://").unwrap_or(url);
                if dir.is_empty() {
                    return Err(bad("empty path"));
                }
                if create {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::Backend {
                        op: "create directory",
                        path: dir.to_string(),
                        source: object_store::Error::Generic {
                            store: "LocalFileSystem",
                            source: Box::new(source),
                        },
                    })?;
                }
                let local = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(
                    |source| StoreError::Backend {
                        op: "open directory",
                        path: dir.to_string(),
                        source,
                    },
                )?;
                local_dir = Some(std::path::PathBuf::from(dir));
                (Arc::new(local), Path::default())
            };
        Ok(Backend {
            store,
            prefix,
            url: url.to_string(),
            meter: Arc::default(),
            local: local_dir,
        })
    }

    /// In a local store, the files that writes left unfinished (a process killed
    /// between writing an object's staging file `NAME#N` and renaming it into place),
    /// last modified at least `age` ago: (path, bytes). Listing never shows them. Other
    /// backends have none (S3 objects appear whole or not at all).
    pub(crate) fn stale_staging(&self, age: std::time::Duration) -> Vec<(std::path::PathBuf, u64)> {
        let Some(root) = &self.local else {
            return Vec::new();
        };
        let now = SystemTime::now();
        let mut found = Vec::new();
        // The store's layout is at most `packs/ab/NAME` deep; a little slack beyond.
        let mut dirs = vec![(root.clone(), 0)];
        while let Some((dir, depth)) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let Ok(kind) = e.file_type() else { continue };
                if kind.is_dir() && depth < 4 {
                    dirs.push((e.path(), depth + 1));
                } else if kind.is_file() && is_staging_name(&e.file_name().to_string_lossy()) {
                    let Ok(meta) = e.metadata() else { continue };
                    let modified = meta.modified().unwrap_or(now);
                    if now.duration_since(modified).unwrap_or_default() >= age {
                        found.push((e.path(), meta.len()));
                    }
                }
            }
        }
        found.sort();
        found
    }

    /// The URL it was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Requests made so far.
    pub fn requests(&self) -> Requests {
        let m = &self.meter;
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Requests {
            puts: l(&m.puts),
            put_bytes: l(&m.put_bytes),
            gets: l(&m.gets),
            range_gets: l(&m.range_gets),
            get_bytes: l(&m.get_bytes),
            heads: l(&m.heads),
            lists: l(&m.lists),
            deletes: l(&m.deletes),
        }
    }

    fn full(&self, rel: &str) -> Path {
        let mut p = self.prefix.clone();
        for part in rel.split('/').filter(|s| !s.is_empty()) {
            p = p.join(part);
        }
        p
    }

    fn err(op: &'static str, rel: &str, source: object_store::Error) -> StoreError {
        StoreError::Backend {
            op,
            path: rel.to_string(),
            source,
        }
    }

    /// PUT `bytes` at `rel`. With `create_only`, ask the backend not to overwrite
    /// (`If-None-Match: *` on S3); callers never depend on it being honoured, since
    /// every object name is derived from its content.
    pub async fn put(&self, rel: &str, bytes: Bytes, create_only: bool) -> Result<Written> {
        let n = bytes.len() as u64;
        let mode = if create_only {
            PutMode::Create
        } else {
            PutMode::Overwrite
        };
        add(&self.meter.puts, 1);
        let r = self
            .store
            .put_opts(
                &self.full(rel),
                PutPayload::from(bytes),
                PutOptions {
                    mode,
                    ..Default::default()
                },
            )
            .await;
        match r {
            Ok(_) => {
                add(&self.meter.put_bytes, n);
                Ok(Written::Created)
            }
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Written::Existed),
            Err(e) => Err(Self::err("put", rel, e)),
        }
    }

    /// GET a whole object; `None` when it does not exist.
    pub async fn get(&self, rel: &str) -> Result<Option<Bytes>> {
        add(&self.meter.gets, 1);
        let r = match self.store.get(&self.full(rel)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(Self::err("get", rel, e)),
        };
        let b = r.bytes().await.map_err(|e| Self::err("get", rel, e))?;
        add(&self.meter.get_bytes, b.len() as u64);
        Ok(Some(b))
    }

    /// GET a byte range; `None` when the object does not exist.
    pub async fn get_range(&self, rel: &str, range: Range<u64>) -> Result<Option<Bytes>> {
        add(&self.meter.range_gets, 1);
        let want = range.end - range.start;
        match self.store.get_range(&self.full(rel), range).await {
            Ok(b) => {
                add(&self.meter.get_bytes, b.len() as u64);
                if b.len() as u64 != want {
                    return Err(Self::err(
                        "get range of",
                        rel,
                        object_store::Error::Generic {
                            store: "chunker-store",
                            source: "short range response".into(),
                        },
                    ));
                }
                Ok(Some(b))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(Self::err("get range of", rel, e)),
        }
    }

    /// HEAD: size and age; `None` when it does not exist.
    pub async fn head(&self, rel: &str) -> Result<Option<ObjectInfo>> {
        add(&self.meter.heads, 1);
        match self.store.head(&self.full(rel)).await {
            Ok(m) => Ok(Some(ObjectInfo {
                path: rel.to_string(),
                size: m.size,
                last_modified: m.last_modified.into(),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(Self::err("head", rel, e)),
        }
    }

    /// Every object under `rel` (a folder such as `packs`), paths relative to the store
    /// root, sorted.
    pub async fn list(&self, rel: &str) -> Result<Vec<ObjectInfo>> {
        add(&self.meter.lists, 1);
        let dir = self.full(rel);
        let metas: Vec<_> = self
            .store
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(|e| Self::err("list", rel, e))?;
        let mut out: Vec<ObjectInfo> = metas
            .into_iter()
            .filter_map(|m| {
                let parts: Vec<String> = m
                    .location
                    .prefix_match(&self.prefix)?
                    .map(|p| p.as_ref().to_string())
                    .collect();
                Some(ObjectInfo {
                    path: parts.join("/"),
                    size: m.size,
                    last_modified: m.last_modified.into(),
                })
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// DELETE (an absent object is not an error).
    pub async fn delete(&self, rel: &str) -> Result<()> {
        add(&self.meter.deletes, 1);
        match self.store.delete(&self.full(rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Self::err("delete", rel, e)),
        }
    }
}

#[cfg(feature = "s3")]
fn s3(url: &str, rest: &str) -> Result<(Arc<dyn ObjectStore>, Path)> {
    let bad = |reason| StoreError::Url {
        url: url.to_string(),
        reason,
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(bad("no bucket name"));
    }
    let s3 = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_virtual_hosted_style_request(false)
        .build()
        .map_err(|source| StoreError::Backend {
            op: "configure S3 for",
            path: url.to_string(),
            source,
        })?;
    let prefix = Path::parse(prefix.trim_end_matches('/'))
        .map_err(|_| bad("the prefix is not a valid object path"))?;
    Ok((Arc::new(s3), prefix))
}

#[cfg(not(feature = "s3"))]
fn s3(url: &str, _rest: &str) -> Result<(Arc<dyn ObjectStore>, Path)> {
    Err(StoreError::Url {
        url: url.to_string(),
        reason: "this build has no S3 support (cargo feature `s3`)",
    })
}

/// Whether `name` is a local staging file's: `NAME#DIGITS` (object_store's
/// `LocalFileSystem` writes each object so, then renames it).
fn is_staging_name(name: &str) -> bool {
    name.rsplit_once('#').is_some_and(|(base, n)| {
        !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::is_staging_name;

    #[test]
    fn staging_names() {
        for yes in ["ab12#1", "x#0042", "manifest#9"] {
            assert!(is_staging_name(yes), "{yes}");
        }
        for no in ["ab12", "#1", "x#", "x#1a", "x#-1", "a#b"] {
            assert!(!is_staging_name(no), "{no}");
        }
    }
}
