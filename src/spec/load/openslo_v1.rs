//! Lowering OpenSLO `v1` documents (`apiVersion: openslo/v1`).
//!
//! Unlike Sloth's formats, a v1 file is a set of objects that refer to each other by
//! `metadata.name` (`indicatorRef` → `SLI`, `metricSourceRef` → `DataSource`), so the
//! whole file is lowered at once: first every object is indexed by kind and name, then
//! each `SLO` is lowered with references resolved. A dangling reference is an error at
//! the reference. Every problem of the file is reported; nothing stops at the first one.
//!
//! Mapping onto the burnwatch model (documented in README "OpenSLO v1"):
//! - one [`Slo`] per objective; with one objective its name is `metadata.name`, with
//!   several `<metadata.name>-<index>`; the ID is `<spec.service>-<name>` as in Sloth;
//! - `ratioMetric` `bad`+`total` → events SLI (error = bad); `good`+`total` → events SLI
//!   with error = `(total) - (good)`; `raw` with `rawType: failure` → raw error ratio,
//!   `rawType: success` → `1 - (raw)`;
//! - `metricSource.type: Prometheus` with `spec.query` (a PromQL template with
//!   `{{.window}}`, as burnwatch requires of every PromQL SLI);
//! - `timeWindow` with one rolling `duration` → the SLO's period (must be in the window
//!   catalog when one is given);
//! - no `alertPolicies` → the default multi-window multi-burn-rate page and ticket alerts.
//!
//! What is not supported yet is a positioned error, never a silent fallback; the
//! budgeting-method and calendar cases all go through [`not_yet_budgeting`].

use std::collections::BTreeMap;

use crate::spec::diag::{Diagnostics, Pos};
use crate::spec::duration::Duration;
use crate::spec::model::{AlertSpec, Labels, Sli, Slo, SourceRef, SpecDocument, SpecKind};
use crate::spec::reader::{MapReader, Mode};
use crate::spec::validate;
use crate::spec::windows::WindowCatalog;
use crate::spec::yaml::{Node, Value};

/// The object kinds of OpenSLO v1 this loader knows.
const KINDS: [&str; 7] = [
    "SLO",
    "SLI",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
    "Service",
    "DataSource",
];

/// One v1 document of a file: its first line and parsed root.
pub(super) struct V1Doc {
    pub line: usize,
    pub root: Node,
}

/// A named object of the file, for resolving references.
struct Object<'a> {
    kind: String,
    name: String,
    name_pos: Pos,
    spec: Option<&'a Node>,
}

/// Lower every v1 document of one file. Returns one [`SpecDocument`] per `SLO` object,
/// each with the line of the document it came from.
pub(super) fn lower_file(
    docs: &[V1Doc],
    catalog: Option<&WindowCatalog>,
    diags: &mut Diagnostics,
) -> Vec<SpecDocument> {
    let mut objects: Vec<(usize, Object)> = Vec::new();
    for doc in docs {
        if let Some(obj) = index_object(&doc.root, diags) {
            objects.push((doc.line, obj));
        }
    }
    // Names are unique per kind (OpenSLO: the name identifies the object).
    let mut by_name: BTreeMap<(&str, &str), &Object> = BTreeMap::new();
    for (_, obj) in &objects {
        if obj.name.is_empty() {
            continue;
        }
        if let Some(first) = by_name.get(&(obj.kind.as_str(), obj.name.as_str())) {
            diags.error(
                obj.name_pos,
                format!(
                    "{} {:?} is defined twice (first at line {})",
                    obj.kind, obj.name, first.name_pos.line
                ),
            );
        } else {
            by_name.insert((obj.kind.as_str(), obj.name.as_str()), obj);
        }
    }
    let mut refs = Refs {
        by_name,
        slis: BTreeMap::new(),
    };
    // Each SLI object is lowered once, so its problems are reported once however many
    // SLOs refer to it (and also when none does).
    let mut slis = BTreeMap::new();
    for (_, obj) in &objects {
        if obj.kind == "SLI" && refs.by_name.contains_key(&("SLI", obj.name.as_str())) {
            let sli = obj.spec.and_then(|s| lower_sli_spec(s, &refs, diags));
            slis.insert(obj.name.clone(), sli);
        }
    }
    refs.slis = slis;
    let mut out = Vec::new();
    for (line, obj) in &objects {
        match obj.kind.as_str() {
            "SLO" => {
                if let Some(mut doc) = lower_slo(obj, &refs, catalog, diags) {
                    doc.line = *line;
                    out.push(doc);
                }
            }
            "DataSource" => check_data_source(obj, diags),
            _ => {}
        }
    }
    out
}

