//! What a node persists, behind a small trait: one step's persist batch is applied whole, in
//! one call, before any later send leaves (the batch rule, docs/design.md).

use leaseproof_impl::{Disk, PersistOp};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store refused the write (as a full disk does): nothing of the batch is kept.
    #[error("the store is full: a batch of {0} write(s) was not kept")]
    Full(usize),
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
