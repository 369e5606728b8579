//! Live settings for the web process: the live file (`CARTOGRAPH_LIVE_FILE`, TOML) is read at start and again
//! whenever it changes (checked every second) or the process gets SIGHUP. A file that does not parse or holds
//! a value out of range is refused as a whole: the error is logged, counted, and the values in force stay.
//! Every web copy that reads the same file (a ConfigMap mounted on each pod, say) applies the same change.
//!
//! ```toml
//! banner = "Payments are paused until 10:00 UTC"   # shown at the top of every page; "" removes it
//!
//! [collect]              # the producer endpoint's rate limits, batches a second (bursts of ten times that)
//! rate_per_visit = 20.0
//! rate_per_ip = 50.0
//!
//! [breakers.payments]    # and [breakers.broker]: when each breaker opens, and for how long
//! failures = 5
//! cooldown_secs = 30
//!
//! [drills]               # faults on purpose (app::live::Drills); all 0 by default
//! payment_failure_rate = 0.2
//! payment_latency_ms = 800
//! slow_catalog_ms = 0
//! broker_produce_delay_ms = 0
//! ```
//!
//! A key the file leaves out keeps its value from the ordinary settings (`CARTOGRAPH_COLLECT_RATE_PER_VISIT`…),
//! so removing a line undoes it. The values in force are in `/metrics` as `cartograph_live_setting{name}`.

use crate::{clickstream::CollectLimits, config::Settings, shutdown::Shutdown};
use app::{
    live::{Drills, Live, LiveValues},
    resilience::{BreakerSettings, CircuitBreaker},
};
use serde::Deserialize;
use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

/// How often the file's modification time is checked.
const POLL: Duration = Duration::from_secs(1);

/// What the live file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveFile {
    banner: Option<String>,
    #[serde(default)]
    collect: CollectFile,
    #[serde(default)]
    breakers: BreakersFile,
    #[serde(default)]
    drills: Drills,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CollectFile {
    rate_per_visit: Option<f64>,
    rate_per_ip: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakersFile {
    payments: Option<BreakerFile>,
    broker: Option<BreakerFile>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakerFile {
    failures: u32,
    cooldown_secs: u64,
}

/// Everything the live file governs, resolved against the ordinary settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSettings {
    pub values: LiveValues,
    pub rate_per_visit: f64,
    pub rate_per_ip: f64,
    pub payments_breaker: BreakerSettings,
    pub broker_breaker: BreakerSettings,
}

impl LiveSettings {
    /// The ordinary settings' values: what is in force without a live file.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            values: LiveValues::default(),
            rate_per_visit: settings.collect.rate_per_visit,
            rate_per_ip: settings.collect.rate_per_ip,
            payments_breaker: settings.payments.breaker(),
            broker_breaker: settings.collect.broker_breaker(),
        }
    }

    /// `text` (the live file) over the ordinary settings, or why it cannot apply.
    pub fn parse(text: &str, settings: &Settings) -> Result<Self, String> {
        use figment::{providers::Format, Figment};
        let file: LiveFile = Figment::from(figment::providers::Toml::string(text))
            .extract()
            .map_err(|error| error.to_string().replace('\n', " "))?;
        let base = Self::from_settings(settings);
        let breaker = |file: Option<BreakerFile>, base: BreakerSettings, name: &str| match file {
            None => Ok(base),
            Some(BreakerFile { failures: 0, .. }) => Err(format!("breakers.{name}.failures must be at least 1")),
            Some(BreakerFile { cooldown_secs: 0, .. }) => {
                Err(format!("breakers.{name}.cooldown_secs must be at least 1"))
            }
            Some(file) => Ok(BreakerSettings {
                failure_threshold: file.failures,
                cool_down: Duration::from_secs(file.cooldown_secs),
            }),
        };
        let rate = |value: Option<f64>, base: f64, name: &str| match value {
            None => Ok(base),
            Some(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
            Some(rate) => Err(format!("collect.{name} must be above 0, got {rate}")),
        };
        let live = Self {
            values: LiveValues { banner: file.banner.filter(|banner| !banner.trim().is_empty()), drills: file.drills },
            rate_per_visit: rate(file.collect.rate_per_visit, base.rate_per_visit, "rate_per_visit")?,
            rate_per_ip: rate(file.collect.rate_per_ip, base.rate_per_ip, "rate_per_ip")?,
            payments_breaker: breaker(file.breakers.payments, base.payments_breaker, "payments")?,
            broker_breaker: breaker(file.breakers.broker, base.broker_breaker, "broker")?,
        };
        live.values.check()?;
        Ok(live)
    }

    /// The values as `cartograph_live_setting` series, by name.
    fn series(&self) -> Vec<(&'static str, f64)> {
        let drills = &self.values.drills;
        vec![
            ("banner", f64::from(u8::from(self.values.banner.is_some()))),
            ("collect.rate_per_visit", self.rate_per_visit),
            ("collect.rate_per_ip", self.rate_per_ip),
            ("breakers.payments.failures", f64::from(self.payments_breaker.failure_threshold)),
            ("breakers.payments.cooldown_secs", self.payments_breaker.cool_down.as_secs_f64()),
            ("breakers.broker.failures", f64::from(self.broker_breaker.failure_threshold)),
            ("breakers.broker.cooldown_secs", self.broker_breaker.cool_down.as_secs_f64()),
            ("drills.payment_failure_rate", drills.payment_failure_rate),
            ("drills.payment_latency_ms", drills.payment_latency_ms as f64),
            ("drills.slow_catalog_ms", drills.slow_catalog_ms as f64),
            ("drills.broker_produce_delay_ms", drills.broker_produce_delay_ms as f64),
        ]
    }
}

