//! burnwatch: an SLO engine and on-call companion.
//!
//! The modules follow the data flow (see `ARCHITECTURE.md`):
//! `spec` (SLO specs in) → `rules` (Prometheus rules out) and
//! `source` → `window` → `eval` → `notify` / `store` / `http`, plus `probe`.
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod dashboard;
pub mod eval;
pub mod http;
pub mod notify;
pub mod pipeline;
pub mod probe;
pub mod replay;
pub mod report;
pub mod rules;
pub mod source;
pub mod spec;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod window;
