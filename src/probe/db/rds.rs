//! Step 7, RDS control plane (when the target names an instance): `DescribeDBInstances`
//! status and `DescribeEvents` of the last hour.
//!
//! The data plane says *that* the database is unreachable; the control plane often says
//! *why*: `rebooting`, `storage-full`, `stopped`, a Multi-AZ failover a few minutes ago
//! (RDS-EVENT-0013/0015/0049: clients must re-resolve DNS), maintenance. This step runs
//! even when a data-plane step already failed, because that is when its answer matters.

use std::time::Duration;

use aws_sdk_rds::Client;
use aws_sdk_rds::operation::describe_db_instances::DescribeDBInstancesError;
use aws_sdk_rds::types::SourceType;
use chrono::{DateTime, Utc};

use super::aws;

/// How far back events are read, in minutes.
pub const EVENT_WINDOW_MINUTES: i32 = 60;

/// Statuses in which the instance serves connections. Everything else (rebooting,
/// failing over, storage-full, stopped, starting, upgrading, incompatible-*, …) counts
/// as not available.
const SERVING: &[&str] = &[
    "available",
    "backing-up",
    "modifying",
    "storage-optimization",
    "configuring-enhanced-monitoring",
    "configuring-iam-database-auth",
    "configuring-log-exports",
    "renaming",
    "resetting-master-credentials",
];

/// Event categories worth naming in the step detail (others are only counted).
const NOTABLE: &[&str] = &[
    "failover",
    "availability",
    "maintenance",
    "recovery",
    "restoration",
    "failure",
    "low storage",
    "notification",
];

/// Why the control plane could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RdsError {
    /// No instance with this identifier (deleted, renamed, wrong account or region).
    #[error("DB instance {0} not found (wrong identifier, region or account, or deleted)")]
    NotFound(String),
    /// The API call failed (credentials, permissions, throttling, endpoint).
    #[error("{call} failed: {message}")]
    Api {
        /// The operation.
        call: &'static str,
        /// What AWS said.
        message: String,
    },
    /// The calls did not finish within the step's timeout.
    #[error("RDS API did not answer within {0:?}")]
    Timeout(Duration),
}

/// One RDS event, as stored in history for postmortem timelines.
#[derive(Debug, Clone, PartialEq)]
pub struct RdsEvent {
    /// DB instance identifier.
    pub source_id: String,
    /// When, RFC 3339 UTC.
    pub ts: String,
    /// Event categories (failover, availability, …).
    pub categories: Vec<String>,
    /// The event message.
    pub message: String,
}

/// What the control plane reports.
#[derive(Debug, Clone, PartialEq)]
pub struct RdsFindings {
    /// The instance identifier.
    pub instance_id: String,
    /// `DBInstanceStatus`.
    pub status: String,
    /// Multi-AZ deployment.
    pub multi_az: bool,
    /// Primary's availability zone.
    pub az: Option<String>,
    /// Standby's availability zone (Multi-AZ).
    pub secondary_az: Option<String>,
    /// Endpoint address.
    pub endpoint: Option<String>,
    /// Server CA identifier and the server certificate's end of validity.
    pub ca: Option<String>,
    /// Events of the last [`EVENT_WINDOW_MINUTES`], oldest first.
    pub events: Vec<RdsEvent>,
}

impl RdsFindings {
    /// True when the status is one in which the instance serves connections.
    pub fn serving(&self) -> bool {
        SERVING.contains(&self.status.as_str())
    }

    /// Failover events in the window.
    pub fn failovers(&self) -> usize {
        self.events
            .iter()
            .filter(|e| e.categories.iter().any(|c| c == "failover"))
            .count()
    }

