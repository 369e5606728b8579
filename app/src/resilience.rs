//! A circuit breaker for calls to a dependency that can fail as a whole (the payment gateway, the broker).
//!
//! Closed, it lets every call through and counts consecutive failures. After `failure_threshold` of them it
//! opens: callers are refused at once, without waiting for the dependency's own timeout. After `cool_down` the
//! next caller becomes the single trial call (half-open); its success closes the breaker, its failure opens it
//! for another cool-down. What counts as a failure is the caller's decision: a declined card is a healthy
//! answer, a gateway error or a timeout is not.

use std::{
    fmt,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

/// When a breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the breaker (at least 1).
    pub failure_threshold: u32,
    /// How long the breaker refuses calls before it lets one trial call through.
    pub cool_down: Duration,
}

/// The gauge of each breaker's state (exported by the server's `/metrics`).
pub const BREAKER_STATE_METRIC: &str = "cartograph_circuit_breaker_state";

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    /// The name used in logs, `/readyz` and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// The value of the `cartograph_circuit_breaker_state` gauge: 0 closed, 1 open, 2 half-open.
    pub fn gauge_value(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::Open => 1.0,
            BreakerState::HalfOpen => 2.0,
        }
    }
}

/// The breaker refused a call; the dependency was not called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerOpen {
    /// How long until the breaker lets a trial call through (zero while a trial call is in flight).
    pub retry_after: Duration,
}

impl fmt::Display for BreakerOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "circuit breaker open; retry in {} s", self.retry_after.as_secs().max(1))
    }
}

impl std::error::Error for BreakerOpen {}

/// Where the breaker reads the time from: the monotonic clock, or a hand-driven one in tests.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

struct Inner {
    /// Behind the lock with the state: live settings change it while the breaker is in use.
    settings: BreakerSettings,
    state: BreakerState,
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    trial_in_flight: bool,
}

/// A thread-safe circuit breaker; clone the `Arc` it usually lives in to share it.
pub struct CircuitBreaker {
    name: &'static str,
    clock: Clock,
    inner: Mutex<Inner>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker").field("name", &self.name).field("state", &self.state()).finish()
    }
}

impl CircuitBreaker {
    /// A closed breaker named `name` (the label in logs and metrics) on the monotonic clock.
    pub fn new(name: &'static str, settings: BreakerSettings) -> Self {
        Self::with_clock(name, settings, Arc::new(Instant::now))
    }

    /// A closed breaker that reads the time from `clock`.
    pub fn with_clock(name: &'static str, settings: BreakerSettings, clock: Clock) -> Self {
        let breaker = Self {
            name,
            clock,
            inner: Mutex::new(Inner {
                settings: at_least_one_failure(settings),
                state: BreakerState::Closed,
                consecutive_failures: 0,
                opened_at: None,
                trial_in_flight: false,
            }),
        };
        breaker.publish(BreakerState::Closed);
        breaker
    }

    /// The breaker's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// When the breaker opens and how long it stays open.
    pub fn settings(&self) -> BreakerSettings {
        self.lock().settings
    }

    /// Changes when the breaker opens and how long it stays open (live settings). An open breaker's cool-down
    /// is measured with the new length from when it opened.
    pub fn set_settings(&self, settings: BreakerSettings) {
        self.lock().settings = at_least_one_failure(settings);
    }

    /// The state a call would meet now (an open breaker past its cool-down reads as half-open).
    pub fn state(&self) -> BreakerState {
        let inner = self.lock();
        match inner.state {
            BreakerState::Open if self.cooled_down(&inner) => BreakerState::HalfOpen,
            state => state,
        }
    }

    /// Sets the state gauge to what a call would meet now: the move to half-open happens lazily, at the first
    /// call after the cool-down, so a scrape refreshes it.
    pub fn report(&self) {
        self.publish(self.state());
    }

