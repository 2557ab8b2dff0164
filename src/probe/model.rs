//! The probe run record: what one probe run found, in the exact shape of the public
//! `probe --json` contract (`design.md`, "probe --json output"):
//!
//! ```json
//! {"id":"01JD…","target":"mass-spec-rds","started_at":"2026-11-20T10:00:00.123Z",
//!  "healthy":false,"classification":"auth_failed","failed_step":"auth",
//!  "steps":[{"step":"dns","ok":true,"ms":0.4,"detail":"10.0.3.17"}, …],
//!  "runbook":"runbooks/db-connectivity.md#auth-failed"}
//! ```
//!
//! The same document is printed by `probe db --json`, stored verbatim in history and
//! served by `/api/v1/probes/{id}`; the metric-facing facts (success, per-step
//! milliseconds, classification) are fields of it.

use std::fmt;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The runbook every database-connectivity classification links into.
pub const DB_RUNBOOK: &str = "runbooks/db-connectivity.md";

/// What a run concluded: the fixed vocabulary of the design. Each value names the layer
/// that is broken, so the on-call engineer knows where to look before reading details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// Every step passed.
    Healthy,
    /// The endpoint name did not resolve (NXDOMAIN, no records, resolver down) in time.
    DnsFailed,
    /// Every address actively refused the TCP connection: nothing listens (server
    /// stopped, wrong port).
    TcpRefused,
    /// TCP connects timed out or the network was unreachable: a security group, NACL or
    /// route drops the packets.
    TcpTimeout,
    /// TLS could not be set up: the server refuses TLS, the certificate does not verify
    /// against the CA bundle, or the handshake failed or timed out.
    TlsFailed,
    /// The server rejected the login (SQLSTATE 28P01 bad password, 28000 no pg_hba entry
    /// or an RDS IAM token failure), or the credentials could not be obtained.
    AuthFailed,
    /// The database named in the target does not exist (SQLSTATE 3D000).
    DbMissing,
    /// No connection slot was free (SQLSTATE 53300).
    TooManyConnections,
    /// The server is starting up, shutting down or in crash recovery (SQLSTATE 57P03,
    /// 57P01).
    DbStartingOrShuttingDown,
    /// The probe query failed, or the server is read-only where the target expects a
    /// writable primary (a stale endpoint after a failover).
    QueryFailed,
    /// The probe query took longer than the target's threshold (or its timeout).
    QuerySlow,
    /// Connections in use are above the target's share of `max_connections`.
    SaturationHigh,
    /// The RDS control plane reports the instance as not available (rebooting,
    /// storage-full, stopped, …), or could not be asked.
    RdsNotAvailable,
}

impl Classification {
    /// Every classification, in the order of the layers.
    pub const ALL: [Classification; 13] = [
        Classification::Healthy,
        Classification::DnsFailed,
        Classification::TcpRefused,
        Classification::TcpTimeout,
        Classification::TlsFailed,
        Classification::AuthFailed,
        Classification::DbMissing,
        Classification::TooManyConnections,
        Classification::DbStartingOrShuttingDown,
        Classification::QueryFailed,
        Classification::QuerySlow,
        Classification::SaturationHigh,
        Classification::RdsNotAvailable,
    ];

    /// The wire name (`auth_failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Healthy => "healthy",
            Classification::DnsFailed => "dns_failed",
            Classification::TcpRefused => "tcp_refused",
            Classification::TcpTimeout => "tcp_timeout",
            Classification::TlsFailed => "tls_failed",
            Classification::AuthFailed => "auth_failed",
            Classification::DbMissing => "db_missing",
            Classification::TooManyConnections => "too_many_connections",
            Classification::DbStartingOrShuttingDown => "db_starting_or_shutting_down",
            Classification::QueryFailed => "query_failed",
            Classification::QuerySlow => "query_slow",
            Classification::SaturationHigh => "saturation_high",
            Classification::RdsNotAvailable => "rds_not_available",
        }
    }

    /// The runbook section for this classification: `runbooks/db-connectivity.md#auth-failed`.
    /// The anchor is the name with `-` for `_`, which is also the section heading.
    pub fn runbook(self) -> String {
        format!("{DB_RUNBOOK}#{}", self.as_str().replace('_', "-"))
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The layers of the database probe, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepName {
    /// Resolve the endpoint.
    Dns,
    /// Connect to the resolved addresses.
    Tcp,
    /// PostgreSQL SSLRequest and TLS handshake.
    Tls,
    /// Credentials and the PostgreSQL startup/authentication exchange.
    Auth,
    /// The probe query and the read-only check.
    Query,
    /// Connections in use against `max_connections`.
    Saturation,
    /// RDS `DescribeDBInstances` and `DescribeEvents`.
    Rds,
}

impl StepName {
    /// The wire name (`dns`).
    pub fn as_str(self) -> &'static str {
        match self {
            StepName::Dns => "dns",
            StepName::Tcp => "tcp",
            StepName::Tls => "tls",
            StepName::Auth => "auth",
            StepName::Query => "query",
            StepName::Saturation => "saturation",
            StepName::Rds => "rds",
        }
    }
}

impl fmt::Display for StepName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// Which layer.
    pub step: StepName,
    /// Whether the layer works.
    pub ok: bool,
    /// How long the step took, in milliseconds (microsecond resolution).
    pub ms: f64,
    /// What was found: addresses, TLS version and certificate expiry, SQLSTATE and server
    /// message, latency, connection counts, RDS status and events. Never a secret.
    pub detail: String,
}