    /// The step detail.
    pub fn describe(&self) -> String {
        let mut out = format!("instance {} status {}", self.instance_id, self.status);
        if !self.serving() {
            out.push_str(" (not serving connections)");
        }
        if self.multi_az {
            out.push_str(&format!(
                "; Multi-AZ, primary in {}, standby in {}",
                self.az.as_deref().unwrap_or("?"),
                self.secondary_az.as_deref().unwrap_or("?")
            ));
        } else if let Some(az) = &self.az {
            out.push_str(&format!("; single-AZ in {az}"));
        }
        if let Some(ep) = &self.endpoint {
            out.push_str(&format!("; endpoint {ep}"));
        }
        if let Some(ca) = &self.ca {
            out.push_str(&format!("; {ca}"));
        }
        let failovers = self.failovers();
        if failovers > 0 {
            out.push_str(&format!(
                "; FAILOVER in the last hour ({failovers} event{}): clients must re-resolve DNS, pooled connections may point at the old primary",
                if failovers == 1 { "" } else { "s" }
            ));
        }
        let (notable, other): (Vec<&RdsEvent>, Vec<&RdsEvent>) = self
            .events
            .iter()
            .partition(|e| e.categories.iter().any(|c| NOTABLE.contains(&c.as_str())));
        if notable.is_empty() {
            out.push_str("; no failover, availability or maintenance events in the last hour");
        } else {
            let list: Vec<String> = notable
                .iter()
                .map(|e| format!("{} [{}] {}", e.ts, e.categories.join(","), e.message))
                .collect();
            out.push_str(&format!("; events (last hour): {}", list.join(" | ")));
        }
        if !other.is_empty() {
            out.push_str(&format!(" (+{} other events)", other.len()));
        }
        out
    }
}

/// Read status and recent events within `limit`.
pub async fn check(
    client: &Client,
    instance_id: &str,
    limit: Duration,
) -> Result<RdsFindings, RdsError> {
    match tokio::time::timeout(limit, check_inner(client, instance_id)).await {
        Ok(r) => r,
        Err(_) => Err(RdsError::Timeout(limit)),
    }
}

/// A client for the target's AWS settings.
pub async fn client(settings: &super::target::AwsSettings) -> Client {
    Client::new(&aws::sdk_config(settings).await)
}

async fn check_inner(client: &Client, instance_id: &str) -> Result<RdsFindings, RdsError> {
    let out = client
        .describe_db_instances()
        .db_instance_identifier(instance_id)
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            Some(DescribeDBInstancesError::DbInstanceNotFoundFault(_)) => {
                RdsError::NotFound(instance_id.to_string())
            }
            _ => RdsError::Api {
                call: "DescribeDBInstances",
                message: aws::error_text(&e),
            },
        })?;
    let Some(db) = out.db_instances().first() else {
        return Err(RdsError::NotFound(instance_id.to_string()));
    };
    let ca = db.ca_certificate_identifier().map(|id| {
        match db.certificate_details().and_then(|c| c.valid_till()) {
            Some(t) => format!("CA {id}, server certificate valid till {}", smithy_ts(t)),
            None => format!("CA {id}"),
        }
    });
    let mut findings = RdsFindings {
        instance_id: instance_id.to_string(),
        status: db.db_instance_status().unwrap_or("unknown").to_string(),
        multi_az: db.multi_az().unwrap_or(false),
        az: db.availability_zone().map(str::to_string),
        secondary_az: db.secondary_availability_zone().map(str::to_string),
        endpoint: db.endpoint().and_then(|e| e.address()).map(str::to_string),
        ca,
        events: Vec::new(),
    };
    let events = client
        .describe_events()
        .source_type(SourceType::DbInstance)
        .source_identifier(instance_id)
        .duration(EVENT_WINDOW_MINUTES)
        .send()
        .await
        .map_err(|e| RdsError::Api {
            call: "DescribeEvents",
            message: aws::error_text(&e),
        })?;
    findings.events = events
        .events()
        .iter()
        .map(|e| RdsEvent {
            source_id: e.source_identifier().unwrap_or(instance_id).to_string(),
            ts: e.date().map(smithy_ts).unwrap_or_default(),
            categories: e.event_categories().to_vec(),
            message: e.message().unwrap_or("").to_string(),
        })
        .collect();
    findings.events.sort_by(|a, b| a.ts.cmp(&b.ts));
    Ok(findings)
}