    /// Asks to make one call. Keep the permit for the duration of the call and report how it went with
    /// [`Permit::succeeded`] or [`Permit::failed`]; a permit dropped without a verdict changes nothing but
    /// frees the trial slot, so a cancelled trial cannot wedge the breaker half-open.
    pub fn try_acquire(self: &Arc<Self>) -> Result<Permit, BreakerOpen> {
        let mut inner = self.lock();
        match inner.state {
            BreakerState::Closed => Ok(Permit { breaker: Arc::clone(self), trial: false, settled: false }),
            BreakerState::Open if !self.cooled_down(&inner) => Err(BreakerOpen { retry_after: self.remaining(&inner) }),
            BreakerState::Open | BreakerState::HalfOpen => {
                if inner.trial_in_flight {
                    return Err(BreakerOpen { retry_after: Duration::ZERO });
                }
                if inner.state == BreakerState::Open {
                    self.set_state(&mut inner, BreakerState::HalfOpen);
                }
                inner.trial_in_flight = true;
                Ok(Permit { breaker: Arc::clone(self), trial: true, settled: false })
            }
        }
    }

    fn on_success(&self, trial: bool) {
        let mut inner = self.lock();
        inner.consecutive_failures = 0;
        if trial {
            inner.trial_in_flight = false;
        }
        // Only the trial call speaks for the dependency's recovery; a late answer to an older call does not.
        if trial && inner.state != BreakerState::Closed {
            inner.opened_at = None;
            self.set_state(&mut inner, BreakerState::Closed);
            tracing::info!(breaker = self.name, "circuit breaker closed: the dependency answers again");
        }
    }

    fn on_failure(&self, trial: bool) {
        let mut inner = self.lock();
        if trial {
            inner.trial_in_flight = false;
        }
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        let trips = match inner.state {
            BreakerState::Closed => inner.consecutive_failures >= inner.settings.failure_threshold,
            BreakerState::HalfOpen => trial,
            // A call let through before the breaker opened finished late: the breaker is already open.
            BreakerState::Open => false,
        };
        if trips {
            inner.opened_at = Some((self.clock)());
            self.set_state(&mut inner, BreakerState::Open);
            tracing::warn!(
                breaker = self.name,
                failures = inner.consecutive_failures,
                cool_down_secs = inner.settings.cool_down.as_secs_f64(),
                "circuit breaker opened: refusing calls until the cool-down ends"
            );
        }
    }

    fn on_abandoned(&self, trial: bool) {
        if trial {
            self.lock().trial_in_flight = false;
        }
    }

    fn cooled_down(&self, inner: &Inner) -> bool {
        self.remaining(inner).is_zero()
    }

    fn remaining(&self, inner: &Inner) -> Duration {
        let opened = inner.opened_at.unwrap_or_else(|| (self.clock)());
        inner.settings.cool_down.saturating_sub((self.clock)().saturating_duration_since(opened))
    }

    fn set_state(&self, inner: &mut Inner, state: BreakerState) {
        inner.state = state;
        self.publish(state);
    }

