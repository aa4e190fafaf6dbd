//! The SDK configuration for a loopback endpoint, and the file table inside it.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use cosigner_table::DynamoFileTable;

use crate::LocalAwsError;

/// The region every local service is addressed in.
pub const REGION: &str = "us-east-1";

/// An SDK configuration for `endpoint` (a loopback URL) with static test credentials.
///
/// It is built field by field rather than through `aws_config::defaults`, so no provider
/// chain runs: no environment, profile file or instance metadata is read. Retries keep the
/// SDK's standard mode but with a short backoff, so a test of an unreachable server
/// fails in well under a second.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    let credentials = Credentials::new("testing", "testing", None, None, "cosigner-local-aws");
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(20))
                .with_max_backoff(Duration::from_millis(200)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                // moto takes requests one at a time: a burst of a few hundred queues up.
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        )
        .build()
}

/// Creates the file table `name` (with its index of pending uploads) and returns the
/// adapter over it.
///
/// # Errors
///
/// [`LocalAwsError::Table`] when the table cannot be created.
pub async fn create_file_table(
    config: &SdkConfig,
    name: &str,
) -> Result<DynamoFileTable, LocalAwsError> {
    let client = aws_sdk_dynamodb::Client::new(config);
    cosigner_table::create_table(&client, name)
        .await
        .map_err(|source| LocalAwsError::Table {
            name: name.to_owned(),
            source,
        })?;
    Ok(DynamoFileTable::new(client, name))
}
