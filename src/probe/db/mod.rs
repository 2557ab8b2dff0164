//! The layered database connectivity probe: answers "the application cannot reach its
//! database — which layer is broken?" in seconds, names the runbook section, and leaves a
//! record for the postmortem.
//!
//! Layers, one file each, each with its own error type and timeout:
//! [`dns`] → [`tcp`] → [`tls`] → [`auth`] → [`query`] → [`saturation`] → [`rds`].
//! [`classify`] maps failures to the fixed vocabulary, [`run`] sequences the steps,
//! [`target`] is the configuration (YAML `probes:` list or a libpq URL), [`schedule`] the
//! daemon's per-target `interval` and `alert` settings.
//!
//! Entry point: [`run_probe`]. Architecture invariant: nothing here writes history or
//! prints; callers (CLI, daemon) decide what to do with the [`crate::probe::ProbeRun`].

pub mod auth;
pub mod aws;
pub mod cert;
pub mod classify;
pub mod dns;
pub mod query;
pub mod rds;
pub mod run;
pub mod saturation;
pub mod schedule;
pub mod target;
pub mod tcp;
pub mod tls;

pub use run::{DbProbe, ProbeOutcome, run_probe, run_probe_outcome};
pub use target::{PasswordSource, ProbeTarget, SessionAttrs, SslMode, StepTimeouts};
