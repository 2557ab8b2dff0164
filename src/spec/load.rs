//! Loading spec files: split documents, detect each document's format the way Sloth does,
//! and lower it into the [`model`](super::model), reporting every problem with its position.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::diag::{Diagnostic, Diagnostics, Pos};
use super::duration::Duration;
use super::model::{AlertSpec, K8sMeta, Labels, Sli, Slo, SourceRef, SpecDocument, SpecKind};
use super::plugins::PluginSli;
use super::reader::{MapReader, Mode};
use super::validate;
use super::yaml::{self, Node, Value};

static PROM_V1_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^version: +['"]?prometheus/v1['"]?\r?\n? *$"#).expect("static regex")
});
static K8S_KIND_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^kind: +['"]?PrometheusServiceLevel['"]? *$"#).expect("static regex")
});
static K8S_API_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^apiVersion: +['"]?sloth.slok.dev/v1['"]? *$"#).expect("static regex")
});
static OSLO_KIND_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?m)^kind: +['"]?SLO['"]? *$"#).expect("static regex"));
static OSLO_API_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^apiVersion: +['"]?openslo/v1alpha['"]? *$"#).expect("static regex")
});
static COMMENT_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^#.*$").expect("static regex"));

/// Detect a document's format with Sloth's regexes (per document, in Sloth's order).
pub fn detect(text: &str) -> Option<SpecKind> {
    let text = COMMENT_RE.replace_all(text, "");
    if PROM_V1_RE.is_match(&text) {
        Some(SpecKind::PrometheusV1)
    } else if K8S_KIND_RE.is_match(&text) && K8S_API_RE.is_match(&text) {
        Some(SpecKind::K8sPrometheusServiceLevel)
    } else if OSLO_KIND_RE.is_match(&text) && OSLO_API_RE.is_match(&text) {
        Some(SpecKind::OpenSloV1Alpha)
    } else {
        None
    }
}

/// Split a file into documents on lines starting with `---`, keeping each chunk's first
/// line number (1-based) so positions stay true to the file. Chunks with nothing but
/// blank and comment lines are dropped, as Sloth drops them.
pub fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if line.starts_with("---") {
            docs.push((start, std::mem::take(&mut current)));
            start = i + 2;
            // Keep the line count right: the separator line becomes an empty line.
            continue;
        }
        current.push_str(line);
    }
    docs.push((start, current));
    docs.into_iter()
        .filter(|(_, d)| {
            d.lines().any(|l| {
                let t = l.trim();
                !t.is_empty() && !t.starts_with('#')
            })
        })
        .collect()
}

/// Load one file's text: all documents and all problems found.
pub fn load_text(file: &Path, text: &str) -> (Vec<SpecDocument>, Vec<Diagnostic>) {
    let mut diags = Diagnostics::new(file);
    let mut docs = Vec::new();
    let chunks = split_documents(text);
    if chunks.is_empty() {
        diags.error(
            Pos::new(1, 1),
            "spec is required: the file has no YAML document",
        );
    }
    for (line, chunk) in chunks {
        let Some(kind) = detect(&chunk) else {
            diags.error(
                Pos::new(first_content_line(&chunk, line), 1),
                "invalid spec, could not load with any of the supported spec types \
                 (version: prometheus/v1; apiVersion: sloth.slok.dev/v1 with kind: PrometheusServiceLevel; \
                 apiVersion: openslo/v1alpha with kind: SLO)",
            );
            continue;
        };
        let nodes = match yaml::parse(&chunk, line - 1) {
            Ok(n) => n,
            Err(e) => {
                diags.error(e.pos, format!("invalid YAML: {}", e.message));
                continue;
            }
        };
        let Some(root) = nodes.first() else { continue };
        let doc = match kind {
            SpecKind::PrometheusV1 => {
                lower_sloth(root, kind, &PROM_KEYS, Mode::Lenient, &mut diags)
            }
            SpecKind::K8sPrometheusServiceLevel => {
                lower_sloth(root, kind, &K8S_KEYS, Mode::Strict, &mut diags)
            }
            SpecKind::OpenSloV1Alpha => lower_openslo(root, &mut diags),
        };
        if let Some(mut doc) = doc {
            doc.file = file.to_path_buf();
            doc.line = line;
            check_repeated_ids(&doc, &mut diags);
            docs.push(doc);
        }
    }
    (docs, diags.into_vec())
}

