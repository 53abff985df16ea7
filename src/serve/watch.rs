//! Files the server re-reads when they change: each request stats the files behind a value
//! (a stat is far cheaper than a TLS record) and parses them again only when one of them has
//! another size, mtime or inode. hapki writes by rename, so every rewrite shows as a new inode.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What the server reads at most from one file (certificates, keys, JWKS, CRLs, indexes).
pub const MAX_FILE: u64 = 16 * 1024 * 1024;

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

/// A value parsed from one or more files, cached until one of them changes.
pub struct Watched<T> {
    paths: Vec<PathBuf>,
    parse: Parse<T>,
    cache: Mutex<Option<(Stamp, Arc<T>)>>,
}

impl<T> Watched<T> {
    pub fn new(paths: Vec<PathBuf>, parse: Parse<T>) -> Self {
        Watched {
            paths,
            parse,
            cache: Mutex::new(None),
        }
    }

    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// The current value: the cached one while no file changed, else read and parsed anew.
    pub fn get(&self) -> Load<T> {
        let mut stamp = Vec::with_capacity(self.paths.len());
        for p in &self.paths {
            match fs::metadata(p) {
                Ok(m) if !m.is_file() => {
                    return Load::Bad(format!("{} is not a regular file", p.display()))
                }
                Ok(m) if m.len() > MAX_FILE => {
                    return Load::Bad(format!(
                        "{} is larger than {} MiB",
                        p.display(),
                        MAX_FILE >> 20
                    ))
                }
                Ok(m) => stamp.push((m.ino(), m.len(), m.mtime(), m.mtime_nsec())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Load::Missing(format!("{} does not exist", p.display()))
                }
                Err(e) => return Load::Bad(format!("cannot read {}: {e}", p.display())),
            }
        }
        // A poisoned lock only means another request panicked mid-update; the cache is then
        // simply rebuilt.
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((s, v)) = cache.as_ref() {
            if *s == stamp {
                return Load::Ready(v.clone());
            }
        }
        let mut contents = Vec::with_capacity(self.paths.len());
        for p in &self.paths {
            match crate::store::read_io(p, crate::store::CAP) {
                Ok(b) => contents.push(b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Load::Missing(format!("{} does not exist", p.display()))
                }
                Err(e) => return Load::Bad(format!("cannot read {}: {e}", p.display())),
            }
        }
        match (self.parse)(&contents) {
            Ok(v) => {
                let v = Arc::new(v);
                *cache = Some((stamp, v.clone()));
                Load::Ready(v)
            }
            Err(why) => Load::Bad(why),
        }
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
        let w = Watched::new(vec![p.clone()], text);
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
}
