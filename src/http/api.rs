//! `/api/v1` handlers and their JSON shapes (converted here from the status board and the
//! store; nothing else serialises these).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::AppState;
use crate::notify::Notification;
use crate::spec::Labels;
use crate::status::{AlertSnapshot, SloSnapshot};

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({"error": message.into()}))).into_response()
}

#[derive(Serialize)]
struct SlosBody {
    evaluated_at: Option<String>,
    slos: Vec<SloBody>,
}

#[derive(Serialize)]
struct SloBody {
    id: String,
    service: String,
    name: String,
    labels: Labels,
    objective: f64,
    period: String,
    error_budget: f64,
    no_data: bool,
    windows: Vec<WindowBody>,
    current_burn_rate: Option<f64>,
    period_burn_rate: Option<f64>,
    error_budget_remaining: Option<f64>,
    alerts: Vec<AlertBody>,
    url: String,
}

#[derive(Serialize)]
struct WindowBody {
    window: String,
    error_ratio: Option<f64>,
    burn_rate: Option<f64>,
    total: f64,
}

#[derive(Serialize)]
struct AlertBody {
    slo_id: String,
    name: String,
    severity: String,
    state: &'static str,
    fired_at: Option<String>,
    resolved_at: Option<String>,
    labels: Labels,
    annotations: Labels,
    burn_rates: BTreeMap<String, f64>,
}

fn alert_body(slo_id: &str, a: &AlertSnapshot) -> AlertBody {
    AlertBody {
        slo_id: slo_id.to_string(),
        name: a.name.clone(),
        severity: a.severity.clone(),
        state: a.status.as_str(),
        fired_at: a.fired_at.map(ts),
        resolved_at: a.resolved_at.map(ts),
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        burn_rates: a.burn_rates.clone(),
    }
}

fn slo_body(s: &SloSnapshot, base: &str) -> SloBody {
    let budget = s.error_budget_ratio();
    SloBody {
        id: s.id.clone(),
        service: s.service.clone(),
        name: s.name.clone(),
        labels: s.labels.clone(),
        objective: s.objective,
        period: s.period.to_string(),
        error_budget: budget,
        no_data: s.no_data,
        windows: s
            .windows
            .iter()
            .map(|w| WindowBody {
                window: w.window.to_string(),
                error_ratio: w.error_ratio,
                burn_rate: w.error_ratio.filter(|_| budget > 0.0).map(|e| e / budget),
                total: w.total,
            })
            .collect(),
        current_burn_rate: s.current_burn_rate,
        period_burn_rate: s.period_burn_rate,
        error_budget_remaining: s.period_error_budget_remaining,
        alerts: s.alerts.iter().map(|a| alert_body(&s.id, a)).collect(),
        url: format!("{base}/api/v1/slos/{}", s.id),
    }
}

/// `GET /api/v1/slos`.
pub async fn slos(State(state): State<AppState>) -> Json<serde_json::Value> {
    let status = state.board.current();
    let body = SlosBody {
        evaluated_at: status.evaluated_at.map(ts),
        slos: status
            .slos
            .iter()
            .map(|s| slo_body(s, &state.external_url))
            .collect(),
    };
    Json(serde_json::to_value(body).unwrap_or_default())
}

/// `GET /api/v1/slos/{id}`: the SLO alert `generatorURL`s point at.
pub async fn slo(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let status = state.board.current();
    match status.slos.iter().find(|s| s.id == id) {
        Some(s) => Json(slo_body(s, &state.external_url)).into_response(),
        None if status.evaluated_at.is_none() => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("SLO {id:?}: no evaluation has run yet"),
        ),
        None => error(StatusCode::NOT_FOUND, format!("no SLO with id {id:?}")),
    }
}

