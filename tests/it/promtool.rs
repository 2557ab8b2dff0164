//! `promtool test rules` over the generated rules: the alerts fire and resolve when the SRE
//! Workbook says they should, and the recording rules hold the values it predicts.
//!
//! Every scenario is per-minute request counts (`mwmb_model::Traffic`), written as
//! `http_requests_total` counters for the checkout fixture SLO (99.9 %, events SLI). The
//! expected alert states and values come from `mwmb_model` (the Workbook's formulas over
//! those counts); for the default 30d windows the tests also pin the Workbook's own numbers
//! (detection within 51.8 s + one scrape step, reset 5 and 30 minutes after recovery, a
//! ticket after about 12 hours of a 3.5× burn). The same scenarios run with `--period 28d`
//! and with a custom windows folder.

use std::process::Command;

use crate::mwmb_model::{Policy, Traffic, Tri};
use crate::promtool_harness::{Alert, Group, Map, generate, map, promtool_test, test_file_header};
use crate::support::{fixture, repo, service};

/// Requests per minute.
const RATE: u64 = 10_000;
/// Healthy errors per minute: 0.05 %, a burn rate of 0.5 at 99.9 %.
const HEALTHY_BAD: u64 = 5;
/// History before the interesting part is sampled every this many minutes (long windows
/// still see it; promtool evaluates every minute regardless, so this only saves reads).
const SPARSE: u32 = 15;
/// Distance between incidents: longer than the longest page window.
const GAP: u32 = 7 * 60;

const SLO_ID: &str = "checkout-requests-availability";
const ALERT: &str = "CheckoutHighErrorRate";

/// Labels the checkout SLO's series carry (spec labels plus Sloth's id labels).
fn slo_labels() -> Map {
    map(&[
        ("owner", "payments"),
        ("repo", "shop/checkout"),
        ("sloth_id", SLO_ID),
        ("sloth_service", "checkout"),
        ("sloth_slo", "requests-availability"),
        ("tier", "1"),
    ])
}

fn burn_alert(severity: &str) -> Alert {
    let mut labels = slo_labels();
    labels.extend(map(&[
        ("category", "availability"),
        ("severity", severity),
        ("sloth_severity", severity),
    ]));
    if severity == "ticket" {
        labels.insert("slack_channel".into(), "#checkout-alerts".into());
    }
    Alert {
        labels,
        annotations: map(&[
            (
                "runbook_url",
                "https://runbooks.example/checkout-availability",
            ),
            (
                "summary",
                "checkout requests-availability SLO error budget burn rate is over expected.",
            ),
            (
                "title",
                &format!(
                    "({severity}) checkout requests-availability SLO error budget burn rate is too fast."
                ),
            ),
        ]),
    }
}

impl Group {
    /// Expect the burn alerts the model predicts at minute `t` (skipped when too close to a
    /// threshold to call).
    fn expect_burn_alerts(&mut self, policy: &Policy, t: u32) {
        let (page, ticket) = (
            policy.page(&self.traffic, t),
            policy.ticket(&self.traffic, t),
        );
        if page == Tri::Unsure || ticket == Tri::Unsure {
            return;
        }
        let mut alerts = Vec::new();
        if page == Tri::Yes {
            alerts.push(burn_alert("page"));
        }
        if ticket == Tri::Yes {
            alerts.push(burn_alert("ticket"));
        }
        self.alert_tests.push((t, ALERT.to_string(), alerts));
    }

    /// Expect `round(<record>{slo} * 1e6)` = `value × 1e6` at minute `t`.
    fn expect_ppm(&mut self, t: u32, record: &str, extra: &[(&str, &str)], value: f64) {
        let ppm = value * 1e6;
        assert!(
            ppm.is_finite() && ((ppm - ppm.floor()) - 0.5).abs() > 0.01,
            "{record} at {t}m: model value {value} is too close to a rounding boundary to test"
        );
        let mut labels = slo_labels();
        labels.extend(map(extra));
        self.expr_tests.push((
            t,
            format!("round({record}{{sloth_id=\"{SLO_ID}\"}} * 1e6)"),
            vec![(labels, format!("{}", ppm.round()))],
        ));
    }
}

