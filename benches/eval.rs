//! Evaluation cost at scale: 10,000 SLOs (30-day period, Workbook windows) with 30 days
//! of one-minute history.
//!
//! - `evaluate_tick/10k_slos_30d`: one `Evaluator::evaluate` after a new minute arrived:
//!   every window of every SLO slides, statuses, pairs and alert states are recomputed.
//!   Target: under 10 ms on one core.
//! - `append_minute/10k_slos`: storing one minute of events for every SLO with
//!   `Evaluator::ingest_many` (by index, as a source that resolved its SLOs once does).
//!   Target: under 2 ms.
//!
//! Memory per SLO is printed once at start (window store bytes, and the process's
//! resident memory growth divided by the number of SLOs).
//!
//! Run: `cargo bench --bench eval -- --warm-up-time 1 --measurement-time 3`.
//! `BURNWATCH_BENCH_SLOS` changes the number of SLOs and `BURNWATCH_BENCH_HISTORY_DAYS` shortens the history fill for profiling (the rings are
//! allocated in full either way, so memory access patterns stay the same).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use burnwatch::eval::{EvalOptions, Evaluator, SloIndex};
use burnwatch::spec::{LoadOptions, Slo, load::load_text};
use burnwatch::window::Counts;
use criterion::{Criterion, criterion_group, criterion_main};

/// 2026-11-20T00:00:00Z in minutes: the end of the history.
const NOW_MINUTE: i64 = 1_795_132_800 / 60;

/// Number of SLOs; `BURNWATCH_BENCH_SLOS` overrides it for experiments.
fn slo_count() -> usize {
    std::env::var("BURNWATCH_BENCH_SLOS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(if measuring() { 10_000 } else { 20 })
}

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it
/// to check that it works, in a debug build, where the full 10,000-SLO, 30-day set-up
/// would take minutes. That smoke run uses 20 SLOs and one day.
fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn history_minutes() -> i64 {
    std::env::var("BURNWATCH_BENCH_HISTORY_DAYS")
        .ok()
        .and_then(|d| d.parse::<i64>().ok())
        .unwrap_or(if measuring() { 30 } else { 1 })
        * 24
        * 60
}

fn slos() -> Vec<Slo> {
    let text = r#"version: "prometheus/v1"
service: "bench"
labels:
  owner: sre
slos:
  - name: "api"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(x{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(x[{{.window}}]))
    alerting:
      name: BenchBurn
      page_alert: {labels: {severity: page}}
      ticket_alert: {labels: {severity: ticket}}
"#;
    let (docs, _) = load_text(Path::new("bench.yaml"), text);
    let base = docs[0].slos[0].clone();
    (0..slo_count())
        .map(|i| {
            let mut s = base.clone();
            s.name = format!("api-{i}");
            s.id = format!("bench-api-{i}");
            s
        })
        .collect()
}

/// Deterministic, varied traffic: 50 to 1,049 requests a minute, a few errors.
fn counts(slo: usize, minute: i64) -> Counts {
    let h = (slo as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (minute as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let total = 50 + (h >> 20) % 1000;
    Counts {
        errors: (h >> 50) % 3,
        total,
    }
}

/// CPU time this process has used (user + system), from `/proc/self/stat`: on a shared
/// machine wall-clock time includes waiting for a core, CPU time does not.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ = 100 on Linux
}

/// Mean CPU time of `n` runs of `f`, or `None` where `/proc` is unavailable.
fn cpu_per_run(n: u32, mut f: impl FnMut()) -> Option<Duration> {
    let before = cpu_time()?;
    for _ in 0..n {
        f();
    }
    Some((cpu_time()? - before) / n)
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

struct State {
    ev: Evaluator,
    next_minute: i64,
    batch: Vec<(SloIndex, i64, Counts)>,
}

impl State {
    /// What a source's fetch hands over: one minute for every SLO (built outside the
    /// timed part).
    fn prepare_minute(&mut self) {
        let m = self.next_minute;
        self.batch.clear();
        self.batch
            .extend((0..self.ev.len()).map(|i| (SloIndex(i), m, counts(i, m))));
    }
    fn store_minute(&mut self) {
        // Valid counts of a new minute: nothing is refused.
        black_box(self.ev.ingest_many(&self.batch));
        self.next_minute += 1;
    }
    fn append_minute(&mut self) {
        self.prepare_minute();
        self.store_minute();
    }
    fn evaluate(&mut self) -> usize {
        self.ev.evaluate(self.next_minute * 60).len()
    }
}

fn setup() -> State {
    let before = resident_bytes();
    let slos = slos();
    let ev = Evaluator::new(&slos, &LoadOptions::default(), EvalOptions::default())
        .expect("bench SLOs are valid");
    drop(slos);
    let started = Instant::now();
    let history = history_minutes();
    let mut state = State {
        ev,
        next_minute: NOW_MINUTE - history,
        batch: Vec::new(),
    };
    for _ in 0..history {
        state.append_minute();
    }
    state.evaluate();
    let after = resident_bytes();
    let store = state.ev.slo(SloIndex(0)).windows.heap_bytes();
    eprintln!(
        "setup: {} SLOs, {} days of minutes in {:.1?}; window store {} bytes ({:.1} KiB) per SLO",
        state.ev.len(),
        history / 1440,
        started.elapsed(),
        store,
        store as f64 / 1024.0
    );
    if let (Some(b), Some(a)) = (before, after) {
        eprintln!(
            "setup: resident memory grew {:.0} MiB: {:.1} KiB per SLO (store, definitions, labels, status)",
            (a - b) as f64 / 1048576.0,
            (a - b) as f64 / state.ev.len() as f64 / 1024.0
        );
    }
    // CPU time of each part alone: 200 evaluations a minute apart (no new data, the same
    // bucket reads), then 50 appended minutes (within the slack, no rebuild).
    let tick = cpu_per_run(200, || {
        state.next_minute += 1;
        black_box(state.evaluate());
    });
    state.prepare_minute();
    let append = cpu_per_run(50, || {
        state.store_minute();
        state.batch.iter_mut().for_each(|b| b.1 += 1);
    });
    black_box(state.evaluate());
    if let (Some(tick), Some(append)) = (tick, append) {
        eprintln!("setup: CPU time per evaluation {tick:.2?}, per appended minute {append:.2?}");
    }
    state
}

fn benches(c: &mut Criterion) {
    let mut state = setup();
    let mut group = c.benchmark_group("evaluate_tick");
    group.sample_size(20);
    group.bench_function("10k_slos_30d", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                state.append_minute();
                let t = Instant::now();
                black_box(state.evaluate());
                spent += t.elapsed();
            }
            spent
        })
    });
    group.finish();

    let mut group = c.benchmark_group("append_minute");
    group.sample_size(20);
    group.bench_function("10k_slos", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                state.prepare_minute();
                let t = Instant::now();
                state.store_minute();
                spent += t.elapsed();
                black_box(state.evaluate());
            }
            spent
        })
    });
    group.finish();
}

criterion_group!(eval, benches);
criterion_main!(eval);