/// Read `apiVersion`, `kind` and `metadata.name` of a document.
fn index_object<'a>(root: &'a Node, diags: &mut Diagnostics) -> Option<Object<'a>> {
    let mut top = MapReader::new(root, diags, Mode::Lenient)?;
    if top.str("apiVersion", diags).as_deref() != Some("openslo/v1") {
        diags.error(
            top.pos_of("apiVersion"),
            "invalid spec version, should be \"openslo/v1\"",
        );
    }
    let kind = top.str("kind", diags).unwrap_or_default();
    let kind_pos = top.pos_of("kind");
    let metadata = top.required_node("metadata", diags);
    let spec = top.node("spec");
    top.finish(diags);
    if !KINDS.contains(&kind.as_str()) {
        diags.error(
            kind_pos,
            format!(
                "unsupported OpenSLO v1 kind {kind:?} (known: {})",
                KINDS.join(", ")
            ),
        );
        return None;
    }
    let (name, name_pos) = match metadata {
        Some(m) => read_metadata(m, diags),
        None => (String::new(), root.pos),
    };
    if spec.is_none() {
        diags.error(root.pos, "missing required field `spec`");
    }
    Some(Object {
        kind,
        name,
        name_pos,
        spec,
    })
}

fn read_metadata(node: &Node, diags: &mut Diagnostics) -> (String, Pos) {
    let Some(mut m) = MapReader::new(node, diags, Mode::Lenient) else {
        return (String::new(), node.pos);
    };
    let name = m.str("name", diags).unwrap_or_default();
    let pos = m.pos_of("name");
    let _ = m.str("displayName", diags);
    let _ = m.string_map("labels", diags);
    let _ = m.node("annotations");
    let _ = m.node("namespace");
    m.finish(diags);
    if name.is_empty() {
        diags.error(pos, "missing required field `metadata.name`");
    }
    (name, pos)
}

/// The file's objects by kind and name.
struct Refs<'a> {
    by_name: BTreeMap<(&'a str, &'a str), &'a Object<'a>>,
    /// The lowered SLI objects by name (`None`: the SLI has errors, already reported).
    slis: BTreeMap<String, Option<Sli>>,
}

impl Refs<'_> {
    /// The `spec` of the `kind` object named by the string at `node`, or an error there.
    fn resolve<'s>(&'s self, kind: &str, node: &Node, diags: &mut Diagnostics) -> Option<&'s Node> {
        let Some(name) = node.as_str() else {
            diags.error(
                node.pos,
                format!(
                    "a {kind} reference must be a string, found {}",
                    node.type_with_article()
                ),
            );
            return None;
        };
        match self.by_name.get(&(kind, name)) {
            Some(obj) => obj.spec,
            None => {
                diags.error(
                    node.pos,
                    format!("dangling reference: no {kind} named {name:?} in this file"),
                );
                None
            }
        }
    }
}

/// A "not yet supported" error for what the SLO-model work (issue 17: timeslices,
/// calendar periods) adds. The one place to hook that model in once it lands.
fn not_yet_budgeting(pos: Pos, what: &str, diags: &mut Diagnostics) {
    diags.error(
        pos,
        format!(
            "{what} is not yet supported by burnwatch's OpenSLO v1 loader (only budgetingMethod Occurrences over a rolling timeWindow); the SLO is not loaded"
        ),
    );
}