/// The period as Prometheus prints it (`30d`, `4w`).
fn period_label(policy: &Policy) -> String {
    if policy.period_days.is_multiple_of(7) {
        format!("{}w", policy.period_days / 7)
    } else {
        format!("{}d", policy.period_days)
    }
}

/// First minute in `range` where `f` is `Yes`.
fn first_yes(range: std::ops::RangeInclusive<u32>, f: impl Fn(u32) -> Tri) -> Option<u32> {
    range.into_iter().find(|&t| f(t) == Tri::Yes)
}

/// Outcome of one incident, from the model.
struct Incident {
    detected: u32,
    resolved: u32,
    pairs_fired: [bool; 2],
}

/// Detection and reset of the page for an incident in minutes `(start, end]`, with the
/// Workbook's bounds asserted: detection within the quick pair's detection time for a
/// total outage plus one scrape step, reset one short window after the last bad minute.
fn page_incident(policy: &Policy, traffic: &Traffic, start: u32, end: u32) -> Incident {
    let page = |t| policy.page(traffic, t);
    assert_eq!(
        page(start),
        Tri::No,
        "page must not fire before the incident"
    );
    let detected = first_yes(start..=traffic.len(), page).expect("page fires");
    let resolved = (detected..=traffic.len())
        .find(|&t| page(t) == Tri::No)
        .expect("page resolves");
    let mut pairs_fired = [false; 2];
    for t in detected..resolved {
        for (i, p) in policy.page.iter().enumerate() {
            pairs_fired[i] |= policy.pair_fires(traffic, p, t) == Tri::Yes;
        }
    }
    // Workbook: detection time = (1 - SLO) / error rate × long window × burn factor.
    let q = policy.page[0];
    let detection_s = policy.error_budget() * f64::from(q.long * 60) * q.factor;
    assert!(
        f64::from((detected - start) * 60) <= detection_s + 60.0,
        "detected {}m after onset; the Workbook allows {detection_s:.1}s plus one 60s step",
        detected - start
    );
    // Reset: the slowest pair that fired stops once the incident leaves its short window.
    let short = if pairs_fired[1] {
        policy.page[1].short
    } else {
        policy.page[0].short
    };
    assert_eq!(
        resolved,
        end + short,
        "page resets one short window after recovery"
    );
    Incident {
        detected,
        resolved,
        pairs_fired,
    }
}

