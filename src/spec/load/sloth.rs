//! Lowering Sloth's own formats: `prometheus/v1` (snake_case keys, decoded leniently as
//! Sloth does through JSON) and the Kubernetes `PrometheusServiceLevel` CRD (camelCase keys,
//! unknown fields rejected as the API server does).

use std::collections::BTreeSet;

use crate::spec::diag::{Diagnostics, Pos};
use crate::spec::model::{AlertSpec, K8sMeta, Labels, Sli, Slo, SourceRef, SpecDocument, SpecKind};
use crate::spec::plugins::PluginSli;
use crate::spec::reader::{MapReader, Mode};
use crate::spec::validate;
use crate::spec::yaml::{Node, Value};

/// Key spellings of the two Sloth formats (snake_case and the CRD's camelCase).
pub(super) struct Keys {
    slo_plugins: &'static str,
    error_query: &'static str,
    total_query: &'static str,
    error_ratio_query: &'static str,
    page_alert: &'static str,
    ticket_alert: &'static str,
}

/// `prometheus/v1` spellings.
pub(super) const PROM_KEYS: Keys = Keys {
    slo_plugins: "slo_plugins",
    error_query: "error_query",
    total_query: "total_query",
    error_ratio_query: "error_ratio_query",
    page_alert: "page_alert",
    ticket_alert: "ticket_alert",
};

/// `PrometheusServiceLevel` spellings.
pub(super) const K8S_KEYS: Keys = Keys {
    slo_plugins: "sloPlugins",
    error_query: "errorQuery",
    total_query: "totalQuery",
    error_ratio_query: "errorRatioQuery",
    page_alert: "pageAlert",
    ticket_alert: "ticketAlert",
};

/// The SLO plugin settings of one level (root `slo_plugins` or an SLO's `plugins`), for
/// Sloth's plugin rules only: burnwatch does not run Sloth's Go plugins.
#[derive(Default)]
struct PluginChain {
    /// `overridePrevious: true`, with the position of the value.
    override_previous: Option<Pos>,
    /// Number of plugins in `chain`.
    len: usize,
}

