//! Web view rendering: escaping, numbers taken from the status, charts without data,
//! embedded runbooks and their anchors, no external URLs; and the routes served on a real
//! loopback socket.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{TimeZone, Utc};

use super::chart::{Chart, line_chart};
use super::html::{esc, runbook_href, seg};
use super::{history, runbooks, slos};
use crate::probe::{Classification, ProbeRun, StepName, StepResult};
use crate::spec::{Duration, Labels, Tier};
use crate::status::{
    AlertSnapshot, AlertStatus, Histories, PairSnapshot, SloSnapshot, Status, StatusBoard,
    WindowRatio,
};
use crate::store::{AlertTransition, EvaluationCommit, Store};
use crate::window::{Counts, History};

const HOSTILE: &str = "<script>alert('x')</script>&\"";

fn pair(tier: Tier, long: f64, short: f64, factor: f64, state: &'static str) -> PairSnapshot {
    PairSnapshot {
        tier,
        short_window: Duration::from_mins(5),
        short_burn_rate: Some(short),
        long_window: Duration::from_hours(1),
        long_burn_rate: Some(long),
        factor,
        state,
    }
}

fn alert(severity: &str, status: AlertStatus) -> AlertSnapshot {
    AlertSnapshot {
        name: "MassSpecAPIAvailability".into(),
        severity: severity.into(),
        status,
        fired_at: (status == AlertStatus::Firing)
            .then(|| Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()),
        resolved_at: None,
        labels: Labels::new(),
        annotations: [(
            "runbook_url".to_string(),
            "runbooks/api-availability.md".to_string(),
        )]
        .into(),
        burn_rates: BTreeMap::new(),
    }
}

fn snapshot(id: &str, page: AlertStatus, no_data: bool) -> SloSnapshot {
    SloSnapshot {
        id: id.into(),
        service: "mass-spec".into(),
        name: id.trim_start_matches("mass-spec-").into(),
        labels: Labels::new(),
        objective: 99.0,
        period: Duration::from_days(30),
        spec: "prometheus/v1".into(),
        windows: vec![
            WindowRatio {
                window: Duration::from_mins(5),
                error_ratio: (!no_data).then_some(0.25),
                total: 400.0,
            },
            WindowRatio {
                window: Duration::from_days(30),
                error_ratio: (!no_data).then_some(0.0125),
                total: 8000.0,
            },
        ],
        current_burn_rate: (!no_data).then_some(25.0),
        period_burn_rate: (!no_data).then_some(1.25),
        period_error_budget_remaining: (!no_data).then_some(-0.25),
        no_data,
        alerts: vec![alert("page", page), alert("ticket", AlertStatus::Inactive)],
        pairs: vec![
            pair(Tier::PageQuick, 20.5, 30.25, 14.4, "burning"),
            pair(Tier::PageSlow, 5.5, 3.0, 6.0, "quiet"),
            pair(Tier::TicketQuick, 2.0, 1.0, 3.0, "quiet"),
            pair(Tier::TicketSlow, 0.5, 0.25, 1.0, "quiet"),
        ],
    }
}

fn status() -> Status {
    Status {
        evaluated_at: Some(Utc.with_ymd_and_hms(2026, 11, 20, 10, 30, 0).unwrap()),
        slos: vec![
            snapshot("mass-spec-web-availability", AlertStatus::Inactive, true),
            snapshot("mass-spec-api-availability", AlertStatus::Firing, false),
        ],
    }
}

fn sample_history() -> History {
    History {
        start_minute: Utc
            .with_ymd_and_hms(2026, 11, 20, 9, 0, 0)
            .unwrap()
            .timestamp()
            / 60,
        step_minutes: 5,
        points: vec![
            Some(Counts {
                errors: 0,
                total: 1000,
            }),
            None,
            Some(Counts {
                errors: 50,
                total: 1000,
            }),
            Some(Counts {
                errors: 200,
                total: 1000,
            }),
        ],
    }
}

/// Every `href`/`src` value in `html`.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["href=\"", "src=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').unwrap_or(rest.len());
            out.push(rest[..end].to_string());
        }
    }
    out
}

