//! Lowering OpenSLO `v1alpha` `SLO` documents the way Sloth does: one SLO per objective,
//! `ratioMetrics` only, turned into a raw error-ratio SLI; alerts always disabled.

use crate::spec::diag::{Diagnostics, Pos};
use crate::spec::duration::Duration;
use crate::spec::model::{Labels, Sli, Slo, SourceRef, SpecDocument, SpecKind};
use crate::spec::reader::{MapReader, Mode};
use crate::spec::validate;
use crate::spec::windows::WindowCatalog;
use crate::spec::yaml::Node;

/// OpenSLO's raw SLI template, exactly as Sloth writes it.
const OPENSLO_TEMPLATE: &str =
    "\n  1 - (\n    (\n      {{ .good }}\n    )\n    /\n    (\n      {{ .total }}\n    )\n  )\n";

/// Lower an OpenSLO `v1alpha` document; with a `catalog`, its period must be in it.
pub(super) fn lower(
    root: &Node,
    catalog: Option<&WindowCatalog>,
    diags: &mut Diagnostics,
) -> Option<SpecDocument> {
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
    let period = period(&mut spec, catalog, diags);
    let objectives = spec.seq("objectives", diags);
    let objectives_pos = spec.pos_of("objectives");
    spec.finish(diags);
    let mut slos = Vec::new();
    match objectives {
        Some(items) if !items.is_empty() => {
            // Names are `<metadata.name>-<index>`: one bad metadata.name, one message.
            if let Err(msg) = validate::name("name", &format!("{meta_name}-0")) {
                diags.error(meta_name_pos, msg);
            }
            for (idx, item) in items.iter().enumerate() {
                let name = format!("{meta_name}-{idx}");
                if let Some((objective, sli)) = lower_objective(item, diags) {
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
        _ => diags.error(
            objectives_pos,
            "at least one SLO is required (spec.objectives is empty)",
        ),
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

fn period(
    spec: &mut MapReader,
    catalog: Option<&WindowCatalog>,
    diags: &mut Diagnostics,
) -> Option<Duration> {
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
    let period = match count {
        // Sloth: a zero period fails validation with this message.
        Some(0.0) => {
            diags.error(count_pos, "time window is required (count is 0)");
            return None;
        }
        Some(c) if (1.0..=1e6).contains(&c) && c.fract() == 0.0 => Duration::from_days(c as u64),
        Some(_) => {
            diags.error(
                count_pos,
                "time window count must be a whole number of days >= 1",
            );
            return None;
        }
        None => {
            diags.error(count_pos, "time window count is required");
            return None;
        }
    };
    if let Some(catalog) = catalog
        && let Err(msg) = catalog.require(period)
    {
        diags.error(count_pos, msg);
    }
    Some(period)
}

fn lower_objective(node: &Node, diags: &mut Diagnostics) -> Option<(f64, Sli)> {
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
    if objective == 100.0 {
        diags.warning(
            target_pos,
            "objective 100 leaves no error budget: every error is an infinite burn rate and the budget is always exhausted",
        );
    }
    let Some(ratio) = ratio else {
        diags.error(node.pos, "missing ratioMetrics");
        return None;
    };
    let mut r = MapReader::new(ratio, diags, Mode::Lenient)?;
    let _ = r.node("incremental");
    let good = r.node("good").and_then(|n| query(n, "good", diags));
    let total = r.node("total").and_then(|n| query(n, "total", diags));
    for (what, q) in [("good", &good), ("total", &total)] {
        if q.is_none() && r.node(what).is_none() {
            diags.error(
                r.pos(),
                format!("prometheus or sloth query ratio '{what}' source is required"),
            );
        }
    }
    r.finish(diags);
    let ((good, good_pos), (total, total_pos)) = (good?, total?);
    let query = render_template(&good, &total);
    if let Err(msg) = validate::query_template("sli raw query", &query) {
        // Sloth checks only the combined query; point at the part that breaks it.
        let culprit = [(&good, good_pos), (&total, total_pos)]
            .into_iter()
            .find(|(q, _)| promql_parser::parser::parse(&validate::render_window(q, "1m")).is_err())
            .map_or(ratio.pos, |(_, pos)| pos);
        diags.error(culprit, msg);
        return None;
    }
    Some((
        objective,
        Sli::Raw {
            error_ratio_query: query,
        },
    ))
}

/// Sloth's template with both queries put in at once (Go's template engine does not
/// re-read what it inserted, so a query that itself contains `{{ .total }}` stays as is).
pub(super) fn render_template(good: &str, total: &str) -> String {
    let (before_good, rest) = OPENSLO_TEMPLATE
        .split_once("{{ .good }}")
        .unwrap_or((OPENSLO_TEMPLATE, ""));
    let (between, after_total) = rest.split_once("{{ .total }}").unwrap_or((rest, ""));
    format!("{before_good}{good}{between}{total}{after_total}")
}

/// A `good` or `total` query with the position of its text.
fn query(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<(String, Pos)> {
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
    Some((query, query_pos))
}
