//! A `cartograph worker` process (the real binary, not a task in the test's process), so a test can kill it with
//! `kill -9` in the middle of its work.

use cartograph::config::Settings;
use std::{
    path::Path,
    process::{Child, Command, Stdio},
};

/// A `cartograph worker` process for this test's database and topics.
pub struct WorkerProcess {
    child: Child,
}

impl WorkerProcess {
    /// The worker as `scripts/run.sh` starts it: a static group member, `worker-0`.
    pub fn start(settings: &Settings, log: &Path) -> Self {
        Self::start_with(settings, log, Some("worker-0"), &[])
    }

    /// A worker under the group `member` name (none: a dynamic member, as a copy of a Deployment is), with
    /// `env` (`CARTOGRAPH_*` settings) on top of the test's.
    pub fn start_with(settings: &Settings, log: &Path, member: Option<&str>, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cartograph"));
        command.arg("worker");
        // Only this test's settings: nothing inherited from the environment or a config file.
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("CARTOGRAPH_")) {
            command.env_remove(name);
        }
        if let Some(member) = member {
            // A static member: its replacement under the same name takes the partitions back at once.
            command.env("CARTOGRAPH_KAFKA_GROUP_MEMBER", member);
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("worker log");
        let child = command
            .env("CARTOGRAPH_CONFIG", "/dev/null/none.toml")
            .env("CARTOGRAPH_MODE", "dev")
            .env("CARTOGRAPH_DATABASE_URL", settings.database.url())
            .env("CARTOGRAPH_KAFKA_BROKERS", settings.kafka.brokers())
            .env("CARTOGRAPH_KAFKA_TOPIC_PREFIX", &settings.kafka.topic_prefix)
            .env("CARTOGRAPH_KAFKA_PARTITIONS", settings.kafka.partitions.to_string())
            .env("CARTOGRAPH_KAFKA_CONSUMER_GROUP", &settings.kafka.consumer_group)
            // A running shop's worker holds the default metrics port.
            .env("CARTOGRAPH_WORKER_METRICS_ADDR", "off")
            .env("CARTOGRAPH_LOG_FORMAT", "pretty")
            .env("RUST_LOG", "warn,cartograph=info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start the worker process");
        Self { child }
    }

    /// `kill -9`: no shutdown, no leaving the consumer group, no last commit.
    pub fn kill_hard(&mut self) {
        self.child.kill().expect("SIGKILL the worker");
        self.child.wait().unwrap();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
