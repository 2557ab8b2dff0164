//! Evaluator behaviour on simulated traffic: detection and reset times against the SRE
//! Workbook's numbers, low traffic, no data, labels, persistence.
//!
//! Traffic is simulated in continuous time (a constant request rate, with outages that
//! start and end at any second) and bucketed per minute as a source would deliver it.

use std::path::Path;

use super::*;
use crate::spec::{LoadOptions, Slo, load::load_text};

const T0: i64 = 1_780_000_000 - 1_780_000_000 % 3600; // an hour boundary in 2026
/// Simulations start this long before `T0` with clean traffic, so that every window up to
/// 3d is full when incidents start at or after `T0`.
const HISTORY: i64 = 3 * 24 * 3600;
const MIN: i64 = 60;
const HOUR: i64 = 3600;
/// Requests per second: 100, so every second of an outage is a whole number of errors.
const RPS: u64 = 100;

fn slos(objective: f64, page: &str, ticket: &str) -> Vec<Slo> {
    let text = format!(
        r#"version: "prometheus/v1"
service: "svc"
labels:
  owner: team
slos:
  - name: "api"
    objective: {objective}
    labels:
      tier: "1"
    sli:
      events:
        error_query: sum(rate(x{{code=~"5.."}}[{{{{.window}}}}]))
        total_query: sum(rate(x[{{{{.window}}}}]))
    alerting:
      name: ApiBurn
      labels:
        category: availability
      annotations:
        runbook_url: runbooks/api.md
      page_alert: {page}
      ticket_alert: {ticket}
"#
    );
    let (docs, diags) = load_text(Path::new("t.yaml"), &text);
    assert!(
        diags
            .iter()
            .all(|d| d.severity != crate::spec::DiagSeverity::Error),
        "{diags:?}"
    );
    docs.into_iter().flat_map(|d| d.slos).collect()
}

fn default_slos(objective: f64) -> Vec<Slo> {
    slos(
        objective,
        "{labels: {severity: pager}}",
        "{labels: {severity: slack}}",
    )
}

/// Error rate (0..=1) of the simulated service at second `t`.
type Profile = dyn Fn(i64) -> f64;

struct Sim {
    ev: Evaluator,
    /// The next minute to feed.
    next_minute: i64,
    /// The next evaluation time.
    next_eval: i64,
    transitions: Vec<Transition>,
}

impl Sim {
    fn new(slos: &[Slo], options: EvalOptions) -> Self {
        Sim {
            ev: Evaluator::new(slos, &LoadOptions::default(), options).unwrap(),
            next_minute: (T0 - HISTORY) / MIN,
            next_eval: T0 - HISTORY,
            transitions: Vec::new(),
        }
    }

    fn starting_at(mut self, t: i64) -> Self {
        self.next_minute = t.div_euclid(MIN);
        self.next_eval = t;
        self
    }

    /// Evaluate every `step` seconds until `to` (exclusive), feeding each minute as soon
    /// as it is complete. `profile` gives the error rate per second; `up` says whether
    /// the source delivers the minute at all.
    fn run(&mut self, to: i64, step: i64, profile: &Profile, up: &dyn Fn(i64) -> bool) {
        while self.next_eval < to {
            let t = self.next_eval;
            while (self.next_minute + 1) * MIN <= t {
                let m = self.next_minute;
                if up(m * MIN) {
                    let errors = (m * MIN..(m + 1) * MIN)
                        .map(|s| profile(s) * RPS as f64)
                        .sum::<f64>()
                        .round() as u64;
                    let total = RPS * 60;
                    self.ev
                        .ingest(&EventBatch {
                            slo_id: "svc-api".into(),
                            bucket_start: m * MIN,
                            good: total - errors,
                            total,
                        })
                        .unwrap();
                }
                self.next_minute += 1;
            }
            self.transitions.extend(self.ev.evaluate(t));
            self.next_eval += step;
        }
    }