fn first_content_line(chunk: &str, start: usize) -> usize {
    chunk
        .lines()
        .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map_or(start, |i| start + i)
}

fn check_repeated_ids(doc: &SpecDocument, diags: &mut Diagnostics) {
    let mut seen: BTreeMap<&str, &SourceRef> = BTreeMap::new();
    for slo in &doc.slos {
        if let Some(first) = seen.get(slo.id.as_str()) {
            diags.error(
                slo.source.pos,
                format!(
                    "SLO ID {:?} is repeated (first defined at line {})",
                    slo.id, first.pos.line
                ),
            );
        } else {
            seen.insert(&slo.id, &slo.source);
        }
    }
}

/// Key spellings of the two Sloth formats (snake_case and the CRD's camelCase).
struct Keys {
    slo_plugins: &'static str,
    error_query: &'static str,
    total_query: &'static str,
    error_ratio_query: &'static str,
    page_alert: &'static str,
    ticket_alert: &'static str,
}

const PROM_KEYS: Keys = Keys {
    slo_plugins: "slo_plugins",
    error_query: "error_query",
    total_query: "total_query",
    error_ratio_query: "error_ratio_query",
    page_alert: "page_alert",
    ticket_alert: "ticket_alert",
};

const K8S_KEYS: Keys = Keys {
    slo_plugins: "sloPlugins",
    error_query: "errorQuery",
    total_query: "totalQuery",
    error_ratio_query: "errorRatioQuery",
    page_alert: "pageAlert",
    ticket_alert: "ticketAlert",
};

fn lower_sloth(
    root: &Node,
    kind: SpecKind,
    keys: &Keys,
    mode: Mode,
    diags: &mut Diagnostics,
) -> Option<SpecDocument> {
    let mut top = MapReader::new(root, diags, mode)?;
    let mut k8s = None;
    let mut k8s_spec: Option<MapReader> = None;
    if kind == SpecKind::K8sPrometheusServiceLevel {
        let _ = top.str("apiVersion", diags);
        let _ = top.str("kind", diags);
        k8s = Some(lower_k8s_meta(&mut top, diags));
        let spec_node = top.required_node("spec", diags)?;
        k8s_spec = Some(MapReader::new(spec_node, diags, mode)?);
    } else {
        let version = top.str("version", diags);
        if version.as_deref() != Some("prometheus/v1") {
            diags.error(
                top.pos_of("version"),
                "invalid spec version, should be \"prometheus/v1\"",
            );
        }
    }
    let spec: &mut MapReader = match k8s_spec.as_mut() {
        Some(s) => s,
        None => &mut top,
    };

    let service = spec.str("service", diags).unwrap_or_default();
    let service_pos = spec.pos_of("service");
    if let Err(m) = validate::name("service", &service) {
        diags.error(service_pos, m);
    }
    let root_labels = spec.string_map("labels", diags);
    validate::labels(
        "SLO label",
        &spec.map_positions("labels"),
        &root_labels,
        diags,
    );
    if let Some(n) = spec.node(keys.slo_plugins) {
        plugins_warning(n, diags);
    }
    let slos_node = spec.node("slos");
    let mut slos = Vec::new();
    match slos_node.map(|n| (n, &n.value)) {
        Some((_, Value::Seq(items))) if !items.is_empty() => {
            for item in items {
                if let Some(slo) = lower_sloth_slo(item, &service, &root_labels, keys, mode, diags)
                {
                    slos.push(slo);
                }
            }
        }
        Some((n, Value::Seq(_))) => diags.error(n.pos, "at least one SLO is required"),
        Some((n, _)) => diags.error(
            n.pos,
            format!("`slos` must be a list, found a {}", n.type_name()),
        ),
        None => diags.error(
            spec.pos(),
            "at least one SLO is required: missing field `slos`",
        ),
    }
    if let Some(s) = k8s_spec {
        s.finish(diags);
    }
    top.finish(diags);
    Some(SpecDocument {
        file: Default::default(),
        line: 1,
        kind,
        service,
        k8s,
        slos,
    })
}

