//! The one integration-test binary (one link step instead of one per file). Each module
//! covers one theme and talks to real components started by `scripts/test.sh`.

mod daemon;
mod daemon_e2e;
mod daemon_sources;
mod dashboards;
mod ha_pair;
mod hardening;
mod http;
mod mwmb_model;
mod notify;
mod otlp;
mod pg;
mod probe_aws;
mod probe_cli;
mod probe_daemon;
mod probe_db;
mod procs;
mod promtool;
mod promtool_harness;
mod readiness;
mod replay;
mod retention;
mod rules;
mod runbooks;
mod sources;
mod store_fault;
mod store_lock;
mod support;
mod timeline;
mod validate;
mod watchdog;
mod web_e2e;
