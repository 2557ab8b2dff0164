//! AWS SDK configuration for the steps that call AWS (Secrets Manager in auth, IAM token
//! signing, the RDS control plane), built from the target's [`AwsSettings`].

use aws_config::{BehaviorVersion, Region, SdkConfig};

use super::target::AwsSettings;

/// The SDK configuration: default credential chain (environment, profile, IRSA web
/// identity, instance role), the target's region and endpoint override. Behaviour
/// version pinned so SDK upgrades do not silently change retries or timeouts.
pub async fn sdk_config(settings: &AwsSettings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::v2026_01_12());
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    loader.load().await
}

/// An AWS error with its whole cause chain on one line (service code and message),
/// without request ids' noise. AWS errors carry no credentials.
pub fn error_text<E: std::error::Error>(e: &E) -> String {
    aws_smithy_types::error::display::DisplayErrorContext(e).to_string()
}
