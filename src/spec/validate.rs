//! Sloth's validation rules (`sloth.dev/core/validate/v1`) as small checks that return a
//! message, so loaders can attach the position of the offending value.

use std::sync::LazyLock;

use regex::Regex;

use super::diag::{Diagnostics, Pos};

static NAME_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$").expect("static regex"));
static WINDOW_VAR_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{ *\.window *\}\}").expect("static regex"));
static LEGACY_METRIC_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$").expect("static regex"));
static LEGACY_LABEL_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z_][a-zA-Z0-9_]*$").expect("static regex"));

/// Longest query (after rendering the window) that is parsed. The PromQL parser takes time
/// quadratic in the length of long operator chains (4000 `+ x` terms: about a second), so
/// a garbage spec could stall validation for minutes; real SLI queries are far shorter.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

const NAME_RULE: &str = "name must start and end with an alphanumeric and can only contain alphanumeric, '.', '_', and '-'";

/// Check a service, SLO name or ID against Sloth's name rule (at least two characters).
pub fn name(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("invalid SLO {what}: required"));
    }
    if !NAME_RE.is_match(value) {
        return Err(format!("invalid SLO {what}: {NAME_RULE}"));
    }
    Ok(())
}

/// Objective in percent must be in (0, 100].
pub fn objective(value: f64) -> Result<(), String> {
    if value.is_nan() || value <= 0.0 || value > 100.0 {
        return Err(format!("objective must >0 and <=100 (got {value})"));
    }
    Ok(())
}

/// Check labels (SLO, alert) and annotations: `what` is "SLO label", "alert label" or
/// "alert annotation". Reports at the key or value position.
pub fn labels(
    what: &str,
    entries: &[(String, Pos, Pos)],
    values: &super::model::Labels,
    diags: &mut Diagnostics,
) {
    labels_in("", what, entries, values, diags);
}

/// [`labels`] with Sloth's outer context in front of every message, e.g.
/// `invalid alert: page alert: ` for alert labels (Sloth wraps its errors outer to inner).
/// Keys absent from `values` get no value check (their value is overridden elsewhere).
pub fn labels_in(
    prefix: &str,
    what: &str,
    entries: &[(String, Pos, Pos)],
    values: &super::model::Labels,
    diags: &mut Diagnostics,
) {
    let is_annotation = what.ends_with("annotation");
    let kind = if is_annotation { "annotation" } else { "label" };
    for (key, key_pos, value_pos) in entries {
        if key == "__name__" && !is_annotation {
            diags.error(
                *key_pos,
                format!(
                    "{prefix}invalid {what} key \"__name__\": the label key \"__name__\" is not allowed"
                ),
            );
        } else if key.is_empty() {
            diags.error(
                *key_pos,
                format!("{prefix}invalid {what} key \"\": the {kind} key \"\" is not valid"),
            );
        } else if !LEGACY_LABEL_RE.is_match(key) {
            diags.warning(
                *key_pos,
                format!(
                    "{what} key {key:?} is only valid in Prometheus >= 3.0 (UTF-8 names); older Prometheus rejects it"
                ),
            );
        }
        if let Some(v) = values.get(key)
            && v.is_empty()
        {
            diags.error(
                *value_pos,
                format!("{prefix}invalid {what} value \"\": the {kind} value is required"),
            );
        }
    }
}

/// Prometheus before 3.0 requires alert names to be metric names; Sloth only requires them
/// non-empty. Returns a warning for names older Prometheus rejects.
pub fn alert_name_warning(name: &str) -> Option<String> {
    (!name.is_empty() && !LEGACY_METRIC_RE.is_match(name)).then(|| {
        format!(
            "alert name {name:?} is only valid in Prometheus >= 3.0 (UTF-8 names); older Prometheus rejects it (use letters, digits, '_' and ':')"
        )
    })
}

/// Check a PromQL query template: non-empty, uses `{{.window}}`, nothing else templated,
/// and parses as PromQL once the window is substituted. `what` is "sli error query" etc.
pub fn query_template(what: &str, query: &str) -> Result<(), String> {
    if query.is_empty() {
        return Err(format!(
            "invalid SLI: {what} template: query template is required: required"
        ));
    }
    if !WINDOW_VAR_RE.is_match(query) {
        return Err(format!(
            "invalid SLI: {what} template: template must contain the {{{{ .window }}}} variable"
        ));
    }
    let rendered = render_window(query, "1m");
    if rendered.contains("{{") {
        return Err(format!(
            "invalid SLI: {what} template: only the {{{{ .window }}}} variable is available"
        ));
    }
    let kind = what.trim_end_matches(" query");
    if rendered.len() > MAX_QUERY_BYTES {
        return Err(format!(
            "invalid SLI: {kind} query expression: the query is {} bytes long; burnwatch parses queries up to {MAX_QUERY_BYTES} bytes",
            rendered.len()
        ));
    }
    promql_parser::parser::parse(&rendered)
        .map(|_| ())
        .map_err(|e| format!("invalid SLI: {kind} query expression: {}", e.trim()))
}

/// Replace every `{{.window}}` (any inner spacing) with `window`.
pub fn render_window(query: &str, window: &str) -> String {
    WINDOW_VAR_RE.replace_all(query, window).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_sloth() {
        assert!(name("name", "requests-availability").is_ok());
        assert!(
            name("name", "a").is_err(),
            "one character is too short for Sloth's regex"
        );
        assert_eq!(
            name("name", "-bad").unwrap_err(),
            format!("invalid SLO name: {NAME_RULE}")
        );
        assert_eq!(
            name("service", "").unwrap_err(),
            "invalid SLO service: required"
        );
    }

    #[test]
    fn objectives_in_range() {
        assert!(objective(100.0).is_ok());
        assert!(objective(0.0).is_err());
        assert!(objective(100.0001).is_err());
        assert!(objective(f64::NAN).is_err());
    }

    #[test]
    fn query_templates() {
        assert!(query_template("sli error query", "sum(rate(x[{{.window}}]))").is_ok());
        assert!(query_template("sli error query", "sum(rate(x[{{ .window }}]))").is_ok());
        let e = query_template("sli error query", "sum(rate(x[5m]))").unwrap_err();
        assert_eq!(
            e,
            "invalid SLI: sli error query template: template must contain the {{ .window }} variable"
        );
        let e = query_template("sli error query", "sum(rate(x[{{.Window}}]))").unwrap_err();
        assert!(e.contains("must contain"), "{e}");
        let long = format!("sum(rate(x[{{{{.window}}}}])){}", " + x".repeat(4200));
        let e = query_template("sli error query", &long).unwrap_err();
        assert_eq!(
            e,
            "invalid SLI: sli error query expression: the query is 16816 bytes long; burnwatch parses queries up to 16384 bytes"
        );
        let e = query_template("sli total query", "sum(rate(x[{{.window}}])").unwrap_err();
        assert!(
            e.starts_with("invalid SLI: sli total query expression: "),
            "{e}"
        );
    }
}
