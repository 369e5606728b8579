//! Drill flags turned on and off during a run: `--drill AT:NAME=VALUE` (with `--live-file PATH`) writes the web
//! servers' live file (`server::live`) at AT seconds into the run with the drills in force from then on; at the
//! end the file is put back as it was. The web servers read the file again within a second of each change.

use anyhow::{bail, ensure, Context};
use std::{
    collections::BTreeMap,
    path::PathBuf,
    time::{Duration, Instant},
};

/// The drills a live file takes (`app::live::Drills`).
const NAMES: [&str; 4] = ["payment_failure_rate", "payment_latency_ms", "slow_catalog_ms", "broker_produce_delay_ms"];

/// One change: at `at` into the run, drill `name` takes `value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: Duration,
    pub name: String,
    pub value: f64,
}

impl Step {
    /// `AT:NAME=VALUE`, e.g. `10:payment_failure_rate=0.3`.
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let usage = || format!("--drill {spec:?}: expected AT:NAME=VALUE, e.g. 10:payment_failure_rate=0.3");
        let (at, rest) = spec.split_once(':').with_context(usage)?;
        let (name, value) = rest.split_once('=').with_context(usage)?;
        let at = Duration::from_secs(at.trim().parse().with_context(usage)?);
        let name = name.trim().to_string();
        ensure!(NAMES.contains(&name.as_str()), "--drill {spec:?}: the drills are {}", NAMES.join(", "));
        let value: f64 = value.trim().parse().with_context(usage)?;
        ensure!(value.is_finite() && value >= 0.0, "--drill {spec:?}: the value must be a number from 0");
        Ok(Self { at, name, value })
    }
}

/// The steps of a run and the file they write.
pub struct Plan {
    file: PathBuf,
    original: Option<String>,
    steps: Vec<Step>,
}

impl Plan {
    /// Refuses a live file that has drills of its own: the run would have to rewrite the operator's table.
    pub fn new(file: PathBuf, mut steps: Vec<Step>) -> anyhow::Result<Self> {
        let original = match std::fs::read_to_string(&file) {
            Ok(text) => Some(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => bail!("cannot read the live file {}: {error}", file.display()),
        };
        if original.as_deref().is_some_and(|text| text.lines().any(|line| line.trim() == "[drills]")) {
            bail!("{} already has a [drills] table: remove it before a run turns drills on and off", file.display());
        }
        steps.sort_by_key(|step| step.at);
        Ok(Self { file, original, steps })
    }

    /// The file's text with `drills` in force.
    fn text(&self, drills: &BTreeMap<String, f64>) -> String {
        let mut text = self.original.clone().unwrap_or_default();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("[drills]\n");
        for (name, value) in drills {
            text.push_str(&format!("{name} = {}\n", value_literal(name, *value)));
        }
        text
    }

    /// Writes each step at its time after `started`; runs until the last one (or until it is dropped).
    pub async fn run(&self, started: Instant) {
        let mut drills = BTreeMap::new();
        for step in &self.steps {
            tokio::time::sleep_until((started + step.at).into()).await;
            drills.insert(step.name.clone(), step.value);
            match std::fs::write(&self.file, self.text(&drills)) {
                Ok(()) => println!("drill at {} s: {} = {}", step.at.as_secs(), step.name, step.value),
                Err(error) => {
                    eprintln!("drill at {} s: cannot write {}: {error}", step.at.as_secs(), self.file.display())
                }
            }
        }
    }

    /// Puts the file back as it was before the run.
    pub fn restore(&self) -> std::io::Result<()> {
        match &self.original {
            Some(text) => std::fs::write(&self.file, text),
            None if self.file.exists() => std::fs::remove_file(&self.file),
            None => Ok(()),
        }
    }
}

/// Rates are fractions; delays are whole milliseconds.
fn value_literal(name: &str, value: f64) -> String {
    if name.ends_with("_ms") {
        format!("{}", value.round() as u64)
    } else {
        format!("{value:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_read_and_bad_ones_named() {
        let step = Step::parse("10:payment_failure_rate=0.3").unwrap();
        assert_eq!(step, Step { at: Duration::from_secs(10), name: "payment_failure_rate".into(), value: 0.3 });
        assert!(Step::parse("10:colour=1").unwrap_err().to_string().contains("the drills are"));
        assert!(Step::parse("payment_failure_rate=0.3").is_err());
        assert!(Step::parse("5:slow_catalog_ms=-1").is_err());
    }

    #[test]
    fn the_file_keeps_the_operators_settings_and_is_put_back() {
        let file = std::env::temp_dir().join(format!("cartograph-drills-{}.toml", uuid::Uuid::new_v4().simple()));
        std::fs::write(&file, "banner = \"Drill in progress\"").unwrap();
        let steps =
            vec![Step::parse("0:slow_catalog_ms=250").unwrap(), Step::parse("0:payment_failure_rate=1").unwrap()];
        let plan = Plan::new(file.clone(), steps).unwrap();
        let mut drills = BTreeMap::new();
        drills.insert("slow_catalog_ms".to_string(), 250.0);
        drills.insert("payment_failure_rate".to_string(), 1.0);
        assert_eq!(
            plan.text(&drills),
            "banner = \"Drill in progress\"\n[drills]\npayment_failure_rate = 1.0\nslow_catalog_ms = 250\n"
        );
        plan.restore().unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "banner = \"Drill in progress\"");
        std::fs::write(&file, "[drills]\nslow_catalog_ms = 1\n").unwrap();
        assert!(Plan::new(file.clone(), Vec::new()).is_err(), "the operator's own drills are left alone");
        std::fs::remove_file(&file).unwrap();
    }
}
