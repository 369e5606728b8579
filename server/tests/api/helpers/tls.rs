//! A CA made for one test with `openssl`, and a server certificate it signs for `localhost` and `127.0.0.1`: for
//! the services a test reaches over verified TLS (PostgreSQL, the OpenID provider).

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// The files a [`LocalCa`] was made as.
pub struct LocalCa {
    /// The CA's certificate: what a client is told to trust.
    pub ca: PathBuf,
    /// The server's certificate and private key.
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl LocalCa {
    /// Makes the CA and the server certificate in `dir` (created if missing), valid for two days.
    pub fn make(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl").current_dir(dir).args(args).stdout(Stdio::null()).output();
            let output = output.expect("openssl is installed");
            assert!(output.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        };
        #[rustfmt::skip]
        openssl(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "2", "-subj", "/CN=Cartograph test CA"]);
        #[rustfmt::skip]
        openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost"]);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        #[rustfmt::skip]
        openssl(&["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "server.ext"]);
        Self { ca: dir.join("ca.crt"), cert: dir.join("server.crt"), key: dir.join("server.key") }
    }
}
