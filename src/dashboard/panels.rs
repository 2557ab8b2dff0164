//! Panel builders and grid layout shared by the overview and the service dashboards:
//! every panel gets the `${datasource}` data source, a unique id, and a grid position
//! from [`Layout`], so the dashboards cannot break Grafana's model by construction.

use serde_json::{Value, json};

use super::model::{
    DataSourceRef, FieldConfig, FieldDefaults, GRID_WIDTH, GridPos, Matcher, Override, Panel,
    Property, Target, Thresholds, Transformation,
};

/// One query of a panel, before it gets its `refId`.
#[derive(Clone, Debug)]
pub struct Query {
    /// PromQL.
    pub expr: String,
    /// Legend template (`{{label}}` or literal text).
    pub legend: String,
}

impl Query {
    /// A query with a legend.
    pub fn new(expr: impl Into<String>, legend: impl Into<String>) -> Self {
        Query {
            expr: expr.into(),
            legend: legend.into(),
        }
    }
}

/// How a panel's queries run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryKind {
    /// Range query drawn over time.
    Range,
    /// Instant query returned as a table frame.
    InstantTable,
    /// Instant query returned as series (stats).
    Instant,
}

/// `A`, `B`, ... `Z`, then `Q27`, ...: Grafana's refId convention.
pub fn ref_id(i: usize) -> String {
    match u8::try_from(i) {
        Ok(n) if n < 26 => char::from(b'A' + n).to_string(),
        _ => format!("Q{}", i + 1),
    }
}

fn targets(queries: Vec<Query>, kind: QueryKind) -> Vec<Target> {
    queries
        .into_iter()
        .enumerate()
        .map(|(i, q)| Target {
            datasource: DataSourceRef::prometheus(),
            editor_mode: "code".into(),
            expr: q.expr,
            format: if kind == QueryKind::InstantTable {
                "table".into()
            } else {
                "time_series".into()
            },
            instant: kind != QueryKind::Range,
            legend_format: q.legend,
            range: kind == QueryKind::Range,
            ref_id: ref_id(i),
        })
        .collect()
}

/// Field defaults with a unit, decimals and thresholds; everything else Grafana's default.
pub fn defaults(unit: &str, decimals: Option<u8>, thresholds: Thresholds) -> FieldDefaults {
    FieldDefaults {
        color: json!({"mode": "thresholds"}),
        custom: json!({}),
        decimals,
        mappings: Vec::new(),
        max: None,
        min: None,
        thresholds,
        unit: Some(unit.into()),
    }
}

/// A value mapping from numbers to text and colour (alert and probe states).
pub fn value_mapping(entries: &[(&str, &str, &str)]) -> Value {
    let mut options = serde_json::Map::new();
    for (i, (value, text, color)) in entries.iter().enumerate() {
        options.insert(
            (*value).to_string(),
            json!({"color": color, "index": i, "text": text}),
        );
    }
    json!({"options": options, "type": "value"})
}

/// An override setting properties on the field named `name`.
pub fn by_name(name: &str, properties: Vec<(&str, Value)>) -> Override {
    override_for("byName", name, properties)
}

/// An override setting properties on the series of query `ref_id`.
pub fn by_ref_id(ref_id: &str, properties: Vec<(&str, Value)>) -> Override {
    override_for("byFrameRefID", ref_id, properties)
}

fn override_for(matcher: &str, options: &str, properties: Vec<(&str, Value)>) -> Override {
    Override {
        matcher: Matcher {
            id: matcher.into(),
            options: options.into(),
        },
        properties: properties
            .into_iter()
            .map(|(id, value)| Property {
                id: id.into(),
                value,
            })
            .collect(),
    }
}

fn query_panel(
    kind: &str,
    title: &str,
    description: &str,
    queries: Vec<Query>,
    query_kind: QueryKind,
    field_config: FieldConfig,
    options: Value,
) -> Panel {
    Panel {
        collapsed: None,
        datasource: Some(DataSourceRef::prometheus()),
        description: Some(description.into()),
        field_config: Some(field_config),
        grid_pos: GridPos {
            h: 0,
            w: 0,
            x: 0,
            y: 0,
        },
        id: 0,
        options: Some(options),
        panels: None,
        targets: Some(targets(queries, query_kind)),
        title: title.into(),
        transformations: None,
        kind: kind.into(),
    }
}

