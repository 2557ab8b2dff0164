//! Alertmanager receiver: `POST /api/v2/alerts` with a JSON array of `postableAlert`s.
//!
//! One [`AlertmanagerNotifier`] per configured URL (Prometheus sends every alert to every
//! Alertmanager of a cluster; the cluster deduplicates). Answers map to the outbox's two
//! outcomes: 2xx accepted; 408, 429 and 5xx or no answer at all → retry later; any other
//! 4xx → rejected (validation error: retrying the same body cannot help).

use std::time::Duration;

use serde::Serialize;

use super::{BoxFuture, Notification, Notifier, NotifyError};
use crate::config::{BasicAuth, Secret};
use crate::spec::Labels;

/// Largest batch per request: big enough that a burst of pages is a few requests, small
/// enough that one rejected alert (Alertmanager stores the valid ones of a 400 batch
/// anyway) costs little to bisect.
pub const MAX_BATCH: usize = 64;

/// Posts alerts to one Alertmanager.
#[derive(Debug)]
pub struct AlertmanagerNotifier {
    receiver: String,
    endpoint: String,
    client: reqwest::Client,
    bearer_token: Option<Secret>,
    basic_auth: Option<BasicAuth>,
}

/// Alertmanager's `postableAlert` (API v2).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert<'a> {
    labels: Labels,
    annotations: Labels,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "str::is_empty")]
    generator_url: &'a str,
}

impl AlertmanagerNotifier {
    /// A notifier for the Alertmanager at `base_url` (`http://am:9093`, or a full
    /// `.../api/v2/alerts` URL).
    pub fn new(
        base_url: &str,
        timeout: Duration,
        bearer_token: Option<Secret>,
    ) -> Result<Self, NotifyError> {
        let base = base_url.trim_end_matches('/');
        let endpoint = if base.ends_with("/api/v2/alerts") {
            base.to_string()
        } else {
            format!("{base}/api/v2/alerts")
        };
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("burnwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NotifyError::Unavailable(format!("cannot build HTTP client: {e}")))?;
        Ok(AlertmanagerNotifier {
            receiver: format!("alertmanager:{base}"),
            endpoint,
            client,
            bearer_token,
            basic_auth: None,
        })
    }

    /// Authenticate with HTTP basic auth (`notifiers.alertmanager.basic_auth`).
    pub fn with_basic_auth(mut self, auth: Option<BasicAuth>) -> Self {
        self.basic_auth = auth;
        self
    }

    /// The URL alerts are posted to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn post(&self, batch: &[Notification]) -> Result<(), NotifyError> {
        let body: Vec<PostableAlert<'_>> = batch.iter().map(postable).collect();
        let mut req = self.client.post(&self.endpoint).json(&body);
        if let Some(token) = &self.bearer_token {
            req = req.bearer_auth(token.expose());
        }
        if let Some(b) = &self.basic_auth {
            req = req.basic_auth(&b.username, Some(b.password.expose()));
        }
        let resp = req
            .send()
            .await
            .map_err(|e| NotifyError::Unavailable(describe(&e)))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let text = resp.text().await.unwrap_or_default();
        let msg = format!("HTTP {status} from {}: {}", self.endpoint, snippet(&text));
        if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            Err(NotifyError::Unavailable(msg))
        } else {
            Err(NotifyError::Rejected(msg))
        }
    }
}

impl Notifier for AlertmanagerNotifier {
    fn receiver(&self) -> &str {
        &self.receiver
    }
    fn max_batch(&self) -> usize {
        MAX_BATCH
    }
    fn send<'a>(&'a self, batch: &'a [Notification]) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(self.post(batch))
    }
}

fn postable(n: &Notification) -> PostableAlert<'_> {
    // Alertmanager drops empty label values; dropping them here keeps our identity equal
    // to what it stores.
    let labels = n
        .labels
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    PostableAlert {
        labels,
        annotations: n.annotations.clone(),
        starts_at: n
            .starts_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ends_at: n
            .ends_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        generator_url: &n.generator_url,
    }
}

/// The error and its causes on one line (reqwest hides "connection refused" in a source).
fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

fn snippet(body: &str) -> String {
    let trimmed = body.trim();
    match trimmed.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &trimmed[..i]),
        None => trimmed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::State;
    use crate::notify::tests::sample;

    #[test]
    fn postable_alert_has_alertmanagers_field_names() {
        let mut n = sample(State::Firing);
        n.labels.insert("empty".into(), String::new());
        n.annotations
            .insert("runbook_url".into(), "runbooks/x.md".into());
        let v = serde_json::to_value(postable(&n)).unwrap();
        assert_eq!(v["startsAt"], "2026-11-20T10:00:00.000Z");
        assert_eq!(v["endsAt"], "2026-11-20T10:04:00.000Z");
        assert_eq!(
            v["generatorURL"],
            "http://127.0.0.1:9464/api/v1/slos/mass-spec-api-availability"
        );
        assert_eq!(v["labels"]["alertname"], "MassSpecAPIAvailability");
        assert!(v["labels"].get("empty").is_none());
        assert_eq!(v["annotations"]["runbook_url"], "runbooks/x.md");
    }

    #[test]
    fn endpoint_is_derived_from_the_base_url() {
        let t = Duration::from_secs(1);
        let a = AlertmanagerNotifier::new("http://am:9093/", t, None).unwrap();
        assert_eq!(a.endpoint(), "http://am:9093/api/v2/alerts");
        assert_eq!(a.receiver(), "alertmanager:http://am:9093");
        let b = AlertmanagerNotifier::new("http://am:9093/api/v2/alerts", t, None).unwrap();
        assert_eq!(b.endpoint(), "http://am:9093/api/v2/alerts");
    }

    #[test]
    fn long_error_bodies_are_cut_on_a_char_boundary() {
        let body = "é".repeat(400);
        let s = snippet(&body);
        assert_eq!(s.chars().count(), 301);
        assert!(s.ends_with('…'));
    }

    /// With `basic_auth` the request carries `Authorization: Basic base64(user:pass)`;
    /// checked on the bytes a local server receives.
    #[tokio::test]
    async fn basic_auth_is_sent_as_the_authorization_header() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = sock.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
            }
            sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8_lossy(&req).to_lowercase()
        });
        let am = AlertmanagerNotifier::new(&url, Duration::from_secs(5), None)
            .unwrap()
            .with_basic_auth(Some(BasicAuth {
                username: "ops".into(),
                password: Secret::new("hunter2"),
            }));
        am.send(&[sample(State::Firing)]).await.unwrap();
        let head = server.await.unwrap();
        assert!(
            head.contains("\r\nauthorization: basic b3bzomh1bnrlcji=\r\n"),
            "{head}"
        );
        assert!(!format!("{am:?}").contains("hunter2"));
    }
}
