//! Any bytes as a spec file: Sloth `prometheus/v1`, `PrometheusServiceLevel`, OpenSLO v1alpha
//! and v1 are all detected from the text, so one target covers every format. Whatever loads
//! without errors is also turned into Prometheus rules and rendered, as `generate` does.
#![no_main]

use std::path::Path;

use burnwatch::spec::{LoadOptions, load::load_text_with};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let options = LoadOptions::default();
    let (docs, diags) = load_text_with(Path::new("fuzz.yaml"), text, &options);
    for d in &diags {
        // Every diagnostic renders `file:line:col: message` without panicking.
        let _ = d.to_string();
    }
    if diags
        .iter()
        .any(|d| d.severity == burnwatch::spec::DiagSeverity::Error)
    {
        return;
    }
    let mut opts = burnwatch::rules::Options::new();
    opts.skip_unmapped = true;
    if let Ok(generated) = burnwatch::rules::generate(&docs, &opts) {
        let _ = burnwatch::rules::render(&generated);
    }
});