fn lower_slo(
    obj: &Object,
    refs: &Refs,
    catalog: Option<&WindowCatalog>,
    diags: &mut Diagnostics,
) -> Option<SpecDocument> {
    let spec_node = obj.spec?;
    let mut spec = MapReader::new(spec_node, diags, Mode::Lenient)?;
    let service = spec.str("service", diags).unwrap_or_default();
    if let Err(m) = validate::name("service", &service) {
        diags.error(spec.pos_of("service"), m);
    }
    let description = spec.str("description", diags).unwrap_or_default();
    let budgeting = spec.str("budgetingMethod", diags);
    let budgeting_pos = spec.pos_of("budgetingMethod");
    let mut ok = true;
    match budgeting.as_deref() {
        None | Some("Occurrences") => {}
        Some(m @ ("Timeslices" | "RatioTimeslices")) => {
            not_yet_budgeting(budgeting_pos, &format!("budgetingMethod {m}"), diags);
            ok = false;
        }
        Some(other) => {
            diags.error(
                budgeting_pos,
                format!(
                    "unknown budgetingMethod {other:?} (Occurrences, Timeslices or RatioTimeslices)"
                ),
            );
            ok = false;
        }
    }
    let period = match spec.node("timeWindow") {
        Some(n) => time_window(n, catalog, diags, &mut ok),
        None => None,
    };
    let sli = match (spec.node("indicator"), spec.node("indicatorRef")) {
        (Some(_), Some(r)) => {
            diags.error(
                r.pos,
                "only one of `indicator` and `indicatorRef` is allowed",
            );
            None
        }
        (Some(inline), None) => inline_sli(inline, refs, diags),
        (None, Some(r)) => refs
            .resolve("SLI", r, diags)
            .and_then(|_| r.as_str())
            .and_then(|name| refs.slis.get(name).cloned().flatten()),
        (None, None) => {
            diags.error(
                spec.pos(),
                "missing required field `indicator` (or `indicatorRef`)",
            );
            None
        }
    };
    if let Some(p) = spec.node("alertPolicies") {
        diags.error(
            p.pos,
            "alertPolicies are not yet supported by burnwatch's OpenSLO v1 loader; remove them to get the default page and ticket burn-rate alerts",
        );
        ok = false;
    }
    let objectives = spec.seq("objectives", diags);
    let objectives_pos = spec.pos_of("objectives");
    spec.finish(diags);
    let mut targets = Vec::new();
    match objectives {
        Some(items) if !items.is_empty() => {
            for item in items {
                if let Some(t) = objective(item, diags) {
                    targets.push((t, item.pos));
                } else {
                    ok = false;
                }
            }
        }
        _ => {
            diags.error(
                objectives_pos,
                "at least one objective is required (spec.objectives is empty)",
            );
            ok = false;
        }
    }
    let several = objectives.is_some_and(|o| o.len() > 1);
    if let Err(msg) = validate::name("name", &obj.name) {
        diags.error(obj.name_pos, msg);
    }
    let sli = sli?;
    if !ok {
        return None;
    }
    let slos = targets
        .into_iter()
        .enumerate()
        .map(|(idx, (objective, pos))| {
            let name = if several {
                format!("{}-{idx}", obj.name)
            } else {
                obj.name.clone()
            };
            let alert = AlertSpec {
                name: alert_name(&name),
                labels: Labels::new(),
                annotations: Labels::new(),
            };
            Slo {
                id: format!("{service}-{name}"),
                service: service.clone(),
                name,
                description: description.clone(),
                objective,
                labels: Labels::new(),
                sli: sli.clone(),
                page_alert: Some(alert.clone()),
                ticket_alert: Some(alert),
                period,
                source: SourceRef {
                    file: diags.file().to_path_buf(),
                    pos,
                },
            }
        })
        .collect();
    Some(SpecDocument {
        file: Default::default(),
        line: 1,
        kind: SpecKind::OpenSloV1,
        service,
        k8s: None,
        slos,
    })
}

/// `availability-api` → `AvailabilityApiBurnRate`: Prometheus (< 3.0) alert names must be
/// metric names, and an OpenSLO SLO has no alert name of its own.
pub(super) fn alert_name(slo_name: &str) -> String {
    let mut out = String::new();
    for part in slo_name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Slo");
    }
    out.push_str("BurnRate");
    out
}

fn time_window(
    node: &Node,
    catalog: Option<&WindowCatalog>,
    diags: &mut Diagnostics,
    ok: &mut bool,
) -> Option<Duration> {
    let Value::Seq(items) = &node.value else {
        diags.error(
            node.pos,
            format!(
                "`timeWindow` must be a list, found {}",
                node.type_with_article()
            ),
        );
        *ok = false;
        return None;
    };
    if items.len() != 1 {
        diags.error(
            items.get(1).map_or(node.pos, |n| n.pos),
            "timeWindow must have exactly one entry",
        );
        *ok = false;
        return None;
    }
    let mut m = MapReader::new(&items[0], diags, Mode::Lenient)?;
    let duration = m.str("duration", diags);
    let duration_pos = m.pos_of("duration");
    let rolling = m.bool("isRolling", diags);
    let rolling_pos = m.pos_of("isRolling");
    let calendar = m.node("calendar");
    m.finish(diags);
    if rolling == Some(false) || calendar.is_some() {
        let pos = calendar.map_or(rolling_pos, |c| c.pos);
        not_yet_budgeting(pos, "a calendar-aligned timeWindow", diags);
        *ok = false;
        return None;
    }
    let Some(duration) = duration else {
        diags.error(duration_pos, "missing required field `duration`");
        *ok = false;
        return None;
    };
    if duration.ends_with(['M', 'Q', 'Y']) {
        not_yet_budgeting(
            duration_pos,
            &format!("a calendar duration ({duration})"),
            diags,
        );
        *ok = false;
        return None;
    }
    let period = match Duration::parse_positive(&duration) {
        Ok(d) => d,
        Err(e) => {
            diags.error(duration_pos, format!("invalid timeWindow duration: {e}"));
            *ok = false;
            return None;
        }
    };
    if let Some(catalog) = catalog
        && let Err(msg) = catalog.require(period)
    {
        diags.error(duration_pos, msg);
        *ok = false;
    }
    Some(period)
}

