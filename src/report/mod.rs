//! Postmortem and review documents built from the history store: the incident
//! [`timeline`] (`burnwatch timeline`) and the weekly SLO [`review`] (`burnwatch report`).
//!
//! Both are pure: they take rows the store returned and produce a document, so tests feed
//! them chosen rows and the CLI does the I/O.

pub mod review;
pub mod timeline;

/// Budget as a percentage with one decimal, e.g. `87.5%`; `n/a` when unknown.
pub(crate) fn pct(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{:.1}%", x * 100.0),
        _ => "n/a".to_string(),
    }
}