fn lower_k8s_meta(top: &mut MapReader, diags: &mut Diagnostics) -> K8sMeta {
    let Some(n) = top.required_node("metadata", diags) else {
        return K8sMeta::default();
    };
    let Some(mut m) = MapReader::new(n, diags, Mode::Lenient) else {
        return K8sMeta::default();
    };
    let meta = K8sMeta {
        name: m.str("name", diags).unwrap_or_default(),
        namespace: m.str("namespace", diags),
        labels: m.string_map("labels", diags),
        annotations: m.string_map("annotations", diags),
    };
    if meta.name.is_empty() {
        diags.error(m.pos_of("name"), "metadata.name is required");
    }
    // Other object metadata (uid, generation, ...) is legitimately present on live objects.
    meta
}

fn plugins_warning(n: &Node, diags: &mut Diagnostics) {
    diags.warning(
        n.pos,
        "SLO plugins are Sloth Go plugins (rule post-processing); burnwatch does not run them and ignores this field",
    );
}

fn lower_sloth_slo(
    node: &Node,
    service: &str,
    root_labels: &Labels,
    keys: &Keys,
    mode: Mode,
    diags: &mut Diagnostics,
) -> Option<Slo> {
    let mut m = MapReader::new(node, diags, mode)?;
    let name = m.str("name", diags).unwrap_or_default();
    let name_pos = m.pos_of("name");
    if let Err(msg) = validate::name("name", &name) {
        diags.error(name_pos, msg);
    }
    let description = m.str("description", diags).unwrap_or_default();
    let objective = objective(&mut m, diags);
    let slo_labels = m.string_map("labels", diags);
    validate::labels("SLO label", &m.map_positions("labels"), &slo_labels, diags);
    if let Some(n) = m.node("plugins") {
        plugins_warning(n, diags);
    }
    let sli = match m.required_node("sli", diags) {
        Some(n) => lower_sli(n, keys, mode, diags),
        None => None,
    };
    let (page_alert, ticket_alert) = lower_alerting(&mut m, keys, mode, diags);
    m.finish(diags);
    let mut labels = root_labels.clone();
    labels.extend(slo_labels);
    Some(Slo {
        id: format!("{service}-{name}"),
        service: service.to_string(),
        name,
        description,
        objective: objective?,
        labels,
        sli: sli?,
        page_alert,
        ticket_alert,
        period: None,
        source: SourceRef {
            file: diags.file().to_path_buf(),
            pos: name_pos,
        },
    })
}

fn objective(m: &mut MapReader, diags: &mut Diagnostics) -> Option<f64> {
    let pos = m.pos_of("objective");
    let present = m.node("objective").is_some();
    let value = m.number("objective", diags);
    match value {
        Some(v) => {
            if let Err(msg) = validate::objective(v) {
                diags.error(pos, msg);
                return None;
            }
            if v == 100.0 {
                diags.warning(
                    pos,
                    "objective 100 leaves no error budget: every error is an infinite burn rate and the budget is always exhausted",
                );
            }
            Some(v)
        }
        None => {
            if !present {
                diags.error(m.pos(), "missing required field `objective`");
            }
            None
        }
    }
}