fn assert_no_external_references(html: &str) {
    for r in references(html) {
        assert!(
            r.starts_with('/') && !r.starts_with("//") || r.starts_with('#'),
            "external or relative reference {r:?} in\n{html}"
        );
    }
    assert!(!html.contains("<script"), "no script: {html}");
    assert!(!html.contains("style=\""), "no inline style (CSP): {html}");
}

#[test]
fn escaping_covers_text_and_attributes() {
    assert_eq!(
        esc(HOSTILE),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
    );
    assert_eq!(seg("a b/c?d#e"), "a%20b%2Fc%3Fd%23e");
    assert_eq!(seg("mass-spec-api_1.x~"), "mass-spec-api_1.x~");
}

#[test]
fn hostile_spec_text_and_probe_details_are_escaped_everywhere() {
    let mut s = snapshot("mass-spec-api-availability", AlertStatus::Firing, false);
    s.name = HOSTILE.into();
    s.service = HOSTILE.into();
    s.id = format!("x{HOSTILE}");
    s.alerts[0].name = HOSTILE.into();
    s.alerts[0]
        .annotations
        .insert("runbook_url".into(), format!("runbooks/a.md#\"{HOSTILE}"));
    let st = Status {
        evaluated_at: Some(Utc::now()),
        slos: vec![s.clone()],
    };
    let transition = AlertTransition {
        ts: Utc::now(),
        slo_id: HOSTILE.into(),
        alert: HOSTILE.into(),
        severity: "page".into(),
        state: "firing".into(),
        detail: serde_json::json!({"burn_rates": HOSTILE, "runbook_url": HOSTILE}),
    };
    let run = ProbeRun {
        id: HOSTILE.into(),
        target: HOSTILE.into(),
        started_at: HOSTILE.into(),
        healthy: false,
        classification: Classification::AuthFailed,
        failed_step: Some(StepName::Auth),
        steps: vec![StepResult {
            step: StepName::Auth,
            ok: false,
            ms: 1.5,
            detail: HOSTILE.into(),
        }],
        runbook: Classification::AuthFailed.runbook(),
    };
    let pages = [
        slos::list_page(&st),
        slos::slo_page(&s, st.evaluated_at, None, std::slice::from_ref(&transition)),
        history::alerts_page(
            &st,
            &std::collections::BTreeMap::from([(
                HOSTILE.to_string(),
                crate::status::AlertSnapshot {
                    name: "DatabaseConnectivity".into(),
                    severity: "page".into(),
                    status: crate::status::AlertStatus::Firing,
                    fired_at: Some(Utc::now()),
                    resolved_at: None,
                    labels: Default::default(),
                    annotations: [("probe_id".to_string(), HOSTILE.to_string())].into(),
                    burn_rates: Default::default(),
                },
            )]),
            std::slice::from_ref(&transition),
            Utc::now(),
        ),
        history::probes_page(std::slice::from_ref(&run), Utc::now()),
        history::probe_page(&run),
    ];
    for page in &pages {
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;"), "{page}");
        assert_no_external_references(page);
    }
}

#[test]
fn the_burn_table_shows_the_status_numbers_against_each_threshold() {
    let s = snapshot("mass-spec-api-availability", AlertStatus::Firing, false);
    let page = slos::slo_page(&s, None, None, &[]);
    let row = |tier: &str| {
        let start = page
            .find(&format!("<tr class=\"pair pair-{tier}\""))
            .unwrap_or_else(|| panic!("row {tier} in {page}"));
        let end = start + page[start..].find("</tr>").unwrap();
        page[start..end].to_string()
    };
    for p in &s.pairs {
        let r = row(p.tier.as_str());
        let long = format!("{:.2}×", p.long_burn_rate.unwrap());
        let short = format!("{:.2}×", p.short_burn_rate.unwrap());
        let factor = format!("{:.2}×", p.factor);
        assert!(r.contains(&long), "{r}");
        assert!(r.contains(&short), "{r}");
        assert!(r.contains(&factor), "{r}");
        assert!(r.contains(&format!("data-state=\"{}\"", p.state)), "{r}");
        assert!(
            r.contains(&format!(
                "<span class=\"window\">{}</span> {long}",
                p.long_window
            )),
            "{r}"
        );
        assert!(
            r.contains(&format!(
                "<span class=\"window\">{}</span> {short}",
                p.short_window
            )),
            "{r}"
        );
        // Windows above the threshold are marked, the others not.
        let marked = r.matches("num above").count();
        let expected = [p.long_burn_rate, p.short_burn_rate]
            .iter()
            .filter(|b| b.unwrap() > p.factor)
            .count();
        assert_eq!(marked, expected, "{r}");
    }
    assert!(row("page-quick").contains("badge-burning"));
    // The headline numbers come from the snapshot too.
    assert!(page.contains("98.75%"), "period SLI 1 - 0.0125: {page}");
    assert!(page.contains("-25.00%"), "budget remaining: {page}");
    assert!(page.contains("25.00×"), "current burn rate: {page}");
}

