//! Any bytes as a recording (`burnwatch replay --data`, the daemon's `sources.replay`): read
//! and range-checked, then bucketed through the live plugin code against the repository's own
//! specs and replayed at one evaluation a day. Replay is bucketed by the minute, so its cost
//! grows with the span a recording covers (a year is ~12 s in this debug, instrumented build:
//! slow, not stuck, and measured by `benches/`); recordings spanning more than
//! `REPLAY_SPAN_SECS` are only read and range-checked (by `record::read`), so each input stays well under
//! libFuzzer's timeout.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use burnwatch::eval::{EvalOptions, Evaluator};
use burnwatch::replay::{self, ReplayOptions, record};
use burnwatch::spec::{LoadOptions, Slo};
use libfuzzer_sys::fuzz_target;

fn slos() -> &'static (Vec<Slo>, LoadOptions) {
    static SLOS: OnceLock<(Vec<Slo>, LoadOptions)> = OnceLock::new();
    SLOS.get_or_init(|| {
        let options = LoadOptions::default();
        let specs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../slo-specs");
        let loaded = burnwatch::spec::load_paths(&[specs], &options);
        assert!(!loaded.has_errors(), "slo-specs/ must load");
        (loaded.slos().cloned().collect(), options)
    })
}

/// The longest recording replayed per input (a 28-day SLO period plus margin).
const REPLAY_SPAN_SECS: i64 = 35 * 86_400;

fuzz_target!(|data: &[u8]| {
    let Ok(lines) = record::read(data) else {
        return;
    };
    let first = lines.iter().map(|line| line.record.ts()).min();
    let last = lines.iter().map(|line| line.record.ts()).max();
    if let (Some(first), Some(last)) = (first, last) {
        if last.saturating_sub(first) > REPLAY_SPAN_SECS {
            return;
        }
    }
    let (slos, options) = slos();
    let Ok(mut evaluator) = Evaluator::new(slos, options, EvalOptions::default()) else {
        return;
    };
    let _ = replay::run(
        &mut evaluator,
        slos,
        &lines,
        ReplayOptions {
            eval_interval: 86_400,
            until: None,
        },
    );
});