/// Lower a `prometheus/v1` or `PrometheusServiceLevel` document.
pub(super) fn lower(
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
        // Sloth's detection regex leaves the dots of `sloth.slok.dev` unescaped; the
        // Kubernetes decoder behind it accepts only the exact group/version.
        if top.str("apiVersion", diags).as_deref() != Some("sloth.slok.dev/v1") {
            diags.error(
                top.pos_of("apiVersion"),
                "invalid spec version, should be \"sloth.slok.dev/v1\"",
            );
        }
        let _ = top.str("kind", diags);
        // Live objects (`kubectl get -o yaml`) carry a status; it is not part of the spec.
        let _ = top.node("status");
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
    let root_label_pos = spec.map_positions("labels");
    let root_plugins = spec
        .node(keys.slo_plugins)
        .map(|n| plugin_chain(n, mode, diags))
        .unwrap_or_default();
    let slos_node = spec.node("slos");
    let mut slos = Vec::new();
    // Label keys each SLO sets itself (with a value): Sloth validates the merged labels,
    // so a root label an SLO overrides is never checked for that SLO.
    let mut own_keys: Vec<BTreeSet<String>> = Vec::new();
    match slos_node.map(|n| (n, &n.value)) {
        Some((_, Value::Seq(items))) if !items.is_empty() => {
            let ctx = SloContext {
                service: &service,
                root_labels: &root_labels,
                root_plugins: &root_plugins,
                keys,
                mode,
            };
            for item in items {
                let (slo, own) = lower_slo(item, &ctx, diags);
                own_keys.push(own);
                slos.extend(slo);
            }
        }
        Some((n, Value::Seq(_))) => diags.error(n.pos, "at least one SLO is required"),
        Some((n, _)) => diags.error(
            n.pos,
            format!("`slos` must be a list, found {}", n.type_with_article()),
        ),
        None => diags.error(
            spec.pos(),
            "at least one SLO is required: missing field `slos`",
        ),
    }
    let mut checked_root = root_labels.clone();
    checked_root.retain(|k, _| own_keys.is_empty() || own_keys.iter().any(|o| !o.contains(k)));
    validate::labels("SLO label", &root_label_pos, &checked_root, diags);
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

/// Read a plugin chain (`{overridePrevious, chain: [{id, config, priority}]}`): a warning
/// that burnwatch ignores it, and Sloth's rule that every plugin has an id.
fn plugin_chain(n: &Node, mode: Mode, diags: &mut Diagnostics) -> PluginChain {
    diags.warning(
        n.pos,
        "SLO plugins are Sloth Go plugins (rule post-processing); burnwatch does not run them and ignores this field",
    );
    let mut out = PluginChain::default();
    let Some(mut m) = MapReader::new(n, diags, mode) else {
        return out;
    };
    if m.bool("overridePrevious", diags) == Some(true) {
        out.override_previous = Some(m.pos_of("overridePrevious"));
    }
    for item in m.seq("chain", diags).unwrap_or_default() {
        out.len += 1;
        let Some(mut p) = MapReader::new(item, diags, mode) else {
            continue;
        };
        let id = p.str("id", diags).unwrap_or_default();
        if id.is_empty() {
            diags.error(p.pos_of("id"), "invalid plugins: plugin ID is required");
        }
        let _ = p.node("config");
        let _ = p.number("priority", diags);
        p.finish(diags);
    }
    m.finish(diags);
    out
}

/// What every SLO of a document shares.
struct SloContext<'a> {
    service: &'a str,
    root_labels: &'a Labels,
    root_plugins: &'a PluginChain,
    keys: &'a Keys,
    mode: Mode,
}