/// An objective's target in percent.
fn objective(node: &Node, diags: &mut Diagnostics) -> Option<f64> {
    let mut m = MapReader::new(node, diags, Mode::Lenient)?;
    let _ = m.str("displayName", diags);
    let _ = m.str("name", diags);
    let target = m.number("target", diags);
    let target_pos = m.pos_of("target");
    let percent = m.number("targetPercent", diags);
    let percent_pos = m.pos_of("targetPercent");
    let mut unsupported = Vec::new();
    for key in ["op", "value", "timeSliceTarget", "timeSliceWindow"] {
        if let Some(n) = m.node(key) {
            unsupported.push((key, n.pos));
        }
    }
    for key in ["indicator", "indicatorRef", "compositeWeight"] {
        if let Some(n) = m.node(key) {
            diags.error(
                n.pos,
                format!("objective `{key}` (composite SLO) is not yet supported by burnwatch's OpenSLO v1 loader"),
            );
            return None;
        }
    }
    m.finish(diags);
    if let Some((key, pos)) = unsupported.first() {
        let what = if key.starts_with("timeSlice") {
            "timeslice objectives"
        } else {
            "threshold objectives (op/value)"
        };
        not_yet_budgeting(*pos, what, diags);
        return None;
    }
    let (objective, pos) = match (target, percent) {
        (Some(t), None) => (t * 100.0, target_pos),
        (None, Some(p)) => (p, percent_pos),
        (Some(_), Some(_)) => {
            diags.error(
                percent_pos,
                "only one of `target` and `targetPercent` is allowed",
            );
            return None;
        }
        (None, None) => {
            diags.error(
                node.pos,
                "objective target is required (`target` or `targetPercent`)",
            );
            return None;
        }
    };
    if let Err(msg) = validate::objective(objective) {
        diags.error(pos, msg);
        return None;
    }
    Some(objective)
}

/// An inline `indicator`: an SLI object without `apiVersion`/`kind`.
fn inline_sli(node: &Node, refs: &Refs, diags: &mut Diagnostics) -> Option<Sli> {
    let mut m = MapReader::new(node, diags, Mode::Lenient)?;
    if let Some(meta) = m.node("metadata") {
        let _ = read_metadata(meta, diags);
    }
    let spec = m.required_node("spec", diags);
    m.finish(diags);
    lower_sli_spec(spec?, refs, diags)
}

/// An SLI object's `spec`.
fn lower_sli_spec(node: &Node, refs: &Refs, diags: &mut Diagnostics) -> Option<Sli> {
    let mut m = MapReader::new(node, diags, Mode::Lenient)?;
    let _ = m.str("description", diags);
    let ratio = m.node("ratioMetric");
    let threshold = m.node("thresholdMetric");
    m.finish(diags);
    match (ratio, threshold) {
        (Some(r), None) => ratio_metric(r, refs, diags),
        (None, Some(t)) => {
            not_yet_budgeting(t.pos, "thresholdMetric (needs timeslices)", diags);
            None
        }
        (Some(_), Some(t)) => {
            diags.error(
                t.pos,
                "only one of `ratioMetric` and `thresholdMetric` is allowed",
            );
            None
        }
        (None, None) => {
            diags.error(node.pos, "missing `ratioMetric` (or `thresholdMetric`)");
            None
        }
    }
}

