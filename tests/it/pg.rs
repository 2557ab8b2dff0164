//! PostgreSQL for the probe tests: the shared TLS cluster `scripts/services/30-postgres.sh`
//! starts, and throwaway clusters copied from its initdb template for tests that need
//! their own server settings (each test its own cluster, so parallel tests never see
//! each other's configuration).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use burnwatch::probe::db::target::Secret;
use burnwatch::probe::db::{PasswordSource, ProbeTarget, SslMode};

use crate::support::service;

/// The shared cluster's superuser password.
pub fn password() -> String {
    service("BURNWATCH_TEST_PG_PASSWORD")
}

/// The shared cluster's port.
pub fn shared_port() -> u16 {
    service("BURNWATCH_TEST_PG_PORT").parse().expect("port")
}

/// The CA that signed the test servers' certificate.
pub fn ca() -> PathBuf {
    PathBuf::from(service("BURNWATCH_TEST_PG_CA"))
}

/// A target for 127.0.0.1:`port`, superuser with its password, verify-full against the
/// test CA, short timeouts.
pub fn target(name: &str, port: u16) -> ProbeTarget {
    let mut t = ProbeTarget::new(name, "127.0.0.1", port, "postgres", "postgres");
    t.password = PasswordSource::Inline(Secret::new(password()));
    t.sslmode = SslMode::VerifyFull;
    t.ca_bundle = Some(ca());
    t
}

/// A superuser connection without TLS, for test setup.
pub async fn admin(port: u16) -> tokio_postgres::Client {
    connect(port, "postgres").await.expect("admin connection")
}

/// A superuser connection to `db` (plaintext), or the error.
pub async fn connect(port: u16, db: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host("127.0.0.1")
        .port(port)
        .user("postgres")
        .password(password())
        .dbname(db);
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// A unique lower-case name for databases and roles.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A throwaway PostgreSQL copied from the template; stopped and removed on drop.
pub struct Cluster {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
}

fn bin(name: &str) -> PathBuf {
    Path::new(&service("BURNWATCH_TEST_PG_BIN")).join(name)
}

/// Run a command as the PostgreSQL user when the tests run as root.
fn as_pg(program: &Path) -> Command {
    let runas = std::env::var("BURNWATCH_TEST_PG_RUNAS").unwrap_or_default();
    if runas.is_empty() {
        Command::new(program)
    } else {
        let mut c = Command::new("runuser");
        c.args(["-u", &runas, "--"]).arg(program);
        c
    }
}

impl Cluster {
    /// Start a cluster with extra `-c name=value` settings.
    pub fn start(settings: &[(&str, &str)]) -> Cluster {
        let root = PathBuf::from(service("BURNWATCH_TEST_PG_ROOT"));
        let template = root.join("template");
        let dir = root.join("clusters").join(unique("c"));
        let status = as_pg(Path::new("cp"))
            .arg("-a")
            .arg(&template)
            .arg(&dir)
            .status()
            .expect("cp");
        assert!(status.success(), "copying the template failed");
        let mut opts = format!("-k {}", dir.display());
        for (k, v) in settings {
            opts.push_str(&format!(" -c {k}={v}"));
        }
        for _attempt in 0..3 {
            let port = free_port();
            let out = as_pg(&bin("pg_ctl"))
                .arg("-D")
                .arg(&dir)
                .arg("-l")
                .arg(dir.join("server.log"))
                .args(["-w", "-t", "60", "start", "-o"])
                .arg(format!("-p {port} {opts}"))
                .output()
                .expect("pg_ctl");
            if out.status.success() {
                return Cluster { port, dir };
            }
        }
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        panic!("cluster in {} did not start: {log}", dir.display());
    }

    /// The postmaster's process id.
    pub fn pid(&self) -> i32 {
        let text = std::fs::read_to_string(self.dir.join("postmaster.pid")).unwrap();
        text.lines().next().unwrap().trim().parse().unwrap()
    }

    /// Send a signal to the postmaster (`STOP`, `CONT`).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// `pg_ctl stop` with a mode, optionally without waiting.
    pub fn pg_ctl_stop(&self, mode: &str, wait: bool) {
        let mut c = as_pg(&bin("pg_ctl"));
        c.arg("-D").arg(&self.dir).args(["stop", "-m", mode]);
        if !wait {
            c.arg("-W");
        }
        assert!(c.output().unwrap().status.success(), "pg_ctl stop");
    }

    /// Write `content` to a file in the data directory owned by the server's user with
    /// mode 0600 (PostgreSQL insists on that for private keys).
    pub fn write_private(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, content).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let meta = std::fs::metadata(&self.dir).unwrap();
        std::os::unix::fs::chown(&path, Some(meta.uid()), Some(meta.gid())).unwrap();
        path
    }

    /// Restart with extra settings (after writing files with [`Cluster::write_private`]).
    pub fn restart(&mut self, settings: &[(&str, &str)]) {
        let mut c = as_pg(&bin("pg_ctl"));
        c.arg("-D").arg(&self.dir).args(["stop", "-m", "fast"]);
        assert!(c.output().unwrap().status.success());
        let mut opts = format!("-p {} -k {}", self.port, self.dir.display());
        for (k, v) in settings {
            opts.push_str(&format!(" -c {k}={v}"));
        }
        let out = as_pg(&bin("pg_ctl"))
            .arg("-D")
            .arg(&self.dir)
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "60", "start", "-o"])
            .arg(opts)
            .output()
            .unwrap();
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        assert!(out.status.success(), "restart failed: {log}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A stopped (SIGSTOP) postmaster cannot shut down; wake it first.
        let _ = Command::new("kill")
            .arg("-CONT")
            .arg(
                std::fs::read_to_string(self.dir.join("postmaster.pid"))
                    .ok()
                    .and_then(|t| t.lines().next().map(str::to_string))
                    .unwrap_or_default(),
            )
            .status();
        let _ = as_pg(&bin("pg_ctl"))
            .arg("-D")
            .arg(&self.dir)
            .args(["stop", "-m", "immediate"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