    fn publish(&self, state: BreakerState) {
        metrics::gauge!(BREAKER_STATE_METRIC, "breaker" => self.name).set(state.gauge_value());
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state is a few plain fields updated together: a panic elsewhere cannot leave it half-written.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn at_least_one_failure(settings: BreakerSettings) -> BreakerSettings {
    BreakerSettings { failure_threshold: settings.failure_threshold.max(1), ..settings }
}

/// Leave to make one call through a breaker; report its outcome.
#[must_use = "report the call's outcome with succeeded() or failed()"]
pub struct Permit {
    breaker: Arc<CircuitBreaker>,
    trial: bool,
    settled: bool,
}

impl Permit {
    /// Whether this is the single trial call after a cool-down (the breaker is half-open).
    pub fn is_trial(&self) -> bool {
        self.trial
    }

    /// The dependency answered (a declined card is an answer too).
    pub fn succeeded(mut self) {
        self.settled = true;
        self.breaker.on_success(self.trial);
    }

    /// The dependency failed or did not answer in time.
    pub fn failed(mut self) {
        self.settled = true;
        self.breaker.on_failure(self.trial);
    }

    /// Reports `failed` when `is_failure`, else `succeeded`.
    pub fn record(self, is_failure: bool) {
        if is_failure {
            self.failed()
        } else {
            self.succeeded()
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.settled {
            self.breaker.on_abandoned(self.trial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that moves only when the test says so.
    struct ManualClock(Arc<Mutex<Instant>>);

    impl ManualClock {
        fn new() -> (Self, Clock) {
            let now = Arc::new(Mutex::new(Instant::now()));
            let read = now.clone();
            (Self(now), Arc::new(move || *read.lock().unwrap()))
        }

        fn advance(&self, by: Duration) {
            *self.0.lock().unwrap() += by;
        }
    }

    fn breaker(threshold: u32, cool_down_secs: u64) -> (Arc<CircuitBreaker>, ManualClock) {
        let (clock, read) = ManualClock::new();
        let settings = BreakerSettings { failure_threshold: threshold, cool_down: Duration::from_secs(cool_down_secs) };
        (Arc::new(CircuitBreaker::with_clock("test", settings, read)), clock)
    }

    fn fail(breaker: &Arc<CircuitBreaker>) {
        breaker.try_acquire().expect("call allowed").failed();
    }

    #[test]
    fn it_opens_after_the_threshold_of_consecutive_failures() {
        let (breaker, _) = breaker(3, 10);
        fail(&breaker);
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Closed);
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open);
        let refused = breaker.try_acquire().err().expect("refused while open");
        assert_eq!(refused.retry_after, Duration::from_secs(10));
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let (breaker, _) = breaker(3, 10);
        fail(&breaker);
        fail(&breaker);
        breaker.try_acquire().unwrap().succeeded();
        fail(&breaker);
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Closed, "only consecutive failures count");
    }

    #[test]
    fn after_the_cool_down_one_trial_call_goes_through_and_its_success_closes() {
        let (breaker, clock) = breaker(1, 10);
        fail(&breaker);
        clock.advance(Duration::from_secs(4));
        assert_eq!(breaker.try_acquire().err().unwrap().retry_after, Duration::from_secs(6));
        clock.advance(Duration::from_secs(6));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let trial = breaker.try_acquire().expect("the trial call");
        assert!(breaker.try_acquire().is_err(), "only one trial call at a time");
        trial.succeeded();
        assert_eq!(breaker.state(), BreakerState::Closed);
        let (a, b) = (breaker.try_acquire().unwrap(), breaker.try_acquire().unwrap());
        a.succeeded();
        b.succeeded();
    }

    #[test]
    fn new_settings_apply_from_the_next_call_and_to_an_open_cool_down() {
        let (breaker, clock) = breaker(3, 10);
        fail(&breaker);
        breaker.set_settings(BreakerSettings { failure_threshold: 2, cool_down: Duration::from_secs(4) });
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open, "the second failure reaches the new threshold");
        clock.advance(Duration::from_secs(1));
        assert_eq!(breaker.try_acquire().err().unwrap().retry_after, Duration::from_secs(3), "the new cool-down");
        breaker.set_settings(BreakerSettings { failure_threshold: 0, cool_down: Duration::from_secs(1) });
        assert_eq!(breaker.settings().failure_threshold, 1, "at least one failure opens it");
        assert_eq!(breaker.state(), BreakerState::HalfOpen, "a shorter cool-down has already passed");
    }

    #[test]
    fn a_failed_trial_opens_it_for_another_cool_down() {
        let (breaker, clock) = breaker(2, 10);
        fail(&breaker);
        fail(&breaker);
        clock.advance(Duration::from_secs(10));
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open, "one failed trial is enough");
        clock.advance(Duration::from_secs(9));
        assert!(breaker.try_acquire().is_err());
        clock.advance(Duration::from_secs(1));
        breaker.try_acquire().expect("the next trial").succeeded();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn an_abandoned_trial_frees_the_slot_without_changing_the_state() {
        let (breaker, clock) = breaker(1, 1);
        fail(&breaker);
        clock.advance(Duration::from_secs(1));
        drop(breaker.try_acquire().expect("trial"));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        breaker.try_acquire().expect("another trial").succeeded();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn late_answers_from_before_the_opening_do_not_close_or_extend_it() {
        let (breaker, clock) = breaker(1, 10);
        let (slow_success, slow_failure) = (breaker.try_acquire().unwrap(), breaker.try_acquire().unwrap());
        fail(&breaker);
        clock.advance(Duration::from_secs(5));
        slow_failure.failed();
        assert_eq!(
            breaker.try_acquire().err().unwrap().retry_after,
            Duration::from_secs(5),
            "the cool-down is not restarted"
        );
        slow_success.succeeded();
        assert_eq!(breaker.state(), BreakerState::Open, "only the trial call may close it");
    }

    #[test]
    fn a_zero_threshold_is_treated_as_one() {
        let (breaker, _) = breaker(0, 10);
        breaker.try_acquire().unwrap().succeeded();
        assert_eq!(breaker.state(), BreakerState::Closed);
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open);
    }
}