#[test]
fn the_list_orders_by_urgency_and_shows_burn_state() {
    let st = status();
    let page = slos::list_page(&st);
    let api = page
        .find("data-slo=\"mass-spec-api-availability\"")
        .unwrap();
    let web = page
        .find("data-slo=\"mass-spec-web-availability\"")
        .unwrap();
    assert!(api < web, "the paging SLO comes first");
    assert!(page.contains("class=\"slo state-page\""));
    assert!(page.contains("class=\"slo state-no_data\""));
    assert!(page.contains("1 paging, 0 ticket, 1 without data, 0 ok"));
    assert!(page.contains("href=\"/slo/mass-spec-api-availability\""));
    assert!(page.contains("name=\"viewport\""));
    assert_no_external_references(&page);

    assert_eq!(slos::burn_state(&st.slos[0]), "no_data");
    assert_eq!(slos::burn_state(&st.slos[1]), "page");
    let mut ticket = snapshot("t", AlertStatus::Inactive, false);
    ticket.alerts[1].status = AlertStatus::Firing;
    assert_eq!(slos::burn_state(&ticket), "ticket");
    assert_eq!(
        slos::burn_state(&snapshot("o", AlertStatus::Inactive, false)),
        "ok"
    );

    let empty = slos::list_page(&Status::default());
    assert!(empty.contains("No evaluation has run yet"), "{empty}");
}

#[test]
fn charts_plot_the_history_and_survive_missing_data() {
    let s = snapshot("mass-spec-api-availability", AlertStatus::Firing, false);
    let h = sample_history();
    let page = slos::slo_page(&s, None, Some(&h), &[]);
    // Three of the four steps have data in both charts; the gap breaks the line.
    assert!(
        page.contains("id=\"chart-sli\" class=\"chart\"") && page.contains("data-points=\"3\""),
        "{page}"
    );
    assert_eq!(page.matches("data-points=\"3\"").count(), 2, "{page}");
    assert_eq!(page.matches("<path class=\"line\" d=\"M").count(), 2);
    assert!(
        page.contains("2026-11-20 09:00:00Z"),
        "start of the history: {page}"
    );

    // No history, an empty one, and only gaps: "no data", no panic.
    let empty = History::default();
    let gaps = History {
        start_minute: 0,
        step_minutes: 5,
        points: vec![None, None],
    };
    for h in [None, Some(&empty), Some(&gaps)] {
        let page = slos::slo_page(&snapshot("x", AlertStatus::Inactive, true), None, h, &[]);
        assert_eq!(page.matches("data-points=\"0\"").count(), 2, "{page}");
        assert_eq!(page.matches("no data in the period").count(), 2);
    }

    // Odd values: one point, a flat line, non-finite numbers.
    for values in [
        vec![Some(0.5)],
        vec![Some(1.0), Some(1.0), Some(1.0)],
        vec![Some(f64::NAN), Some(f64::INFINITY), Some(-3.0), None],
        vec![],
    ] {
        let svg = line_chart(&Chart {
            id: "c",
            title: "t",
            values: &values,
            start: Utc::now(),
            step_secs: i64::MAX,
            reference: Some((0.0, "zero")),
            include: &[f64::NAN],
            format: super::html::pct,
        });
        let finite = values.iter().flatten().filter(|v| v.is_finite()).count();
        assert!(
            svg.contains(&format!("data-points=\"{finite}\"")),
            "{values:?}: {svg}"
        );
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }
}