/// `GET /api/v1/alerts`: SLO and database probe alerts that are firing or pending, most
/// recent first.
pub async fn alerts(State(state): State<AppState>) -> Json<serde_json::Value> {
    let status = state.board.current();
    let mut out: Vec<AlertBody> = status
        .slos
        .iter()
        .flat_map(|s| {
            s.alerts
                .iter()
                .filter(|a| a.status != crate::status::AlertStatus::Inactive)
                .map(|a| alert_body(&s.id, a))
        })
        .collect();
    // Database probe alerts, under the id their history uses (`probe:<target>`).
    for (target, a) in state.board.probe_alerts() {
        out.push(alert_body(&format!("probe:{target}"), &a));
    }
    out.sort_by(|a, b| b.fired_at.cmp(&a.fired_at));
    Json(serde_json::json!({
        "evaluated_at": status.evaluated_at.map(ts),
        "alerts": out,
    }))
}

#[derive(Serialize)]
struct OutboxRow {
    id: i64,
    receiver: String,
    enqueued_at: String,
    attempts: u32,
    next_attempt_at: String,
    last_error: Option<String>,
    slo_id: Option<String>,
    alert: Option<String>,
    severity: Option<String>,
    state: Option<String>,
}

/// `GET /api/v1/outbox`: what is waiting, and why.
pub async fn outbox(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let items = match tokio::task::spawn_blocking(move || store.outbox_items()).await {
        Ok(Ok(items)) => items,
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let rows: Vec<OutboxRow> = items
        .into_iter()
        .map(|i| {
            let n: Option<Notification> = serde_json::from_str(&i.payload).ok();
            OutboxRow {
                id: i.id,
                receiver: i.receiver,
                enqueued_at: ts(i.created_at),
                attempts: i.attempts,
                next_attempt_at: ts(i.next_attempt_at),
                last_error: i.last_error,
                slo_id: n.as_ref().map(|n| n.slo_id.clone()),
                alert: n.as_ref().map(|n| n.alert.clone()),
                severity: n.as_ref().map(|n| n.severity.clone()),
                state: n.as_ref().map(|n| n.state.as_str().to_string()),
            }
        })
        .collect();
    Json(serde_json::json!({"pending": rows})).into_response()
}

/// `POST /api/v1/outbox/flush` (bearer token): make every waiting notification due now
/// and wake the worker — after fixing a receiver, nobody waits out the backoff.
pub async fn flush_outbox(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let now = Utc::now();
    match tokio::task::spawn_blocking(move || store.outbox_make_due(now)).await {
        Ok(Ok(n)) => {
            state.outbox.wake();
            tracing::info!(rescheduled = n, "outbox flushed through the API");
            Json(serde_json::json!({"rescheduled": n})).into_response()
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Unknown paths: a JSON 404 naming the routes that exist.
pub async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint; see /healthz, /readyz, /metrics, /api/v1/slos, /api/v1/alerts, /api/v1/outbox",
    )
}

/// How many recent probe runs `GET /api/v1/probes` lists.
const RECENT_PROBE_RUNS: usize = 100;

/// `GET /api/v1/probes`: the most recent probe runs of the last 24 hours, newest first,
/// as the `probe --json` documents stored for them.
pub async fn probes(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let now = Utc::now();
    let from = crate::probe::model::format_ts(now - chrono::TimeDelta::hours(24));
    let to = crate::probe::model::format_ts(now + chrono::TimeDelta::minutes(1));
    let rows = match tokio::task::spawn_blocking(move || {
        store.list_probe_run_json(&from, &to, None)
    })
    .await
    {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let runs: Vec<serde_json::Value> = rows
        .iter()
        .rev()
        .take(RECENT_PROBE_RUNS)
        .filter_map(|j| serde_json::from_str(j).ok())
        .collect();
    Json(serde_json::json!({"runs": runs})).into_response()
}

/// `GET /api/v1/probes/{id}`: one stored probe run, verbatim; 404 when unknown.
pub async fn probe(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let store = state.store.clone();
    let wanted = id.clone();
    match tokio::task::spawn_blocking(move || store.probe_run_json(&wanted)).await {
        Ok(Ok(Some(json))) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, format!("no probe run {id:?}")),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
