//! AWS connection settings and SDK clients for the sources.
//!
//! Credentials always come from the standard AWS chain (environment, profile, web identity
//! token — which is how IRSA works on EKS —, ECS/EC2 metadata); burnwatch never reads keys
//! from its own configuration. The region and an endpoint URL (moto in tests, a VPC
//! endpoint in production) are configurable. The SDK's retry layer is disabled: sources
//! retry with [`super::retry`], which counts every attempt.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudwatch::config::retry::RetryConfig;

/// Where and as whom to call AWS.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AwsSettings {
    /// Region (`None`: from the environment/profile chain).
    pub region: Option<String>,
    /// Endpoint URL for every service (emulators, VPC endpoints); `None` for AWS.
    pub endpoint_url: Option<String>,
    /// Endpoint URL for CloudWatch only (e.g. `monitoring` VPC endpoint), overriding
    /// `endpoint_url`.
    pub cloudwatch_endpoint_url: Option<String>,
    /// Named profile (`None`: default chain).
    pub profile: Option<String>,
}

/// Load the shared SDK configuration. Behaviour is pinned to a dated version so an SDK
/// upgrade cannot silently change defaults.
pub async fn load(settings: &AwsSettings) -> SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::v2026_01_12()).retry_config(RetryConfig::disabled());
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile.clone());
    }
    loader.load().await
}

/// The AWS clients the sources use, built once from one [`SdkConfig`].
#[derive(Clone, Debug)]
pub struct Clients {
    /// CloudWatch (GetMetricData, ListMetrics).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Step Functions (ListExecutions).
    pub sfn: aws_sdk_sfn::Client,
    /// Batch (ListJobs).
    pub batch: aws_sdk_batch::Client,
    /// RDS (DescribeDBInstances, DescribeEvents).
    pub rds: aws_sdk_rds::Client,
}

impl Clients {
    /// Build every client from `sdk`, honouring a CloudWatch-only endpoint override.
    pub fn new(sdk: &SdkConfig, settings: &AwsSettings) -> Clients {
        let mut cw = aws_sdk_cloudwatch::config::Builder::from(sdk);
        if let Some(url) = &settings.cloudwatch_endpoint_url {
            cw = cw.endpoint_url(url.clone());
        }
        Clients {
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cw.build()),
            sfn: aws_sdk_sfn::Client::new(sdk),
            batch: aws_sdk_batch::Client::new(sdk),
            rds: aws_sdk_rds::Client::new(sdk),
        }
    }
}

/// Convert an SDK timestamp to chrono (sub-second precision kept).
pub fn to_chrono(t: &aws_smithy_types::DateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()).unwrap_or_default()
}

/// Convert a chrono time to an SDK timestamp.
pub fn to_smithy(t: chrono::DateTime<chrono::Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs_and_nanos(t.timestamp(), t.timestamp_subsec_nanos())
}
