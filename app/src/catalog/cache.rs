//! The catalog as pages read it, kept in this process: the home page's shelves, the categories and products by
//! slug. Every copy of the web server keeps its own, and empties it when a `catalog.v1` event says the catalog
//! changed (the server's catalog listener calls [`CatalogCache::invalidate`]; the copy where an admin made the
//! change empties its own at once). What changes without a catalog event is never kept: a product's stock is
//! read live on every page. An entry also ages out after the configured time, so a change made behind the app's
//! back (SQL by hand) shows within it; a time of zero keeps nothing.

use std::{
    any::Any,
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

/// The most products kept: a crawler walking every slug empties the map instead of growing it.
const MAX_ENTRIES: usize = 4_096;

/// What is kept: one value per key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Shelves,
    Categories,
    Product(String),
}

struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    at: Instant,
}

#[derive(Default)]
struct State {
    /// Bumped by every invalidation: a load that started before one is not kept.
    generation: u64,
    entries: HashMap<Key, Entry>,
}

/// The cache; clones share it.
#[derive(Clone)]
pub struct CatalogCache {
    state: Arc<Mutex<State>>,
    keep_for: Duration,
}

impl CatalogCache {
    /// A cache whose entries live at most `keep_for` (zero: nothing is kept).
    pub fn new(keep_for: Duration) -> Self {
        Self { state: Arc::default(), keep_for }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves nothing half-written that matters: entries are whole values.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Forgets everything: the next read of each key goes to the database.
    pub fn invalidate(&self) {
        let mut state = self.state();
        state.generation += 1;
        state.entries.clear();
    }

    /// The value kept for `key`, or what `load` finds (kept unless it is `None`, or the catalog changed while
    /// loading). Two requests that miss at once both load; the database answers both, and one value is kept.
    pub async fn get_or_load<T, E>(
        &self,
        key: Key,
        load: impl Future<Output = Result<Option<T>, E>>,
    ) -> Result<Option<Arc<T>>, E>
    where
        T: Send + Sync + 'static,
    {
        let generation = {
            let state = self.state();
            let kept = state.entries.get(&key).filter(|entry| entry.at.elapsed() < self.keep_for);
            if let Some(value) = kept.and_then(|entry| entry.value.clone().downcast::<T>().ok()) {
                metrics::counter!("cartograph_catalog_cache_total", "result" => "hit").increment(1);
                return Ok(Some(value));
            }
            state.generation
        };
        metrics::counter!("cartograph_catalog_cache_total", "result" => "miss").increment(1);
        let Some(value) = load.await?.map(Arc::new) else { return Ok(None) };
        if !self.keep_for.is_zero() {
            let mut state = self.state();
            if state.generation == generation {
                if state.entries.len() >= MAX_ENTRIES {
                    state.entries.clear();
                }
                state.entries.insert(key, Entry { value: value.clone(), at: Instant::now() });
            }
        }
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::{CatalogCache, Key};
    use std::{
        sync::atomic::{AtomicU32, Ordering},
        time::Duration,
    };

    async fn read(cache: &CatalogCache, loads: &AtomicU32, value: &str) -> String {
        let load = async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(Some(value.to_string()))
        };
        cache.get_or_load(Key::Categories, load).await.unwrap().unwrap().to_string()
    }

    #[tokio::test]
    async fn a_kept_value_is_served_until_invalidated() {
        let cache = CatalogCache::new(Duration::from_secs(60));
        let loads = AtomicU32::new(0);
        assert_eq!(read(&cache, &loads, "first").await, "first");
        assert_eq!(read(&cache, &loads, "second").await, "first", "served from the cache");
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        cache.invalidate();
        assert_eq!(read(&cache, &loads, "second").await, "second");
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn nothing_is_kept_with_a_zero_time_or_past_it() {
        let off = CatalogCache::new(Duration::ZERO);
        let loads = AtomicU32::new(0);
        read(&off, &loads, "a").await;
        read(&off, &loads, "a").await;
        assert_eq!(loads.load(Ordering::SeqCst), 2);

        let short = CatalogCache::new(Duration::from_millis(20));
        read(&short, &loads, "old").await;
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(read(&short, &loads, "new").await, "new", "an entry ages out");
    }

    #[tokio::test]
    async fn a_load_that_raced_an_invalidation_is_not_kept_and_misses_are_not_kept() {
        let cache = CatalogCache::new(Duration::from_secs(60));
        let load = async {
            // The catalog changes while this read is at the database: what it read may be from before.
            cache.invalidate();
            Ok::<_, ()>(Some("read before the change".to_string()))
        };
        assert!(cache.get_or_load(Key::Shelves, load).await.unwrap().is_some());
        let loads = AtomicU32::new(0);
        let fresh = cache.get_or_load(Key::Shelves, async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(Some("after".to_string()))
        });
        assert_eq!(fresh.await.unwrap().unwrap().as_str(), "after");
        assert_eq!(loads.load(Ordering::SeqCst), 1, "the raced value was not kept");

        let missing = || cache.get_or_load(Key::Product("nope".into()), async { Ok::<Option<String>, ()>(None) });
        assert!(missing().await.unwrap().is_none());
        assert!(!cache.state().entries.contains_key(&Key::Product("nope".into())));
    }
}