/// Scenario A: healthy history, then a one-minute total outage, a blip under the quick
/// page's budget share, and a ten-minute total outage, each `GAP` apart.
///
/// With `full_history` the history fills the longest alert window, so the ticket windows
/// see production-like data (a 1-minute outage then opens no ticket); otherwise it is `GAP`
/// long, enough for every page window, and the ticket states are whatever the model
/// computes for that shorter history (promtool evaluates every minute, so history is the
/// cost of these tests).
fn incidents(policy: &Policy, full_history: bool) -> (Group, [Incident; 2]) {
    let s1 = if full_history {
        policy.longest_window()
    } else {
        GAP
    };
    let s2 = s1 + GAP;
    let s3 = s2 + GAP;
    let end = s3 + 60;
    let mut tr = Traffic::steady(end, RATE, HEALTHY_BAD);
    tr.set(s1 + 1..=s1 + 1, RATE, RATE);
    let blip_share = 0.9 * policy.page_quick_budget_percent / 100.0;
    let blip_bad = (blip_share * policy.budget_minutes() * RATE as f64).round() as u64;
    tr.set(s2 + 1..=s2 + 1, RATE, blip_bad);
    tr.set(s3 + 1..=s3 + 10, RATE, RATE);
    if full_history {
        tr.sparse_before(s1 - GAP, SPARSE);
    }

    let short_outage = page_incident(policy, &tr, s1, s1 + 1);
    let long_outage = page_incident(policy, &tr, s3, s3 + 10);
    for t in s2..s3 {
        assert_eq!(
            policy.page(&tr, t),
            Tri::No,
            "a blip burning {:.2} % of the budget must not page (minute {t})",
            blip_share * 100.0
        );
    }

    let mut g = Group::new(
        "history, 1-minute outage, blip, 10-minute outage",
        tr.clone(),
    );
    // Steady healthy traffic: nothing fires, the SLI is the healthy error ratio.
    for t in [60, 360, s1 - 1, s1] {
        g.expect_burn_alerts(policy, t);
    }
    let short = policy.page[0].short;
    let sli = format!("slo:sli_error:ratio_rate{short}m");
    let w = format!("{short}m");
    let ratio = |t| {
        let (b, n) = tr.ratio(short, t).unwrap();
        b as f64 / n as f64
    };
    g.expect_ppm(s1, &sli, &[("sloth_window", &w)], ratio(s1));
    assert_eq!(ratio(s1), HEALTHY_BAD as f64 / RATE as f64);
    let remaining = "slo:period_error_budget_remaining:ratio";
    // The budget series keep the period SLI's `sloth_window` (Sloth's division keeps the
    // left-hand labels).
    let pw = period_label(policy);
    let pw: &[(&str, &str)] = &[("sloth_window", &pw)];
    g.expect_ppm(
        s1,
        remaining,
        pw,
        policy.budget_remaining_sloth(&tr, s1, false),
    );
    // Each incident: before, detection, the step before and at the reset.
    for inc in [&short_outage, &long_outage] {
        for t in [
            inc.detected - 1,
            inc.detected,
            inc.resolved - 1,
            inc.resolved,
        ] {
            g.expect_burn_alerts(policy, t);
        }
    }
    // The ticket around the ten-minute outage.
    if let Some(t) = first_yes(s3..=end, |t| policy.ticket(&tr, t)) {
        g.expect_burn_alerts(policy, t - 1);
        g.expect_burn_alerts(policy, t);
    }
    // The blip: nothing new fires.
    for t in [s2, s2 + 1, s2 + 5, s2 + 30, s2 + 60] {
        g.expect_burn_alerts(policy, t);
    }
    // During the ten-minute outage the short-window SLI approaches 100 % errors.
    g.expect_ppm(s3 + 3, &sli, &[("sloth_window", &w)], ratio(s3 + 3));
    g.expect_burn_alerts(policy, end);
    g.expect_ppm(
        end,
        remaining,
        pw,
        policy.budget_remaining_sloth(&tr, end, false),
    );
    (g, [short_outage, long_outage])
}

/// Scenario B: healthy history, then a sustained 3.5× burn. Returns the minutes of burn
/// after which the ticket fires.
fn slow_burn(policy: &Policy) -> (Group, u32) {
    let start = policy.longest_window();
    let burn_bad = (3.5 * policy.error_budget() * RATE as f64).round() as u64;
    assert_eq!(burn_bad, 35);
    let scenario = |end: u32| {
        let mut tr = Traffic::steady(end, RATE, HEALTHY_BAD);
        tr.set(start + 1..=end, RATE, burn_bad);
        tr.sparse_before(start - GAP, SPARSE);
        tr
    };
    let long = scenario(start + 24 * 60);
    let fired = first_yes(start..=long.len(), |t| policy.ticket(&long, t)).expect("ticket fires");
    // Run one hour past the ticket.
    let end = fired + 60;
    let tr = scenario(end);
    for t in start..=end {
        assert_ne!(policy.page(&tr, t), Tri::Yes, "a 3.5x burn never pages");
    }
    let mut g = Group::new("3.5x slow burn", tr);
    for t in (start..=end).step_by(30) {
        g.expect_burn_alerts(policy, t);
    }
    for t in fired - 2..=fired + 1 {
        g.expect_burn_alerts(policy, t);
    }
    (g, fired - start)
}

/// Scenario C: uneven traffic, where Sloth's mean of 5m ratios and the true events ratio
/// disagree (Sloth #241): an hour of 100 req/min at 10 % errors, then three hours of
/// 10,000 req/min at 0.01 %.
fn uneven_traffic() -> Traffic {
    let mut tr = Traffic::steady(240, 100, 10);
    tr.set(61..=240, RATE, 1);
    tr
}

