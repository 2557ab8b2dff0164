//! The bearer-token guard for state-changing endpoints.
//!
//! The token comes from the environment (`api.token_env`, default
//! `BURNWATCH_API_TOKEN`). Without a token every guarded request is refused (403): an
//! operator who never configured one has not opted in to remote changes. With a token, a
//! missing or wrong `Authorization: Bearer …` gets 401. The comparison takes the same time
//! wherever the first difference is, so response timing does not reveal the token.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Middleware: pass the request on only with the right bearer token.
pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(expected) = &state.token else {
        return (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({
                "error": format!(
                    "state-changing endpoints are disabled: set {} in burnwatch's environment",
                    state.token_env
                )
            })),
        )
            .into_response();
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), expected.expose().as_bytes()) => {
            next.run(req).await
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(serde_json::json!({"error": "missing or wrong bearer token"})),
        )
            .into_response(),
    }
}

/// Compare without an early exit. Lengths may differ (and that is revealed, as by every
/// such comparison); contents are compared in full.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn compares_whole_tokens() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
        // A prefix padded with NULs is not the token.
        assert!(!constant_time_eq(b"ab", b"ab\0"));
    }
}
