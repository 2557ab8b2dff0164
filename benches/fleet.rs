//! A synthetic fleet of SLOs over the built-in CloudWatch plugins, shared by the planner
//! benchmark and the planner test (`tests/it/sources/planner.rs`), so that the figures in
//! the README come from the same SLOs the test checks.
//!
//! Every resource is used by two SLOs (as on the platform: an availability SLO at two
//! objectives, an upload SLO with and without 4xx, a ratio by total and by good events),
//! so deduplication matters.

#![allow(dead_code)]

use std::collections::BTreeMap;

use burnwatch::spec::Slo;
use burnwatch::spec::model::{Sli, SourceRef};
use burnwatch::spec::plugins::PluginSli;

fn slo(id: String, plugin_id: &str, options: &[(&str, String)]) -> Slo {
    let opts = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let plugin = match PluginSli::parse(plugin_id, &opts) {
        Ok(p) => p,
        Err(e) => panic!("fleet plugin {plugin_id}: {e:?}"),
    };
    Slo {
        id: id.clone(),
        service: "fleet".into(),
        name: id,
        description: String::new(),
        objective: 99.9,
        labels: BTreeMap::new(),
        sli: Sli::Plugin(plugin),
        page_alert: None,
        ticket_alert: None,
        period: None,
        source: SourceRef::default(),
    }
}

/// `n` SLOs (n a multiple of 10): 30 % ALB, 20 % S3, 20 % metric-ratio, 20 % Step
/// Functions success, 10 % Batch job success (native metrics).
pub fn fleet(n: usize) -> Vec<Slo> {
    let mut out = Vec::with_capacity(n);
    let unit = n / 10;
    for i in 0..3 * unit {
        let four = if i % 2 == 1 { "true" } else { "false" };
        out.push(slo(
            format!("alb-{i}"),
            "burnwatch/cloudwatch/alb-availability/v1",
            &[
                (
                    "load_balancer",
                    format!("app/lb-{}/0123456789abcdef", i / 2),
                ),
                ("count_4xx_as_errors", four.into()),
            ],
        ));
    }
    for i in 0..2 * unit {
        let four = if i % 2 == 1 { "true" } else { "false" };
        out.push(slo(
            format!("s3-{i}"),
            "burnwatch/cloudwatch/s3-requests/v1",
            &[
                ("bucket", format!("uploads-{}", i / 2)),
                ("filter_id", "uploads".into()),
                ("count_4xx_as_errors", four.into()),
            ],
        ));
    }
    for i in 0..2 * unit {
        let total = if i % 2 == 0 {
            ("total_metric", "UploadsAttempted".to_string())
        } else {
            ("good_metrics", "UploadsSucceeded".to_string())
        };
        out.push(slo(
            format!("ratio-{i}"),
            "burnwatch/cloudwatch/metric-ratio/v1",
            &[
                ("namespace", "MassSpec/API".into()),
                ("error_metrics", "UploadsFailed".into()),
                total,
                ("dimensions", format!("Service=svc-{}", i / 2)),
            ],
        ));
    }
    for i in 0..2 * unit {
        out.push(slo(
            format!("sfn-{i}"),
            "burnwatch/stepfunctions/success/v1",
            &[(
                "state_machine_arn",
                format!(
                    "arn:aws:states:eu-west-1:123456789012:stateMachine:sm-{}",
                    i / 2
                ),
            )],
        ));
    }
    for i in 0..unit {
        out.push(slo(
            format!("batch-{i}"),
            "burnwatch/batch/job-success/v1",
            &[("job_queue", format!("queue-{i}"))],
        ));
    }
    out
}