    fn changes(&self, kind: AlertKind) -> Vec<(Change, i64)> {
        self.transitions
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| (t.change, t.at))
            .collect()
    }

    fn status(&self) -> SloView<'_> {
        self.ev.slo(SloIndex(0))
    }
}

fn outage(from: i64, to: i64, rate: f64) -> impl Fn(i64) -> f64 {
    move |t| if (from..to).contains(&t) { rate } else { 0.0 }
}

fn always(_: i64) -> bool {
    true
}

#[test]
fn burn_rate_and_budget_follow_the_workbook_formulas() {
    // 30 days at 0.05 % errors (half the 99.9 % budget), then one hour at 0.2 %.
    let start = T0 - 30 * 24 * HOUR;
    let mut sim = Sim::new(&default_slos(99.9), EvalOptions::default()).starting_at(start);
    let p = |t: i64| if t >= T0 { 0.002 } else { 0.0005 };
    sim.run(T0 + HOUR + 1, 3600, &p, &always);
    let s = sim.status();
    let w = |d: &str| {
        let d: Duration = d.parse().unwrap();
        s.windows().find(|w| w.window == d).unwrap()
    };
    // burn = e / (1 - SLO)
    let eb = 0.0009999999999999432; // Sloth's (100 - 99.9) / 100
    assert!((w("1h").error_ratio.unwrap() - 0.002).abs() < 1e-12);
    assert!((w("1h").burn_rate.unwrap() - 0.002 / eb).abs() < 1e-9);
    assert_eq!(w("1h").events, (RPS * 3600) as f64);
    assert_eq!(s.current_burn_rate(), w("5m").burn_rate);
    // The period is exact over events: (719 h × 0.0005 + 1 h × 0.002) / 720 h.
    let period = (719.0 * 0.0005 + 0.002) / 720.0;
    assert!((w("30d").error_ratio.unwrap() - period).abs() < 1e-12);
    assert!((s.period_burn_rate().unwrap() - period / eb).abs() < 1e-9);
    assert!((s.period_error_budget_remaining().unwrap() - (1.0 - period / eb)).abs() < 1e-9);
    // A 2× burn is below every page and ticket factor except the 3d/6h one at 1×.
    let states: Vec<PairState> = s.pairs().iter().map(|p| p.state).collect();
    assert_eq!(
        states,
        [
            PairState::Quiet,
            PairState::Quiet,
            PairState::Quiet,
            PairState::Quiet
        ]
    );
}

#[test]
fn total_outage_pages_within_51_8_seconds_plus_a_bucket_and_an_interval() {
    // Workbook: 100 % errors trip 2 % of a 30-day 99.9 % budget in 1h after
    // 0.001 / 1 × 1h × 14.4 = 51.84 s. Minute buckets add up to one minute, and
    // evaluation every `step` up to one step.
    for step in [30, 60] {
        for offset in [0, 1, 20, 45, 59] {
            let onset = T0 + offset;
            let mut sim = Sim::new(
                &default_slos(99.9),
                EvalOptions {
                    eval_interval_secs: step,
                    ..EvalOptions::default()
                },
            );
            sim.run(
                onset + 10 * MIN,
                step,
                &outage(onset, i64::MAX, 1.0),
                &always,
            );
            let fired = sim.changes(AlertKind::Page);
            assert_eq!(fired.len(), 1, "{fired:?}");
            let delay = fired[0].1 - onset;
            assert!(
                delay as f64 <= 51.84 + 60.0 + step as f64 && delay > 0,
                "step {step}s, onset +{offset}s: paged after {delay}s"
            );
            let t = sim
                .transitions
                .iter()
                .find(|t| t.kind == AlertKind::Page)
                .unwrap();
            assert!(
                t.pairs.iter().any(
                    |p| p.tier == crate::spec::Tier::PageQuick && p.state == PairState::Burning
                )
            );
        }
    }
}

