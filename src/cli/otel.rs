//! Optional OTLP trace export: the spans burnwatch already emits (one per evaluation tick,
//! per source poll and API call, per probe run and probe step) sent to an OpenTelemetry
//! collector over OTLP/HTTP (protobuf).
//!
//! Off unless configured, by `--otlp-endpoint URL` or the standard environment variables
//! (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT`); when off, no
//! exporter, thread or HTTP client exists. Spans are batched on the SDK's own thread with
//! the blocking reqwest client (the async client has no reactor there and drops every
//! span), and [`OtelGuard`] flushes the batch when the command ends, including after a
//! graceful SIGTERM stop of `burnwatch run`.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// The service name when neither `OTEL_SERVICE_NAME` nor `service.name` in
/// `OTEL_RESOURCE_ATTRIBUTES` names one.
pub const DEFAULT_SERVICE_NAME: &str = "burnwatch";

/// How long the final flush may delay the exit when the collector is slow or down.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Which spans go to the collector: burnwatch's own, at info level. Dependencies' spans
/// (AWS SDK, hyper) stay out; `BURNWATCH_LOG` does not change this, so quieter logs do
/// not silently stop the traces.
pub const TRACE_FILTER: &str = "burnwatch=info";

/// The resolved export target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The full URL spans are POSTed to (ends in `/v1/traces` unless given verbatim by
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
    pub url: String,
    /// Where it came from (`--otlp-endpoint` or the variable's name), for error messages.
    pub from: &'static str,
}

/// Where traces go, from the `--otlp-endpoint` flag and the environment (`env` looks a
/// variable up; empty counts as unset). `Ok(None)`: export is off.
///
/// Order, following the OTLP exporter specification: the flag (a collector base URL;
/// `/v1/traces` is appended), else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is),
/// else `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` appended). The environment is
/// ignored when `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`; the flag is an
/// explicit request and always wins. Errors name the setting and the fix.
pub fn resolve(
    flag: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Target>, String> {
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let target = if let Some(base) = flag {
        Target {
            url: with_traces_path("--otlp-endpoint", base)?,
            from: "--otlp-endpoint",
        }
    } else {
        let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim() == "true")
            || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim() == "none");
        if disabled {
            return Ok(None);
        }
        if let Some(url) = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            check_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &url)?;
            Target {
                url: url.trim().to_string(),
                from: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            }
        } else if let Some(base) = var("OTEL_EXPORTER_OTLP_ENDPOINT") {
            Target {
                url: with_traces_path("OTEL_EXPORTER_OTLP_ENDPOINT", &base)?,
                from: "OTEL_EXPORTER_OTLP_ENDPOINT",
            }
        } else {
            return Ok(None);
        }
    };
    for name in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Some(p) = var(name)
            && p.trim() != "http/protobuf"
        {
            return Err(format!(
                "{name}={p:?}: burnwatch exports traces over OTLP/HTTP with protobuf only; \
                 unset it or set http/protobuf, and point the endpoint at the collector's \
                 HTTP port (4318 by default)"
            ));
        }
    }
    Ok(Some(target))
}

/// `base` + `/v1/traces`, the way the OTLP exporter specification builds signal URLs.
fn with_traces_path(from: &str, base: &str) -> Result<String, String> {
    check_url(from, base)?;
    Ok(format!("{}/v1/traces", base.trim().trim_end_matches('/')))
}

/// An absolute http(s) URL with a host, or an error that shows a good one.
fn check_url(from: &str, value: &str) -> Result<(), String> {
    // Never echo credentials someone put in the URL (`https://user:token@collector`).
    let shown = match value.rsplit_once('@') {
        Some((before, after)) if before.contains("://") => {
            let scheme = before.split("://").next().unwrap_or_default();
            format!("{scheme}://<redacted>@{after}")
        }
        _ => value.to_string(),
    };
    let bad = |why: String| {
        format!(
            "{from}: {shown:?} is not a collector URL such as http://otel-collector:4318 ({why})"
        )
    };
    let url = reqwest::Url::parse(value.trim()).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!("scheme {:?}; use http or https", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host".into()));
    }
    Ok(())
}