/// One run of one probe target: the `probe --json` document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeRun {
    /// Sortable unique id ([`new_run_id`]): the permalink a postmortem cites.
    pub id: String,
    /// The target's configured name.
    pub target: String,
    /// When the run started, RFC 3339 UTC with milliseconds.
    pub started_at: String,
    /// True exactly when `classification` is `healthy`.
    pub healthy: bool,
    /// What the run concluded.
    pub classification: Classification,
    /// The step whose failure decided the classification; `null` when healthy.
    pub failed_step: Option<StepName>,
    /// Every step that ran, in order, with its duration and detail.
    pub steps: Vec<StepResult>,
    /// The runbook section for `classification`.
    pub runbook: String,
}

impl ProbeRun {
    /// The contract JSON on one line (what `probe db --json` prints and history stores).
    pub fn to_json(&self) -> String {
        // Serialising plain strings, numbers and enums cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The result of `step`, if that step ran.
    pub fn step(&self, step: StepName) -> Option<&StepResult> {
        self.steps.iter().find(|s| s.step == step)
    }
}

/// Format a time as the contract's RFC 3339 UTC text with milliseconds. The fixed width
/// also makes the text sort in time order, which the history store relies on.
pub fn format_ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Crockford's base32 alphabet, as used by ULIDs (no I, L, O, U).
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The last id handed out (milliseconds, random part), to stay monotonic within a process.
static LAST_ID: Mutex<(u64, u128)> = Mutex::new((0, 0));

/// A new sortable unique run id in the ULID layout: 26 Crockford base32 characters, the
/// first 10 the Unix time in milliseconds, the rest 80 random bits. Ids sort by time as
/// text; within one process and millisecond they increase (the random part is incremented),
/// so a daemon running many targets at once still hands out ordered, distinct ids.
pub fn new_run_id(now: DateTime<Utc>) -> String {
    let ms = u64::try_from(now.timestamp_millis()).unwrap_or(0) & ((1 << 48) - 1);
    let mask: u128 = (1 << 80) - 1;
    let mut last = LAST_ID.lock().unwrap_or_else(|p| p.into_inner());
    let (ms, random) = if ms <= last.0 && last.1 < mask {
        (last.0, last.1 + 1)
    } else {
        (ms.max(last.0), rand::random::<u128>() & mask)
    };
    *last = (ms, random);
    drop(last);
    let value: u128 = (u128::from(ms) << 80) | random;
    let mut out = [0u8; 26];
    for (i, c) in out.iter_mut().enumerate() {
        let shift = 5 * (25 - i);
        *c = CROCKFORD[((value >> shift) & 31) as usize];
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn classification_wire_names_and_runbooks() {
        for c in Classification::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(
                c.runbook(),
                format!(
                    "runbooks/db-connectivity.md#{}",
                    c.as_str().replace('_', "-")
                )
            );
        }
        assert_eq!(
            Classification::DbStartingOrShuttingDown.runbook(),
            "runbooks/db-connectivity.md#db-starting-or-shutting-down"
        );
    }

    #[test]
    fn run_serialises_to_the_contract_shape() {
        let run = ProbeRun {
            id: "01JD0000000000000000000000".into(),
            target: "mass-spec-rds".into(),
            started_at: "2026-11-20T10:00:00.000Z".into(),
            healthy: false,
            classification: Classification::AuthFailed,
            failed_step: Some(StepName::Auth),
            steps: vec![StepResult {
                step: StepName::Dns,
                ok: true,
                ms: 0.4,
                detail: "10.0.3.17".into(),
            }],
            runbook: Classification::AuthFailed.runbook(),
        };
        assert_eq!(
            run.to_json(),
            r#"{"id":"01JD0000000000000000000000","target":"mass-spec-rds","started_at":"2026-11-20T10:00:00.000Z","healthy":false,"classification":"auth_failed","failed_step":"auth","steps":[{"step":"dns","ok":true,"ms":0.4,"detail":"10.0.3.17"}],"runbook":"runbooks/db-connectivity.md#auth-failed"}"#
        );
        let back: ProbeRun = serde_json::from_str(&run.to_json()).unwrap();
        assert_eq!(back, run);
        let healthy = ProbeRun {
            healthy: true,
            classification: Classification::Healthy,
            failed_step: None,
            ..run
        };
        assert!(healthy.to_json().contains(r#""failed_step":null"#));
    }

    #[test]
    fn ids_are_ulid_shaped_unique_and_time_ordered() {
        // Far in the future: the process-wide monotonic state may hold ids of other tests
        // made with the real clock.
        let t1 = Utc.with_ymd_and_hms(2200, 11, 20, 10, 0, 0).unwrap();
        let t2 = t1 + chrono::Duration::milliseconds(1);
        let a = new_run_id(t1);
        let b = new_run_id(t1);
        let c = new_run_id(t2);
        assert_eq!(a.len(), 26);
        assert!(a.bytes().all(|ch| CROCKFORD.contains(&ch)), "{a}");
        assert!(a < b && b < c, "{a} {b} {c}");
        // The time prefix encodes the milliseconds: decode the first 10 characters.
        let ms = a[..10].bytes().fold(0u64, |acc, ch| {
            acc * 32 + CROCKFORD.iter().position(|&x| x == ch).unwrap() as u64
        });
        assert_eq!(ms as i64, t1.timestamp_millis());
        // An earlier clock reading (clock step back) still yields a larger id.
        let d = new_run_id(t1 - chrono::Duration::seconds(5));
        assert!(d > c, "{d} {c}");
    }

    #[test]
    fn timestamps_have_fixed_width() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(format_ts(t), "2026-01-02T03:04:05.000Z");
    }
}
