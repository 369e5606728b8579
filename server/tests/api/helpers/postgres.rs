//! PostgreSQL for tests: a fresh database per test on the shared test server ([`create_database`]), and a
//! cluster of a test's own ([`PrivatePostgres`]) that it may stop under the app, or start accepting TLS only.

use super::free_port;
use sqlx::{Connection, PgConnection};
use std::{
    path::PathBuf,
    process::{Command, Stdio},
};
use uuid::Uuid;

/// The server that holds the test databases (the test script points this at its PostgreSQL).
fn admin_database_url() -> String {
    super::env_or("CARTOGRAPH_TEST_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
}

/// Creates an empty database on the shared test server and returns its URL.
pub async fn create_database() -> String {
    let admin_url = admin_database_url();
    let name = format!("cartograph_test_{}", Uuid::new_v4().simple());
    let mut connection = PgConnection::connect(&admin_url).await.expect("connect to the test PostgreSQL server");
    sqlx::query(&format!(r#"CREATE DATABASE "{name}""#)).execute(&mut connection).await.expect("create test database");
    let (base, _) = admin_url.rsplit_once('/').expect("database URL with a path");
    format!("{base}/{name}")
}

/// A PostgreSQL cluster of a test's own, so it can be stopped and started under the app.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// Extra server options (`-c name=value …`).
    options: String,
}

impl PrivatePostgres {
    fn start() -> Self {
        let postgres = Self::init();
        postgres.start_server();
        postgres
    }

    /// A cluster with an empty database `database` in it, for an app built `with_private_postgres()`.
    pub(super) async fn start_with_database(database: &str) -> Self {
        let postgres = Self::start();
        let mut admin = PgConnection::connect(&postgres.url("postgres")).await.unwrap();
        sqlx::query(&format!(r#"CREATE DATABASE "{database}""#)).execute(&mut admin).await.unwrap();
        admin.close().await.unwrap();
        postgres
    }

    /// A cluster that accepts only TLS connections, with a certificate for `127.0.0.1` and `localhost` signed by
    /// a CA made here; returns it and the CA's certificate file.
    pub fn start_with_tls() -> (Self, PathBuf) {
        let mut postgres = Self::init();
        let tls = postgres.dir.join("tls");
        let ca = super::tls::LocalCa::make(&tls);
        if running_as_root() {
            run(Command::new("chown").args(["-R", "postgres"]).arg(&tls));
        }
        run(Command::new("chmod").arg("600").arg(&ca.key));
        // TLS or nothing: a plaintext connection is turned away by the server itself.
        std::fs::write(
            postgres.dir.join("data/pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        postgres.options =
            format!("-c ssl=on -c ssl_cert_file={} -c ssl_key_file={}", ca.cert.display(), ca.key.display());
        postgres.start_server();
        (postgres, ca.ca)
    }

    fn init() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("pg_ctl").exists())
            .max()
            .expect("PostgreSQL's server binaries under /usr/lib/postgresql (Debian's postgresql package)");
        let dir = std::env::temp_dir().join(format!("cartograph-pg-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let postgres = Self { bin, dir, port: free_port(), options: String::new() };
        if running_as_root() {
            run(Command::new("chown").args(["-R", "postgres"]).arg(&postgres.dir));
        }
        postgres.as_postgres("initdb", &["-D", &postgres.data(), "-U", "postgres", "-A", "trust", "-N"]);
        postgres
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Starts the server (again, after [`stop_immediately`](Self::stop_immediately)).
    pub fn start_server(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off {}",
            self.port,
            self.dir.display(),
            self.options
        );
        let log = self.dir.join("postgres.log").display().to_string();
        self.as_postgres("pg_ctl", &["-D", &self.data(), "-l", &log, "-o", &options, "-w", "start"]);
    }

    /// Stops the server the way a crash would: no checkpoint, every connection cut.
    pub fn stop_immediately(&self) {
        self.as_postgres("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
    }

    fn as_postgres(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        run(command.args(args));
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new(self.bin.join("pg_ctl")).args(["-D", &self.data(), "-m", "immediate", "stop"]).output();
        if running_as_root() {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", &self.data(), "-m", "immediate", "stop"])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().map(|out| out.stdout.trim_ascii() == b"0").unwrap_or(false)
}

fn run(command: &mut Command) {
    let output = command.stdout(Stdio::null()).output().expect("run a PostgreSQL command");
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}
