//! The web view end to end in a real headless Chromium (Debian `chromium` +
//! `chromium-driver`, started by `scripts/services/50-chromium.sh`), driven over the W3C
//! WebDriver protocol, against `burnwatch run` on the demo configuration (the bundled
//! incident replayed live) plus one database probe against a closed port, so a real probe
//! run with a runbook link exists.
//!
//! Checked at a phone-sized window: the SLO list shows the SLOs whose page fires, the
//! burning SLO's page has both charts with data and the burn-rate table, the probe page
//! shows the run with its runbook link, the link resolves, no page overflows the screen
//! sideways, no page references anything outside burnwatch, and the browser console has
//! no errors (with a positive control proving that console errors are collected).
//! Screenshots are kept in `target/test-artifacts/web-*.png`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::procs::{Burnwatch, eventually, free_port, paging_slos, wait_http};
use crate::support::{repo, service};

/// WebDriver's key for element references in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser session; deleted on drop, also when the test fails half-way.
struct Session {
    driver: String,
    id: String,
    client: reqwest::Client,
}

impl Session {
    async fn start(driver: &str) -> Session {
        let client = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            // A phone: 412 × 915 CSS pixels (headless windows are at least 500 wide, so
            // the viewport comes from mobile emulation).
            "goog:chromeOptions": {
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=412,915",
                ],
                "mobileEmulation": {"deviceMetrics": {"width": 412, "height": 915, "pixelRatio": 1.0}},
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let r: Value = client
            .post(format!("{driver}/session"))
            .json(&caps)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .unwrap();
        let id = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new session: {r}"))
            .to_string();
        Session {
            driver: driver.to_string(),
            id,
            client,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.driver, self.id);
        let mut req = self.client.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        if r["value"].get("error").is_some() {
            panic!("WebDriver {path}: {}", r["value"]);
        }
        r["value"].clone()
    }
    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn go(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }
    async fn url(&self) -> String {
        self.get("/url").await.as_str().unwrap().to_string()
    }
    async fn find_all(&self, css: &str) -> Vec<String> {
        let v = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_string())
            .collect()
    }
    async fn find(&self, css: &str) -> String {
        let all = self.find_all(css).await;
        assert!(
            !all.is_empty(),
            "no element {css:?} on {}",
            self.url().await
        );
        all[0].clone()
    }
    async fn text(&self, element: &str) -> String {
        let v = self.get(&format!("/element/{element}/text")).await;
        v.as_str().unwrap_or_default().to_string()
    }
    async fn attribute(&self, element: &str, name: &str) -> Option<String> {
        let v = self
            .get(&format!("/element/{element}/attribute/{name}"))
            .await;
        v.as_str().map(str::to_string)
    }
    async fn property(&self, element: &str, name: &str) -> Value {
        self.get(&format!("/element/{element}/property/{name}"))
            .await
    }
    async fn click(&self, element: &str) {
        self.post(&format!("/element/{element}/click"), json!({}))
            .await;
    }
    async fn script(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []}))
            .await
    }

    /// Browser console entries since the last call (chromedriver's log endpoint).
    async fn console(&self) -> Vec<Value> {
        let url = format!("{}/session/{}/se/log", self.driver, self.id);
        let r: Value = self
            .client
            .post(&url)
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["value"]
            .as_array()
            .unwrap_or_else(|| panic!("browser log: {r}"))
            .clone()
    }

    /// Save a PNG screenshot as `target/test-artifacts/web-<name>.png`.
    async fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.get("/screenshot").await;
        let png = base64_decode(b64.as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let dir = repo().join("target/test-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("web-{name}.png"));
        std::fs::write(&file, png).unwrap();
        file
    }
}

impl Drop for Session {
    /// `DELETE /session/{id}` over a plain blocking socket (drop cannot await), so the
    /// browser never outlives the test.
    fn drop(&mut self) {
        let hostport = self.driver.trim_start_matches("http://").to_string();
        if let Ok(mut s) = std::net::TcpStream::connect(&hostport) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(
                s,
                "DELETE /session/{} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n",
                self.id
            );
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
    }
}

