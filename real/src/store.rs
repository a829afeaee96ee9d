//! What a node persists, behind a small trait: one step's persist batch is applied whole, in
//! one call, before any later send leaves (the batch rule, docs/design.md).
//!
//! - [`RedbStore`]: durable. redb (an embedded, ACID key-value store made for durability)
//!   commits each batch as one write transaction with `Durability::Immediate`, which its
//!   documentation states as "Commits with this durability level are guaranteed to be
//!   persistent as soon as `WriteTransaction::commit` returns" (checksummed commit slots,
//!   then `fsync`; after a crash the latest commit slot with a valid checksum is used:
//!   redb 2.6, `enum Durability`).
//! - [`MemStore`]: in memory, for tests; it can refuse writes as a full disk does.
//! - [`UnsyncedStore`]: a test layer that loses everything written since its last
//!   successful sync when the node restarts, as a store without `fsync` does at power loss.

use leaseproof_impl::{Disk, PersistOp};
use redb::{Database, Durability, TableDefinition};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store refused the write (as a full disk does): nothing of the batch is kept.
    #[error("the store is full: a batch of {0} write(s) was not kept")]
    Full(usize),
    /// The database file could not be opened, read or written.
    #[error("store {path}: {reason}")]
    Db { path: PathBuf, reason: String },
}

/// A node's durable state.
pub trait Store: Send + 'static {
    /// What survived so far (what `restore` gets).
    fn disk(&self) -> Disk;
    /// Applies one persist batch, whole or not at all.
    ///
    /// # Errors
    /// When the batch could not be kept; the node then stops before anything after it.
    fn apply(&mut self, batch: &[PersistOp]) -> Result<(), StoreError>;
}

/// A store in memory, for tests: it survives a node's restart within one process, not a
/// power loss. `full` makes every later write fail, as a full disk does.
#[derive(Clone, Debug, Default)]
pub struct MemStore {
    pub disk: Disk,
    pub full: bool,
}

impl Store for MemStore {
    fn disk(&self) -> Disk {
        self.disk.clone()
    }

    fn apply(&mut self, batch: &[PersistOp]) -> Result<(), StoreError> {
        if self.full {
            return Err(StoreError::Full(batch.len()));
        }
        for op in batch {
            self.disk.apply(*op);
        }
        Ok(())
    }
}

/// A store whose writes reach only a cache until [`UnsyncedStore::sync`]: a restarted node
/// sees what was last synced (nothing, if it never was).
#[derive(Clone, Debug, Default)]
pub struct UnsyncedStore {
    synced: Disk,
    cached: Disk,
}

impl UnsyncedStore {
    /// Makes everything written so far durable.
    pub fn sync(&mut self) {
        self.synced = self.cached.clone();
    }

    /// The power fails: the cache is gone.
    pub fn lose_cache(&mut self) {
        self.cached = self.synced.clone();
    }
}

impl Store for UnsyncedStore {
    fn disk(&self) -> Disk {
        self.cached.clone()
    }

    fn apply(&mut self, batch: &[PersistOp]) -> Result<(), StoreError> {
        for op in batch {
            self.cached.apply(*op);
        }
        Ok(())
    }
}

/// A test layer over a durable store that syncs only at random points: each batch is kept in
/// memory at once, and reaches the store underneath (with every batch before it) only when a
/// draw with probability `sync_ratio` says so. A process killed between two syncs loses the
/// tail, as a store that skips `fsync` does at power loss; kill -9 over a store that syncs
/// keeps the page cache and loses nothing, so it alone cannot show that syncing is right.
pub struct SkippingSync<S: Store> {
    inner: S,
    cached: Disk,
    pending: Vec<PersistOp>,
    sync_ratio: f64,
    rng: u64,
}

impl<S: Store> SkippingSync<S> {
    /// Wraps `inner`; `seed` drives the draws.
    #[must_use]
    pub fn new(inner: S, sync_ratio: f64, seed: u64) -> SkippingSync<S> {
        SkippingSync {
            cached: inner.disk(),
            inner,
            pending: Vec::new(),
            sync_ratio,
            rng: seed | 1,
        }
    }
}

impl<S: Store> Store for SkippingSync<S> {
    fn disk(&self) -> Disk {
        self.cached.clone()
    }