/// Scenario D: two hours of healthy traffic, then none at all.
fn traffic_stops() -> (Traffic, u32) {
    let stop = 120;
    let mut tr = Traffic::steady(stop + 40, RATE, HEALTHY_BAD);
    tr.set(stop + 1..=stop + 40, 0, 0);
    (tr, stop)
}

#[test]
fn default_30d_rules_follow_the_workbook() {
    let policy = Policy::workbook(99.9, 30);
    let dir = tempfile::tempdir().unwrap();
    let rules = generate(dir.path(), "rules.yml", &fixture("rules/events.yaml"), &[]);
    let (a, [short, long]) = incidents(&policy, true);
    let s1 = policy.longest_window();
    let s3 = s1 + 2 * GAP;
    // The Workbook's numbers for 99.9 % over 30d (slo-math.md §2-§3).
    assert_eq!(
        short.detected,
        s1 + 1,
        "1-minute outage paged at the first sample"
    );
    assert_eq!(
        short.pairs_fired,
        [true, false],
        "only the 1h/5m pair fires"
    );
    assert_eq!(
        short.resolved,
        s1 + 1 + 5,
        "resolves 5 minutes after recovery"
    );
    assert_eq!(long.detected, s3 + 1);
    assert_eq!(long.pairs_fired, [true, true], "the 6h/30m pair fires too");
    assert_eq!(
        long.resolved,
        s3 + 10 + 30,
        "resolves 30 minutes after recovery"
    );
    let (b, ticket_after) = slow_burn(&policy);
    assert!(
        (690..=750).contains(&ticket_after),
        "a 3.5x burn opens a ticket after about 12 hours, not {ticket_after} minutes"
    );

    // Uneven traffic: Sloth's optimized period SLI is far off the events ratio.
    let tr = uneven_traffic();
    let sloth = policy.budget_remaining_sloth(&tr, 240, false);
    let exact = policy.budget_remaining_exact(&tr, 240);
    assert!(sloth < -10.0 && exact > 0.5, "{sloth} vs {exact}");
    let mut c = Group::new("uneven traffic, Sloth's mean of 5m ratios", tr);
    let pw = period_label(&policy);
    let pw: &[(&str, &str)] = &[("sloth_window", &pw)];
    c.expect_ppm(240, "slo:period_error_budget_remaining:ratio", pw, sloth);

    // No traffic: 0/0 is recorded as NaN and poisons Sloth's period mean (#133).
    let (tr, stop) = traffic_stops();
    assert!(
        policy
            .budget_remaining_sloth(&tr, stop + 30, false)
            .is_nan()
    );
    let mut d = Group::new("traffic stops, default rules", tr);
    let r = format!("slo:period_error_budget_remaining:ratio{{sloth_id=\"{SLO_ID}\"}}");
    d.expr_tests.push((
        stop + 30,
        format!("count({r} != {r})"),
        vec![(Map::new(), "1".into())],
    ));
    d.expect_burn_alerts(&policy, stop + 30);

    promtool_test(dir.path(), "test.yml", &rules, &[a, b, c, d]);
}

#[test]
fn period_28d_rules_follow_the_workbook() {
    let policy = Policy::workbook(99.9, 28);
    let dir = tempfile::tempdir().unwrap();
    let rules = generate(
        dir.path(),
        "rules.yml",
        &fixture("rules/events.yaml"),
        &["--period", "28d"],
    );
    let (a, _) = incidents(&policy, false);
    let (b, ticket_after) = slow_burn(&policy);
    // A 28d budget is smaller, so the same burn opens the ticket sooner than at 30d.
    assert!(ticket_after < 690, "{ticket_after}");
    promtool_test(dir.path(), "test.yml", &rules, &[a, b]);
}

#[test]
fn custom_windows_rules_follow_the_workbook() {
    let policy = Policy::custom_30d(99.9);
    let dir = tempfile::tempdir().unwrap();
    let windows = fixture("rules/windows");
    let rules = generate(
        dir.path(),
        "rules.yml",
        &fixture("rules/events.yaml"),
        &["--windows", windows.to_str().unwrap()],
    );
    let (a, [short, _]) = incidents(&policy, false);
    // 1 % in 30m pages on the 2m short window; a 1-minute outage (2.3 % of the budget)
    // also exceeds 2 % in 3h, so the 15m short window holds the page.
    assert_eq!(short.pairs_fired, [true, true]);
    let (b, _) = slow_burn(&policy);
    promtool_test(dir.path(), "test.yml", &rules, &[a, b]);
}

