//! Journeys rendered on demand (an open visit, or a visit an admin asks for): at most one render at a time per
//! visit, and its document kept for a few seconds, so that repeated or parallel downloads cost one render.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// How long a document rendered on demand is served again before the next download renders it anew.
pub const KEEP_RENDERED: Duration = Duration::from_secs(10);

/// Whether a download rendered its document or got one a moment old.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// This download rendered it.
    Rendered,
    /// Another download rendered it less than [`KEEP_RENDERED`] ago.
    Cached,
}

/// A visit's latest document rendered on demand, and when.
#[derive(Default)]
struct Slot {
    document: Option<(Instant, Arc<Vec<u8>>)>,
}

impl Slot {
    fn fresh(&self, now: Instant, keep_for: Duration) -> Option<Arc<Vec<u8>>> {
        self.document.as_ref().filter(|(at, _)| now.duration_since(*at) < keep_for).map(|(_, pdf)| pdf.clone())
    }
}

/// The on-demand renders of the web process, one slot per visit being downloaded.
pub struct OnDemandRenders {
    slots: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<Slot>>>>,
    keep_for: Duration,
    renders: AtomicU64,
}

impl Default for OnDemandRenders {
    fn default() -> Self {
        Self::new(KEEP_RENDERED)
    }
}

impl OnDemandRenders {
    /// Renders that keep each document for `keep_for`.
    pub fn new(keep_for: Duration) -> Self {
        Self { slots: Mutex::default(), keep_for, renders: AtomicU64::new(0) }
    }

    /// How many renders this process has started.
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    /// The visit's document: the one rendered less than `keep_for` ago, or else a new one from `render`. Only one
    /// caller at a time renders a visit; the others wait and take its document.
    ///
    /// The render runs in a task of its own, so a caller that stops waiting (its request timed out) does not stop
    /// it: it finishes in the background and fills the slot for the next download.
    pub async fn get_or_render<F, Fut>(&self, visit: Uuid, render: F) -> anyhow::Result<(Arc<Vec<u8>>, Served)>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<Vec<u8>>> + Send + 'static,
    {
        let mut slot = self.slot(visit).lock_owned().await;
        if let Some(pdf) = slot.fresh(Instant::now(), self.keep_for) {
            return Ok((pdf, Served::Cached));
        }
        self.renders.fetch_add(1, Ordering::Relaxed);
        let rendering = render();
        let task = tokio::spawn(async move {
            let pdf = Arc::new(rendering.await?);
            slot.document = Some((Instant::now(), pdf.clone()));
            anyhow::Ok(pdf)
        });
        let pdf = task.await??;
        Ok((pdf, Served::Rendered))
    }

    /// The visit's slot, made on first use. Slots nobody holds whose document is stale are dropped on the way, so
    /// the map holds only the visits downloaded in the last few seconds.
    fn slot(&self, visit: Uuid) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        slots.retain(|_, slot| {
            Arc::strong_count(slot) > 1 || slot.try_lock().map_or(true, |slot| slot.fresh(now, self.keep_for).is_some())
        });
        slots.entry(visit).or_default().clone()
    }

    /// How many visits have a slot.
    #[cfg(test)]
    fn slots(&self) -> usize {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn slow_render(delay: Duration, bytes: &'static [u8]) -> anyhow::Result<Vec<u8>> {
        tokio::time::sleep(delay).await;
        Ok(bytes.to_vec())
    }

    #[tokio::test]
    async fn parallel_downloads_of_a_visit_share_one_render() {
        let renders = Arc::new(OnDemandRenders::new(Duration::from_secs(10)));
        let visit = Uuid::new_v4();
        let downloads = (0..8).map(|_| {
            let renders = renders.clone();
            tokio::spawn(async move {
                renders.get_or_render(visit, || slow_render(Duration::from_millis(200), b"%PDF one")).await
            })
        });
        let served: Vec<Served> = futures::future::join_all(downloads)
            .await
            .into_iter()
            .map(|joined| {
                let (pdf, served) = joined.expect("joined").expect("rendered");
                assert_eq!(pdf.as_slice(), b"%PDF one");
                served
            })
            .collect();
        assert_eq!(renders.renders(), 1);
        assert_eq!(served.iter().filter(|&&s| s == Served::Rendered).count(), 1, "{served:?}");
        // Another visit renders on its own.
        renders.get_or_render(Uuid::new_v4(), || slow_render(Duration::ZERO, b"%PDF two")).await.expect("rendered");
        assert_eq!(renders.renders(), 2);
    }

    #[tokio::test]
    async fn a_kept_document_goes_stale_and_is_rendered_anew() {
        let renders = OnDemandRenders::new(Duration::from_millis(100));
        let visit = Uuid::new_v4();
        renders.get_or_render(visit, || slow_render(Duration::ZERO, b"%PDF old")).await.expect("rendered");
        let (_, served) =
            renders.get_or_render(visit, || slow_render(Duration::ZERO, b"%PDF new")).await.expect("kept");
        assert_eq!(served, Served::Cached);
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (pdf, served) =
            renders.get_or_render(visit, || slow_render(Duration::ZERO, b"%PDF new")).await.expect("new");
        assert_eq!((pdf.as_slice(), served), (&b"%PDF new"[..], Served::Rendered));
        tokio::time::sleep(Duration::from_millis(150)).await;
        renders.get_or_render(Uuid::new_v4(), || slow_render(Duration::ZERO, b"%PDF")).await.expect("rendered");
        assert_eq!(renders.slots(), 1, "the stale slot was dropped");
    }

    #[tokio::test]
    async fn a_render_past_the_deadline_finishes_in_the_background_and_fills_the_slot() {
        let renders = Arc::new(OnDemandRenders::new(Duration::from_secs(10)));
        let visit = Uuid::new_v4();
        let impatient = tokio::time::timeout(
            Duration::from_millis(50),
            renders.get_or_render(visit, || slow_render(Duration::from_millis(300), b"%PDF late")),
        )
        .await;
        assert!(impatient.is_err(), "the first download gave up");
        let (pdf, served) = renders
            .get_or_render(visit, || slow_render(Duration::ZERO, b"%PDF second"))
            .await
            .expect("the background render's document");
        assert_eq!((pdf.as_slice(), served), (&b"%PDF late"[..], Served::Cached));
        assert_eq!(renders.renders(), 1);
    }

    #[tokio::test]
    async fn a_failed_render_is_not_kept() {
        let renders = OnDemandRenders::default();
        let visit = Uuid::new_v4();
        let failed =
            renders.get_or_render(visit, || async { Err::<Vec<u8>, _>(anyhow::anyhow!("the database is gone")) }).await;
        assert!(failed.is_err());
        let (_, served) =
            renders.get_or_render(visit, || slow_render(Duration::ZERO, b"%PDF")).await.expect("rendered");
        assert_eq!((served, renders.renders()), (Served::Rendered, 2));
    }
}