    fn apply(&mut self, batch: &[PersistOp]) -> Result<(), StoreError> {
        for op in batch {
            self.cached.apply(*op);
        }
        self.pending.extend_from_slice(batch);
        #[allow(clippy::cast_precision_loss)]
        let u = (leaseproof_impl::xorshift64star(&mut self.rng) >> 11) as f64 / (1u64 << 53) as f64;
        if u < self.sync_ratio {
            self.inner.apply(&self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }
}

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("disk");
const KEY: &str = "disk";

/// A durable store in one redb file (see the module docs for its guarantee). The node's
/// `Disk` is one value, rewritten whole by each batch's transaction: it is a few records.
pub struct RedbStore {
    path: PathBuf,
    db: Database,
    disk: Disk,
}

impl RedbStore {
    /// Opens (or creates) the store at `path` and reads what it kept.
    ///
    /// # Errors
    /// When the file cannot be opened or what it holds cannot be read.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        let err = |e: &dyn std::fmt::Display| StoreError::Db {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let db = Database::create(path).map_err(|e| err(&e))?;
        let read = db.begin_read().map_err(|e| err(&e))?;
        let disk = match read.open_table(TABLE) {
            Ok(table) => match table.get(KEY).map_err(|e| err(&e))? {
                Some(bytes) => bincode::deserialize(bytes.value()).map_err(|e| err(&e))?,
                None => Disk::default(),
            },
            Err(redb::TableError::TableDoesNotExist(_)) => Disk::default(),
            Err(e) => return Err(err(&e)),
        };
        drop(read);
        Ok(RedbStore {
            path: path.to_path_buf(),
            db,
            disk,
        })
    }
}

impl Store for RedbStore {
    fn disk(&self) -> Disk {
        self.disk.clone()
    }

    fn apply(&mut self, batch: &[PersistOp]) -> Result<(), StoreError> {
        let err = |e: &dyn std::fmt::Display| StoreError::Db {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        let mut next = self.disk.clone();
        for op in batch {
            next.apply(*op);
        }
        let bytes = bincode::serialize(&next).map_err(|e| err(&e))?;
        let mut tx = self.db.begin_write().map_err(|e| err(&e))?;
        tx.set_durability(Durability::Immediate);
        {
            let mut table = tx.open_table(TABLE).map_err(|e| err(&e))?;
            table.insert(KEY, bytes.as_slice()).map_err(|e| err(&e))?;
        }
        tx.commit().map_err(|e| err(&e))?;
        self.disk = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leaseproof_impl::{Key, Token};

    #[test]
    fn redb_keeps_each_batch_across_a_reopen() {
        let dir = std::env::temp_dir().join(format!("leaseproof-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("node.redb");
        let _ = std::fs::remove_file(&path);
        {
            let mut s = RedbStore::open(&path).unwrap();
            assert_eq!(s.disk(), Disk::default());
            s.apply(&[
                PersistOp::TokenCounter(7),
                PersistOp::Highest {
                    key: Key(0),
                    token: Token(7),
                },
            ])
            .unwrap();
        }
        let s = RedbStore::open(&path).unwrap();
        assert_eq!(s.disk().token_counter, 7);
        assert_eq!(s.disk().highest.get(&Key(0)), Some(&Token(7)));
        drop(s);
        std::fs::remove_dir_all(&dir).unwrap();
        // A file that is no database is refused, naming the path.
        let junk = std::env::temp_dir().join(format!("leaseproof-junk-{}", std::process::id()));
        std::fs::write(&junk, b"not a database").unwrap();
        let e = RedbStore::open(&junk).err().expect("refused").to_string();
        assert!(e.contains("leaseproof-junk"), "{e}");
        std::fs::remove_file(&junk).unwrap();
    }

    #[test]
    fn an_unsynced_store_loses_its_cache_and_a_full_one_refuses() {
        let mut u = UnsyncedStore::default();
        u.apply(&[PersistOp::TokenCounter(3)]).unwrap();
        u.sync();
        u.apply(&[PersistOp::TokenCounter(5)]).unwrap();
        assert_eq!(u.disk().token_counter, 5);
        u.lose_cache();
        assert_eq!(u.disk().token_counter, 3, "what was synced survives");
        let mut m = MemStore {
            full: true,
            ..MemStore::default()
        };
        assert!(m.apply(&[PersistOp::TokenCounter(1)]).is_err());
        assert_eq!(
            m.disk().token_counter,
            0,
            "nothing of a refused batch is kept"
        );
    }
}
