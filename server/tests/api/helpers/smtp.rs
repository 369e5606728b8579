//! A private SMTP sink for one test: maildev from `dev/smtp` (scripts/test.sh installs its packages), its SMTP and
//! web ports free ones on 127.0.0.1, so a test can stop it under the app (the mail then fails to go out) and start
//! it again on the same ports, disturbing no other test. What it received is read through its REST API
//! (`GET /api/email`: every message as JSON, with `to`, `from`, `subject`, `text`, `html`, `headers`; dev/smtp's
//! README shows one). It keeps messages in memory only: started again, its inbox is empty.

use super::free_port;
use std::{
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

/// How long node may take to start maildev (about 2 s on an idle machine; the tests build and run in parallel).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long [`SmtpSink::wait_for`] waits for the messages.
const WAIT_FOR_TIMEOUT: Duration = Duration::from_secs(20);

pub struct SmtpSink {
    smtp_port: u16,
    web_port: u16,
    /// Its log, and its TMPDIR: maildev writes a copy of each message to `$TMPDIR/maildev` and empties that
    /// directory when all messages are deleted, so sinks that shared /tmp/maildev would delete each other's.
    dir: PathBuf,
    /// Behind a lock so a shared app (`Arc<TestApp>`) can stop and start its sink.
    child: Mutex<Option<Child>>,
    client: reqwest::Client,
}

impl SmtpSink {
    /// A sink on two free ports, started; its log in a fresh temporary directory.
    pub fn start_private() -> Self {
        let dir = std::env::temp_dir().join(format!("cartograph-smtp-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let smtp_port = free_port();
        let web_port = loop {
            let port = free_port();
            if port != smtp_port {
                break port;
            }
        };
        let client =
            reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().expect("HTTP client");
        let sink = SmtpSink { smtp_port, web_port, dir, child: Mutex::new(None), client };
        sink.start();
        sink
    }

    /// The SMTP URL for the app's settings: plain SMTP, no TLS, no authentication.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.smtp_port)
    }

    fn api(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/api/{path}", self.web_port)
    }

    fn child(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts maildev on the sink's ports (again, after [`SmtpSink::stop`]; nothing happens while it runs) and
    /// returns once both ports accept connections.
    pub fn start(&self) {
        let mut child = self.child();
        if let Some(running) = child.as_mut() {
            if running.try_wait().expect("the SMTP sink's state").is_none() {
                return;
            }
        }
        let maildev =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../dev/smtp/node_modules/maildev/dist/bin/maildev.js");
        assert!(maildev.is_file(), "{} is missing: run `npm ci` in dev/smtp (scripts/test.sh does)", maildev.display());
        // node itself rather than npx, so that killing the child stops maildev (npx would leave it running). As
        // scripts/lib/services.sh starts the shared one: both listeners on loopback only.
        let mut command = Command::new("node");
        command.arg(&maildev).args([
            "--ip",
            "127.0.0.1",
            "--smtp",
            &self.smtp_port.to_string(),
            "--web-ip",
            "127.0.0.1",
            "--web",
            &self.web_port.to_string(),
        ]);
        // Only these flags: no MAILDEV_* setting from the environment, no .maildevrc.json from the checkout (it is
        // looked for in the working directory and its parents).
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("MAILDEV_")) {
            command.env_remove(name);
        }
        let started = command
            .env("TMPDIR", &self.dir)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(self.log_file())
            .stderr(self.log_file())
            .spawn()
            .expect("node runs maildev (scripts/test.sh installs dev/smtp's packages)");
        let running = child.insert(started);
        let deadline = Instant::now() + START_TIMEOUT;
        for port in [self.smtp_port, self.web_port] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Some(status) = running.try_wait().expect("the SMTP sink's state") {
                    panic!("the SMTP sink (maildev) exited ({status}) before it listened on {port}: {}", self.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "the SMTP sink (maildev) did not listen on {port} within {} s: {}",
                    START_TIMEOUT.as_secs(),
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Kills maildev (`kill -9`: it drops connections mid-message) and returns once its SMTP port refuses
    /// connections. Its messages are gone with it.
    pub fn stop(&self) {
        let child = self.child().take();
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.smtp_port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "port {} still accepts connections after the SMTP sink stopped",
                self.smtp_port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every message the sink has received since it (last) started, in the order they arrived.
    pub async fn messages(&self) -> Vec<serde_json::Value> {
        let response = self
            .client
            .get(self.api("email"))
            .send()
            .await
            .unwrap_or_else(|error| panic!("the SMTP sink's API did not answer (is it stopped?): {error}"));
        assert!(response.status().is_success(), "GET /api/email: {}", response.status());
        response.json().await.expect("the SMTP sink's messages as JSON")
    }

    /// The messages once there are at least `count` (all of them, so perhaps more), waiting up to 20 s.
    pub async fn wait_for(&self, count: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + WAIT_FOR_TIMEOUT;
        loop {
            let messages = self.messages().await;
            if messages.len() >= count {
                return messages;
            }
            if Instant::now() >= deadline {
                let subjects: Vec<&str> =
                    messages.iter().map(|message| message["subject"].as_str().unwrap_or("")).collect();
                panic!(
                    "the SMTP sink received {} message(s), not {count}, within {} s: {subjects:?}",
                    messages.len(),
                    WAIT_FOR_TIMEOUT.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Where maildev writes its output, across restarts.
    fn log_path(&self) -> PathBuf {
        self.dir.join("maildev.log")
    }

    fn log_file(&self) -> std::fs::File {
        std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("the SMTP sink's log")
    }

    /// Everything maildev has written so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(mut child) = self.child().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
