//! Any bytes as the body of every `GetMetricData` response, through the real SDK client
//! (its XML decoding), the fetcher (pagination, statuses) and the plugins that turn
//! datapoints into SLO events, for the repository's own specs. What comes out must be
//! valid events: finite, `0 ≤ good ≤ total`, bucketed inside the polled range.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::test_util::infallible_client_fn;
use burnwatch::source::cloudwatch::fetch::FetchSettings;
use burnwatch::source::cloudwatch::{CloudWatchSettings, CloudWatchSource};
use burnwatch::source::retry::RetryPolicy;
use burnwatch::source::{Source, SourceBatch};
use burnwatch::spec::{Duration, LoadOptions, Slo};
use chrono::{DateTime, TimeDelta, Utc};
use libfuzzer_sys::fuzz_target;

fn slos() -> &'static Vec<Slo> {
    static SLOS: OnceLock<Vec<Slo>> = OnceLock::new();
    SLOS.get_or_init(|| {
        let specs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../slo-specs");
        let loaded = burnwatch::spec::load_paths(&[specs], &LoadOptions::default());
        assert!(!loaded.has_errors(), "slo-specs/ must load");
        loaded.slos().cloned().collect()
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let body = data.to_vec();
    let http = infallible_client_fn(move |_req| {
        http::Response::builder()
            .status(200)
            .header("content-type", "text/xml")
            .body(body.clone())
            .expect("a response")
    });
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-central-1"))
        .credentials_provider(Credentials::for_tests())
        .http_client(http)
        .build();
    let client = aws_sdk_cloudwatch::Client::from_conf(config);
    let settings = CloudWatchSettings {
        backfill: Some(Duration::from_mins(30)),
        fetch: FetchSettings {
            retry: RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
            max_pages: 3,
            ..FetchSettings::default()
        },
        ..CloudWatchSettings::default()
    };
    let mut source =
        CloudWatchSource::new(client, slos(), &|_| true, Duration::from_days(30), settings);
    let now: DateTime<Utc> = DateTime::from_timestamp(1_795_000_000, 0).expect("a time");
    let mut sink: Vec<SourceBatch> = Vec::new();
    let report = runtime().block_on(source.poll(now, &mut sink));
    let (from, to) = (now - TimeDelta::days(31), now);
    for batch in &sink {
        for e in &batch.events {
            assert!(e.good.is_finite() && e.total.is_finite(), "{e:?}");
            assert!(0.0 <= e.good && e.good <= e.total, "{e:?}");
            assert!(e.bucket_start >= from && e.bucket_start < to, "{e:?}");
        }
    }
    let _ = report;
});