#[test]
fn runbook_references_resolve_inside_burnwatch() {
    assert_eq!(
        runbook_href("runbooks/db-connectivity.md#auth-failed").as_deref(),
        Some("/runbooks/db-connectivity.md#auth-failed")
    );
    assert_eq!(
        runbook_href("https://wiki.example.org/x").as_deref(),
        Some("https://wiki.example.org/x")
    );
    assert_eq!(runbook_href("javascript:alert(1)"), None);
    assert_eq!(runbook_href("../etc/passwd"), None);
}

#[test]
fn every_repository_runbook_is_embedded_with_its_anchors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    on_disk.sort();
    let embedded: Vec<String> = runbooks::RUNBOOKS
        .iter()
        .map(|(f, _)| f.to_string())
        .collect();
    assert_eq!(
        embedded, on_disk,
        "add new runbooks to web::runbooks::RUNBOOKS"
    );
    for (file, text) in runbooks::RUNBOOKS {
        assert_eq!(*text, std::fs::read_to_string(dir.join(file)).unwrap());
    }
    // Every probe classification's section is an anchor of the rendered page.
    let page = runbooks::runbook_page("db-connectivity.md").unwrap();
    for c in Classification::ALL {
        let anchor = c.runbook().split_once('#').unwrap().1.to_string();
        assert!(page.contains(&format!("id=\"{anchor}\"")), "#{anchor}");
    }
    assert!(runbooks::runbook_page("../Cargo.toml").is_none());
    assert!(runbooks::runbook_page("nope.md").is_none());
}

