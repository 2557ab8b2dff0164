//! The built-in web view: server-rendered HTML for the on-call engineer, from the same
//! status board and history store as `/api/v1`.
//!
//! | route | page |
//! |---|---|
//! | `GET /` | every SLO: SLI over the period, budget remaining, burn state |
//! | `GET /slo/{id}` | SLI and budget charts over the period, burn-rate pairs, alerts |
//! | `GET /alerts` | alerts firing now and the stored transitions |
//! | `GET /probes`, `/probes/{id}` | database probe runs, their steps and runbook links |
//! | `GET /runbooks/{file}` | the repository's runbooks, embedded, rendered |
//! | `GET /assets/…` | the stylesheet and icon, embedded |
//!
//! No script and no external URL: charts are inline SVG drawn here, the one stylesheet is
//! compiled into the binary, and a Content-Security-Policy that allows only same-origin
//! styles and images (no scripts at all) makes any slip visible in the browser console.
//! Handlers never touch the evaluator: they read the published [`crate::status`] and the
//! store.

mod chart;
mod history;
mod html;
mod runbooks;
mod slos;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{TimeDelta, Utc};

use super::AppState;
use crate::probe::ProbeRun;

/// The stylesheet, compiled in.
const CSS: &str = include_str!("assets/burnwatch.css");
/// The icon (an SVG, so browsers do not log a missing `/favicon.ico`).
const FAVICON: &str = include_str!("assets/favicon.svg");

/// Same-origin styles and images only; no scripts, frames, forms or plugins.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// How far back `/alerts` lists transitions.
const ALERTS_SINCE: TimeDelta = TimeDelta::days(7);
/// How far back `/probes` lists runs, and how many at most.
const PROBES_SINCE: TimeDelta = TimeDelta::hours(24);
const PROBES_MAX: usize = 200;

/// The web view's routes (merged into [`super::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/slo/{id}", get(slo))
        .route("/alerts", get(alerts))
        .route("/probes", get(probes))
        .route("/probes/{id}", get(probe))
        .route("/runbooks/{file}", get(runbook))
        .route("/assets/burnwatch.css", get(css))
        .route("/assets/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
}

/// An HTML response with the security headers every page carries.
fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// An error page.
fn problem(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>{}</h1>\n<p>{}</p>\n<p><a href=\"/\">All SLOs</a></p>\n",
        status.as_u16(),
        html::esc(message)
    );
    html(
        status,
        html::page(
            status.canonical_reason().unwrap_or("Error"),
            html::Nav::None,
            false,
            &body,
        ),
    )
}

/// Run a store read off the async runtime; errors become a 500 page.
async fn read_store<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&crate::store::Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot read the history store: {e}"),
        )),
        Err(e) => Err(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("history store task failed: {e}"),
        )),
    }
}

async fn index(State(state): State<AppState>) -> Response {
    html(StatusCode::OK, slos::list_page(&state.board.current()))
}

async fn slo(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let status = state.board.current();
    let Some(s) = status.slos.iter().find(|s| s.id == id) else {
        return if status.evaluated_at.is_none() {
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "No evaluation has run yet: burnwatch is still backfilling SLI history.",
            )
        } else {
            problem(StatusCode::NOT_FOUND, &format!("There is no SLO {id:?}."))
        };
    };
    let now = Utc::now();
    let from = now - slos::SLO_TRANSITIONS_SINCE;
    let wanted = id.clone();
    let transitions = match read_store(&state, move |st| {
        st.alert_transitions(from, now + TimeDelta::minutes(1))
    })
    .await
    {
        Ok(all) => all
            .into_iter()
            .filter(|t| t.slo_id == wanted)
            .collect::<Vec<_>>(),
        Err(r) => return r,
    };
    let histories = state.board.histories();
    html(
        StatusCode::OK,
        slos::slo_page(
            s,
            status.evaluated_at,
            histories.slos.get(&id),
            &transitions,
        ),
    )
}

async fn alerts(State(state): State<AppState>) -> Response {
    let now = Utc::now();
    let since = now - ALERTS_SINCE;
    match read_store(&state, move |st| {
        st.alert_transitions(since, now + TimeDelta::minutes(1))
    })
    .await
    {
        Ok(transitions) => html(
            StatusCode::OK,
            history::alerts_page(
                &state.board.current(),
                &state.board.probe_alerts(),
                &transitions,
                since,
            ),
        ),
        Err(r) => r,
    }
}

async fn probes(State(state): State<AppState>) -> Response {
    let now = Utc::now();
    let since = now - PROBES_SINCE;
    let from = crate::probe::model::format_ts(since);
    let to = crate::probe::model::format_ts(now + TimeDelta::minutes(1));
    match read_store(&state, move |st| st.list_probe_run_json(&from, &to, None)).await {
        Ok(rows) => {
            // Newest first; a row that does not parse is skipped rather than failing the page.
            let runs: Vec<ProbeRun> = rows
                .iter()
                .rev()
                .filter_map(|j| serde_json::from_str(j).ok())
                .take(PROBES_MAX)
                .collect();
            html(StatusCode::OK, history::probes_page(&runs, since))
        }
        Err(r) => r,
    }
}

async fn probe(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let wanted = id.clone();
    match read_store(&state, move |st| st.get_probe_run(&wanted)).await {
        Ok(Some(run)) => html(StatusCode::OK, history::probe_page(&run)),
        Ok(None) => problem(
            StatusCode::NOT_FOUND,
            &format!("There is no probe run {id:?}."),
        ),
        Err(r) => r,
    }
}

async fn runbook(Path(file): Path<String>) -> Response {
    match runbooks::runbook_page(&file) {
        Some(page) => html(StatusCode::OK, page),
        None => problem(
            StatusCode::NOT_FOUND,
            &format!("There is no runbook {file:?} in this burnwatch build."),
        ),
    }
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        CSS,
    )
        .into_response()
}

async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        FAVICON,
    )
        .into_response()
}

#[cfg(test)]
mod tests;
