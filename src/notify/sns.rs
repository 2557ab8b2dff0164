//! AWS SNS receiver: one `Publish` per notification, shaped to SNS' limits.
//!
//! - Subject: fewer than 100 characters, no line breaks or control characters (cut to 99
//!   with an ellipsis).
//! - Message: at most 256 KiB **including message attributes**; a longer body is cut on a
//!   character boundary (never inside a UTF-8 sequence) and ends with a note saying how
//!   much was dropped; attribute `truncated=true` is set.
//! - Attributes (String): `severity`, `slo_id`, `state`, `alertname` — at most 10 so raw
//!   SQS delivery never discards the message.
//! - FIFO topics (`.fifo`): `MessageGroupId` is the SLO, so one SLO's messages stay in
//!   order; `MessageDeduplicationId` is the alert's label fingerprint plus the state plus
//!   `startsAt` (and `endsAt` once resolved). A resolve therefore never falls into the
//!   firing message's 5-minute dedup window (Alertmanager's own SNS notifier uses one id
//!   for both and loses resolves), while a firing message delivered twice after a crash
//!   is dropped by SNS.
//!
//! SNS notifies people directly, so it only gets state changes, not Prometheus-style
//! re-sends ([`Notifier::wants_repeats`] is false).

use std::fmt::Write as _;

use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::operation::publish::PublishError;
use aws_sdk_sns::types::MessageAttributeValue;

use super::{BoxFuture, Notification, Notifier, NotifyError, State};
use crate::config::SnsConfig;

/// SNS' message size limit in bytes (message body plus attribute names, types, values).
pub const MAX_MESSAGE_BYTES: usize = 262_144;
/// Subjects must be shorter than 100 characters.
pub const MAX_SUBJECT_CHARS: usize = 99;
/// FIFO group and deduplication ids are at most 128 characters.
pub const MAX_FIFO_ID_CHARS: usize = 128;

/// Publishes to one SNS topic.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    receiver: String,
}

/// A `Publish` request before it meets the SDK (pure, so its limits are unit-tested).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsMessage {
    /// The subject (email subject line).
    pub subject: String,
    /// The body.
    pub message: String,
    /// String message attributes, in order.
    pub attributes: Vec<(String, String)>,
    /// `MessageGroupId` and `MessageDeduplicationId`, for FIFO topics.
    pub fifo: Option<(String, String)>,
}

impl SnsNotifier {
    /// A notifier using AWS' default credential chain and `config`'s region and endpoint.
    pub async fn from_config(config: &SnsConfig) -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .operation_timeout(config.timeout.to_std())
            .build();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(config.region.clone()))
            .timeout_config(timeouts);
        if let Some(url) = &config.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        Self::new(aws_sdk_sns::Client::new(&sdk), &config.topic_arn)
    }

    /// A notifier over an existing client (tests, shared SDK config).
    pub fn new(client: aws_sdk_sns::Client, topic_arn: &str) -> Self {
        SnsNotifier {
            client,
            receiver: format!("sns:{topic_arn}"),
            topic_arn: topic_arn.to_string(),
        }
    }

    async fn publish(&self, n: &Notification) -> Result<(), NotifyError> {
        let msg = build_message(n, self.topic_arn.ends_with(".fifo"));
        let mut req = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(msg.subject)
            .message(msg.message);
        for (name, value) in msg.attributes {
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| NotifyError::Rejected(format!("message attribute {name}: {e}")))?;
            req = req.message_attributes(name, attr);
        }
        if let Some((group, dedup)) = msg.fifo {
            req = req.message_group_id(group).message_deduplication_id(dedup);
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(classify(&e)),
        }
    }
}

impl Notifier for SnsNotifier {
    fn receiver(&self) -> &str {
        &self.receiver
    }
    fn wants_repeats(&self) -> bool {
        false
    }
    fn send<'a>(&'a self, batch: &'a [Notification]) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            for n in batch {
                self.publish(n).await?;
            }
            Ok(())
        })
    }
}

/// Invalid parameters are the only errors that retrying cannot fix; throttling, KMS,
/// authorization and network errors may heal (or be fixed by an operator) and are
/// retried, so a page waits rather than vanishes.
fn classify(e: &SdkError<PublishError>) -> NotifyError {
    let detail = match e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let msg = format!(
                "{}: {}",
                err.code().unwrap_or("unknown error"),
                err.message().unwrap_or("")
            );
            if matches!(
                err,
                PublishError::InvalidParameterException(_)
                    | PublishError::InvalidParameterValueException(_)
                    | PublishError::ValidationException(_)
            ) {
                return NotifyError::Rejected(format!("SNS Publish: {msg}"));
            }
            msg
        }
        other => {
            let mut msg = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                let _ = write!(msg, ": {s}");
                source = s.source();
            }
            msg
        }
    };
    NotifyError::Unavailable(format!("SNS Publish: {detail}"))
}

