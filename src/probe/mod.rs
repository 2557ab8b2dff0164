//! Probes: active checks that answer "which layer is broken?" during an incident and keep
//! the evidence for the postmortem.
//!
//! Today there is one kind, the layered database connectivity probe ([`db`]): DNS → TCP →
//! TLS → auth → query → saturation → RDS control plane. Every probe produces a
//! [`ProbeRun`], whose JSON form is the public `probe --json` contract (see
//! `design.md`), which the history store keeps verbatim and the daemon turns into metrics
//! (`burnwatch_probe_success`, per-step durations, the classification) and alerts.
//!
//! The [`Probe`] trait is the boundary the daemon schedules against, so tests and replay
//! can plug in their own probes without mocking the network.

pub mod db;
pub mod model;

use std::future::Future;
use std::pin::Pin;

pub use model::{Classification, ProbeRun, StepName, StepResult, new_run_id};

/// A boxed future, so [`Probe`] stays object-safe (the daemon keeps a
/// `Vec<Box<dyn Probe>>` and runs each on its own interval).
pub type ProbeFuture<'a> = Pin<Box<dyn Future<Output = ProbeRun> + Send + 'a>>;

/// One probe target that can be run repeatedly.
///
/// Contract for implementors:
/// - [`Probe::run`] never fails and never panics on anything the network or the server
///   does: every problem becomes a failed step in the returned [`ProbeRun`], classified
///   with the fixed vocabulary of [`Classification`].
/// - A run finishes within [`Probe::budget`] (the sum of its step timeouts) plus scheduling
///   noise, whatever the remote side does (hangs, half-open connections, slow DNS).
/// - The returned run contains no secret (passwords, tokens, secret values) anywhere,
///   because it is printed, logged, stored and served over HTTP as is.
/// - Each call is independent: DNS is re-resolved and connections are new, so a failover
///   shows up in the very next run.
pub trait Probe: Send + Sync {
    /// The target's name, as it appears in `ProbeRun::target`, metrics labels and alerts.
    fn name(&self) -> &str;
    /// The longest a run may take (sum of the step timeouts); schedulers use it to pick an
    /// interval that cannot overlap runs.
    fn budget(&self) -> std::time::Duration;
    /// Run every step once and report what was found.
    fn run(&self) -> ProbeFuture<'_>;
}