/// What a change applies to in one web process.
#[derive(Clone)]
pub struct Governed {
    pub live: Live,
    pub limits: Arc<CollectLimits>,
    pub payments_breaker: Arc<CircuitBreaker>,
    pub broker_breaker: Arc<CircuitBreaker>,
}

impl Governed {
    fn apply(&self, settings: &LiveSettings) {
        self.live.set(settings.values.clone());
        self.limits.set_rates(settings.rate_per_visit, settings.rate_per_ip);
        self.payments_breaker.set_settings(settings.payments_breaker);
        self.broker_breaker.set_settings(settings.broker_breaker);
        for (name, value) in settings.series() {
            metrics::gauge!(crate::prometheus::names::LIVE_SETTING, "name" => name).set(value);
        }
        if settings.values.drills.any() {
            tracing::warn!(drills = ?settings.values.drills, "drills are on: faults are injected on purpose");
        }
    }
}

/// The live file of a web process: read at start (a bad one stops the start), then watched.
pub struct LiveFileWatch {
    path: PathBuf,
    settings: Arc<Settings>,
    in_force: LiveSettings,
    modified: Option<SystemTime>,
}

impl LiveFileWatch {
    /// Reads `settings.live_file` (when set) and applies it to `governed`; without one, the ordinary settings'
    /// values are in force and there is nothing to watch.
    pub fn start(settings: Arc<Settings>, governed: &Governed) -> anyhow::Result<Option<Self>> {
        let Some(path) = settings.live_file.clone().map(PathBuf::from) else {
            governed.apply(&LiveSettings::from_settings(&settings));
            return Ok(None);
        };
        let modified = modified(&path);
        let in_force = read(&path, &settings)
            .map_err(|error| anyhow::anyhow!("the live file {} cannot apply: {error}", path.display()))?;
        governed.apply(&in_force);
        tracing::info!(file = %path.display(), "live settings read; watching the file for changes");
        Ok(Some(Self { path, settings, in_force, modified }))
    }