fn lower_sli(node: &Node, keys: &Keys, mode: Mode, diags: &mut Diagnostics) -> Option<Sli> {
    let mut m = MapReader::new(node, diags, mode)?;
    let events = m.node("events");
    let raw = m.node("raw");
    let plugin = m.node("plugin");
    m.finish(diags);
    let count = [events, raw, plugin].iter().filter(|n| n.is_some()).count();
    if count == 0 {
        diags.error(
            node.pos,
            "invalid SLI: at least one SLI type is required (events, raw or plugin)",
        );
        return None;
    }
    if count > 1 {
        diags.error(node.pos, "invalid SLI: only one SLI type is allowed");
        return None;
    }
    if let Some(n) = events {
        let mut e = MapReader::new(n, diags, mode)?;
        let error_pos = e.pos_of(keys.error_query);
        let total_pos = e.pos_of(keys.total_query);
        let error_query = e.str(keys.error_query, diags).unwrap_or_default();
        let total_query = e.str(keys.total_query, diags).unwrap_or_default();
        e.finish(diags);
        let mut ok = true;
        for (what, q, pos) in [
            ("sli error query", &error_query, error_pos),
            ("sli total query", &total_query, total_pos),
        ] {
            if let Err(msg) = validate::query_template(what, q) {
                diags.error(pos, msg);
                ok = false;
            }
        }
        if ok && error_query == total_query {
            diags.error(
                total_pos,
                "invalid SLI: both error and total queries can't be the same",
            );
            ok = false;
        }
        return ok.then_some(Sli::Events {
            error_query,
            total_query,
        });
    }
    if let Some(n) = raw {
        let mut r = MapReader::new(n, diags, mode)?;
        let pos = r.pos_of(keys.error_ratio_query);
        let q = r.str(keys.error_ratio_query, diags).unwrap_or_default();
        r.finish(diags);
        if let Err(msg) = validate::query_template("sli raw query", &q) {
            diags.error(pos, msg);
            return None;
        }
        return Some(Sli::Raw {
            error_ratio_query: q,
        });
    }
    let n = plugin?;
    let mut p = MapReader::new(n, diags, mode)?;
    let id_pos = p.pos_of("id");
    let id = p.str("id", diags).unwrap_or_default();
    let options = p.string_map("options", diags);
    let option_pos = p.map_positions("options");
    p.finish(diags);
    if id.is_empty() {
        diags.error(id_pos, "invalid SLI: plugin id is required");
        return None;
    }
    match PluginSli::parse(&id, &options) {
        Ok(sli) => Some(Sli::Plugin(sli)),
        Err(problems) => {
            for (key, msg) in problems {
                let pos = option_pos
                    .iter()
                    .find(|(k, _, _)| *k == key)
                    .map_or(id_pos, |(_, _, vpos)| *vpos);
                diags.error(pos, format!("invalid SLI: {msg}"));
            }
            None
        }
    }
}

fn lower_alerting(
    m: &mut MapReader,
    keys: &Keys,
    mode: Mode,
    diags: &mut Diagnostics,
) -> (Option<AlertSpec>, Option<AlertSpec>) {
    let alerting_pos = m.pos_of("alerting");
    let node = m.node("alerting");
    let mut name = String::new();
    let mut name_pos = alerting_pos;
    let mut labels = Labels::new();
    let mut annotations = Labels::new();
    let mut per_alert = [
        (keys.page_alert, "page", None),
        (keys.ticket_alert, "ticket", None),
    ];
    let mut reader = node.and_then(|n| MapReader::new(n, diags, mode));
    if let Some(a) = reader.as_mut() {
        name_pos = a.pos_of("name");
        name = a.str("name", diags).unwrap_or_default();
        labels = a.string_map("labels", diags);
        validate::labels("alert label", &a.map_positions("labels"), &labels, diags);
        annotations = a.string_map("annotations", diags);
        validate::labels(
            "alert annotation",
            &a.map_positions("annotations"),
            &annotations,
            diags,
        );
        for (key, _, slot) in per_alert.iter_mut() {
            *slot = a.node(key);
        }
    }
    let mut out: [Option<AlertSpec>; 2] = [None, None];
    for (i, (_, what, sub)) in per_alert.iter().enumerate() {
        let mut alert_labels = labels.clone();
        let mut alert_annotations = annotations.clone();
        let mut disabled = false;
        if let Some(n) = sub
            && let Some(mut s) = MapReader::new(n, diags, mode)
        {
            disabled = s.bool("disable", diags).unwrap_or(false);
            let l = s.string_map("labels", diags);
            validate::labels("alert label", &s.map_positions("labels"), &l, diags);
            let an = s.string_map("annotations", diags);
            validate::labels(
                "alert annotation",
                &s.map_positions("annotations"),
                &an,
                diags,
            );
            s.finish(diags);
            alert_labels.extend(l);
            alert_annotations.extend(an);
        }
        if disabled {
            continue;
        }
        if name.is_empty() {
            diags.error(
                name_pos,
                format!("invalid alert: {what} alert: alert name is required (or disable both page and ticket alerts)"),
            );
        } else if let Err(msg) = validate::name("alert name", &name) {
            // Prometheus alert names are label values; Sloth only requires them non-empty,
            // but a name that is not a valid metric-like name breaks Alertmanager routing.
            diags.warning(
                name_pos,
                msg.replace("invalid SLO alert name", "unusual alert name"),
            );
            out[i] = Some(AlertSpec {
                name: name.clone(),
                labels: alert_labels,
                annotations: alert_annotations,
            });
            continue;
        }
        out[i] = Some(AlertSpec {
            name: name.clone(),
            labels: alert_labels,
            annotations: alert_annotations,
        });
    }
    if let Some(a) = reader {
        a.finish(diags);
    }
    let [page, ticket] = out;
    (page, ticket)
}