/// A single-value panel showing the last value of an instant query.
pub fn stat(
    title: &str,
    description: &str,
    query: Query,
    defaults: FieldDefaults,
    color_background: bool,
) -> Panel {
    let options = json!({
        "colorMode": if color_background { "background" } else { "value" },
        "graphMode": "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
        "showPercentChange": false,
        "textMode": "auto",
        "wideLayout": true
    });
    query_panel(
        "stat",
        title,
        description,
        vec![query],
        QueryKind::Instant,
        FieldConfig {
            defaults,
            overrides: Vec::new(),
        },
        options,
    )
}

/// Line-graph settings; `thresholds_style` is Grafana's threshold drawing mode
/// (`off`, `dashed`, `line+area`, ...).
pub fn line_style(thresholds_style: &str, soft_min: Option<f64>, soft_max: Option<f64>) -> Value {
    let mut custom = json!({
        "axisBorderShow": false,
        "axisCenteredZero": false,
        "axisColorMode": "text",
        "axisLabel": "",
        "axisPlacement": "auto",
        "barAlignment": 0,
        "drawStyle": "line",
        "fillOpacity": 0,
        "gradientMode": "none",
        "hideFrom": {"legend": false, "tooltip": false, "viz": false},
        "insertNulls": false,
        "lineInterpolation": "linear",
        "lineWidth": 1,
        "pointSize": 4,
        "scaleDistribution": {"type": "linear"},
        "showPoints": "never",
        "spanNulls": false,
        "stacking": {"group": "A", "mode": "none"},
        "thresholdsStyle": {"mode": thresholds_style}
    });
    if let Some(obj) = custom.as_object_mut() {
        if let Some(v) = soft_min {
            obj.insert("axisSoftMin".into(), json!(v));
        }
        if let Some(v) = soft_max {
            obj.insert("axisSoftMax".into(), json!(v));
        }
    }
    custom
}