    /// Re-reads the file whenever it changes or SIGHUP comes, until `shutdown`.
    pub async fn run(mut self, governed: Governed, shutdown: Shutdown) {
        let mut hangup = hangups();
        loop {
            let asked = tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(POLL) => false,
                _ = next(&mut hangup) => true,
            };
            let modified = modified(&self.path);
            if asked || modified != self.modified {
                self.modified = modified;
                self.reload(&governed);
            }
        }
    }

    fn reload(&mut self, governed: &Governed) {
        match read(&self.path, &self.settings) {
            Ok(settings) if settings == self.in_force => {}
            Ok(settings) => {
                governed.apply(&settings);
                tracing::info!(file = %self.path.display(), settings = ?settings, "live settings applied");
                metrics::counter!(crate::prometheus::names::LIVE_RELOADS, "outcome" => "applied").increment(1);
                self.in_force = settings;
            }
            Err(error) => {
                tracing::error!(file = %self.path.display(), %error, "live settings refused; the ones in force stay");
                metrics::counter!(crate::prometheus::names::LIVE_RELOADS, "outcome" => "refused").increment(1);
            }
        }
    }
}

/// The file over the ordinary settings; a missing file is the ordinary settings (nothing live is set).
fn read(path: &Path, settings: &Settings) -> Result<LiveSettings, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => LiveSettings::parse(&text, settings),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(LiveSettings::from_settings(settings)),
        Err(error) => Err(error.to_string()),
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|metadata| metadata.modified()).ok()
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = Option<std::convert::Infallible>;

#[cfg(unix)]
fn hangups() -> Hangups {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(not(unix))]
fn hangups() -> Hangups {
    None
}

/// The next SIGHUP; never, where there are none (or once the signal stream has ended).
#[cfg(unix)]
async fn next(hangups: &mut Hangups) {
    if let Some(signal) = hangups {
        if signal.recv().await.is_some() {
            return;
        }
    }
    *hangups = None;
    std::future::pending::<()>().await
}

#[cfg(not(unix))]
async fn next(_: &mut Hangups) {
    std::future::pending::<()>().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::default()
    }

    #[test]
    fn a_key_left_out_keeps_the_ordinary_settings_value() {
        let base = settings();
        let live = LiveSettings::parse("[collect]\nrate_per_visit = 2.5\n", &base).unwrap();
        assert_eq!(live.rate_per_visit, 2.5);
        assert_eq!(live.rate_per_ip, base.collect.rate_per_ip);
        assert_eq!(live.payments_breaker, base.payments.breaker());
        assert_eq!(live.values, LiveValues::default());
        assert_eq!(LiveSettings::parse("", &base).unwrap(), LiveSettings::from_settings(&base));
    }

    #[test]
    fn every_value_is_read() {
        let text = r#"
            banner = "Back at 10:00"
            [collect]
            rate_per_ip = 7.0
            [breakers.broker]
            failures = 9
            cooldown_secs = 4
            [drills]
            payment_failure_rate = 0.25
            broker_produce_delay_ms = 100
        "#;
        let live = LiveSettings::parse(text, &settings()).unwrap();
        assert_eq!(live.values.banner.as_deref(), Some("Back at 10:00"));
        assert_eq!(live.rate_per_ip, 7.0);
        assert_eq!(live.broker_breaker, BreakerSettings { failure_threshold: 9, cool_down: Duration::from_secs(4) });
        assert_eq!(live.values.drills.payment_failure_rate, 0.25);
        assert_eq!(live.values.drills.broker_produce_delay_ms, 100);
        assert_eq!(LiveSettings::parse("banner = \"  \"", &settings()).unwrap().values.banner, None);
    }

    #[test]
    fn a_bad_file_is_refused_with_its_reason() {
        let refused = |text: &str| LiveSettings::parse(text, &settings()).unwrap_err();
        assert!(refused("[collect]\nrate_per_visit = 0.0").contains("rate_per_visit must be above 0"));
        assert!(refused("[breakers.payments]\nfailures = 0\ncooldown_secs = 3").contains("at least 1"));
        assert!(refused("[drills]\npayment_failure_rate = 3.0").contains("from 0 to 1"));
        assert!(refused("colour = \"red\"").contains("colour"), "unknown keys are named");
        assert!(refused("banner = ").len() > 5, "a syntax error");
    }
}