#[test]
fn short_outage_fires_only_the_quick_pair_and_resets_about_5_minutes_after() {
    // 2 minutes of 100 % errors: 2/60 of the hour (> 1.44 %) but 2/360 of 6h (< 6 × 0.1 %).
    let onset = T0;
    let recovery = onset + 2 * MIN;
    let mut sim = Sim::new(&default_slos(99.9), EvalOptions::default());
    let mut slow_burned = false;
    let p = outage(onset, recovery, 1.0);
    while sim.next_eval < recovery + HOUR {
        let t = sim.next_eval;
        sim.run(t + 30, 30, &p, &always);
        slow_burned |= sim.status().pairs()[1].state == PairState::Burning;
    }
    assert!(!slow_burned, "the 6h/30m pair must not fire on 2 minutes");
    let page = sim.changes(AlertKind::Page);
    assert_eq!(page.len(), 2, "{page:?}");
    assert_eq!(page[1].0, Change::Resolved);
    let reset = page[1].1 - recovery;
    assert!(
        (4 * MIN..=6 * MIN).contains(&reset),
        "resolved {reset}s after recovery"
    );
}

#[test]
fn longer_outage_fires_the_slow_pair_too_and_resets_about_30_minutes_after() {
    let onset = T0 + 17;
    let recovery = onset + 10 * MIN;
    let mut sim = Sim::new(&default_slos(99.9), EvalOptions::default());
    sim.run(
        recovery + 2 * HOUR,
        30,
        &outage(onset, recovery, 1.0),
        &always,
    );
    let page = sim.changes(AlertKind::Page);
    assert_eq!(page.len(), 2, "{page:?}");
    let reset = page[1].1 - recovery;
    assert!(
        (29 * MIN..=31 * MIN).contains(&reset),
        "resolved {reset}s after recovery"
    );
    let resolved = sim
        .transitions
        .iter()
        .find(|t| t.kind == AlertKind::Page && t.change == Change::Resolved)
        .unwrap();
    // What kept it firing until then was the 6h/30m pair.
    assert!(resolved.pairs.iter().all(|p| p.state != PairState::Burning));
}

#[test]
fn blip_under_2_percent_of_budget_does_not_page() {
    // 40 s of total outage = 0.67 min of a 43.2 min budget = 1.5 %, across a minute edge.
    let onset = T0 + 40;
    let mut sim = Sim::new(&default_slos(99.9), EvalOptions::default());
    sim.run(
        onset + 3 * HOUR,
        30,
        &outage(onset, onset + 40, 1.0),
        &always,
    );
    assert!(
        sim.changes(AlertKind::Page).is_empty(),
        "{:?}",
        sim.transitions
    );
    assert!(sim.changes(AlertKind::Ticket).is_empty());
}

#[test]
fn sustained_3_5x_burn_tickets_and_never_pages() {
    // From a clean history 10 % of the budget (the ticket) is gone after 72h / 3.5 = 20.6h.
    let onset = T0;
    let mut sim = Sim::new(
        &default_slos(99.9),
        EvalOptions {
            eval_interval_secs: 60,
            ..EvalOptions::default()
        },
    );
    sim.run(
        onset + 24 * HOUR,
        60,
        &outage(onset, i64::MAX, 0.0035),
        &always,
    );
    assert!(sim.changes(AlertKind::Page).is_empty());
    let ticket = sim.changes(AlertKind::Ticket);
    assert_eq!(ticket.len(), 1, "{ticket:?}");
    let after = (ticket[0].1 - onset) as f64 / HOUR as f64;
    assert!(
        (72.0 / 3.5 - 0.1..=72.0 / 3.5 + 0.1).contains(&after),
        "after {after}h"
    );
}