/// The resource every span carries: `service.name` (`OTEL_SERVICE_NAME`, else
/// [`DEFAULT_SERVICE_NAME`]), `service.version`, and `OTEL_RESOURCE_ATTRIBUTES`.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let named = detected
        .get(&opentelemetry::Key::new("service.name"))
        .is_some_and(|v| !v.as_str().starts_with("unknown_service"));
    let builder = Resource::builder().with_attribute(opentelemetry::KeyValue::new(
        "service.version",
        env!("CARGO_PKG_VERSION"),
    ));
    if named {
        builder.build()
    } else {
        builder.with_service_name(DEFAULT_SERVICE_NAME).build()
    }
}

/// A tracer provider batching spans to `target`. Headers, timeout, compression and batch
/// settings still come from the standard `OTEL_EXPORTER_OTLP_*` and `OTEL_BSP_*`
/// variables, the sampler from `OTEL_TRACES_SAMPLER`.
pub fn provider(target: &Target) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(target.url.clone())
        .build()
        .map_err(|e| format!("{}: cannot set up the OTLP exporter: {e}", target.from))?;
    Ok(SdkTracerProvider::builder()
        .with_resource(resource())
        .with_batch_exporter(exporter)
        .build())
}

/// The tracer the `tracing` layer records into.
pub fn tracer(provider: &SdkTracerProvider) -> opentelemetry_sdk::trace::Tracer {
    provider.tracer("burnwatch")
}

/// Flushes and stops the exporter when the command ends (explicitly or on drop), so the
/// spans of a short `probe db` and the last ticks before a SIGTERM are not lost.
#[derive(Debug)]
pub struct OtelGuard {
    provider: Option<SdkTracerProvider>,
}

impl OtelGuard {
    /// Guard `provider`.
    pub fn new(provider: SdkTracerProvider) -> Self {
        OtelGuard {
            provider: Some(provider),
        }
    }

    /// Export what is batched and stop the exporter (at most [`SHUTDOWN_TIMEOUT`]).
    pub fn shutdown(mut self) {
        self.flush();
    }

    fn flush(&mut self) {
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown_with_timeout(SHUTDOWN_TIMEOUT)
        {
            eprintln!("burnwatch: warning: OTLP traces not flushed at exit: {e}");
        }
    }
}

impl Drop for OtelGuard {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn url(flag: Option<&str>, pairs: &[(&str, &str)]) -> Option<String> {
        resolve(flag, env(pairs)).unwrap().map(|t| t.url)
    }

    #[test]
    fn off_unless_configured() {
        assert_eq!(url(None, &[]), None);
        assert_eq!(url(None, &[("OTEL_EXPORTER_OTLP_ENDPOINT", "  ")]), None);
        assert_eq!(url(None, &[("OTEL_SERVICE_NAME", "x")]), None);
    }

    #[test]
    fn generic_endpoint_gets_the_signal_path_and_the_traces_one_is_verbatim() {
        assert_eq!(
            url(None, &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]).as_deref(),
            Some("http://c:4318/v1/traces")
        );
        assert_eq!(
            url(None, &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c/otlp/")]).as_deref(),
            Some("https://c/otlp/v1/traces")
        );
        assert_eq!(
            url(
                None,
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
                    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/custom"),
                ]
            )
            .as_deref(),
            Some("http://c:4318/custom")
        );
    }

    #[test]
    fn the_flag_wins_and_is_a_base_url() {
        let pairs = [
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://env:4318/x"),
            ("OTEL_SDK_DISABLED", "true"),
        ];
        assert_eq!(
            url(Some("http://flag:4318/"), &pairs).as_deref(),
            Some("http://flag:4318/v1/traces")
        );
    }

    #[test]
    fn standard_switches_turn_env_configuration_off() {
        for off in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            assert_eq!(
                url(
                    None,
                    &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), off]
                ),
                None,
                "{off:?}"
            );
        }
        assert!(
            url(
                None,
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                    ("OTEL_SDK_DISABLED", "false")
                ]
            )
            .is_some()
        );
    }

    #[test]
    fn bad_urls_and_protocols_name_the_setting() {
        for (flag, pairs, needle) in [
            (Some("collector:4318"), vec![], "--otlp-endpoint"),
            (Some("not a url"), vec![], "--otlp-endpoint"),
            (
                None,
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://c")],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                None,
                vec![("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://")],
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            ),
            (
                Some("http://c:4317"),
                vec![("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ),
        ] {
            let err = resolve(flag, env(&pairs)).unwrap_err();
            assert!(err.starts_with(needle), "{err}");
        }
        let err = resolve(Some("collector:4318"), env(&[])).unwrap_err();
        assert!(err.contains("http://otel-collector:4318"), "{err}");
    }
}
