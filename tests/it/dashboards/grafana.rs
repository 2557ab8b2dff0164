//! Grafana's dashboard model, as Grafana 10/11 import it: what a generated dashboard must
//! satisfy to load and render (schema version, uid, unique ids, grid, data sources).

use serde_json::Value;

use super::all_panels;

const PANEL_TYPES: [&str; 5] = ["row", "stat", "timeseries", "table", "state-timeline"];

fn is_prometheus_var(ds: &Value) -> bool {
    ds["type"] == "prometheus" && ds["uid"] == "${datasource}"
}

/// Every way `d` breaks the model; empty when it is fine.
pub fn problems(d: &Value) -> Vec<String> {
    let mut p = Vec::new();
    match d["schemaVersion"].as_u64() {
        Some(v) if v >= 39 => {}
        other => p.push(format!("schemaVersion {other:?} is not 39 or later")),
    }
    if d["title"].as_str().is_none_or(|t| t.trim().is_empty()) {
        p.push("title missing or empty".into());
    }
    match d["uid"].as_str() {
        Some(uid)
            if !uid.is_empty()
                && uid.len() <= 40
                && uid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') => {}
        other => p.push(format!(
            "uid {other:?} is not 1..=40 characters of [A-Za-z0-9_-]"
        )),
    }
    if !d["id"].is_null() {
        p.push("id must be null in a provisioned/importable dashboard".into());
    }
    for key in ["from", "to"] {
        if !d["time"][key].is_string() {
            p.push(format!("time.{key} missing"));
        }
    }

    let vars: Vec<&Value> = d["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let ds_vars: Vec<&&Value> = vars.iter().filter(|v| v["name"] == "datasource").collect();
    match ds_vars.as_slice() {
        [v] if v["type"] == "datasource" && v["query"] == "prometheus" => {}
        _ => p.push(
            "needs exactly one `datasource` variable of type datasource, query prometheus".into(),
        ),
    }

    for a in d["annotations"]["list"].as_array().into_iter().flatten() {
        if a["builtIn"] == 1 {
            continue;
        }
        if !is_prometheus_var(&a["datasource"]) {
            p.push(format!(
                "annotation {} does not use ${{datasource}}",
                a["name"]
            ));
        }
        if a["expr"].as_str().is_none_or(str::is_empty) {
            p.push(format!("annotation {} has no expr", a["name"]));
        }
    }

    let Some(top) = d["panels"].as_array() else {
        p.push("panels missing".into());
        return p;
    };
    let mut ids = std::collections::BTreeSet::new();
    for panel in all_panels(d) {
        let title = &panel["title"];
        match panel["id"].as_u64() {
            Some(id) if id > 0 => {
                if !ids.insert(id) {
                    p.push(format!("panel id {id} used twice"));
                }
            }
            other => p.push(format!("panel {title} has id {other:?}")),
        }
        let kind = panel["type"].as_str().unwrap_or("");
        if !PANEL_TYPES.contains(&kind) {
            p.push(format!("panel {title} has unknown type {kind:?}"));
        }
        if title.as_str().is_none_or(str::is_empty) {
            p.push(format!("panel {} has no title", panel["id"]));
        }
        let g = &panel["gridPos"];
        let dims: Option<Vec<u64>> = ["h", "w", "x", "y"]
            .iter()
            .map(|k| g[*k].as_u64())
            .collect();
        match dims.as_deref() {
            Some(&[h, w, x, _]) if h >= 1 && (1..=24).contains(&w) && x + w <= 24 => {}
            _ => p.push(format!("panel {title} has a bad gridPos {g}")),
        }
        if kind == "row" {
            if panel["collapsed"] != false || panel["panels"] != Value::Array(vec![]) {
                p.push(format!(
                    "row {title} must be expanded with no nested panels"
                ));
            }
            continue;
        }
        if !is_prometheus_var(&panel["datasource"]) {
            p.push(format!("panel {title} does not use ${{datasource}}"));
        }
        let targets = panel["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if targets.is_empty() {
            p.push(format!("panel {title} has no queries"));
        }
        let mut refs = std::collections::BTreeSet::new();
        for t in targets {
            if !is_prometheus_var(&t["datasource"]) {
                p.push(format!(
                    "a query of panel {title} does not use ${{datasource}}"
                ));
            }
            if !t["refId"]
                .as_str()
                .is_some_and(|r| refs.insert(r.to_string()))
            {
                p.push(format!("panel {title} has a missing or repeated refId"));
            }
            if t["expr"].as_str().is_none_or(str::is_empty) {
                p.push(format!("panel {title} has a query without expr"));
            }
        }
    }

    // No two panels may overlap on the grid.
    let rects: Vec<(u64, u64, u64, u64, &Value)> = top
        .iter()
        .filter_map(|panel| {
            let g = &panel["gridPos"];
            Some((
                g["x"].as_u64()?,
                g["y"].as_u64()?,
                g["w"].as_u64()?,
                g["h"].as_u64()?,
                &panel["title"],
            ))
        })
        .collect();
    for (i, a) in rects.iter().enumerate() {
        for b in &rects[i + 1..] {
            if a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3 {
                p.push(format!("panels {} and {} overlap", a.4, b.4));
            }
        }
    }
    p
}
