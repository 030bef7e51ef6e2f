//! Locks with expiry under `locks/`: ingests hold shared leases, a GC an exclusive one.
//!
//! A lock is an object `locks/<kind>-<id>` holding a short text record (kind, owner
//! `host:pid`, creation and expiry in Unix seconds). A holder refreshes it (a thread
//! re-writes it every third of its time to live) and deletes it when done. A lock is
//! *stale* once past its expiry, or when its owner is a process on this host that no
//! longer runs (a `kill -9`); a GC deletes stale locks ("breaks" them).
//!
//! The protocol needs no create-only writes, only that a LIST sees objects written
//! before it (read-after-write, as S3 and a local directory give):
//! - an ingest first writes its lease, then lists `locks/`: while a live GC lock is
//!   there it waits; then it re-reads the index if a segment it does not know appeared
//!   (a GC that deleted packs wrote one), and only then looks chunks up;
//! - a GC first writes its lock, then lists `locks/`: if any live ingest lease is
//!   there it deletes nothing in this run (it may still condemn and repack).
//!
//! Either the GC's listing sees the ingest's lease, or the ingest's listing sees the GC's
//! lock; so no GC deletes a pack while an ingest may dedup against it or commit a
//! manifest naming it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::backend::Backend;
use crate::error::{Result, StoreError};
use crate::store::Store;

/// Time to live of an ingest lease (refreshed while the ingest runs).
pub const INGEST_TTL: Duration = Duration::from_secs(30 * 60);
/// Time to live of a GC lock (refreshed while the GC runs).
pub const GC_TTL: Duration = Duration::from_secs(30 * 60);
/// How long an ingest waits for a running GC before it gives up with
/// [`StoreError::Locked`].
pub const INGEST_WAIT: Duration = Duration::from_secs(30 * 60);
/// Most bytes of a lock record that are read.
const MAX_RECORD: usize = 4096;
const HEADER: &str = "chunker-store lock 1";

/// What a lock is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockKind {
    /// An ingest in progress (shared).
    Ingest,
    /// A GC run (exclusive).
    Gc,
}

impl LockKind {
    fn name(self) -> &'static str {
        match self {
            LockKind::Ingest => "ingest",
            LockKind::Gc => "gc",
        }
    }
}

/// A lock found under `locks/`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockInfo {
    /// Its object path.
    pub path: String,
    /// Its kind (`None`: the record does not parse; such a lock counts as live until
    /// its object is older than the longest time to live).
    pub kind: Option<LockKind>,
    /// `host:pid` of the holder.
    pub owner: String,
    /// Expiry, Unix seconds.
    pub expires: u64,
    /// Whether it is stale (expired, or its process on this host is gone).
    pub stale: bool,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn hostname() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .map(|s| s.trim().to_string())
            .ok()
            .filter(|s| !s.is_empty() && !s.contains([':', '\n']))
            .unwrap_or_else(|| "unknown-host".to_string())
    })
}

/// Whether `owner` (`host:pid`) is a process on this host known to have ended.
fn owner_gone(owner: &str) -> bool {
    let Some((host, pid)) = owner.rsplit_once(':') else {
        return false;
    };
    if host != hostname() || !std::path::Path::new("/proc/self").exists() {
        return false;
    }
    match pid.parse::<u32>() {
        Ok(pid) => !std::path::Path::new("/proc").join(pid.to_string()).exists(),
        Err(_) => false,
    }
}