/// Standard base64 (what WebDriver screenshots are in).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= u32::from(value(*c)) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// The demo configuration (`examples/demo/burnwatch.yaml`), with its paths made absolute,
/// the history in `dir`, and one probe target on a closed local port.
fn demo_config(dir: &Path) -> PathBuf {
    let demo = repo().join("examples/demo");
    let mut text = std::fs::read_to_string(demo.join("burnwatch.yaml")).unwrap();
    let closed_port = free_port();
    for (from, to) in [
        (
            "  - ../../slo-specs\n".to_string(),
            format!("  - {}\n", repo().join("slo-specs").display()),
        ),
        (
            "  path: ../../data/burnwatch.sqlite\n".to_string(),
            format!("  path: {}\n", dir.join("history.sqlite").display()),
        ),
        (
            "    file: incident.jsonl\n".to_string(),
            format!("    file: {}\n", demo.join("incident.jsonl").display()),
        ),
        (
            "probes: []\n".to_string(),
            format!(
                "probes:\n  - name: mass-spec-rds\n    host: 127.0.0.1\n    port: {closed_port}\n    \
                 user: burnwatch_probe\n    sslmode: disable\n"
            ),
        ),
    ] {
        assert!(text.contains(&from), "the demo config has {from:?}");
        text = text.replace(&from, &to);
    }
    let file = dir.join("burnwatch.yaml");
    std::fs::write(&file, text).unwrap();
    file
}

/// The page's HTML references nothing outside burnwatch.
async fn assert_self_contained(url: &str) {
    let html = reqwest::get(url).await.unwrap().text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("src=\"//"),
        "{url} references an external URL:\n{html}"
    );
}

/// Nothing is wider than the phone screen (tables scroll inside their own box).
async fn assert_fits_the_screen(s: &Session) {
    let v = s
        .script("return [document.documentElement.scrollWidth, window.innerWidth];")
        .await;
    let (scroll, inner) = (v[0].as_i64().unwrap(), v[1].as_i64().unwrap());
    assert_eq!(inner, 412, "a phone-sized viewport");
    assert!(
        scroll <= inner,
        "{}: page is {scroll}px wide on a {inner}px screen",
        s.url().await
    );
}

fn severe(entries: &[Value]) -> Vec<&Value> {
    entries.iter().filter(|e| e["level"] == "SEVERE").collect()
}

