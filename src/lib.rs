//! burnwatch: an SLO engine and on-call companion.
//!
//! The modules follow the data flow (see `ARCHITECTURE.md`):
//! `spec` (SLO specs in) → `rules` (Prometheus rules out) and
//! `source` → `window` → `eval` → `notify` / `store` / `http`, plus `probe`.
#![warn(missing_docs)]

pub mod cli;
pub mod source;
pub mod spec;
pub mod store;