/// OpenSLO's raw SLI template, exactly as Sloth writes it.
const OPENSLO_TEMPLATE: &str =
    "\n  1 - (\n    (\n      {{ .good }}\n    )\n    /\n    (\n      {{ .total }}\n    )\n  )\n";

fn lower_openslo(root: &Node, diags: &mut Diagnostics) -> Option<SpecDocument> {
    let mut top = MapReader::new(root, diags, Mode::Lenient)?;
    if top.str("apiVersion", diags).as_deref() != Some("openslo/v1alpha") {
        diags.error(
            top.pos_of("apiVersion"),
            "invalid spec version, should be \"openslo/v1alpha\"",
        );
    }
    let _ = top.str("kind", diags);
    let meta_node = top.required_node("metadata", diags)?;
    let mut meta = MapReader::new(meta_node, diags, Mode::Lenient)?;
    let meta_name = meta.str("name", diags).unwrap_or_default();
    let meta_name_pos = meta.pos_of("name");
    let _ = meta.str("displayName", diags);
    meta.finish(diags);
    let spec_node = top.required_node("spec", diags)?;
    top.finish(diags);
    let mut spec = MapReader::new(spec_node, diags, Mode::Lenient)?;
    let service = spec.str("service", diags).unwrap_or_default();
    if let Err(m) = validate::name("service", &service) {
        diags.error(spec.pos_of("service"), m);
    }
    let description = spec.str("description", diags).unwrap_or_default();
    let _ = spec.str("budgetingMethod", diags);
    let period = openslo_period(&mut spec, diags);
    let objectives = spec.seq("objectives", diags);
    let objectives_pos = spec.pos_of("objectives");
    spec.finish(diags);
    let mut slos = Vec::new();
    match objectives {
        Some(items) if !items.is_empty() => {
            for (idx, item) in items.iter().enumerate() {
                let name = format!("{meta_name}-{idx}");
                if let Err(msg) = validate::name("name", &name) {
                    diags.error(meta_name_pos, msg);
                }
                if let Some((objective, sli)) = lower_openslo_objective(item, diags) {
                    slos.push(Slo {
                        id: format!("{service}-{name}"),
                        service: service.clone(),
                        name,
                        description: description.clone(),
                        objective,
                        labels: Labels::new(),
                        sli,
                        page_alert: None,
                        ticket_alert: None,
                        period,
                        source: SourceRef {
                            file: diags.file().to_path_buf(),
                            pos: item.pos,
                        },
                    });
                }
            }
        }
        _ => diags.error(objectives_pos, "at least one objective is required"),
    }
    Some(SpecDocument {
        file: Default::default(),
        line: 1,
        kind: SpecKind::OpenSloV1Alpha,
        service,
        k8s: None,
        slos,
    })
}

fn openslo_period(spec: &mut MapReader, diags: &mut Diagnostics) -> Option<Duration> {
    let windows = spec.seq("timeWindows", diags)?;
    if windows.len() > 1 {
        diags.error(windows[1].pos, "only 1 time window is supported");
        return None;
    }
    let w = windows.first()?;
    let mut m = MapReader::new(w, diags, Mode::Lenient)?;
    let unit = m.str("unit", diags).unwrap_or_default();
    let unit_pos = m.pos_of("unit");
    let count = m.number("count", diags);
    let count_pos = m.pos_of("count");
    let _ = m.node("isRolling");
    let _ = m.node("calendar");
    m.finish(diags);
    if !unit.eq_ignore_ascii_case("day") {
        diags.error(unit_pos, "only days based time windows are supported");
        return None;
    }
    match count {
        Some(c) if c >= 1.0 && c.fract() == 0.0 => Some(Duration::from_days(c as u64)),
        Some(_) => {
            diags.error(
                count_pos,
                "time window count must be a whole number of days >= 1",
            );
            None
        }
        None => {
            diags.error(count_pos, "time window count is required");
            None
        }
    }
}