#[test]
fn sustained_3_5x_burn_over_a_half_budget_background_tickets_after_about_12_hours() {
    // With a steady 0.5× burn for three days before, the 3d window crosses 1× after
    // 72h × (1 - 0.5) / (3.5 - 0.5) = 12h.
    let onset = T0;
    let mut sim = Sim::new(
        &default_slos(99.9),
        EvalOptions {
            eval_interval_secs: 60,
            ..EvalOptions::default()
        },
    );
    let p = move |t: i64| if t >= onset { 0.0035 } else { 0.0005 };
    sim.run(onset + 14 * HOUR, 60, &p, &always);
    assert!(sim.changes(AlertKind::Page).is_empty());
    let ticket = sim.changes(AlertKind::Ticket);
    assert_eq!(ticket.len(), 1, "{ticket:?}");
    let after = (ticket[0].1 - onset) as f64 / HOUR as f64;
    assert!((11.9..=12.1).contains(&after), "after {after}h");
}

#[test]
fn one_error_out_of_three_requests_does_not_page() {
    for (min_events, pages) in [(DEFAULT_MIN_EVENTS, false), (0, true)] {
        let mut ev = Evaluator::new(
            &default_slos(99.9),
            &LoadOptions::default(),
            EvalOptions {
                min_events,
                ..EvalOptions::default()
            },
        )
        .unwrap();
        for (m, good, total) in [(0, 1, 1), (10, 0, 1), (20, 1, 1)] {
            ev.ingest(&EventBatch {
                slo_id: "svc-api".into(),
                bucket_start: T0 + m * MIN,
                good,
                total,
            })
            .unwrap();
        }
        let tr = ev.evaluate(T0 + 14 * MIN);
        assert_eq!(
            tr.iter().any(|t| t.kind == AlertKind::Page),
            pages,
            "min_events {min_events}: {tr:?}"
        );
        if !pages {
            let s = ev.slo(SloIndex(0));
            assert!(s.pairs().iter().any(|p| p.state == PairState::LowTraffic));
        }
    }
}

#[test]
fn no_data_holds_alerts_never_counts_as_good_and_raises_a_ticket() {
    let onset = T0;
    let source_down = onset + 5 * MIN;
    let source_back = source_down + 40 * MIN;
    let mut sim = Sim::new(&default_slos(99.9), EvalOptions::default());
    // A total outage, and the metrics source fails five minutes into it; the outage is
    // over by the time the source comes back.
    let p = outage(onset, source_back - 10 * MIN, 1.0);
    let up = move |t: i64| !(source_down..source_back).contains(&t);
    sim.run(source_down + 20 * MIN, 30, &p, &up);
    let s = sim.status();
    assert_eq!(
        s.window(0).error_ratio,
        None,
        "5m window without datapoints is no data"
    );
    assert_eq!(s.current_burn_rate(), None);
    assert!(s.pairs().iter().any(|p| p.state == PairState::NoData));
    assert!(s.status.data_missing);
    let page = sim.changes(AlertKind::Page);
    assert_eq!(
        page.len(),
        1,
        "page fired and holds through the gap: {page:?}"
    );
    let missing = sim.changes(AlertKind::DataMissing);
    assert_eq!(missing.len(), 1);
    let waited = missing[0].1 - source_down;
    assert!(
        (15 * MIN..=16 * MIN).contains(&waited),
        "data missing after {waited}s"
    );

    sim.run(source_back + 2 * HOUR, 30, &p, &up);
    let missing = sim.changes(AlertKind::DataMissing);
    assert_eq!(missing.len(), 2);
    assert_eq!(missing[1].0, Change::Resolved);
    assert!(missing[1].1 - source_back <= 2 * MIN);
    let page = sim.changes(AlertKind::Page);
    assert_eq!(
        page[1].0,
        Change::Resolved,
        "resolves on data, once the short windows clear"
    );
    assert!(page[1].1 > source_back);
    // Nothing non-finite anywhere.
    for w in sim.status().windows() {
        assert!(w.errors.is_finite() && w.events.is_finite());
        assert!(w.error_ratio.is_none_or(f64::is_finite));
        assert!(w.burn_rate.is_none_or(f64::is_finite));
    }
}

