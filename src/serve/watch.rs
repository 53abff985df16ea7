//! Files the server re-reads when they change. A value is parsed once and shared (`Arc`) by
//! every request until one of its files has another size, mtime or inode (hapki writes by
//! rename, so every rewrite shows as a new inode). The files are stat'ed at most once per
//! `RECHECK` per value, not once per request: under load that is a few hundred stats a second
//! instead of one per request and file (an OCSP answer watches ten files), and a change is
//! still seen by every request that starts a millisecond after it. The cached value sits
//! behind a read-write lock, so concurrent requests do not queue for it.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// How long a value's stat is trusted: requests within this time of the last check take the
/// cached value without a system call.
pub const RECHECK: Duration = Duration::from_millis(1);

/// What a watched value is right now.
pub enum Load<T> {
    Ready(Arc<T>),
    /// A file is not there; the path is named in the sentence.
    Missing(String),
    /// A file is there but cannot be used; the sentence says why.
    Bad(String),
}

type Stamp = Vec<(u64, u64, i64, i64)>;
type Parse<T> = fn(&[Vec<u8>]) -> Result<T, String>;

/// Nanoseconds since the first call, on the monotonic clock: an `Instant` that fits an atomic.
pub fn mono_nanos() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let e = *EPOCH.get_or_init(Instant::now);
    u64::try_from(e.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A value parsed from one or more files, cached until one of them changes.
pub struct Watched<T> {
    paths: Vec<PathBuf>,
    parse: Parse<T>,
    cache: RwLock<Option<(Stamp, Arc<T>)>>,
    /// `mono_nanos()` + 1 of the last stat that found the cached value current; 0 for never.
    checked: AtomicU64,
    recheck: u64,
    /// The most read of each file: `store::CAP` unless `capped` says otherwise.
    cap: u64,
    /// Bumped after every new value and every failed load: what was derived from the value
    /// (a signed OCSP answer) is current while this number is unchanged (`version`).
    generation: AtomicU64,
}

impl<T> Watched<T> {
    pub fn new(paths: Vec<PathBuf>, parse: Parse<T>) -> Self {
        Self::with_recheck(paths, parse, RECHECK)
    }

    /// The same, trusting a stat for `recheck` (zero: every call stats the files).
    pub fn with_recheck(paths: Vec<PathBuf>, parse: Parse<T>, recheck: Duration) -> Self {
        Watched {
            paths,
            parse,
            cache: RwLock::new(None),
            checked: AtomicU64::new(0),
            recheck: u64::try_from(recheck.as_nanos()).unwrap_or(u64::MAX),
            cap: crate::store::CAP,
            generation: AtomicU64::new(0),
        }
    }

    /// The same, reading up to `cap` bytes of each file instead of the cap of a cert or key
    /// file: a CRL or an index grows with the CA's revocations (`crl::CRL_CAP`,
    /// `cadb::INDEX_CAP`).
    pub fn capped(mut self, cap: u64) -> Self {
        self.cap = cap;
        self
    }

    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// A number that changes whenever the value may have: it looks at the files as `get`
    /// does, then says which load is current. Read it *before* the value something is derived
    /// from: a change in between then leaves that derivation tagged with the older number, so
    /// it is seen as stale, never the other way round.
    pub fn version(&self) -> u64 {
        let _ = self.get();
        self.generation.load(Ordering::Acquire)
    }

    /// The current value: the cached one while no file changed, else read and parsed anew.
    /// (A poisoned lock only means a panic mid-update elsewhere; the value in it is whole.)
    pub fn get(&self) -> Load<T> {
        let checked = self.checked.load(Ordering::Acquire);
        let now = mono_nanos();
        if checked != 0 && now.saturating_sub(checked - 1) < self.recheck {
            if let Some(v) = self
                .cache
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map(|(_, v)| v.clone())
            {
                return Load::Ready(v);
            }
        }
        let mut stamp = Vec::with_capacity(self.paths.len());
        for p in &self.paths {
            match fs::metadata(p) {
                Ok(m) if !m.is_file() => {
                    return self.fail(Load::Bad(format!("{} is not a regular file", p.display())))
                }
                Ok(m) if m.len() > self.cap => {
                    return self.fail(Load::Bad(format!(
                        "{} is larger than {} MiB",
                        p.display(),
                        self.cap >> 20
                    )))
                }
                Ok(m) => stamp.push((m.ino(), m.len(), m.mtime(), m.mtime_nsec())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return self.fail(Load::Missing(format!("{} does not exist", p.display())))
                }
                Err(e) => return self.fail(Load::Bad(format!("cannot read {}: {e}", p.display()))),
            }
        }
        let unchanged = match self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            Some((s, v)) if *s == stamp => Some(v.clone()),
            _ => None,
        };
        if let Some(v) = unchanged {
            self.checked.store(now + 1, Ordering::Release);
            return Load::Ready(v);
        }
        let mut contents = Vec::with_capacity(self.paths.len());
        for p in &self.paths {
            match crate::store::read_io(p, self.cap) {
                Ok(b) => contents.push(b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return self.fail(Load::Missing(format!("{} does not exist", p.display())))
                }
                Err(e) => return self.fail(Load::Bad(format!("cannot read {}: {e}", p.display()))),
            }
        }
        match (self.parse)(&contents) {
            Ok(v) => {
                let v = Arc::new(v);
                *self.cache.write().unwrap_or_else(|p| p.into_inner()) = Some((stamp, v.clone()));
                self.generation.fetch_add(1, Ordering::AcqRel);
                self.checked.store(now + 1, Ordering::Release);
                Load::Ready(v)
            }
            Err(why) => self.fail(Load::Bad(why)),
        }
    }

    /// A file is gone or unusable: the next call looks again (a failure is not cached, so a
    /// fixed file shows at once).
    fn fail(&self, l: Load<T>) -> Load<T> {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.checked.store(0, Ordering::Release);
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(c: &[Vec<u8>]) -> Result<String, String> {
        String::from_utf8(c[0].clone()).map_err(|_| "not UTF-8".to_string())
    }

    #[test]
    fn rereads_a_replaced_file_and_names_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let w = Watched::with_recheck(vec![p.clone()], text, Duration::ZERO);
        assert!(matches!(w.get(), Load::Missing(s) if s.contains("does not exist")));
        fs::write(&p, "one").unwrap();
        assert!(matches!(w.get(), Load::Ready(v) if *v == "one"));
        let tmp = dir.path().join("t");
        fs::write(&tmp, "two").unwrap();
        fs::rename(&tmp, &p).unwrap();
        assert!(matches!(w.get(), Load::Ready(v) if *v == "two"));
        fs::write(&p, [0xff]).unwrap();
        assert!(matches!(w.get(), Load::Bad(s) if s == "not UTF-8"));
    }

    #[test]
    fn a_file_is_read_up_to_its_own_cap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let big = "x".repeat(usize::try_from(crate::store::CAP).unwrap() + 1);
        fs::write(&p, &big).unwrap();
        let w = Watched::with_recheck(vec![p.clone()], text, Duration::ZERO);
        assert!(matches!(w.get(), Load::Bad(s) if s.contains("larger than 4 MiB")));
        let w = w.capped(crate::crl::CRL_CAP);
        assert!(matches!(w.get(), Load::Ready(v) if v.len() == big.len()));
    }

    #[test]
    fn the_version_changes_with_the_files_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, "one").unwrap();
        let w = Watched::with_recheck(vec![p.clone()], text, Duration::ZERO);
        let v1 = w.version();
        assert_eq!(w.version(), v1, "nothing changed");
        let tmp = dir.path().join("t");
        fs::write(&tmp, "two").unwrap();
        fs::rename(&tmp, &p).unwrap();
        let v2 = w.version();
        assert_ne!(v2, v1);
        assert!(matches!(w.get(), Load::Ready(v) if *v == "two"));
        assert_eq!(w.version(), v2);
        // A missing file is a new version on every look, so nothing derived while it is
        // missing counts as current.
        fs::remove_file(&p).unwrap();
        let v3 = w.version();
        assert_ne!(v3, v2);
        assert_ne!(w.version(), v3);
    }

    #[test]
    fn a_stat_is_trusted_for_the_recheck_time_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, "one").unwrap();
        let w = Watched::with_recheck(vec![p.clone()], text, Duration::from_secs(3600));
        let first = match w.get() {
            Load::Ready(v) => v,
            _ => panic!("not loaded"),
        };
        let tmp = dir.path().join("t");
        fs::write(&tmp, "two").unwrap();
        fs::rename(&tmp, &p).unwrap();
        // Within the recheck time: the same shared value, no stat, no copy.
        assert!(matches!(w.get(), Load::Ready(v) if Arc::ptr_eq(&v, &first)));
        // With the default (1 ms), the change shows to the next call after it.
        let w = Watched::new(vec![p.clone()], text);
        assert!(matches!(w.get(), Load::Ready(v) if *v == "two"));
        fs::write(&tmp, "three").unwrap();
        fs::rename(&tmp, &p).unwrap();
        std::thread::sleep(RECHECK * 2);
        assert!(matches!(w.get(), Load::Ready(v) if *v == "three"));
    }
}
