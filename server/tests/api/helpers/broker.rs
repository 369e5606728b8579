//! A private nisshi broker for one test (`TestApp::builder().with_private_broker()`), so stopping it disturbs no
//! other test. The app owns it; `app.broker().kill()` and `.restart()` stop and start it under the app.

use super::free_port;
use std::{
    path::PathBuf,
    process::{Child, Command},
    sync::{Mutex, MutexGuard},
    time::Duration,
};

pub struct Broker {
    port: u16,
    dir: PathBuf,
    /// Behind a lock so a shared app (`Arc<TestApp>`) can stop and start its broker.
    child: Mutex<Option<Child>>,
}

impl Broker {
    /// A broker on a free port, its data in a fresh temporary directory.
    pub(super) fn start_private() -> Self {
        let dir = std::env::temp_dir().join(format!("cartograph-broker-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let broker = Broker { port: free_port(), dir, child: Mutex::new(None) };
        broker.restart();
        broker
    }

    /// The bootstrap address for the app's settings.
    pub(super) fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn child(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn restart(&self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        // As scripts/lib/services.sh starts the shared one.
        let child = Command::new("nisshi")
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "sqlite://nisshi.db",
                "--group-initial-rebalance-delay",
                "0s",
            ])
            .current_dir(&self.dir)
            .stdout(self.log_file())
            .stderr(self.log_file())
            .spawn()
            .expect("nisshi is installed (scripts/test.sh installs it)");
        *self.child() = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nisshi did not start on port {}", self.port);
    }

    /// Where the broker writes its log, across restarts.
    fn log_path(&self) -> PathBuf {
        self.dir.join("broker.log")
    }

    fn log_file(&self) -> std::fs::File {
        std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("the broker's log")
    }

    /// Everything the broker has written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn kill(&self) {
        let child = self.child().take();
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