/// Build the request for `n` within SNS' limits.
pub fn build_message(n: &Notification, fifo: bool) -> SnsMessage {
    let subject = subject(n);
    let mut attributes = vec![
        ("severity".to_string(), n.severity.clone()),
        ("slo_id".to_string(), n.slo_id.clone()),
        ("state".to_string(), n.state.as_str().to_string()),
        ("alertname".to_string(), n.alert.clone()),
    ];
    let body = body(n);
    // Attribute names, the type name and values count toward the limit.
    let attr_bytes = |attrs: &[(String, String)]| -> usize {
        attrs
            .iter()
            .map(|(k, v)| k.len() + "String".len() + v.len())
            .sum()
    };
    let message = if body.len() + attr_bytes(&attributes) <= MAX_MESSAGE_BYTES {
        body
    } else {
        attributes.push(("truncated".to_string(), "true".to_string()));
        truncate_with_note(&body, MAX_MESSAGE_BYTES - attr_bytes(&attributes))
    };
    let fifo = fifo.then(|| {
        let fp = n.fingerprint();
        let group = fifo_id(&n.slo_id);
        let group = if group.is_empty() { fp.clone() } else { group };
        let dedup = match n.state {
            State::Firing => format!("{fp}-firing-{}", n.starts_at.timestamp_millis()),
            State::Resolved => format!(
                "{fp}-resolved-{}-{}",
                n.starts_at.timestamp_millis(),
                n.ends_at.timestamp_millis()
            ),
        };
        (group, dedup)
    });
    SnsMessage {
        subject,
        message,
        attributes,
        fifo,
    }
}

fn subject(n: &Notification) -> String {
    let raw = format!(
        "[{}:{}] {} {}",
        n.state.as_str().to_uppercase(),
        n.severity,
        n.alert,
        n.slo_id
    );
    // Control characters (line breaks included) become spaces; runs of spaces collapse.
    let mut clean = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && clean.ends_with(' ') {
            continue;
        }
        clean.push(c);
    }
    let clean = clean.trim().to_string();
    if clean.chars().count() <= MAX_SUBJECT_CHARS {
        clean
    } else {
        let mut cut: String = clean.chars().take(MAX_SUBJECT_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

const MAIN_ANNOTATIONS: [&str; 4] = ["title", "summary", "runbook_url", "dashboard_url"];

fn body(n: &Notification) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "{} ({}): {}",
        n.state.as_str().to_uppercase(),
        n.severity,
        n.alert
    );
    let _ = writeln!(b, "SLO: {}", n.slo_id);
    for key in ["title", "summary"] {
        if let Some(v) = n.annotations.get(key) {
            let _ = writeln!(b, "\n{v}");
        }
    }
    b.push('\n');
    if let Some(v) = n.annotations.get("runbook_url") {
        let _ = writeln!(b, "Runbook: {v}");
    }
    if let Some(v) = n.annotations.get("dashboard_url") {
        let _ = writeln!(b, "Dashboard: {v}");
    }
    let ts =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let _ = writeln!(b, "Started: {}", ts(n.starts_at));
    match n.state {
        State::Firing => {
            let _ = writeln!(b, "Valid until: {}", ts(n.ends_at));
        }
        State::Resolved => {
            let _ = writeln!(b, "Resolved: {}", ts(n.ends_at));
        }
    }
    if !n.generator_url.is_empty() {
        let _ = writeln!(b, "Details: {}", n.generator_url);
    }
    let others: Vec<_> = n
        .annotations
        .iter()
        .filter(|(k, _)| !MAIN_ANNOTATIONS.contains(&k.as_str()))
        .collect();
    if !others.is_empty() {
        b.push_str("\nAnnotations:\n");
        for (k, v) in others {
            let _ = writeln!(b, "  {k}: {v}");
        }
    }
    b.push_str("\nLabels:\n");
    for (k, v) in &n.labels {
        let _ = writeln!(b, "  {k}={v}");
    }
    b
}