fn lower_slo(
    node: &Node,
    ctx: &SloContext,
    diags: &mut Diagnostics,
) -> (Option<Slo>, BTreeSet<String>) {
    let Some(mut m) = MapReader::new(node, diags, ctx.mode) else {
        return (None, BTreeSet::new());
    };
    let name = m.str("name", diags).unwrap_or_default();
    let name_pos = m.pos_of("name");
    if let Err(msg) = validate::name("name", &name) {
        diags.error(name_pos, msg);
    }
    let description = m.str("description", diags).unwrap_or_default();
    let objective = objective(&mut m, diags);
    let slo_labels = m.string_map("labels", diags);
    validate::labels("SLO label", &m.map_positions("labels"), &slo_labels, diags);
    let own: BTreeSet<String> = slo_labels
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, _)| k.clone())
        .collect();
    let plugins = m.node("plugins").map(|n| plugin_chain(n, ctx.mode, diags));
    check_override(ctx.root_plugins, plugins.as_ref(), diags);
    let sli = match m.node("sli") {
        Some(n) => lower_sli(n, ctx.keys, ctx.mode, diags),
        None => {
            diags.error(
                m.pos(),
                "invalid SLI: at least one SLI type is required (events, raw or plugin): missing field `sli`",
            );
            None
        }
    };
    let (page_alert, ticket_alert) = lower_alerting(&mut m, ctx.keys, ctx.mode, diags);
    m.finish(diags);
    let mut labels = ctx.root_labels.clone();
    labels.extend(slo_labels);
    let slo = (|| {
        Some(Slo {
            id: format!("{}-{name}", ctx.service),
            service: ctx.service.to_string(),
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
    })();
    (slo, own)
}

/// Sloth: an SLO's chain = root chain (dropped when the SLO overrides) + its own chain;
/// overriding with an empty result is an error.
fn check_override(root: &PluginChain, slo: Option<&PluginChain>, diags: &mut Diagnostics) {
    let slo_override = slo.and_then(|p| p.override_previous);
    let slo_len = slo.map_or(0, |p| p.len);
    let (pos, total) = match slo_override {
        Some(pos) => (Some(pos), slo_len),
        None => (root.override_previous, root.len + slo_len),
    };
    if let Some(pos) = pos
        && total == 0
    {
        diags.error(
            pos,
            "invalid plugins: override plugins is set but no plugins are defined",
        );
    }
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

/// One of the two alerts as written (`page_alert` / `ticket_alert`).
struct AlertPart {
    what: &'static str,
    disabled: bool,
    labels: Labels,
    label_pos: Vec<(String, Pos, Pos)>,
    annotations: Labels,
    annotation_pos: Vec<(String, Pos, Pos)>,
}

fn read_alert_part(
    what: &'static str,
    node: Option<&Node>,
    mode: Mode,
    diags: &mut Diagnostics,
) -> AlertPart {
    let mut part = AlertPart {
        what,
        disabled: false,
        labels: Labels::new(),
        label_pos: Vec::new(),
        annotations: Labels::new(),
        annotation_pos: Vec::new(),
    };
    if let Some(n) = node
        && let Some(mut s) = MapReader::new(n, diags, mode)
    {
        part.disabled = s.bool("disable", diags).unwrap_or(false);
        part.labels = s.string_map("labels", diags);
        part.label_pos = s.map_positions("labels");
        part.annotations = s.string_map("annotations", diags);
        part.annotation_pos = s.map_positions("annotations");
        s.finish(diags);
    }
    part
}

/// Sloth's alert mapping and rules: only enabled alerts are checked (page, then ticket),
/// each with `alerting.name`, the merged labels and the merged annotations. A problem in
/// the shared `alerting` part is reported once, in the words of the first enabled alert.
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
    let mut label_pos = Vec::new();
    let mut annotations = Labels::new();
    let mut annotation_pos = Vec::new();
    let mut nodes = [None, None];
    let reader = node.and_then(|n| MapReader::new(n, diags, mode));
    if let Some(mut a) = reader {
        name_pos = a.pos_of("name");
        name = a.str("name", diags).unwrap_or_default();
        labels = a.string_map("labels", diags);
        label_pos = a.map_positions("labels");
        annotations = a.string_map("annotations", diags);
        annotation_pos = a.map_positions("annotations");
        nodes = [a.node(keys.page_alert), a.node(keys.ticket_alert)];
        a.finish(diags);
    }
    let parts = [
        read_alert_part("page", nodes[0], mode, diags),
        read_alert_part("ticket", nodes[1], mode, diags),
    ];
    if let Some(first) = parts.iter().find(|p| !p.disabled) {
        let prefix = format!("invalid alert: {} alert: ", first.what);
        if name.is_empty() {
            diags.error(
                name_pos,
                format!("{prefix}alert name is required (or disable both page and ticket alerts)"),
            );
        } else if let Some(msg) = validate::alert_name_warning(&name) {
            diags.warning(name_pos, msg);
        }
        validate::labels_in(&prefix, "alert label", &label_pos, &labels, diags);
        validate::labels_in(
            &prefix,
            "alert annotation",
            &annotation_pos,
            &annotations,
            diags,
        );
    }
    let out = parts.map(|part| {
        if part.disabled {
            return None;
        }
        let prefix = format!("invalid alert: {} alert: ", part.what);
        validate::labels_in(&prefix, "alert label", &part.label_pos, &part.labels, diags);
        validate::labels_in(
            &prefix,
            "alert annotation",
            &part.annotation_pos,
            &part.annotations,
            diags,
        );
        let mut alert_labels = labels.clone();
        alert_labels.extend(part.labels);
        let mut alert_annotations = annotations.clone();
        alert_annotations.extend(part.annotations);
        Some(AlertSpec {
            name: name.clone(),
            labels: alert_labels,
            annotations: alert_annotations,
        })
    });
    let [page, ticket] = out;
    (page, ticket)
}
