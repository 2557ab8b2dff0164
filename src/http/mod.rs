//! burnwatch's HTTP server (axum): `/metrics`, health and readiness, and the JSON API.
//!
//! | route | what |
//! |---|---|
//! | `GET /healthz` | 200 while the process serves requests |
//! | `GET /readyz` | 200 once backfill finished and the first evaluation published the SLO series, else 503 |
//! | `GET /metrics` | Prometheus text: Sloth-named SLO series and `burnwatch_*` ([`crate::telemetry`]) |
//! | `GET /api/v1/slos`, `/api/v1/slos/{id}` | SLIs, burn rates, budget, alert state per SLO |
//! | `GET /api/v1/alerts` | firing and pending alerts |
//! | `GET /api/v1/outbox` | notifications waiting for their receiver |
//! | `POST /api/v1/outbox/flush` | retry every waiting notification now (bearer token) |
//! | `GET /`, `/slo/{id}`, `/alerts`, `/probes[/{id}]`, `/runbooks/{file}` | the web view (`web/`) |
//!
//! Everything that changes state sits behind [`auth::require_token`]. The server binds
//! 127.0.0.1 by default; JSON shapes are converted here from the [`StatusBoard`] and the
//! store (wire types live at the edge).

mod api;
pub mod auth;
mod web;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::config::Secret;
use crate::notify::outbox::Outbox;
use crate::status::StatusBoard;
use crate::store::Store;
use crate::telemetry::Telemetry;

/// Whether the daemon is ready (backfill done, evaluation running). Shared by the
/// daemon, which sets it, and `/readyz`; mirrored in `burnwatch_ready`.
#[derive(Debug, Clone)]
pub struct Readiness {
    flag: Arc<AtomicBool>,
    telemetry: Telemetry,
}

impl Readiness {
    /// Not ready yet.
    pub fn new(telemetry: Telemetry) -> Self {
        telemetry.ready.set(0);
        Readiness {
            flag: Arc::new(AtomicBool::new(false)),
            telemetry,
        }
    }
    /// Mark ready (or not).
    pub fn set(&self, ready: bool) {
        self.flag.store(ready, Ordering::SeqCst);
        self.telemetry.ready.set(i64::from(ready));
    }
    /// True once marked ready.
    pub fn is_ready(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// What the handlers read.
#[derive(Clone)]
pub struct AppState {
    /// The published SLO status.
    pub board: StatusBoard,
    /// Metrics.
    pub telemetry: Telemetry,
    /// Readiness flag.
    pub readiness: Readiness,
    /// The history store.
    pub store: Arc<Store>,
    /// The outbox, to wake after a flush.
    pub outbox: Arc<Outbox>,
    /// Bearer token for state-changing endpoints; `None` disables them.
    pub token: Option<Secret>,
    /// Where the token comes from, for the "disabled" message.
    pub token_env: String,
    /// Base URL for links (`generatorURL`s point at `/api/v1/slos/{id}` under it).
    pub external_url: String,
}

/// All routes.
pub fn router(state: AppState) -> Router {
    let guarded = Router::new()
        .route("/api/v1/outbox/flush", post(api::flush_outbox))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/slos", get(api::slos))
        .route("/api/v1/slos/{id}", get(api::slo))
        .route("/api/v1/alerts", get(api::alerts))
        .route("/api/v1/outbox", get(api::outbox))
        .route("/api/v1/probes", get(api::probes))
        .route("/api/v1/probes/{id}", get(api::probe))
        .merge(web::routes())
        .merge(guarded)
        .fallback(api::not_found)
        .layer(axum::middleware::map_response(nosniff))
        .with_state(state)
}

/// `X-Content-Type-Options: nosniff` on every response (the web view's pages set it
/// too): JSON error bodies echo paths and stored strings, and a browser must never sniff
/// one of them into HTML.
async fn nosniff(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    r
}

/// Serve `router(state)` on `listener` until `shutdown` completes; in-flight requests
/// finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.readiness.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: backfilling SLI history\n",
        )
            .into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    match state.telemetry.encode() {
        Ok(text) => (
            [(header::CONTENT_TYPE, crate::telemetry::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n").into_response(),
    }
}

#[cfg(test)]
mod tests;
