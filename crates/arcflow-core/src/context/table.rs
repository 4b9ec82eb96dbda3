//! One of a context's maps (`vars`, `tasks`, `system`): a `HashMap` behind
//! one `RwLock`. A run's context is used by one thread at a time (the JS
//! thread that holds the run), so sharding buys nothing, while DashMap's
//! shards cost an aligned allocation per map and a walk over every shard
//! to count or drop it: on a one-task run that was a sixth of its native
//! start (measured). An empty `HashMap` allocates nothing.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Keys are names the workflow's own code chose (variables, tasks, system
/// values), hashed with foldhash: far quicker than SipHash on short keys,
/// still seeded per process.
pub(crate) struct Table<V> {
    map: RwLock<HashMap<String, V, RandomState>>,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table { map: RwLock::new(HashMap::default()) }
    }
}

impl<V> FromIterator<(String, V)> for Table<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        Table { map: RwLock::new(iter.into_iter().collect()) }
    }
}

impl<V> Table<V> {
    // no code panics while holding a guard; should one, the map is still whole
    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, V, RandomState>> {
        self.map.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, V, RandomState>> {
        self.map.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// `f` of the entry under `key`, if any (the map is read-locked meanwhile:
    /// `f` must not write to this table).
    pub(crate) fn with<R>(&self, key: &str, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.read().get(key).map(f)
    }

    pub(crate) fn insert(&self, key: &str, value: V) -> Option<V> {
        let mut map = self.write();
        match map.get_mut(key) {
            // a replaced value keeps its key: no allocation
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => map.insert(key.to_owned(), value),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.read().len()
    }

    /// Folds over every entry (read-locked meanwhile).
    pub(crate) fn fold<A>(&self, init: A, mut f: impl FnMut(A, &str, &V) -> A) -> A {
        self.read().iter().fold(init, |acc, (k, v)| f(acc, k, v))
    }
}

impl<V: Clone> Table<V> {
    pub(crate) fn get(&self, key: &str) -> Option<V> {
        self.with(key, V::clone)
    }
}
