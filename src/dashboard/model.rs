//! Grafana's dashboard JSON model (the parts burnwatch generates), as Grafana 10/11
//! export it: `schemaVersion` 39, panels on a 24-column grid, data sources referenced
//! through a `datasource` template variable so one file works in every Grafana.
//!
//! Only structure lives here; what the panels show is decided in `overview.rs` and
//! `service.rs`. Free-form panel `options` and `custom` field settings are JSON values,
//! because Grafana's schema for them is per panel plugin and open-ended.

use serde::Serialize;
use serde_json::Value;

/// The dashboard schema version written (Grafana 10.4 / 11.0 exports).
pub const SCHEMA_VERSION: u32 = 39;
/// Width of Grafana's grid in columns.
pub const GRID_WIDTH: u32 = 24;
/// Name of the data-source template variable every query goes through.
pub const DATASOURCE_VAR: &str = "datasource";

/// A whole dashboard.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    /// Annotation queries (alert annotations) plus Grafana's built-in one.
    pub annotations: AnnotationList,
    /// What the dashboard is for.
    pub description: String,
    /// Whether users may edit it in the UI (changes are overwritten by the next generation).
    pub editable: bool,
    /// Grafana default (January).
    pub fiscal_year_start_month: u8,
    /// 1 = shared crosshair, so windows line up across panels.
    pub graph_tooltip: u8,
    /// Always null: Grafana assigns database ids on import.
    pub id: Option<u64>,
    /// Links to related dashboards.
    pub links: Vec<DashboardLink>,
    /// The panels, rows first-class as in Grafana's flat layout.
    pub panels: Vec<Panel>,
    /// Auto-refresh interval.
    pub refresh: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Tags, used by the dashboard links.
    pub tags: Vec<String>,
    /// Template variables.
    pub templating: Templating,
    /// Default time range.
    pub time: TimeRange,
    /// Grafana default time picker.
    pub timepicker: Timepicker,
    /// Time zone of the panels.
    pub timezone: String,
    /// Dashboard title.
    pub title: String,
    /// Stable identity across imports (≤ 40 characters of `[A-Za-z0-9_-]`).
    pub uid: String,
    /// Version 1: the file is the source of truth, not Grafana's edit history.
    pub version: u32,
    /// Grafana default.
    pub week_start: String,
}

/// The `annotations` object.
#[derive(Clone, Debug, Serialize)]
pub struct AnnotationList {
    /// Annotation queries.
    pub list: Vec<Annotation>,
}

/// One annotation query.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotation {
    /// 1 for Grafana's built-in "Annotations & Alerts".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub built_in: Option<u8>,
    /// Where the query runs.
    pub datasource: DataSourceRef,
    /// Shown by default.
    pub enable: bool,
    /// PromQL; every returned series becomes an annotation while its value is non-zero.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// Hidden from the dashboard's toggles.
    pub hide: bool,
    /// Marker colour.
    pub icon_color: String,
    /// Toggle label.
    pub name: String,
    /// Query resolution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Labels turned into annotation tags (comma-separated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_keys: Option<String>,
    /// Annotation text template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_format: Option<String>,
    /// Annotation title template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_format: Option<String>,
    /// `dashboard` for the built-in annotation.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Use sample time, not value, as the annotation time (false for alert series).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_value_for_time: Option<bool>,
}

/// A reference to a data source.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DataSourceRef {
    /// Plugin type (`prometheus`, or `grafana` for the built-in annotation).
    #[serde(rename = "type")]
    pub kind: String,
    /// `${datasource}`: resolved by the template variable.
    pub uid: String,
}

impl DataSourceRef {
    /// The Prometheus data source picked in the `datasource` variable.
    pub fn prometheus() -> Self {
        DataSourceRef {
            kind: "prometheus".into(),
            uid: format!("${{{DATASOURCE_VAR}}}"),
        }
    }
}

/// A link in the dashboard header.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardLink {
    /// Show the matching dashboards as a dropdown.
    pub as_dropdown: bool,
    /// Icon name.
    pub icon: String,
    /// Carry the time range over.
    pub keep_time: bool,
    /// Dashboards with these tags are linked.
    pub tags: Vec<String>,
    /// Carry template variables over (the data source).
    pub include_vars: bool,
    /// Link label.
    pub title: String,
    /// `dashboards`: link by tag.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The `templating` object.
#[derive(Clone, Debug, Serialize)]
pub struct Templating {
    /// Variables.
    pub list: Vec<TemplateVariable>,
}

/// A data-source template variable (the only kind burnwatch generates).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateVariable {
    /// Empty: Grafana picks the default data source of the type.
    pub current: Value,
    /// 0 = shown with its label.
    pub hide: u8,
    /// No "All" option: a dashboard reads one Prometheus.
    pub include_all: bool,
    /// Label shown in the UI.
    pub label: String,
    /// One data source at a time.
    pub multi: bool,
    /// Variable name (`datasource`).
    pub name: String,
    /// Filled by Grafana.
    pub options: Vec<Value>,
    /// The data-source plugin type (`prometheus`).
    pub query: String,
    /// 1 = refresh on dashboard load.
    pub refresh: u8,
    /// No filter on data-source names.
    pub regex: String,
    /// Keep the choice in the URL.
    pub skip_url_sync: bool,
    /// `datasource`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl TemplateVariable {
    /// The `datasource` variable of type `datasource` listing Prometheus data sources.
    pub fn prometheus_datasource() -> Self {
        TemplateVariable {
            current: Value::Object(serde_json::Map::new()),
            hide: 0,
            include_all: false,
            label: "Data source".into(),
            multi: false,
            name: DATASOURCE_VAR.into(),
            options: Vec::new(),
            query: "prometheus".into(),
            refresh: 1,
            regex: String::new(),
            skip_url_sync: false,
            kind: "datasource".into(),
        }
    }
}