fn lower_openslo_objective(node: &Node, diags: &mut Diagnostics) -> Option<(f64, Sli)> {
    let mut m = MapReader::new(node, diags, Mode::Lenient)?;
    let _ = m.str("displayName", diags);
    let _ = m.node("value");
    let target_pos = m.pos_of("target");
    let target = m.number("target", diags);
    let ratio = m.node("ratioMetrics");
    m.finish(diags);
    let Some(target) = target else {
        diags.error(target_pos, "objective target is required");
        return None;
    };
    let objective = target * 100.0;
    if let Err(msg) = validate::objective(objective) {
        diags.error(target_pos, msg);
        return None;
    }
    let Some(ratio) = ratio else {
        diags.error(node.pos, "missing ratioMetrics");
        return None;
    };
    let mut r = MapReader::new(ratio, diags, Mode::Lenient)?;
    let _ = r.node("incremental");
    let good = r.node("good").and_then(|n| openslo_query(n, "good", diags));
    let total = r
        .node("total")
        .and_then(|n| openslo_query(n, "total", diags));
    for (what, q) in [("good", &good), ("total", &total)] {
        if q.is_none() && r.node(what).is_none() {
            diags.error(
                r.pos(),
                format!("prometheus or sloth query ratio '{what}' source is required"),
            );
        }
    }
    r.finish(diags);
    let (good, total) = (good?, total?);
    let query = OPENSLO_TEMPLATE
        .replace("{{ .good }}", &good)
        .replace("{{ .total }}", &total);
    if let Err(msg) = validate::query_template("sli raw query", &query) {
        diags.error(ratio.pos, msg);
        return None;
    }
    Some((
        objective,
        Sli::Raw {
            error_ratio_query: query,
        },
    ))
}

fn openslo_query(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<String> {
    let mut m = MapReader::new(node, diags, Mode::Lenient)?;
    let source = m.str("source", diags).unwrap_or_default();
    let source_pos = m.pos_of("source");
    let query_type = m.str("queryType", diags).unwrap_or_default();
    let qt_pos = m.pos_of("queryType");
    let query = m.str("query", diags).unwrap_or_default();
    let query_pos = m.pos_of("query");
    m.finish(diags);
    if source != "prometheus" && source != "sloth" {
        diags.error(
            source_pos,
            format!("prometheus or sloth query ratio '{what}' source is required"),
        );
        return None;
    }
    if query_type != "promql" {
        diags.error(
            qt_pos,
            format!("unsupported '{what}' indicator query type: {query_type}"),
        );
        return None;
    }
    if query.trim().is_empty() {
        diags.error(query_pos, format!("'{what}' query is required"));
        return None;
    }
    Some(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_like_sloth() {
        assert_eq!(
            detect("version: \"prometheus/v1\"\nservice: x\n"),
            Some(SpecKind::PrometheusV1)
        );
        assert_eq!(
            detect("apiVersion: sloth.slok.dev/v1\nkind: PrometheusServiceLevel\n"),
            Some(SpecKind::K8sPrometheusServiceLevel)
        );
        assert_eq!(
            detect("apiVersion: openslo/v1alpha\nkind: SLO\n"),
            Some(SpecKind::OpenSloV1Alpha)
        );
        assert_eq!(detect("  version: prometheus/v1\n"), None);
        assert_eq!(detect("version: prometheus/v2\n"), None);
    }

    #[test]
    fn splits_documents_keeping_line_numbers() {
        let docs = split_documents("# header\n---\na: 1\n---\n\n# only comment\n---\nb: 2\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].0, 3);
        assert_eq!(docs[1].0, 8);
    }
}