#[test]
fn disabled_alerts_never_fire() {
    let slos = slos(99.9, "{disable: true}", "{labels: {severity: slack}}");
    let onset = T0;
    let mut sim = Sim::new(&slos, EvalOptions::default());
    sim.run(onset + HOUR, 30, &outage(onset, i64::MAX, 1.0), &always);
    assert!(sim.changes(AlertKind::Page).is_empty());
    // The ticket pairs see a 100 % outage within the hour (2h/1d at 3×).
    assert_eq!(sim.changes(AlertKind::Ticket).len(), 1);

    let none = slos_without_alerts();
    let mut sim = Sim::new(&none, EvalOptions::default());
    sim.run(onset + HOUR, 30, &outage(onset, i64::MAX, 1.0), &|_| false);
    assert!(
        sim.transitions.is_empty(),
        "no alerts at all, not even data missing"
    );
}

fn slos_without_alerts() -> Vec<Slo> {
    slos(99.9, "{disable: true}", "{disable: true}")
}

#[test]
fn alerts_carry_the_labels_prometheus_would_give_them() {
    let ev = Evaluator::new(
        &default_slos(99.9),
        &LoadOptions::default(),
        EvalOptions {
            extra_labels: Labels::from([("cluster".into(), "eks-1".into())]),
            ..EvalOptions::default()
        },
    )
    .unwrap();
    let def = ev.slo(SloIndex(0)).def;
    let page = &def.alerts[0];
    let expected: Labels = [
        ("alertname", "ApiBurn"),
        ("category", "availability"),
        ("cluster", "eks-1"),
        ("owner", "team"),
        ("severity", "pager"),
        ("sloth_id", "svc-api"),
        ("sloth_service", "svc"),
        ("sloth_severity", "page"),
        ("sloth_slo", "api"),
        ("tier", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(page.labels, expected);
    assert_eq!(
        page.annotations["title"],
        "(page) svc api SLO error budget burn rate is too fast."
    );
    assert_eq!(page.annotations["runbook_url"], "runbooks/api.md");
    let ticket = &def.alerts[1];
    assert_eq!(ticket.labels["sloth_severity"], "ticket");
    assert_eq!(ticket.labels["severity"], "slack");
    let missing = &def.alerts[2];
    assert_eq!(missing.name, "SLODataMissing");
    assert_eq!(missing.labels["alertname"], "SLODataMissing");
    assert_eq!(missing.labels["sloth_severity"], "ticket");
    assert_eq!(
        missing.labels["severity"], "slack",
        "routed like the ticket"
    );
    assert_eq!(missing.annotations["runbook_url"], "runbooks/api.md");
    // Sloth's factors and thresholds, bit for bit.
    let f: Vec<f64> = def.pairs.iter().map(|p| p.factor).collect();
    assert_eq!(f, [14.4, 6.0, 3.0, 1.0]);
    assert_eq!(def.pairs[0].threshold, 14.4 * 0.0009999999999999432);
    let names: Vec<String> = def.windows.iter().map(ToString::to_string).collect();
    assert_eq!(names, ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]);
}

#[test]
fn notifications_follow_prometheus_delivery_and_state_survives_a_restart() {
    let onset = T0;
    let mut sim = Sim::new(
        &default_slos(99.9),
        EvalOptions {
            eval_interval_secs: 30,
            resend_delay_secs: 60,
            ..EvalOptions::default()
        },
    );
    sim.run(onset + 2 * MIN, 30, &outage(onset, i64::MAX, 1.0), &always);
    let fired_at = sim.changes(AlertKind::Page)[0].1;
    let now = onset + 2 * MIN;
    let sent = sim.ev.notifications(now);
    let page = sent.iter().find(|n| n.kind == AlertKind::Page).unwrap();
    assert_eq!(page.starts_at, fired_at);
    assert_eq!(page.ends_at, now + 4 * 60, "4 × max(30s, 60s)");
    assert!(!page.resolved);
    assert!(
        page.annotations["burn_rates"].contains("page-quick 5m"),
        "{page:?}"
    );
    assert!(
        sim.ev.notifications(now + 30).is_empty(),
        "not before the resend delay"
    );

    // Save, rebuild, restore: the firing page keeps its startsAt and is not re-announced
    // as new.
    let saved = sim.ev.save_alerts();
    let json = serde_json::to_string(&saved).unwrap();
    let mut fresh = Evaluator::new(
        &default_slos(99.9),
        &LoadOptions::default(),
        EvalOptions::default(),
    )
    .unwrap();
    assert_eq!(
        fresh.restore_alerts(&serde_json::from_str(&json).unwrap()),
        saved.alerts.len()
    );
    let page = fresh.slo(SloIndex(0)).alerts[0].alert.clone();
    assert_eq!(page.state, AlertState::Firing);
    assert_eq!(page.fired_at, Some(fired_at));
}

#[test]
fn raw_slis_average_their_samples() {
    let text = r#"version: "prometheus/v1"
service: "svc"
slos:
  - name: "wifi"
    objective: 95
    sli:
      raw:
        error_ratio_query: 1 - avg_over_time(up[{{.window}}])
    alerting:
      name: WifiDown
      page_alert: {}
      ticket_alert: {}
"#;
    let (docs, diags) = load_text(Path::new("t.yaml"), text);
    assert!(diags.is_empty(), "{diags:?}");
    let slos: Vec<Slo> = docs.into_iter().flat_map(|d| d.slos).collect();
    let mut ev = Evaluator::new(&slos, &LoadOptions::default(), EvalOptions::default()).unwrap();
    assert!(ev.slo(SloIndex(0)).def.raw);
    for (m, r) in [0.0, 1.0, 0.5, 0.5, 0.0].into_iter().enumerate() {
        let c = crate::window::ratio_counts(r).unwrap();
        ev.ingest_counts(SloIndex(0), T0 / MIN + m as i64, c)
            .unwrap();
    }
    ev.evaluate(T0 + 5 * MIN);
    let s = ev.slo(SloIndex(0));
    assert!((s.window(0).error_ratio.unwrap() - 0.4).abs() < 1e-12);
    assert!((s.current_burn_rate().unwrap() - 0.4 / 0.05).abs() < 1e-9);
}

#[test]
fn objective_100_never_yields_nan_or_infinity() {
    let mut ev = Evaluator::new(
        &default_slos(100.0),
        &LoadOptions::default(),
        EvalOptions::default(),
    )
    .unwrap();
    for m in 0..60 {
        ev.ingest(&EventBatch {
            slo_id: "svc-api".into(),
            bucket_start: T0 + m * MIN,
            good: 999,
            total: 1000,
        })
        .unwrap();
    }
    let tr = ev.evaluate(T0 + HOUR);
    let s = ev.slo(SloIndex(0));
    assert_eq!(s.current_burn_rate(), None);
    assert_eq!(s.period_error_budget_remaining(), None);
    assert!(
        s.windows()
            .all(|w| w.error_ratio.is_some_and(f64::is_finite))
    );
    // Zero budget: any error is above every threshold, as in Prometheus (ratio > 0).
    assert!(tr.iter().any(|t| t.kind == AlertKind::Page));
}

#[test]
fn bad_data_is_refused_with_a_reason() {
    let mut ev = Evaluator::new(
        &default_slos(99.9),
        &LoadOptions::default(),
        EvalOptions::default(),
    )
    .unwrap();
    let batch = |id: &str, good, total| EventBatch {
        slo_id: id.into(),
        bucket_start: T0,
        good,
        total,
    };
    assert!(matches!(
        ev.ingest(&batch("svc-api", 5, 3)),
        Err(IngestError::BadData(_))
    ));
    assert!(matches!(
        ev.ingest(&batch("nope", 1, 1)),
        Err(IngestError::UnknownSlo(_))
    ));
}