/// A fresh id: 16 hex digits from the time, the process and a counter, hashed.
pub(crate) fn fresh_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!(
        "{nanos}:{}:{}:{}",
        hostname(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let d = chunker::hash(chunker::HashAlgorithm::Sha256, seed.as_bytes());
    crate::pack::hex(&d.as_bytes()[..8])
}

/// A segment id no segment has: an ingest lists one among the segments its segment
/// supersedes, so that its segment's name (the hash of its bytes) is its own. Without
/// it, re-ingesting a NAR after a GC deleted its packs writes byte-identical packs and
/// a byte-identical segment, whose name the GC's merged segment lists as superseded:
/// the new segment would be ignored and the manifest's chunks not found.
pub(crate) fn nonce_id() -> crate::index::SegmentId {
    let seed = format!("nonce:{}", fresh_id());
    crate::index::SegmentId(
        *chunker::hash(chunker::HashAlgorithm::Sha256, seed.as_bytes()).as_bytes(),
    )
}

fn record(kind: LockKind, owner: &str, ttl: Duration) -> Bytes {
    let now = unix_now();
    Bytes::from(format!(
        "{HEADER}\nkind: {}\nowner: {owner}\ncreated: {now}\nexpires: {}\n",
        kind.name(),
        now + ttl.as_secs().max(1)
    ))
}

/// Parse a lock record (bounded: only the first [`MAX_RECORD`] bytes are looked at).
fn parse(path: &str, data: &[u8], age: Duration) -> LockInfo {
    let text = String::from_utf8_lossy(&data[..data.len().min(MAX_RECORD)]);
    let mut lines = text.lines();
    let mut info = LockInfo {
        path: path.to_string(),
        kind: None,
        owner: String::new(),
        expires: 0,
        stale: false,
    };
    let mut ok = lines.next() == Some(HEADER);
    for line in lines {
        match line.split_once(": ") {
            Some(("kind", "ingest")) => info.kind = Some(LockKind::Ingest),
            Some(("kind", "gc")) => info.kind = Some(LockKind::Gc),
            Some(("owner", o)) => info.owner = o.to_string(),
            Some(("expires", e)) => match e.parse() {
                Ok(e) => info.expires = e,
                Err(_) => ok = false,
            },
            _ => {}
        }
    }
    if !ok || info.kind.is_none() || info.expires == 0 {
        // Unreadable: stale only once older than any lock could live unrefreshed.
        info.kind = None;
        info.stale = age > INGEST_TTL.max(GC_TTL) * 2;
        return info;
    }
    info.stale = info.expires < unix_now() || owner_gone(&info.owner);
    info
}

/// Every lock under `locks/`, read concurrently (a lock deleted since the listing is
/// left out).
pub async fn list_locks(backend: &Backend) -> Result<Vec<LockInfo>> {
    use futures::StreamExt;
    let objects = backend.list("locks").await?;
    let now = SystemTime::now();
    futures::stream::iter(objects)
        .map(|o| async move {
            let age = now.duration_since(o.last_modified).unwrap_or_default();
            Ok(backend.get(&o.path).await?.map(|b| parse(&o.path, &b, age)))
        })
        .buffered(crate::store::FETCH_CONCURRENCY)
        .collect::<Vec<Result<Option<LockInfo>>>>()
        .await
        .into_iter()
        .filter_map(|r| r.transpose())
        .collect()
}

/// A held lock: refreshed by a thread until released (or dropped, which releases it
/// as well as it can).
#[derive(Debug)]
pub struct Lease {
    path: String,
    backend: Backend,
    handle: tokio::runtime::Handle,
    stop: Option<mpsc::Sender<()>>,
    refresher: Option<std::thread::JoinHandle<()>>,
}

impl Lease {
    async fn write(backend: &Backend, kind: LockKind, ttl: Duration) -> Result<String> {
        let path = format!("locks/{}-{}", kind.name(), fresh_id());
        let owner = format!("{}:{}", hostname(), std::process::id());
        backend.put(&path, record(kind, &owner, ttl), false).await?;
        Ok(path)
    }

    fn start(store: &Store, path: String, kind: LockKind, ttl: Duration) -> Lease {
        let (stop, rx) = mpsc::channel::<()>();
        let backend = store.backend.clone();
        let handle = store.rt.handle().clone();
        let (b2, h2, p2) = (backend.clone(), handle.clone(), path.clone());
        let owner = format!("{}:{}", hostname(), std::process::id());
        let refresher = std::thread::Builder::new()
            .name("chunker-store-lock".into())
            .spawn(move || {
                let every = (ttl / 3).max(Duration::from_secs(1));
                while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                    let _ = h2.block_on(b2.put(&p2, record(kind, &owner, ttl), false));
                }
            })
            .ok();
        Lease {
            path,
            backend,
            handle,
            stop: Some(stop),
            refresher,
        }
    }

    /// The lock's object path.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn stop_refresh(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
    }

    /// Stop refreshing and delete the lock.
    pub fn release(mut self) -> Result<()> {
        self.stop_refresh();
        let r = self.handle.block_on(self.backend.delete(&self.path));
        self.path.clear();
        r
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop_refresh();
        if !self.path.is_empty() && tokio::runtime::Handle::try_current().is_err() {
            let _ = self.handle.block_on(self.backend.delete(&self.path));
        }
    }
}

/// A test hook run by an ingest after its packs and index segment are written and
/// before its manifest (a `&'static` closure, so that tests can pause an ingest there).
pub type Hook = &'static (dyn Fn() + Sync);

fn hooks() -> &'static Mutex<HashMap<String, Hook>> {
    static HOOKS: OnceLock<Mutex<HashMap<String, Hook>>> = OnceLock::new();
    HOOKS.get_or_init(Mutex::default)
}

/// Test hook: run `hook` in every ingest into the store at `url` (as opened) between
/// its last pack or segment write and its manifest write; `None` removes it.
#[doc(hidden)]
pub fn set_before_manifest_hook(url: &str, hook: Option<Hook>) {
    let mut h = hooks().lock().unwrap_or_else(|e| e.into_inner());
    match hook {
        Some(f) => h.insert(url.to_string(), f),
        None => h.remove(url),
    };
}