#[test]
fn extras_exact_period_nan_guard_and_no_data_alert() {
    let policy = Policy::workbook(99.9, 30);
    let dir = tempfile::tempdir().unwrap();
    let rules = generate(
        dir.path(),
        "rules.yml",
        &fixture("rules/events.yaml"),
        &[
            "--exact-period",
            "--nan-guard",
            "--no-data-alerts",
            "--no-data-for",
            "10m",
        ],
    );
    // --exact-period: the period SLI is the events ratio, unbiased by uneven traffic.
    let tr = uneven_traffic();
    let exact = policy.budget_remaining_exact(&tr, 240);
    let mut c = Group::new("uneven traffic, exact period", tr);
    let pw = period_label(&policy);
    let pw: &[(&str, &str)] = &[("sloth_window", &pw)];
    c.expect_ppm(240, "slo:period_error_budget_remaining:ratio", pw, exact);

    // --nan-guard and --no-data-alerts: no traffic records no SLI sample (not NaN), the
    // budget stays finite, and SLIDataMissing fires once the SLI has been missing 10m.
    let (tr, stop) = traffic_stops();
    let missing_from = (stop..)
        .find(|&t| matches!(tr.ratio(5, t), None | Some((_, 0))))
        .unwrap();
    assert_eq!(
        missing_from,
        stop + 5,
        "the 5m window empties 5 minutes after"
    );
    let remaining = policy.budget_remaining_sloth(&tr, stop + 30, true);
    assert!(remaining.is_finite());
    let mut d = Group::new("traffic stops, guarded rules", tr);
    let sli = format!("slo:sli_error:ratio_rate5m{{sloth_id=\"{SLO_ID}\"}}");
    let mut sli_labels = slo_labels();
    sli_labels.insert("sloth_window".into(), "5m".into());
    d.expr_tests.push((
        missing_from - 1,
        format!("round({sli} * 1e6)"),
        vec![(sli_labels, "500".into())],
    ));
    d.expr_tests.push((missing_from, sli, Vec::new()));
    d.expect_ppm(
        stop + 30,
        "slo:period_error_budget_remaining:ratio",
        pw,
        remaining,
    );
    let mut labels = slo_labels();
    labels.extend(map(&[
        ("category", "availability"),
        ("severity", "ticket"),
        ("slack_channel", "#checkout-alerts"),
        ("sloth_severity", "ticket"),
    ]));
    let no_data = Alert {
        labels,
        annotations: map(&[
            (
                "runbook_url",
                "https://runbooks.example/checkout-availability",
            ),
            (
                "summary",
                "checkout requests-availability has had no SLI data for 10m (no traffic, or its metrics are missing), so its burn-rate alerts cannot fire.",
            ),
            (
                "title",
                "(ticket) checkout requests-availability SLI data is missing.",
            ),
        ]),
    };
    d.alert_tests
        .push((missing_from + 9, "SLIDataMissing".into(), Vec::new()));
    d.alert_tests
        .push((missing_from + 10, "SLIDataMissing".into(), vec![no_data]));
    d.expect_burn_alerts(&policy, stop + 30);
    promtool_test(dir.path(), "test.yml", &rules, &[c, d]);
}

