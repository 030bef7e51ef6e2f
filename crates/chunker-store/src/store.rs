//! [`Store`]: open or create a store, load its index, and the operations on it.

use std::future::Future;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use futures::StreamExt;

use crate::backend::{Backend, Requests};
use crate::config::StoreConfig;
use crate::error::{Result, StoreError};
use crate::index::{Index, IndexSegment, SegmentId};
use crate::manifest::Manifest;

/// Object path of the config.
pub const CONFIG_PATH: &str = "config";
/// Concurrent requests for listings and reads of many small objects.
pub(crate) const FETCH_CONCURRENCY: usize = 16;

/// A chunk store. Its methods are synchronous: the store owns a small tokio runtime
/// and blocks on it, so call them from ordinary threads, not from inside an async
/// runtime (that is refused with [`StoreError::Runtime`] when the store is opened).
///
/// ```
/// use chunker_store::{Store, StoreConfig};
///
/// let dir = std::env::temp_dir().join(format!("chunker-store-doc-{}", std::process::id()));
/// let url = dir.to_str().unwrap();
/// let store = Store::init(url, StoreConfig::default())?;
/// let nar = std::env::temp_dir().join(format!("chunker-store-doc-{}.txt", std::process::id()));
/// std::fs::write(&nar, b"hello")?;
/// let report = store.add_path(&nar)?; // a file packed into a NAR on the fly
/// let mut back = Vec::new();
/// store.cat(&report.key, &mut back)?;
/// assert_eq!(back.len() as u64, report.nar_size);
/// assert_eq!(chunker::hash(chunker::HashAlgorithm::Sha256, &back), report.nar_hash);
/// # std::fs::remove_dir_all(&dir)?; std::fs::remove_file(&nar)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Store {
    pub(crate) backend: Backend,
    pub(crate) config: StoreConfig,
    pub(crate) index: Mutex<Index>,
    pub(crate) rt: tokio::runtime::Runtime,
}

impl Store {
    /// Create a store at `url` pinned to `config`. An existing store with the same config
    /// is opened; one with another config is [`StoreError::AlreadyInitialized`].
    pub fn init(url: &str, config: StoreConfig) -> Result<Store> {
        let backend = Backend::open(url, true)?;
        let rt = runtime()?;
        let existing = rt.block_on(read_config(&backend))?;
        match existing {
            Some(c) if c == config => {}
            Some(_) => {
                return Err(StoreError::AlreadyInitialized {
                    url: url.to_string(),
                })
            }
            None => {
                rt.block_on(backend.put(CONFIG_PATH, Bytes::from(config.encode()), true))?;
                // Another init may have won the race: the store has what is there now.
                let now = rt.block_on(read_config(&backend))?;
                if now != Some(config) {
                    return Err(StoreError::AlreadyInitialized {
                        url: url.to_string(),
                    });
                }
            }
        }
        Self::finish_open(backend, config, rt)
    }

    /// Open the store at `url` with the config it was created with.
    pub fn open(url: &str) -> Result<Store> {
        let backend = Backend::open(url, false).map_err(|e| match e {
            StoreError::Backend { .. } => StoreError::NotInitialized {
                url: url.to_string(),
            },
            e => e,
        })?;
        let rt = runtime()?;
        let config =
            rt.block_on(read_config(&backend))?
                .ok_or_else(|| StoreError::NotInitialized {
                    url: url.to_string(),
                })?;
        Self::finish_open(backend, config, rt)
    }

    /// Open the store at `url`, refusing it ([`StoreError::ConfigMismatch`]) unless it
    /// was created with `config`.
    pub fn open_with(url: &str, config: StoreConfig) -> Result<Store> {
        let store = Self::open(url)?;
        if store.config != config {
            return Err(StoreError::ConfigMismatch {
                stored: Box::new(store.config),
                requested: Box::new(config),
            });
        }
        Ok(store)
    }

    fn finish_open(
        backend: Backend,
        config: StoreConfig,
        rt: tokio::runtime::Runtime,
    ) -> Result<Store> {
        let index = rt.block_on(load_index(&backend))?;
        Ok(Store {
            backend,
            config,
            index: Mutex::new(index),
            rt,
        })
    }

    /// The pinned config.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// The backend (for listing objects, the request meter, …).
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Requests made through this store so far.
    pub fn requests(&self) -> Requests {
        self.backend.requests()
    }

    /// Re-read every index segment (to see what other writers added since opening).
    pub fn reload_index(&self) -> Result<()> {
        let index = self.block_on(load_index(&self.backend))?;
        *self.lock_index() = index;
        Ok(())
    }

    /// A copy of the in-memory index.
    pub fn index(&self) -> Index {
        self.lock_index().clone()
    }