impl Store {
    /// Take an ingest lease (see the module docs): write it, wait while a live GC lock
    /// is there, then re-read the index if a segment this handle does not know has
    /// appeared. Called by every ingest before it looks chunks up.
    pub(crate) fn ingest_lease(&self) -> Result<Lease> {
        let path = self.block_on(Lease::write(&self.backend, LockKind::Ingest, INGEST_TTL))?;
        let lease = Lease::start(self, path, LockKind::Ingest, INGEST_TTL);
        let started = std::time::Instant::now();
        loop {
            let locks = self.block_on(list_locks(&self.backend))?;
            let gc = locks
                .iter()
                .find(|l| l.kind != Some(LockKind::Ingest) && !l.stale);
            match gc {
                None => break,
                Some(l) if started.elapsed() > INGEST_WAIT => {
                    return Err(StoreError::Locked {
                        lock: l.path.clone(),
                        owner: l.owner.clone(),
                    })
                }
                Some(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
        // A GC that deleted packs wrote a new index segment first: re-read the index
        // when one this handle does not know is there.
        let listed = self.block_on(self.backend.list("index"))?;
        let known = self.lock_index().segments().to_vec();
        let unknown = listed.iter().any(|o| {
            o.path
                .strip_prefix("index/")
                .and_then(crate::index::SegmentId::from_hex)
                .is_some_and(|id| !known.contains(&id))
        });
        if unknown {
            self.reload_index()?;
        }
        Ok(lease)
    }

    /// Run the before-manifest test hook of this store's URL, if one is set.
    pub(crate) fn before_manifest_hook(&self) {
        let hook = hooks()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(self.backend.url())
            .copied();
        if let Some(h) = hook {
            h();
        }
    }

    /// Take the exclusive GC lock: write it, then list `locks/`. Another live GC lock
    /// is [`StoreError::Locked`] (this one is removed again). Returns the lease and the
    /// live ingest leases seen (a GC deletes nothing while there are any); stale locks
    /// are returned separately for the caller to break.
    pub(crate) fn gc_lock(&self) -> Result<(Lease, Vec<LockInfo>, Vec<LockInfo>)> {
        let path = self.block_on(Lease::write(&self.backend, LockKind::Gc, GC_TTL))?;
        let lease = Lease::start(self, path.clone(), LockKind::Gc, GC_TTL);
        let locks = self.block_on(list_locks(&self.backend))?;
        let (stale, live): (Vec<_>, Vec<_>) = locks
            .into_iter()
            .filter(|l| l.path != path)
            .partition(|l| l.stale);
        if let Some(other) = live.iter().find(|l| l.kind != Some(LockKind::Ingest)) {
            let err = StoreError::Locked {
                lock: other.path.clone(),
                owner: other.owner.clone(),
            };
            lease.release()?;
            return Err(err);
        }
        Ok((lease, live, stale))
    }

    /// Every lock in the store.
    pub fn locks(&self) -> Result<Vec<LockInfo>> {
        self.block_on(list_locks(&self.backend))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse_and_go_stale() {
        let r = record(LockKind::Gc, "h:1", Duration::from_secs(60));
        let l = parse("locks/gc-x", &r, Duration::ZERO);
        assert_eq!(l.kind, Some(LockKind::Gc));
        assert_eq!(l.owner, "h:1");
        assert!(!l.stale);
        // Expired.
        let old = format!("{HEADER}\nkind: ingest\nowner: h:1\nexpires: 5\n");
        assert!(parse("p", old.as_bytes(), Duration::ZERO).stale);
        // This host, a process that is gone (pid numbers are below 2^22 on Linux).
        let gone = record(
            LockKind::Ingest,
            &format!("{}:4294967295", hostname()),
            Duration::from_secs(600),
        );
        assert_eq!(
            parse("p", &gone, Duration::ZERO).stale,
            std::path::Path::new("/proc/self").exists()
        );
        // This very process: live.
        let me = record(
            LockKind::Ingest,
            &format!("{}:{}", hostname(), std::process::id()),
            Duration::from_secs(600),
        );
        assert!(!parse("p", &me, Duration::ZERO).stale);
        // Garbage: live until very old.
        let l = parse("p", b"\xff\xfe garbage", Duration::from_secs(1));
        assert_eq!(l.kind, None);
        assert!(!l.stale);
        assert!(parse("p", b"garbage", INGEST_TTL * 3).stale);
        // A huge record is only looked at up to the cap.
        let mut big = r.to_vec();
        big.resize(1 << 20, b'x');
        assert_eq!(parse("p", &big, Duration::ZERO).kind, Some(LockKind::Gc));
    }

    #[test]
    fn ids_differ() {
        assert_ne!(fresh_id(), fresh_id());
        assert_eq!(fresh_id().len(), 16);
    }
}