#[test]
fn runbook_markdown_is_rendered_minimally_and_escaped() {
    let html = runbooks::render(
        "# Title <b>\n\nSome `code <x>` and **bold** text,\ncontinued [other](api-availability.md#triage) [ext](https://x.org) [gone](nope.md).\n\n\
         1. one\n2. two\n   ```sh\n   echo <hi>\n   ```\n3. three\n\n- a\n- b\n\n## Title <b>\n",
    );
    assert!(
        html.contains("<h1 id=\"title-b\">Title &lt;b&gt;</h1>"),
        "{html}"
    );
    assert!(html.contains("<h2 id=\"title-b-1\">"), "{html}");
    assert!(html.contains("<code>code &lt;x&gt;</code>"), "{html}");
    assert!(html.contains("<strong>bold</strong>"), "{html}");
    assert!(html.contains("text, continued"), "{html}");
    assert!(
        html.contains("<a href=\"/runbooks/api-availability.md#triage\">other</a>"),
        "{html}"
    );
    assert!(html.contains("<a href=\"https://x.org\">ext</a>"), "{html}");
    assert!(
        html.contains(" gone.") && !html.contains("nope.md"),
        "{html}"
    );
    assert!(
        html.contains("<pre><code>   echo &lt;hi&gt;\n</code></pre>"),
        "{html}"
    );
    assert!(html.contains("<li value=\"3\">three"), "{html}");
    assert!(html.contains("<ul><li>a</li><li>b</li></ul>"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
}

#[tokio::test]
async fn the_routes_serve_pages_assets_and_runbooks() {
    let board = StatusBoard::new();
    let store = Arc::new(Store::open_in_memory().unwrap());
    let s = crate::http::tests::serve_with(board.clone(), store.clone(), None).await;
    let c = reqwest::Client::new();
    let get = |path: &str| {
        let c = c.clone();
        let url = format!("{}{path}", s.base);
        async move {
            let r = c.get(url).send().await.unwrap();
            let status = r.status().as_u16();
            let headers = r.headers().clone();
            (status, headers, r.text().await.unwrap())
        }
    };

    // Before the first evaluation.
    let (code, _, body) = get("/").await;
    assert_eq!(code, 200);
    assert!(body.contains("No evaluation has run yet"));
    assert_eq!(get("/slo/mass-spec-api-availability").await.0, 503);

    board.publish(status());
    board.publish_histories(Histories {
        computed_at: Some(Utc::now()),
        slos: [("mass-spec-api-availability".to_string(), sample_history())].into(),
    });
    let now = Utc::now();
    store
        .commit_evaluation(
            &EvaluationCommit {
                transitions: vec![AlertTransition {
                    ts: now,
                    slo_id: "mass-spec-api-availability".into(),
                    alert: "MassSpecAPIAvailability".into(),
                    severity: "page".into(),
                    state: "firing".into(),
                    detail: serde_json::json!({
                        "burn_rates": "5m 30.25×, 1h 20.5×",
                        "runbook_url": "runbooks/api-availability.md",
                    }),
                }],
                ..EvaluationCommit::default()
            },
            now,
        )
        .unwrap();
    let run = ProbeRun {
        id: crate::probe::new_run_id(now),
        target: "mass-spec-rds".into(),
        started_at: crate::probe::model::format_ts(now),
        healthy: false,
        classification: Classification::TcpRefused,
        failed_step: Some(StepName::Tcp),
        steps: vec![
            StepResult {
                step: StepName::Dns,
                ok: true,
                ms: 0.25,
                detail: "127.0.0.1".into(),
            },
            StepResult {
                step: StepName::Tcp,
                ok: false,
                ms: 1.5,
                detail: "connection refused".into(),
            },
        ],
        runbook: Classification::TcpRefused.runbook(),
    };
    store.insert_probe_run(&run).unwrap();

    let (code, headers, body) = get("/").await;
    assert_eq!(code, 200);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(body.contains("state-page"), "{body}");
    assert_no_external_references(&body);

    let (code, _, body) = get("/slo/mass-spec-api-availability").await;
    assert_eq!(code, 200);
    assert_eq!(body.matches("data-points=\"3\"").count(), 2, "{body}");
    assert!(body.contains("class=\"transition\""), "{body}");
    assert_no_external_references(&body);
    let (code, _, body) = get("/slo/nope").await;
    assert_eq!(code, 404);
    assert!(body.contains("There is no SLO &quot;nope&quot;"), "{body}");

    let (code, _, body) = get("/alerts").await;
    assert_eq!(code, 200);
    assert!(body.contains("5m 30.25×, 1h 20.5×"), "{body}");
    assert!(
        body.contains("href=\"/runbooks/api-availability.md\""),
        "{body}"
    );

    let (code, _, body) = get("/probes").await;
    assert_eq!(code, 200);
    assert!(
        body.contains(&format!("href=\"/probes/{}\"", run.id)),
        "{body}"
    );
    assert!(body.contains("badge-tcp-refused"), "{body}");
    let (code, _, body) = get(&format!("/probes/{}", run.id)).await;
    assert_eq!(code, 200);
    assert!(body.contains("connection refused"), "{body}");
    assert!(
        body.contains("<tr class=\"step failed\"><td>tcp</td>"),
        "{body}"
    );
    assert!(
        body.contains("href=\"/runbooks/db-connectivity.md#tcp-refused\""),
        "{body}"
    );
    assert_eq!(get("/probes/01NOPE").await.0, 404);

    let (code, headers, body) = get("/runbooks/db-connectivity.md").await;
    assert_eq!(code, 200);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(body.contains("id=\"tcp-refused\""));
    assert_eq!(get("/runbooks/nope.md").await.0, 404);
    assert_eq!(get("/runbooks/..%2FCargo.toml").await.0, 404);

    let (code, headers, css) = get("/assets/burnwatch.css").await;
    assert_eq!(code, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(
        !css.contains("http") && !css.contains("url("),
        "self-contained CSS"
    );
    let (code, headers, _) = get("/favicon.ico").await;
    assert_eq!(code, 200);
    assert_eq!(headers["content-type"], "image/svg+xml");

    // The JSON API is still there, and unknown paths still get the JSON 404.
    assert_eq!(get("/api/v1/slos").await.0, 200);
    let (code, _, body) = get("/nope").await;
    assert_eq!(code, 404);
    assert!(body.starts_with('{'), "{body}");
}
