//! Grafana dashboards generated from the SLO specs (`burnwatch generate dashboards`):
//! one overview of every SLO and one burn dashboard per service.
//!
//! The dashboards query only the series listed in [`series`] (Sloth's names plus
//! `burnwatch_*`), so they work both against burnwatch's `/metrics` and for teams that
//! evaluate the generated rules in Prometheus. Alert thresholds come from the same window
//! catalog the alerts use. Output is deterministic (sorted keys, stable ids and uids,
//! pretty-printed, trailing newline) so the files can be checked in and compared in CI.

pub mod model;
pub mod overview;
pub mod panels;
pub mod query;
pub mod series;
pub mod service;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::spec::{AlertWindows, Duration, LoadOptions, Slo};

use model::{
    Annotation, AnnotationList, Dashboard, DashboardLink, DataSourceRef, Panel, SCHEMA_VERSION,
    TemplateVariable, Templating, TimeRange, Timepicker,
};
use query::{Filter, selector};

/// Why dashboards cannot be generated.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// Nothing to draw.
    #[error("no SLOs found: nothing to generate")]
    NoSlos,
    /// An SLO's period has no alert windows (normally caught when loading the specs).
    #[error("SLO {slo:?} ({source_ref}): {message}")]
    Period {
        /// The SLO id.
        slo: String,
        /// Where it is defined.
        source_ref: String,
        /// The catalog's message.
        message: String,
    },
    /// Two services would get the same dashboard uid.
    #[error("services {first:?} and {second:?} map to the same dashboard uid {uid:?}")]
    UidCollision {
        /// The uid.
        uid: String,
        /// One service.
        first: String,
        /// The other.
        second: String,
    },
}

/// One generated dashboard file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardFile {
    /// `<uid>.json`.
    pub file_name: String,
    /// The dashboard uid.
    pub uid: String,
    /// The dashboard title.
    pub title: String,
    /// Pretty-printed JSON with sorted keys and a trailing newline.
    pub json: String,
}

/// An SLO with the alert windows of its period resolved.
#[derive(Clone, Copy, Debug)]
pub struct SloWindows<'a> {
    /// The SLO.
    pub slo: &'a Slo,
    /// The alert windows of its period.
    pub windows: &'a AlertWindows,
}

impl SloWindows<'_> {
    /// The SLO's period.
    pub fn period(&self) -> Duration {
        self.windows.period
    }
}

/// Maximum uid length Grafana accepts.
pub const MAX_UID_LEN: usize = 40;
/// Uid of the overview dashboard.
pub const OVERVIEW_UID: &str = "burnwatch-slo-overview";
/// Prefix of the service dashboards' uids.
pub const SERVICE_UID_PREFIX: &str = "burnwatch-burn-";
/// Tag of the overview (linked from the service dashboards).
pub const OVERVIEW_TAG: &str = "burnwatch-overview";
/// Tag of the service burn dashboards (linked from the overview and each other).
pub const BURN_TAG: &str = "burnwatch-burn";

/// Generate the overview and one dashboard per service for `slos`, the overview first,
/// then services by name. Each SLO's period is `slo.period` or `options.period`.
pub fn generate<'a>(
    slos: impl IntoIterator<Item = &'a Slo>,
    options: &'a LoadOptions,
) -> Result<Vec<DashboardFile>, DashboardError> {
    let mut resolved = Vec::new();
    for slo in slos {
        let period = slo.period.unwrap_or(options.period);
        let windows =
            options
                .catalog
                .require(period)
                .map_err(|message| DashboardError::Period {
                    slo: slo.id.clone(),
                    source_ref: slo.source.to_string(),
                    message,
                })?;
        resolved.push(SloWindows { slo, windows });
    }
    if resolved.is_empty() {
        return Err(DashboardError::NoSlos);
    }
    let default_windows =
        options
            .catalog
            .require(options.period)
            .map_err(|message| DashboardError::Period {
                slo: "(default period)".into(),
                source_ref: "--period".into(),
                message,
            })?;

    let mut by_service: BTreeMap<&str, Vec<SloWindows<'_>>> = BTreeMap::new();
    for s in &resolved {
        by_service.entry(&s.slo.service).or_default().push(*s);
    }
    let mut out = vec![render(&overview::dashboard(&resolved, default_windows))];
    let mut uids: BTreeMap<String, &str> = BTreeMap::new();
    uids.insert(OVERVIEW_UID.to_string(), "(overview)");
    for (service, slos) in &by_service {
        let uid = service_uid(service);
        if let Some(first) = uids.insert(uid.clone(), service) {
            return Err(DashboardError::UidCollision {
                uid,
                first: first.to_string(),
                second: service.to_string(),
            });
        }
        out.push(render(&service::dashboard(service, &uid, slos)));
    }
    Ok(out)
}

/// Serialize with keys sorted at every level (as Grafana exports), two-space indent and a
/// trailing newline.
pub fn render(dashboard: &Dashboard) -> DashboardFile {
    // Serializing these plain structs cannot fail (no maps with non-string keys).
    let value = serde_json::to_value(dashboard).unwrap_or(Value::Null);
    let mut json = serde_json::to_string_pretty(&sort_keys(value)).unwrap_or_default();
    json.push('\n');
    DashboardFile {
        file_name: format!("{}.json", dashboard.uid),
        uid: dashboard.uid.clone(),
        title: dashboard.title.clone(),
        json,
    }
}

fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// The uid of a service's burn dashboard: `burnwatch-burn-<service>` when the service name
/// is a plain slug that fits in 40 characters, else a slug prefix and a stable hash of the
/// exact name (so distinct services never share a uid and it never changes between runs).
pub fn service_uid(service: &str) -> String {
    let plain = !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if plain && SERVICE_UID_PREFIX.len() + service.len() <= MAX_UID_LEN {
        return format!("{SERVICE_UID_PREFIX}{service}");
    }
    let slug: String = service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(8)
        .collect();
    let slug = slug.trim_matches('-');
    let hash = format!("{:016x}", fnv1a(service.as_bytes()));
    if slug.is_empty() {
        format!("{SERVICE_UID_PREFIX}{hash}")
    } else {
        format!("{SERVICE_UID_PREFIX}{slug}-{hash}")
    }
}

/// FNV-1a, 64 bit: a hash that is the same on every platform and release.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Parts every generated dashboard shares.
pub(crate) struct Skeleton<'a> {
    pub uid: &'a str,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub links: Vec<DashboardLink>,
    pub annotations: Vec<Annotation>,
    pub time_from: &'a str,
    pub panels: Vec<Panel>,
}

impl Skeleton<'_> {
    pub(crate) fn build(self) -> Dashboard {
        let mut list = vec![Annotation {
            built_in: Some(1),
            datasource: DataSourceRef {
                kind: "grafana".into(),
                uid: "-- Grafana --".into(),
            },
            enable: true,
            expr: None,
            hide: true,
            icon_color: "rgba(0, 211, 255, 1)".into(),
            name: "Annotations & Alerts".into(),
            step: None,
            tag_keys: None,
            text_format: None,
            title_format: None,
            kind: Some("dashboard".into()),
            use_value_for_time: None,
        }];
        list.extend(self.annotations);
        Dashboard {
            annotations: AnnotationList { list },
            description: self.description,
            editable: true,
            fiscal_year_start_month: 0,
            graph_tooltip: 1,
            id: None,
            links: self.links,
            panels: self.panels,
            refresh: "1m".into(),
            schema_version: SCHEMA_VERSION,
            tags: self.tags,
            templating: Templating {
                list: vec![TemplateVariable::prometheus_datasource()],
            },
            time: TimeRange {
                from: self.time_from.into(),
                to: "now".into(),
            },
            timepicker: Timepicker {},
            timezone: "utc".into(),
            title: self.title,
            uid: self.uid.into(),
            version: 1,
            week_start: String::new(),
        }
    }
}

/// A header link to the dashboards tagged `tag`.
pub(crate) fn tag_link(title: &str, tag: &str) -> DashboardLink {
    DashboardLink {
        as_dropdown: true,
        icon: "external link".into(),
        keep_time: true,
        tags: vec![tag.into()],
        include_vars: true,
        title: title.into(),
        kind: "dashboards".into(),
    }
}

/// Alert annotations: burnwatch's page and ticket alerts (`burnwatch_slo_alert_firing`)
/// and Prometheus' `ALERTS` for teams that evaluate the generated rules there.
pub(crate) fn alert_annotations(filter: &Filter) -> Vec<Annotation> {
    let prom = |name: &str, expr: String, color: &str, title: &str| Annotation {
        built_in: None,
        datasource: DataSourceRef::prometheus(),
        enable: true,
        expr: Some(expr),
        hide: false,
        icon_color: color.into(),
        name: name.into(),
        step: Some("1m".into()),
        tag_keys: Some("sloth_service,sloth_slo,sloth_severity".into()),
        text_format: Some("{{sloth_id}}".into()),
        title_format: Some(title.into()),
        kind: None,
        use_value_for_time: Some(false),
    };
    let firing = |severity: &str| {
        format!(
            "{} == 1",
            selector(
                series::ALERT_FIRING,
                &filter.and("sloth_severity", severity)
            )
        )
    };
    vec![
        prom(
            "burnwatch page alerts",
            firing("page"),
            "red",
            "{{sloth_slo}}: page alert firing",
        ),
        prom(
            "burnwatch ticket alerts",
            firing("ticket"),
            "orange",
            "{{sloth_slo}}: ticket alert firing",
        ),
        prom(
            "Prometheus SLO alerts",
            selector(
                series::PROMETHEUS_ALERTS,
                &filter.and("alertstate", "firing").and_not("sloth_id", ""),
            ),
            "purple",
            "{{alertname}} ({{sloth_severity}}) firing",
        ),
    ]
}

/// Percent with the digits the objective needs (`99.9`, `99.95`, `95`).
pub(crate) fn percent(v: f64) -> String {
    format!("{v} %")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_uids_are_plain_when_possible_and_bounded_always() {
        assert_eq!(service_uid("mass-spec"), "burnwatch-burn-mass-spec");
        let long = "a-very-long-service-name-that-does-not-fit";
        let uid = service_uid(long);
        assert!(uid.len() <= MAX_UID_LEN, "{uid}");
        assert!(uid.starts_with("burnwatch-burn-a-very-l-"), "{uid}");
        // Names that slug alike still get different uids.
        assert_ne!(service_uid("Mass Spec"), service_uid("mass_spec"));
        assert!(service_uid("Mass Spec").len() <= MAX_UID_LEN);
        let odd = service_uid("ünïcode");
        assert!(odd.starts_with("burnwatch-burn-n-code-"), "{odd}");
        assert!(odd.len() <= MAX_UID_LEN);
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // From the FNV reference test suite.
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn rendering_sorts_keys_at_every_level() {
        let v = serde_json::json!({"b": {"z": 1, "a": [{"y": 1, "x": 2}]}, "a": 0});
        let s = serde_json::to_string(&sort_keys(v)).unwrap();
        assert_eq!(s, r#"{"a":0,"b":{"a":[{"x":2,"y":1}],"z":1}}"#);
    }
}