/// A time-series graph of range queries.
pub fn timeseries(
    title: &str,
    description: &str,
    queries: Vec<Query>,
    mut defaults: FieldDefaults,
    custom: Value,
    overrides: Vec<Override>,
) -> Panel {
    defaults.color = json!({"mode": "palette-classic"});
    defaults.custom = custom;
    let options = json!({
        "legend": {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": true},
        "tooltip": {"mode": "multi", "sort": "desc"}
    });
    query_panel(
        "timeseries",
        title,
        description,
        queries,
        QueryKind::Range,
        FieldConfig {
            defaults,
            overrides,
        },
        options,
    )
}

/// States over time (alert and probe states), one lane per series.
pub fn state_timeline(
    title: &str,
    description: &str,
    query: Query,
    mut defaults: FieldDefaults,
    overrides: Vec<Override>,
) -> Panel {
    defaults.custom = json!({"fillOpacity": 80, "hideFrom": {"legend": false, "tooltip": false, "viz": false}, "lineWidth": 0});
    let options = json!({
        "alignValue": "left",
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": false},
        "mergeValues": true,
        "rowHeight": 0.9,
        "showValue": "auto",
        "tooltip": {"mode": "single", "sort": "none"}
    });
    query_panel(
        "state-timeline",
        title,
        description,
        vec![query],
        QueryKind::Range,
        FieldConfig {
            defaults,
            overrides,
        },
        options,
    )
}

/// An override setting properties on fields whose display name matches `regex`.
pub fn by_regexp(regex: &str, properties: Vec<(&str, Value)>) -> Override {
    override_for("byRegexp", regex, properties)
}

/// A table of instant queries merged into one row per label set. `organize` is Grafana's
/// `organize` transformation options (hidden and ordered columns).
pub fn table(
    title: &str,
    description: &str,
    queries: Vec<Query>,
    overrides: Vec<Override>,
    organize: Value,
    sort_by: &str,
) -> Panel {
    let merge = queries.len() > 1;
    let mut defaults = defaults("none", None, Thresholds::new("green", &[]));
    defaults.custom = json!({
        "align": "auto",
        "cellOptions": {"type": "auto"},
        "filterable": false,
        "inspect": false
    });
    let options = json!({
        "cellHeight": "sm",
        "footer": {"countRows": false, "fields": "", "reducer": ["sum"], "show": false},
        "showHeader": true,
        "sortBy": [{"desc": true, "displayName": sort_by}]
    });
    let mut panel = query_panel(
        "table",
        title,
        description,
        queries,
        QueryKind::InstantTable,
        FieldConfig {
            defaults,
            overrides,
        },
        options,
    );
    let mut transformations = Vec::new();
    if merge {
        transformations.push(Transformation {
            id: "merge".into(),
            options: json!({}),
        });
    }
    transformations.push(Transformation {
        id: "organize".into(),
        options: organize,
    });
    panel.transformations = Some(transformations);
    panel
}

/// Places panels left to right on Grafana's 24-column grid, wrapping to a new line, and
/// numbers them; rows start a new line and span the width.
#[derive(Debug, Default)]
pub struct Layout {
    panels: Vec<Panel>,
    next_id: u32,
    x: u32,
    y: u32,
    line_height: u32,
}

impl Layout {
    /// An empty grid.
    pub fn new() -> Self {
        Layout::default()
    }

    fn new_line(&mut self) {
        self.y += self.line_height;
        self.x = 0;
        self.line_height = 0;
    }

    fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    /// An expanded row header.
    pub fn row(&mut self, title: &str) {
        if self.x > 0 {
            self.new_line();
        }
        let id = self.id();
        self.panels.push(Panel {
            collapsed: Some(false),
            datasource: None,
            description: None,
            field_config: None,
            grid_pos: GridPos {
                h: 1,
                w: GRID_WIDTH,
                x: 0,
                y: self.y,
            },
            id,
            options: None,
            panels: Some(Vec::new()),
            targets: None,
            title: title.into(),
            transformations: None,
            kind: "row".into(),
        });
        self.y += 1;
    }

    /// Place `panel` with width `w` (clamped to the grid) and height `h`.
    pub fn add(&mut self, w: u32, h: u32, mut panel: Panel) {
        let w = w.clamp(1, GRID_WIDTH);
        if self.x + w > GRID_WIDTH {
            self.new_line();
        }
        panel.id = self.id();
        panel.grid_pos = GridPos {
            h,
            w,
            x: self.x,
            y: self.y,
        };
        self.x += w;
        self.line_height = self.line_height.max(h);
        self.panels.push(panel);
    }

    /// The placed panels.
    pub fn finish(self) -> Vec<Panel> {
        self.panels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dummy() -> Panel {
        stat(
            "t",
            "d",
            Query::new("vector(1)", ""),
            defaults("none", None, Thresholds::new("green", &[])),
            false,
        )
    }

    #[test]
    fn layout_wraps_lines_and_rows_start_below_the_tallest_panel() {
        let mut l = Layout::new();
        l.add(12, 8, dummy());
        l.add(12, 4, dummy());
        l.add(6, 3, dummy());
        l.row("r");
        l.add(24, 2, dummy());
        let pos: Vec<(u32, GridPos)> = l.finish().iter().map(|p| (p.id, p.grid_pos)).collect();
        let g = |h, w, x, y| GridPos { h, w, x, y };
        assert_eq!(
            pos,
            [
                (1, g(8, 12, 0, 0)),
                (2, g(4, 12, 12, 0)),
                (3, g(3, 6, 0, 8)),
                (4, g(1, 24, 0, 11)),
                (5, g(2, 24, 0, 12)),
            ]
        );
    }

    #[test]
    fn ref_ids_follow_grafanas_letters() {
        assert_eq!(ref_id(0), "A");
        assert_eq!(ref_id(25), "Z");
        assert_eq!(ref_id(26), "Q27");
    }
}