fn ratio_metric(node: &Node, refs: &Refs, diags: &mut Diagnostics) -> Option<Sli> {
    let mut m = MapReader::new(node, diags, Mode::Lenient)?;
    let _ = m.bool("counter", diags);
    let raw_type = m.str("rawType", diags);
    let raw_type_pos = m.pos_of("rawType");
    let part = |key: &str, m: &mut MapReader, diags: &mut Diagnostics| {
        m.node(key).map(|n| query(n, key, refs, diags))
    };
    let good = part("good", &mut m, diags);
    let bad = part("bad", &mut m, diags);
    let total = part("total", &mut m, diags);
    let raw = part("raw", &mut m, diags);
    let pos = m.pos();
    m.finish(diags);
    if let Some(raw) = raw {
        if good.is_some() || bad.is_some() || total.is_some() {
            diags.error(
                pos,
                "`raw` cannot be combined with `good`, `bad` or `total`",
            );
            return None;
        }
        let raw = raw?;
        let error_ratio_query = match raw_type.as_deref() {
            Some("failure") => raw,
            Some("success") => format!("1 - ({raw})"),
            other => {
                diags.error(
                    raw_type_pos,
                    format!("rawType must be \"success\" or \"failure\", found {other:?}"),
                );
                return None;
            }
        };
        return Some(Sli::Raw { error_ratio_query });
    }
    let Some(total) = total else {
        diags.error(pos, "missing required field `total`");
        return None;
    };
    match (good, bad) {
        (Some(_), Some(_)) => {
            diags.error(pos, "only one of `good` and `bad` is allowed");
            None
        }
        (None, None) => {
            diags.error(pos, "one of `good` and `bad` is required");
            None
        }
        (Some(good), None) => {
            let (good, total) = (good?, total?);
            Some(Sli::Events {
                error_query: format!("({total}) - ({good})"),
                total_query: total,
            })
        }
        (None, Some(bad)) => {
            let (bad, total) = (bad?, total?);
            if bad == total {
                diags.error(
                    pos,
                    "invalid SLI: both error and total queries can't be the same",
                );
                return None;
            }
            Some(Sli::Events {
                error_query: bad,
                total_query: total,
            })
        }
    }
}

/// A `good`/`bad`/`total`/`raw` part: `{metricSource: {metricSourceRef?, type, spec}}`.
fn query(node: &Node, what: &str, refs: &Refs, diags: &mut Diagnostics) -> Option<String> {
    let mut m = MapReader::new(node, diags, Mode::Lenient)?;
    let source = m.required_node("metricSource", diags);
    m.finish(diags);
    let mut s = MapReader::new(source?, diags, Mode::Lenient)?;
    let reference = s.node("metricSourceRef");
    let ty = s.str("type", diags);
    let ty_pos = s.pos_of("type");
    let spec = s.node("spec");
    let spec_pos = s.pos_of("spec");
    s.finish(diags);
    // A reference always has to resolve; an explicit `type` wins over the DataSource's.
    let referenced = match reference {
        Some(r) => {
            let ds = refs.resolve("DataSource", r, diags)?;
            data_source_type(ds).map(|t| (t, r.pos))
        }
        None => None,
    };
    let ty = match (ty, referenced) {
        (Some(t), _) => Some((t, ty_pos)),
        (None, Some(t)) => Some(t),
        (None, None) => {
            if reference.is_none() {
                diags.error(
                    ty_pos,
                    "missing required field `type` (or `metricSourceRef`)",
                );
            }
            None
        }
    };
    let (ty, ty_pos) = ty?;
    if ty.eq_ignore_ascii_case("CloudWatch") {
        diags.error(
            ty_pos,
            "metricSource type CloudWatch is not yet supported in OpenSLO v1 input; use a prometheus/v1 spec with sli.plugin for CloudWatch",
        );
        return None;
    }
    if !ty.eq_ignore_ascii_case("Prometheus") {
        diags.error(
            ty_pos,
            format!("unsupported metricSource type {ty:?} (burnwatch reads Prometheus)"),
        );
        return None;
    }
    let Some(spec) = spec else {
        diags.error(spec_pos, "missing required field `spec` (with `query`)");
        return None;
    };
    let mut q = MapReader::new(spec, diags, Mode::Lenient)?;
    let text = q.str("query", diags);
    let pos = q.pos_of("query");
    q.finish(diags);
    let text = text.unwrap_or_default();
    if let Err(msg) = validate::query_template(&format!("sli {what} query"), &text) {
        diags.error(pos, msg);
        return None;
    }
    Some(text)
}

/// The `type` of a DataSource's spec (its absence is reported at the DataSource).
fn data_source_type(spec: &Node) -> Option<String> {
    let Value::Map(entries) = &spec.value else {
        return None;
    };
    entries
        .iter()
        .find(|(k, _)| k.name == "type")
        .and_then(|(_, v)| v.as_str())
        .map(str::to_string)
}

fn check_data_source(obj: &Object, diags: &mut Diagnostics) {
    let Some(spec) = obj.spec else { return };
    let Some(mut m) = MapReader::new(spec, diags, Mode::Lenient) else {
        return;
    };
    let _ = m.str("description", diags);
    let ty = m.str("type", diags);
    let pos = m.pos_of("type");
    let _ = m.node("connectionDetails");
    m.finish(diags);
    if ty.is_none() {
        diags.error(pos, "missing required field `type`");
    }
}