    pub(crate) fn lock_index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The manifest of `key` (see [`parse_key`]).
    pub fn manifest(&self, key: &str) -> Result<Manifest> {
        let key = parse_key(key)?;
        self.block_on(fetch_manifest(&self.backend, &key))
    }

    /// Keys (NarHash in nix32) of every NAR in the store, sorted.
    pub fn keys(&self) -> Result<Vec<String>> {
        let objects = self.block_on(self.backend.list("manifests"))?;
        Ok(objects
            .into_iter()
            .filter_map(|o| o.path.strip_prefix("manifests/").map(str::to_string))
            .filter(|k| parse_key(k).is_ok())
            .collect())
    }

    /// Every manifest, in key order.
    pub fn manifests(&self) -> Result<Vec<Manifest>> {
        let keys = self.keys()?;
        self.block_on(async {
            futures::stream::iter(keys)
                .map(|k| async move { fetch_manifest(&self.backend, &k).await })
                .buffered(FETCH_CONCURRENCY)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect()
        })
    }

    /// Delete a NAR's manifest (its chunks stay until a GC finds them unreferenced).
    /// A key not in the store is [`StoreError::NotFound`].
    pub fn remove(&self, key: &str) -> Result<()> {
        let key = parse_key(key)?;
        let path = format!("manifests/{key}");
        self.block_on(async {
            if self.backend.head(&path).await?.is_none() {
                return Err(StoreError::NotFound { key: key.clone() });
            }
            self.backend.delete(&path).await
        })
    }
}

/// A NAR's key from `sha256:<nix32>` or the 52 nix32 characters alone (a NarHash, as a
/// narinfo's `NarHash:` line has it); returns the nix32 part, which names the manifest.
pub fn parse_key(key: &str) -> Result<String> {
    let nix32 = key.strip_prefix("sha256:").unwrap_or(key);
    let bad = |reason| StoreError::BadKey {
        key: key.to_string(),
        reason,
    };
    if nix32.len() != 52 {
        return Err(bad("expected sha256:<52 nix32 characters>"));
    }
    let bytes = chunker::hash::nix32::decode(nix32).map_err(|_| bad("not Nix base32"))?;
    if bytes.len() != 32 {
        return Err(bad("not a SHA-256 digest"));
    }
    Ok(nix32.to_string())
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(StoreError::Runtime {
            reason: "the synchronous store API cannot be used inside an async runtime".into(),
        });
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.clamp(2, 8))
        .thread_name("chunker-store")
        .enable_all()
        .build()
        .map_err(|e| StoreError::Runtime {
            reason: e.to_string(),
        })
}

pub(crate) async fn read_config(backend: &Backend) -> Result<Option<StoreConfig>> {
    match backend.get(CONFIG_PATH).await? {
        None => Ok(None),
        Some(b) => StoreConfig::decode(&b)
            .map(Some)
            .map_err(|source| StoreError::Format {
                path: CONFIG_PATH.to_string(),
                source,
            }),
    }
}

pub(crate) async fn fetch_manifest(backend: &Backend, key: &str) -> Result<Manifest> {
    let path = format!("manifests/{key}");
    let bytes = backend
        .get(&path)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            key: key.to_string(),
        })?;
    let m = Manifest::decode(&bytes).map_err(|source| StoreError::Format {
        path: path.clone(),
        source,
    })?;
    if m.key() != key {
        return Err(StoreError::Format {
            path,
            source: crate::error::FormatError::Invalid {
                object: crate::error::ObjectKind::Manifest,
                reason: "its NarHash is not its name",
            },
        });
    }
    Ok(m)
}

/// Every index segment (id, parsed), read concurrently.
pub async fn load_segments(backend: &Backend) -> Result<Vec<(SegmentId, IndexSegment)>> {
    let objects = backend.list("index").await?;
    let ids: Vec<SegmentId> = objects
        .iter()
        .filter_map(|o| o.path.strip_prefix("index/").and_then(SegmentId::from_hex))
        .collect();
    futures::stream::iter(ids)
        .map(|id| async move {
            let path = id.path();
            // A segment deleted since the listing (superseded by a GC) is skipped.
            let Some(b) = backend.get(&path).await? else {
                return Ok(None);
            };
            let seg =
                IndexSegment::decode(&b).map_err(|source| StoreError::Format { path, source })?;
            Ok(Some((id, seg)))
        })
        .buffered(FETCH_CONCURRENCY)
        .collect::<Vec<Result<_>>>()
        .await
        .into_iter()
        .filter_map(|r| r.transpose())
        .collect()
}

pub(crate) async fn load_index(backend: &Backend) -> Result<Index> {
    Ok(Index::from_segments(load_segments(backend).await?))
}