/// The platform's API SLO (ALB plugin SLI) through the YACE mapping: gauges of per-minute
/// CloudWatch sums, a total outage pages and tickets at once, a load balancer without
/// healthy targets (errors but no RequestCount) counts as 100 % errors, and a missing
/// `HTTPCode_ELB_5XX_Count` series counts as zero.
#[test]
fn platform_alb_slo_through_yace_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let rules = generate(
        dir.path(),
        "rules.yml",
        &repo().join("slo-specs"),
        &["--skip-unmapped"],
    );
    let lb = "app/mass-spec/0123456789abcdef";
    let outage = 120;
    let end = outage + 20;
    // Minutes outage+1..=outage+10: every request fails at the targets; then no healthy
    // targets at all: the ALB answers 503 itself and RequestCount is 0.
    let value = |t: u32, series: &str| -> String {
        let (requests, target_5xx, elb_5xx) = match t {
            t if t <= outage => (RATE, HEALTHY_BAD, None),
            t if t <= outage + 10 => (RATE, RATE, None),
            _ => (0, 0, Some(500)),
        };
        match series {
            "req" => requests.to_string(),
            "target" => target_5xx.to_string(),
            _ => elb_5xx.map_or("_".to_string(), |v| v.to_string()),
        }
    };
    let values = |series: &str| {
        (0..=end)
            .map(|t| value(t, series))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let sel = format!("dimension_LoadBalancer=\"{lb}\"");
    let id = "mass-spec-api-availability";
    let slo = map(&[
        ("component", "api"),
        ("owner", "platform-sre"),
        ("platform", "mass-spec"),
        ("sloth_id", id),
        ("sloth_service", "mass-spec"),
        ("sloth_slo", "api-availability"),
    ]);
    let alert = |severity: &str| {
        let mut labels = slo.clone();
        labels.extend(map(&[
            ("category", "availability"),
            ("severity", severity),
            ("sloth_severity", severity),
        ]));
        let mut annotations = map(&[
            ("runbook_url", "runbooks/api-availability.md"),
            (
                "summary",
                "The mass-spec API is failing requests faster than its 99.9 % objective allows.",
            ),
        ]);
        annotations.insert(
            "title".into(),
            format!(
                "({severity}) mass-spec api-availability SLO error budget burn rate is too fast."
            ),
        );
        let labels_json = serde_json::to_string(&labels).unwrap();
        let annotations_json = serde_json::to_string(&annotations).unwrap();
        format!("    - exp_labels: {labels_json}\n      exp_annotations: {annotations_json}\n")
    };
    let mut sli_labels = slo.clone();
    sli_labels.insert("sloth_window".into(), "5m".into());
    let sli_set = sli_labels
        .iter()
        .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap()))
        .collect::<Vec<_>>()
        .join(", ");
    let sli_test = |t: u32, ppm: u64| {
        format!(
            "  - expr: 'round(slo:sli_error:ratio_rate5m{{sloth_id=\"{id}\"}} * 1e6)'\n    eval_time: {t}m\n    exp_samples:\n    - labels: '{{{sli_set}}}'\n      value: {ppm}\n"
        )
    };
    // Gauges: sum_over_time over [t-5m, t] sees 6 one-minute sums; healthy = 30/60000.
    // The page fires at the first outage sample: 5m = 10030/60000, 1h = 10300/610000 > 1.44 %.
    let y = format!(
        "{header}- name: ALB outage through YACE gauges\n  interval: 1m\n  input_series:\n  - series: 'aws_applicationelb_request_count_sum{{{sel}}}'\n    values: '{req}'\n  - series: 'aws_applicationelb_httpcode_target_5_xx_count_sum{{{sel}}}'\n    values: '{target}'\n  - series: 'aws_applicationelb_httpcode_elb_5_xx_count_sum{{{sel}}}'\n    values: '{elb}'\n  alert_rule_test:\n  - eval_time: {outage}m\n    alertname: MassSpecAPIAvailability\n    exp_alerts: []\n  - eval_time: {t1}m\n    alertname: MassSpecAPIAvailability\n    exp_alerts:\n{page}{ticket}  promql_expr_test:\n{healthy}{failing}{no_targets}",
        header = test_file_header(&rules),
        req = values("req"),
        target = values("target"),
        elb = values("elb"),
        t1 = outage + 1,
        page = alert("page"),
        ticket = alert("ticket"),
        healthy = sli_test(outage, 500),
        failing = sli_test(outage + 8, 1_000_000),
        no_targets = sli_test(end, 1_000_000),
    );
    let file = dir.path().join("test.yml");
    std::fs::write(&file, y).unwrap();
    let out = Command::new(service("BURNWATCH_TEST_PROMTOOL"))
        .args(["test", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