fn smithy_ts(t: &aws_smithy_types::DateTime) -> String {
    DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos())
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
    use aws_sdk_rds::operation::describe_events::DescribeEventsOutput;
    use aws_sdk_rds::types::{DbInstance, Event};
    use aws_smithy_mocks::{mock, mock_client};

    fn event(minute: u32, category: &str, message: &str) -> Event {
        Event::builder()
            .source_identifier("prod")
            .source_type(SourceType::DbInstance)
            .event_categories(category)
            .message(message)
            .date(aws_smithy_types::DateTime::from_secs(
                1_795_000_000 + i64::from(minute) * 60,
            ))
            .build()
    }

    fn instance(status: &str) -> DescribeDbInstancesOutput {
        DescribeDbInstancesOutput::builder()
            .db_instances(
                DbInstance::builder()
                    .db_instance_identifier("prod")
                    .db_instance_status(status)
                    .multi_az(true)
                    .availability_zone("eu-central-1b")
                    .secondary_availability_zone("eu-central-1a")
                    .build(),
            )
            .build()
    }

    #[tokio::test]
    async fn failover_events_are_named_and_ordered() {
        let instances = mock!(Client::describe_db_instances)
            .match_requests(|r| r.db_instance_identifier() == Some("prod"))
            .then_output(|| instance("available"));
        let events = mock!(Client::describe_events)
            .match_requests(|r| r.duration() == Some(60) && r.source_identifier() == Some("prod"))
            .then_output(|| {
                DescribeEventsOutput::builder()
                    .events(event(3, "failover", "Multi-AZ instance failover completed"))
                    .events(event(1, "failover", "Multi-AZ instance failover started"))
                    .events(event(2, "backup", "Backing up DB instance"))
                    .build()
            });
        let client = mock_client!(aws_sdk_rds, [&instances, &events]);
        let f = check(&client, "prod", Duration::from_secs(5))
            .await
            .unwrap();
        assert!(f.serving());
        assert_eq!(f.failovers(), 2);
        assert_eq!(f.events[0].message, "Multi-AZ instance failover started");
        let d = f.describe();
        assert!(
            d.contains(
                "status available; Multi-AZ, primary in eu-central-1b, standby in eu-central-1a"
            ),
            "{d}"
        );
        assert!(d.contains("FAILOVER in the last hour (2 events)"), "{d}");
        assert!(
            d.contains("[failover] Multi-AZ instance failover started | 2026-"),
            "{d}"
        );
        assert!(d.ends_with("(+1 other events)"), "{d}");
    }

    #[tokio::test]
    async fn rebooting_instance_is_not_serving() {
        let instances = mock!(Client::describe_db_instances).then_output(|| instance("rebooting"));
        let events = mock!(Client::describe_events).then_output(|| {
            DescribeEventsOutput::builder()
                .events(event(0, "availability", "DB instance restarted"))
                .build()
        });
        let client = mock_client!(aws_sdk_rds, [&instances, &events]);
        let f = check(&client, "prod", Duration::from_secs(5))
            .await
            .unwrap();
        assert!(!f.serving());
        let d = f.describe();
        assert!(
            d.contains("status rebooting (not serving connections)"),
            "{d}"
        );
        assert!(d.contains("[availability] DB instance restarted"), "{d}");
        assert!(!d.contains("FAILOVER"), "{d}");
    }

    #[tokio::test]
    async fn missing_instance_and_api_errors() {
        use aws_sdk_rds::types::error::DbInstanceNotFoundFault;
        let missing = mock!(Client::describe_db_instances).then_error(|| {
            DescribeDBInstancesError::DbInstanceNotFoundFault(
                DbInstanceNotFoundFault::builder()
                    .message("DBInstance gone not found")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_rds, [&missing]);
        let err = check(&client, "gone", Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RdsError::NotFound(ref id) if id == "gone"),
            "{err}"
        );

        let denied = mock!(Client::describe_db_instances).then_error(|| {
            DescribeDBInstancesError::generic(
                aws_sdk_rds::error::ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("not authorized to perform rds:DescribeDBInstances")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_rds, [&denied]);
        let err = check(&client, "prod", Duration::from_secs(5))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("DescribeDBInstances failed"), "{text}");
        assert!(text.contains("AccessDenied"), "{text}");
    }

    #[test]
    fn every_serving_status_is_distinct_from_failure_statuses() {
        for s in [
            "rebooting",
            "storage-full",
            "stopped",
            "starting",
            "failed",
            "upgrading",
            "maintenance",
        ] {
            let f = RdsFindings {
                instance_id: "x".into(),
                status: s.into(),
                multi_az: false,
                az: None,
                secondary_az: None,
                endpoint: None,
                ca: None,
                events: vec![],
            };
            assert!(!f.serving(), "{s}");
        }
    }
}
