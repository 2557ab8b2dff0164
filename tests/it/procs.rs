//! Real processes the notification and daemon tests start and stop themselves:
//! Alertmanager (its own instance, so a test can take it down without disturbing others),
//! Prometheus, and the `burnwatch` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::service;

/// A free TCP port on 127.0.0.1 (bound and released; a tiny race is accepted).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Poll `url` until it answers with a success status, or panic after `limit`.
pub async fn wait_http(url: &str, limit: Duration) {
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Poll `check` every 200 ms until it returns `Some`, or panic with `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An Alertmanager process on a fixed port with a null receiver.
pub struct Alertmanager {
    child: Option<Child>,
    /// Base URL.
    pub url: String,
    port: u16,
    dir: PathBuf,
}

impl Alertmanager {
    /// Start on `port` with data under `dir`, and wait until it serves its API.
    pub async fn start(port: u16, dir: &Path) -> Alertmanager {
        let bin = service("BURNWATCH_TEST_ALERTMANAGER_BIN");
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let config = dir.join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n",
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("alertmanager.log")).unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start alertmanager");
        let url = format!("http://127.0.0.1:{port}");
        wait_http(&format!("{url}/api/v2/status"), Duration::from_secs(30)).await;
        Alertmanager {
            child: Some(child),
            url,
            port,
            dir: dir.to_path_buf(),
        }
    }

    /// Stop the process and wait for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Alerts Alertmanager holds whose labels match `matcher` (`sloth_id="x"`): active
    /// ones by default (resolved alerts are not listed).
    pub async fn alerts(&self, matcher: &str) -> Vec<serde_json::Value> {
        alertmanager_alerts(&self.url, matcher).await
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `GET /api/v2/alerts?filter=<matcher>` on any Alertmanager.
pub async fn alertmanager_alerts(url: &str, matcher: &str) -> Vec<serde_json::Value> {
    let url =
        reqwest::Url::parse_with_params(&format!("{url}/api/v2/alerts"), &[("filter", matcher)])
            .expect("alertmanager URL");
    let resp = reqwest::Client::new()
        .get(url)
        .send()
        .await
        .expect("query alertmanager");
    assert!(resp.status().is_success(), "{}", resp.status());
    resp.json().await.expect("alertmanager JSON")
}

/// The firing page alerts burnwatch's own API lists (`/api/v1/alerts`); empty when the
/// daemon cannot answer yet.
pub async fn firing_pages(url: &str) -> Vec<serde_json::Value> {
    let Ok(resp) = reqwest::get(format!("{url}/api/v1/alerts")).await else {
        return Vec::new();
    };
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    body["alerts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|a| a["severity"] == "page" && a["state"] == "firing")
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// The SLO ids of [`firing_pages`].
pub async fn paging_slos(url: &str) -> Vec<String> {
    firing_pages(url)
        .await
        .iter()
        .filter_map(|a| a["slo_id"].as_str().map(String::from))
        .collect()
}

/// A `burnwatch` child process.
pub struct Burnwatch {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    stderr: PathBuf,
}

impl Burnwatch {
    /// Run `burnwatch run --config <config> --listen 127.0.0.1:<port>` and wait for
    /// `/healthz`. Logs go to `<dir>/burnwatch-<port>.log`.
    pub async fn start(config: &Path, port: u16, dir: &Path) -> Burnwatch {
        Self::spawn(config, port, dir, &[], &[]).await
    }

    /// [`Burnwatch::start`] with extra `run` arguments (`--record FILE`).
    pub async fn start_with(config: &Path, port: u16, dir: &Path, extra: &[&str]) -> Burnwatch {
        Self::spawn(config, port, dir, extra, &[]).await
    }

    /// [`Burnwatch::start`] with extra environment variables (secrets the config names).
    pub async fn start_with_env(
        config: &Path,
        port: u16,
        dir: &Path,
        env: &[(&str, &str)],
    ) -> Burnwatch {
        Self::spawn(config, port, dir, &[], env).await
    }

    async fn spawn(
        config: &Path,
        port: u16,
        dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Burnwatch {
        let stderr = dir.join(format!("burnwatch-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_burnwatch"))
            .envs(env.iter().copied())
            .arg("run")
            .arg("--config")
            .arg(config)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .env("BURNWATCH_LOG", "info,burnwatch=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start burnwatch");
        let url = format!("http://127.0.0.1:{port}");
        let mut bw = Burnwatch {
            child: Some(child),
            url,
            stderr,
        };
        let start = Instant::now();
        loop {
            if let Ok(r) = reqwest::get(format!("{}/healthz", bw.url)).await
                && r.status().is_success()
            {
                return bw;
            }
            if let Some(status) = bw.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("burnwatch exited with {status}:\n{}", bw.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "burnwatch did not come up:\n{}",
                bw.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Send `signal` (`TERM`, `KILL`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{signal} {pid} failed");
    }

    /// Wait for the process to exit, at most `limit`; returns its exit status.
    pub async fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "burnwatch did not exit within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Burnwatch {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
