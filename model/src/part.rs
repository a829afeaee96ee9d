//! Copy-on-write parts of a model state.
//!
//! Most steps change one node (and the network), so a successor state shares every other
//! part with its parent: cloning a state bumps reference counts instead of copying every
//! node's maps, and dropping one frees only what it changed. Each part carries its hash,
//! computed once when the part is made or changed, so hashing a state (done once per
//! generated state, and kept in it for stateright's fingerprint) reads a few words per node
//! instead of walking its maps. Under symmetry each renaming of a part is computed once and
//! kept with it: a node that did not change between a state and its successor is not
//! renamed again.
//!
//! Equality and order stay those of the values (a hash only decides early): the order is
//! by hash first, then by value, a total order, so "least renaming" is still canonical.

use leaseproof_impl::Counter;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// How many renamings a part keeps (the non-identity permutations of three clients).
pub const RENAMINGS: usize = 5;

pub struct Part<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    value: T,
    hash: u64,
    renamed: [OnceLock<Part<T>>; RENAMINGS],
    /// The hash of the value with every client given one name (see [`Part::blind_hash`]).
    blind: OnceLock<u64>,
    /// A number derived from the value alone (see [`Part::derived`]).
    derived: OnceLock<u64>,
    /// The value's counters (see [`Part::counters`]).
    counters: OnceLock<Box<[(Counter, u64)]>>,
}

pub fn hash_of<T: Hash>(value: &T) -> u64 {
    hasher_seeds().hash_one(value)
}

/// A hasher for [`hash_of`]'s hash, to feed by hand.
pub(crate) fn hasher() -> impl Hasher {
    hasher_seeds().build_hasher()
}

fn hasher_seeds() -> ahash::RandomState {
    // aHash with fixed seeds (as stateright's own fingerprints): the same value hashes
    // alike in every run of a build.
    ahash::RandomState::with_seeds(0x6c65_6173_6570_726f, 0x6f66_7061_7274, 1, 2)
}

impl<T: Hash> Part<T> {
    pub fn new(value: T) -> Part<T> {
        Part::with_hash(hash_of(&value), value)
    }

    fn with_hash(hash: u64, value: T) -> Part<T> {
        Part {
            inner: Arc::new(Inner {
                hash,
                value,
                renamed: Default::default(),
                blind: OnceLock::new(),
                derived: OnceLock::new(),
                counters: OnceLock::new(),
            }),
        }
    }

    /// A part holding `value`: this one again if the value is unchanged (so a step that
    /// changed nothing keeps the part, and its kept renamings), else a new one.
    #[must_use]
    pub fn replaced(&self, value: T) -> Part<T>
    where
        T: PartialEq,
    {
        let hash = hash_of(&value);
        if hash == self.inner.hash && value == self.inner.value {
            self.clone()
        } else {
            Part::with_hash(hash, value)
        }
    }

    /// Changes the value (copying it first if another state shares it), then rehashes it.
    pub fn update<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> R
    where
        T: Clone,
    {
        if Arc::get_mut(&mut self.inner).is_none() {
            self.inner = Arc::new(Inner {
                value: self.inner.value.clone(),
                hash: 0,
                renamed: Default::default(),
                blind: OnceLock::new(),
                derived: OnceLock::new(),
                counters: OnceLock::new(),
            });
        }
        let inner = Arc::get_mut(&mut self.inner).expect("unshared after the copy");
        let r = f(&mut inner.value);
        inner.hash = hash_of(&inner.value);
        inner.renamed = Default::default();
        inner.blind = OnceLock::new();
        inner.derived = OnceLock::new();
        inner.counters = OnceLock::new();
        r
    }

    /// The hash of `blind(value)`, a copy of the value that no renaming of clients can
    /// change (every client given one name), computed the first time it is asked for.
    /// The caller passes the same `blind` every time.
    #[must_use]
    pub fn blind_hash(&self, blind: impl FnOnce(&T) -> T) -> u64 {
        *self
            .inner
            .blind
            .get_or_init(|| hash_of(&blind(&self.inner.value)))
    }

    /// `derive(value)`, computed the first time it is asked for (the model keeps when a
    /// part's oldest instant first needs clamping). The caller passes the same `derive`
    /// every time.
    #[must_use]
    pub fn derived(&self, derive: impl FnOnce(&T) -> u64) -> u64 {
        *self.inner.derived.get_or_init(|| derive(&self.inner.value))
    }

    /// Every counter of the value with its rank domain, listed by `list` the first time
    /// it is asked for. The caller passes the same `list` every time.
    pub fn counters(&self, list: impl FnOnce(&T) -> Box<[(Counter, u64)]>) -> &[(Counter, u64)] {
        self.inner.counters.get_or_init(|| list(&self.inner.value))
    }