/// Cut `body` to at most `max_bytes` bytes on a character boundary, ending with a note.
fn truncate_with_note(body: &str, max_bytes: usize) -> String {
    // The note's length depends on the number it carries; reserve room for the largest.
    let note_room = "\n\n[truncated by burnwatch: 18446744073709551615 bytes omitted]".len();
    let mut cut = max_bytes.saturating_sub(note_room).min(body.len());
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}\n\n[truncated by burnwatch: {} bytes omitted]",
        &body[..cut],
        body.len() - cut
    )
}

/// Printable ASCII without spaces (what SNS accepts in FIFO ids), at most 128 characters.
fn fifo_id(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(MAX_FIFO_ID_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::tests::sample;

    #[test]
    fn subject_is_clean_and_short() {
        let mut n = sample(State::Firing);
        assert_eq!(
            subject(&n),
            "[FIRING:page] MassSpecAPIAvailability mass-spec-api-availability"
        );
        n.alert = format!("Line\nbreak\r\n\tand {}", "x".repeat(200));
        let s = subject(&n);
        assert_eq!(s.chars().count(), MAX_SUBJECT_CHARS);
        assert!(s.starts_with("[FIRING:page] Line break and xxx"), "{s}");
        assert!(!s.chars().any(char::is_control));
        assert!(s.ends_with('…'));
    }

    #[test]
    fn small_messages_are_whole_with_four_attributes() {
        let mut n = sample(State::Resolved);
        n.annotations
            .insert("runbook_url".into(), "runbooks/api.md".into());
        n.annotations.insert("burn_rate_5m".into(), "15.2".into());
        let m = build_message(&n, false);
        assert!(
            m.message
                .starts_with("RESOLVED (page): MassSpecAPIAvailability\n")
        );
        assert!(m.message.contains("Runbook: runbooks/api.md\n"));
        assert!(m.message.contains("Resolved: 2026-11-20T10:04:00Z\n"));
        assert!(m.message.contains("  burn_rate_5m: 15.2\n"));
        assert_eq!(
            m.attributes,
            [
                ("severity".to_string(), "page".to_string()),
                ("slo_id".into(), "mass-spec-api-availability".into()),
                ("state".into(), "resolved".into()),
                ("alertname".into(), "MassSpecAPIAvailability".into()),
            ]
        );
        assert_eq!(m.fifo, None);
    }

    #[test]
    fn huge_messages_are_cut_on_a_char_boundary_within_the_limit() {
        let mut n = sample(State::Firing);
        // Three-byte characters, so a byte cut would likely split one.
        n.annotations
            .insert("description".into(), "€".repeat(100_000));
        let m = build_message(&n, false);
        let attr_bytes: usize = m
            .attributes
            .iter()
            .map(|(k, v)| k.len() + 6 + v.len())
            .sum();
        assert!(m.message.len() + attr_bytes <= MAX_MESSAGE_BYTES);
        assert!(m.message.len() + attr_bytes > MAX_MESSAGE_BYTES - 100);
        assert!(
            m.attributes
                .contains(&("truncated".to_string(), "true".to_string()))
        );
        let note = m.message.rsplit("\n\n").next().unwrap();
        let omitted: usize = note
            .trim_start_matches("[truncated by burnwatch: ")
            .trim_end_matches(" bytes omitted]")
            .parse()
            .unwrap();
        let full = body(&n);
        let kept = m.message.len() - note.len() - 2;
        assert_eq!(kept + omitted, full.len());
        assert!(full.starts_with(&m.message[..kept]));
    }

    #[test]
    fn fifo_ids_separate_firing_from_resolve_and_are_stable() {
        let fire = build_message(&sample(State::Firing), true).fifo.unwrap();
        let again = build_message(&sample(State::Firing), true).fifo.unwrap();
        let resolve = build_message(&sample(State::Resolved), true).fifo.unwrap();
        assert_eq!(fire, again, "a re-delivery after a crash is deduplicated");
        assert_eq!(fire.0, "mass-spec-api-availability");
        assert_eq!(fire.0, resolve.0, "one group per SLO keeps order");
        assert_ne!(fire.1, resolve.1, "a resolve is never swallowed");
        assert!(fire.1.contains("-firing-") && resolve.1.contains("-resolved-"));
        assert!(fire.1.len() <= MAX_FIFO_ID_CHARS && resolve.1.len() <= MAX_FIFO_ID_CHARS);
        let mut odd = sample(State::Firing);
        odd.slo_id = format!("a b\n{}", "c".repeat(300));
        let (group, _) = build_message(&odd, true).fifo.unwrap();
        assert_eq!(group.len(), MAX_FIFO_ID_CHARS);
        assert!(group.starts_with("abccc"));
    }
}