#[tokio::test]
async fn the_web_view_in_headless_chromium_against_the_demo() {
    let driver = service("BURNWATCH_TEST_CHROMEDRIVER");
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let bw = Burnwatch::start(&config, free_port(), dir.path()).await;
    let base = bw.url.clone();
    wait_http(&format!("{base}/readyz"), Duration::from_secs(60)).await;
    let paging = eventually(Duration::from_secs(60), "a firing page alert", || {
        let base = base.clone();
        async move { Some(paging_slos(&base).await).filter(|p| !p.is_empty()) }
    })
    .await;
    // The probe's first run happens at start; wait until it is stored.
    eventually(Duration::from_secs(60), "a stored probe run", || {
        let base = base.clone();
        async move {
            let body: Value = reqwest::get(format!("{base}/api/v1/probes"))
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            body["runs"]
                .as_array()
                .filter(|r| !r.is_empty())
                .map(|_| ())
        }
    })
    .await;

    let s = Session::start(&driver).await;

    // The SLO list: every paging SLO is shown as such, first.
    s.go(&format!("{base}/")).await;
    let rows = s.find_all("tr.slo").await;
    assert!(rows.len() >= paging.len(), "{}", bw.log());
    for id in &paging {
        let row = s.find(&format!("tr.slo[data-slo=\"{id}\"]")).await;
        assert_eq!(
            s.attribute(&row, "class").await.as_deref(),
            Some("slo state-page"),
            "{id} is shown as paging"
        );
        assert!(s.text(&row).await.contains("page"), "{id}");
    }
    let first = s.attribute(&rows[0], "data-slo").await.unwrap();
    assert!(
        paging.contains(&first),
        "a paging SLO is listed first, not {first}"
    );
    assert_fits_the_screen(&s).await;
    let shot = s.screenshot("slos").await;
    assert_self_contained(&format!("{base}/")).await;

    // The burning SLO's page: both charts with data, the burn-rate table.
    let burning = &paging[0];
    let link = s.find(&format!("tr.slo[data-slo=\"{burning}\"] a")).await;
    s.click(&link).await;
    assert!(
        s.url().await.ends_with(&format!("/slo/{burning}")),
        "{}",
        s.url().await
    );
    for chart in ["chart-sli", "chart-budget"] {
        let svg = s.find(&format!("svg#{chart}")).await;
        let points: usize = s
            .attribute(&svg, "data-points")
            .await
            .unwrap()
            .parse()
            .unwrap();
        assert!(points > 1, "{chart} has {points} points with data");
        let path = s.find(&format!("svg#{chart} path.line")).await;
        let d = s.attribute(&path, "d").await.unwrap();
        assert!(
            d.starts_with('M') && d.contains('L'),
            "{chart} draws a line: {d}"
        );
        let width = s.property(&svg, "clientWidth").await.as_i64().unwrap();
        assert!(width > 200, "{chart} is drawn ({width}px wide)");
    }
    let pairs = s.find_all("tr.pair").await;
    assert_eq!(pairs.len(), 4, "four burn-rate pairs");
    let quick = s.find("tr.pair-page-quick").await;
    let quick_text = s.text(&quick).await;
    assert!(
        quick_text.contains('×') && quick_text.contains("14.40×"),
        "page-quick row with its 14.4 threshold: {quick_text}"
    );
    assert_fits_the_screen(&s).await;
    s.screenshot("slo").await;
    s.script("document.querySelector('table.pairs').scrollIntoView();")
        .await;
    s.screenshot("slo-burn-rates").await;
    assert_self_contained(&s.url().await).await;

    // The probe history: the run, its steps and its runbook link, which resolves.
    s.go(&format!("{base}/probes")).await;
    let run_link = s.find("tr.run a").await;
    s.click(&run_link).await;
    assert!(s.url().await.contains("/probes/"), "{}", s.url().await);
    let steps = s.find_all("tr.step").await;
    assert!(steps.len() >= 2, "dns and tcp steps");
    let failed = s.find("tr.step.failed").await;
    assert!(s.text(&failed).await.starts_with("tcp"));
    let runbook = s.find("a.runbook").await;
    let href = s.property(&runbook, "href").await;
    let href = href.as_str().unwrap().to_string();
    assert_eq!(
        href,
        format!("{base}/runbooks/db-connectivity.md#tcp-refused")
    );
    assert_fits_the_screen(&s).await;
    s.screenshot("probe").await;
    assert_self_contained(&s.url().await).await;
    let r = reqwest::get(&href).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("id=\"tcp-refused\""));
    s.click(&runbook).await;
    let section = s.find("h2#tcp-refused").await;
    assert_eq!(s.text(&section).await, "tcp-refused");
    assert_fits_the_screen(&s).await;

    // The alert history lists the page's firing transition.
    s.go(&format!("{base}/alerts")).await;
    let transitions = s.find_all("tr.transition").await;
    assert!(!transitions.is_empty(), "stored transitions are listed");
    assert_fits_the_screen(&s).await;
    s.screenshot("alerts").await;
    assert_self_contained(&format!("{base}/alerts")).await;

    // No console errors on any page visited.
    let errors: Vec<Value> = severe(&s.console().await).into_iter().cloned().collect();
    assert!(errors.is_empty(), "browser console errors: {errors:?}");

    // Positive control: a missing resource is an error the collection does see.
    s.go(&format!("{base}/no-such-page")).await;
    let control = s.console().await;
    assert!(
        !severe(&control).is_empty(),
        "the console check must see a failed load: {control:?}"
    );
    eprintln!(
        "web view screenshots: {} (and web-slo.png, web-slo-burn-rates.png, web-probe.png, web-alerts.png)",
        shot.display()
    );
}
