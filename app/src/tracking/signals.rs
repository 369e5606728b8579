//! The arithmetic behind the tracker's frustration and quality signals, kept apart from the browser so it is
//! tested natively: click bursts (rage clicks), cumulative layout shift in session windows, and interaction to
//! next paint.

use super::schema::{RAGE_CLICKS, RAGE_CLICK_WINDOW_MS};

/// Clicks on one target, each within [`RAGE_CLICK_WINDOW_MS`] of the one before.
#[derive(Debug, Clone, PartialEq)]
pub struct Burst<T> {
    pub target: T,
    pub clicks: i32,
    pub last_ms: f64,
}

impl<T: PartialEq> Burst<T> {
    /// Counts a click on `target` at `now_ms` into `current`. Returns the burst this click ended (a click on
    /// another target, or after the window): a rage click when [`Burst::is_rage`].
    pub fn click(current: &mut Option<Burst<T>>, target: T, now_ms: f64) -> Option<Burst<T>> {
        if let Some(burst) = current.as_mut() {
            if burst.target == target && now_ms - burst.last_ms <= RAGE_CLICK_WINDOW_MS as f64 {
                burst.clicks += 1;
                burst.last_ms = now_ms;
                return None;
            }
        }
        current.replace(Burst { target, clicks: 1, last_ms: now_ms })
    }

    /// The burst in `current` if its window has passed at `now_ms` (it can grow no more).
    pub fn ended(current: &mut Option<Burst<T>>, now_ms: f64) -> Option<Burst<T>> {
        current.take_if(|burst| now_ms - burst.last_ms > RAGE_CLICK_WINDOW_MS as f64)
    }

    pub fn is_rage(&self) -> bool {
        self.clicks >= RAGE_CLICKS
    }
}

/// Cumulative layout shift as Chrome reports it: the largest session window, where a window holds shifts less
/// than a second apart and spans at most five seconds. Shifts right after an input do not count (the caller
/// leaves them out).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayoutShifts {
    measured: bool,
    window: f64,
    window_start_ms: f64,
    last_ms: f64,
    largest: f64,
}

impl LayoutShifts {
    /// The browser reports layout shifts (even when none happened).
    pub fn observed(&mut self) {
        self.measured = true;
    }

    pub fn add(&mut self, at_ms: f64, value: f64) {
        self.measured = true;
        if self.window > 0.0 && at_ms - self.last_ms < 1_000.0 && at_ms - self.window_start_ms < 5_000.0 {
            self.window += value;
        } else {
            self.window = value;
            self.window_start_ms = at_ms;
        }
        self.last_ms = at_ms;
        self.largest = self.largest.max(self.window);
    }

    /// The CLS in thousandths; `None` when the browser does not report layout shifts.
    pub fn cls_milli(&self) -> Option<i64> {
        self.measured.then(|| (self.largest * 1_000.0).round() as i64)
    }
}

/// Interaction to next paint: the longest interaction, as Chrome reports it for a page with fewer than 50
/// interactions; past that, one interaction in fifty is left out as an outlier.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interactions {
    /// The longest duration of each interaction (an interaction's key press and key release share an id). A
    /// list, not a map: a page has few interactions, and a hash map would cost the bundle its hasher.
    longest: Vec<(u64, f64)>,
}

/// The most interactions kept for one page; past this the page's INP is what it was.
const MAX_INTERACTIONS: usize = 500;

impl Interactions {
    pub fn add(&mut self, interaction_id: u64, duration_ms: f64) {
        if interaction_id == 0 {
            return;
        }
        let full = self.longest.len() >= MAX_INTERACTIONS;
        match self.longest.iter_mut().find(|(id, _)| *id == interaction_id) {
            Some((_, longest)) => *longest = longest.max(duration_ms),
            None if !full => self.longest.push((interaction_id, duration_ms)),
            None => {}
        }
    }

    /// The INP in milliseconds; `None` without any interaction.
    pub fn inp_ms(&self) -> Option<i64> {
        let mut durations: Vec<f64> = self.longest.iter().map(|(_, duration)| *duration).collect();
        // Leave out the longest one in fifty (no sort: a few passes over a short list).
        for _ in 0..durations.len() / 50 {
            let longest = (0..durations.len()).reduce(|a, b| if durations[b] > durations[a] { b } else { a })?;
            durations.swap_remove(longest);
        }
        durations.into_iter().reduce(f64::max).map(|duration| duration.round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_clicks_on_one_target_make_a_burst_and_anything_else_ends_it() {
        let mut current = None;
        assert_eq!(Burst::click(&mut current, "photo", 0.0), None);
        assert_eq!(Burst::click(&mut current, "photo", 400.0), None);
        assert_eq!(Burst::click(&mut current, "photo", 1_300.0), None, "within a second of the one before");
        assert_eq!(Burst::ended(&mut current, 2_000.0), None, "the window is still open");
        let ended = Burst::click(&mut current, "button", 2_100.0).unwrap();
        assert_eq!((ended.target, ended.clicks, ended.is_rage()), ("photo", 3, true));
        assert_eq!(Burst::click(&mut current, "button", 3_200.0).map(|b| b.clicks), Some(1), "too slow: a new one");
        let ended = Burst::ended(&mut current, 4_300.0).unwrap();
        assert!(!ended.is_rage());
        assert_eq!(current, None);
    }

    #[test]
    fn cls_is_the_largest_session_window() {
        let mut shifts = LayoutShifts::default();
        assert_eq!(shifts.cls_milli(), None, "not reported");
        shifts.observed();
        assert_eq!(shifts.cls_milli(), Some(0));
        // A window of three shifts (0.1 + 0.05 + 0.05), then a gap, then one of 0.15.
        shifts.add(100.0, 0.1);
        shifts.add(800.0, 0.05);
        shifts.add(1_500.0, 0.05);
        shifts.add(4_000.0, 0.15);
        assert_eq!(shifts.cls_milli(), Some(200));
        // A window closes after five seconds however close its shifts are.
        let mut long = LayoutShifts::default();
        for at in 0..12 {
            long.add(f64::from(at) * 900.0, 0.01);
        }
        assert_eq!(long.cls_milli(), Some(60));
    }

    #[test]
    fn inp_is_the_longest_interaction_leaving_out_one_in_fifty() {
        let mut interactions = Interactions::default();
        assert_eq!(interactions.inp_ms(), None);
        interactions.add(0, 900.0);
        assert_eq!(interactions.inp_ms(), None, "entries without an interaction id are not interactions");
        interactions.add(7, 40.0);
        interactions.add(7, 120.4);
        interactions.add(8, 64.0);
        assert_eq!(interactions.inp_ms(), Some(120));
        for id in 100..160 {
            interactions.add(id, 30.0);
        }
        interactions.add(200, 2_000.0);
        assert_eq!(interactions.inp_ms(), Some(120), "63 interactions: the longest one is left out");
    }
}