/// Default time range.
#[derive(Clone, Debug, Serialize)]
pub struct TimeRange {
    /// Start, e.g. `now-24h`.
    pub from: String,
    /// End, `now`.
    pub to: String,
}

/// Grafana's time-picker settings (defaults).
#[derive(Clone, Debug, Serialize)]
pub struct Timepicker {}

/// A panel or a row.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Panel {
    /// Rows only: false, so the panels that follow it are visible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collapsed: Option<bool>,
    /// Where the queries run (every panel with queries: `${datasource}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datasource: Option<DataSourceRef>,
    /// Hover text: what the panel shows and how to read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Units, thresholds, value mappings and per-series overrides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_config: Option<FieldConfig>,
    /// Position on the grid.
    pub grid_pos: GridPos,
    /// Unique within the dashboard.
    pub id: u32,
    /// Panel-plugin options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
    /// Rows only: panels of a collapsed row (always empty: rows are expanded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub panels: Option<Vec<Panel>>,
    /// The queries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<Target>>,
    /// Panel title.
    pub title: String,
    /// Data transformations (tables merge their queries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transformations: Option<Vec<Transformation>>,
    /// Panel plugin: `row`, `stat`, `timeseries`, `table`, `state-timeline`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Position and size on the 24-column grid (height in 30 px units).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct GridPos {
    /// Height.
    pub h: u32,
    /// Width (1..=24).
    pub w: u32,
    /// Column.
    pub x: u32,
    /// Row.
    pub y: u32,
}

/// `fieldConfig`.
#[derive(Clone, Debug, Serialize)]
pub struct FieldConfig {
    /// Settings for every field.
    pub defaults: FieldDefaults,
    /// Settings for matching fields.
    pub overrides: Vec<Override>,
}

/// `fieldConfig.defaults`.
#[derive(Clone, Debug, Serialize)]
pub struct FieldDefaults {
    /// Colour scheme.
    pub color: Value,
    /// Panel-plugin field settings (line style, threshold drawing, cell colouring).
    pub custom: Value,
    /// Decimals shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
    /// Value → text/colour mappings (alert and probe states).
    pub mappings: Vec<Value>,
    /// Axis or gauge maximum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Axis or gauge minimum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Colour steps (objective, burn-rate thresholds, budget levels).
    pub thresholds: Thresholds,
    /// Grafana unit id (`percentunit`, `s`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// Absolute threshold steps.
#[derive(Clone, Debug, Serialize)]
pub struct Thresholds {
    /// `absolute`.
    pub mode: String,
    /// Ascending steps; the first has no value (base colour).
    pub steps: Vec<Step>,
}

impl Thresholds {
    /// A base colour followed by `(value, colour)` steps.
    pub fn new(base: &str, steps: &[(f64, &str)]) -> Self {
        let mut all = vec![Step {
            color: base.into(),
            value: None,
        }];
        all.extend(steps.iter().map(|(v, c)| Step {
            color: (*c).into(),
            value: Some(*v),
        }));
        Thresholds {
            mode: "absolute".into(),
            steps: all,
        }
    }
}

/// One threshold step.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// Colour name.
    pub color: String,
    /// Lower bound; `null` for the base step.
    pub value: Option<f64>,
}

/// Settings for the fields a matcher selects.
#[derive(Clone, Debug, Serialize)]
pub struct Override {
    /// Which fields.
    pub matcher: Matcher,
    /// What to set.
    pub properties: Vec<Property>,
}

/// A field matcher (`byName`, `byFrameRefID`).
#[derive(Clone, Debug, Serialize)]
pub struct Matcher {
    /// Matcher kind.
    pub id: String,
    /// Field name or query refId.
    pub options: String,
}

/// One overridden setting.
#[derive(Clone, Debug, Serialize)]
pub struct Property {
    /// Setting path (`displayName`, `custom.lineStyle`, ...).
    pub id: String,
    /// Its value.
    pub value: Value,
}

/// One Prometheus query.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// `${datasource}`.
    pub datasource: DataSourceRef,
    /// `code`: the query is shown as written.
    pub editor_mode: String,
    /// PromQL, using only series burnwatch exports (see `series.rs`).
    pub expr: String,
    /// `time_series` or `table`.
    pub format: String,
    /// Instant query (tables and stats) or not.
    pub instant: bool,
    /// Legend template.
    pub legend_format: String,
    /// Range query (graphs) or not.
    pub range: bool,
    /// Query id within the panel (`A`, `B`, ...).
    pub ref_id: String,
}

/// A data transformation.
#[derive(Clone, Debug, Serialize)]
pub struct Transformation {
    /// Transformation kind (`merge`, `organize`).
    pub id: String,
    /// Its options.
    pub options: Value,
}