    /// Keeps `derived` and `counters` as what [`Part::derived`] and [`Part::counters`]
    /// give, where the caller has them at hand (right after [`Part::update`], from the
    /// value it changed in place: no copy to compute them from). They must be what the
    /// functions those callers pass would compute; one already kept stays.
    pub fn note(&self, derived: u64, counters: Box<[(Counter, u64)]>) {
        let _ = self.inner.derived.set(derived);
        let _ = self.inner.counters.set(counters);
    }

    /// What [`Part::derived`] and [`Part::counters`] keep, if both are kept.
    #[must_use]
    pub fn notes(&self) -> Option<(u64, &[(Counter, u64)])> {
        Some((*self.inner.derived.get()?, self.inner.counters.get()?))
    }

    /// Renaming number `k` of this part, computed by `f` the first time it is asked for.
    /// The caller keeps `k` and `f` in one-to-one correspondence.
    #[must_use]
    pub fn renamed(&self, k: usize, f: impl FnOnce(&T) -> T) -> Part<T> {
        self.inner.renamed[k]
            .get_or_init(|| Part::new(f(&self.inner.value)))
            .clone()
    }
}

impl<T> Part<T> {
    /// The hash kept with the value.
    #[must_use]
    pub fn kept_hash(&self) -> u64 {
        self.inner.hash
    }

    /// Whether both are the very same part (not merely equal values).
    #[must_use]
    pub fn same(&self, other: &Part<T>) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Where the part lives: unique among the parts alive at once.
    #[must_use]
    pub fn address(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }
}

impl<T> Clone for Part<T> {
    fn clone(&self) -> Self {
        Part {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> Deref for Part<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner.value
    }
}

impl<T> Hash for Part<T> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.inner.hash);
    }
}

impl<T: PartialEq> PartialEq for Part<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
            || (self.inner.hash == other.inner.hash && self.inner.value == other.inner.value)
    }
}

impl<T: Eq> Eq for Part<T> {}

impl<T: Ord> Ord for Part<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        if Arc::ptr_eq(&self.inner, &other.inner) {
            return Ordering::Equal;
        }
        self.inner
            .hash
            .cmp(&other.inner.hash)
            .then_with(|| self.inner.value.cmp(&other.inner.value))
    }
}

impl<T: Ord> PartialOrd for Part<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: fmt::Debug> fmt::Debug for Part<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.value.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_copies_a_shared_value_and_rehashes_it() {
        let a = Part::new(vec![1, 2]);
        let mut b = a.clone();
        assert_eq!(a, b);
        b.update(|v| v.push(3));
        assert_eq!(*a, vec![1, 2], "the shared original is untouched");
        assert_eq!(*b, vec![1, 2, 3]);
        assert_ne!(a, b);
        assert_eq!(b, Part::new(vec![1, 2, 3]), "equal values, equal parts");
        assert_eq!(hash_of(&b), hash_of(&Part::new(vec![1, 2, 3])));
    }

    #[test]
    fn a_renaming_is_computed_once_and_forgotten_on_change() {
        let calls = std::cell::Cell::new(0);
        let mut a = Part::new(7u32);
        let rename = |v: &u32| {
            calls.set(calls.get() + 1);
            v + 100
        };
        assert_eq!(*a.renamed(0, rename), 107);
        assert_eq!(*a.renamed(0, rename), 107);
        assert_eq!(calls.get(), 1, "the second call reads the kept renaming");
        a.update(|v| *v = 8);
        assert_eq!(
            *a.renamed(0, rename),
            108,
            "a change drops the kept renamings"
        );
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn a_blind_hash_is_computed_once_and_forgotten_on_change() {
        let calls = std::cell::Cell::new(0);
        let blind = |v: &u32| {
            calls.set(calls.get() + 1);
            v % 10
        };
        let mut a = Part::new(13u32);
        assert_eq!(a.blind_hash(blind), hash_of(&3u32));
        assert_eq!(a.blind_hash(blind), hash_of(&3u32));
        assert_eq!(calls.get(), 1, "the second call reads the kept hash");
        a.update(|v| *v = 14);
        assert_eq!(a.blind_hash(blind), hash_of(&4u32), "a change drops it");
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn the_order_is_total_and_agrees_with_equality() {
        let parts: Vec<Part<u32>> = (0..50).map(Part::new).collect();
        for a in &parts {
            for b in &parts {
                assert_eq!(a.cmp(b) == Ordering::Equal, a == b);
                assert_eq!(a.cmp(b), b.cmp(a).reverse());
            }
        }
    }
}
