//! The AWS secret stores: Secrets Manager and SSM Parameter Store.
//!
//! Each store holds one JSON object (see the crate's documentation); the COS key pair and
//! the named secrets are read from it. A store is asked on every call: caching is
//! [`CachedSecrets`](crate::CachedSecrets)'s job.

use aws_config::SdkConfig;
use cos_sign::{Credentials, Secret};
use cosigner_core::{SecretError, SecretSource};
use zeroize::Zeroizing;

use crate::shape;

// Limitation: the SDK's response keeps its own copy of the value, which is not zeroed
// when dropped; ours is.

/// Secrets in one AWS Secrets Manager secret (by name or ARN), as a JSON string.
#[derive(Debug, Clone)]
pub struct SecretsManagerSecrets {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl SecretsManagerSecrets {
    /// Reads the secret `secret_id` through `client`.
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }

    /// Reads the secret `secret_id` with a client made from `config`.
    pub fn from_sdk_config(config: &SdkConfig, secret_id: impl Into<String>) -> Self {
        Self::new(aws_sdk_secretsmanager::Client::new(config), secret_id)
    }

    /// The current value of the secret.
    async fn fetch(&self) -> Result<Zeroizing<String>, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|err| {
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception())
                {
                    SecretError::Missing(self.secret_id.clone())
                } else {
                    SecretError::Unavailable(Box::new(err))
                }
            })?;
        output
            .secret_string()
            .map(|text| Zeroizing::new(text.to_owned()))
            .ok_or_else(|| {
                SecretError::Malformed(
                    self.secret_id.clone(),
                    "the secret holds binary data, not a JSON string".to_owned(),
                )
            })
    }
}

impl SecretSource for SecretsManagerSecrets {
    async fn cos_credentials(&self) -> Result<Credentials, SecretError> {
        let text = self.fetch().await?;
        shape::cos_credentials(&self.secret_id, &text)
    }

    async fn secret(&self, name: &str) -> Result<Secret, SecretError> {
        let text = self.fetch().await?;
        shape::named(&self.secret_id, &text, name)
    }
}

/// Secrets in one SSM parameter (by name or ARN), a `SecureString` holding JSON.
#[derive(Debug, Clone)]
pub struct SsmSecrets {
    client: aws_sdk_ssm::Client,
    name: String,
}

impl SsmSecrets {
    /// Reads the parameter `name` through `client`.
    pub fn new(client: aws_sdk_ssm::Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    /// Reads the parameter `name` with a client made from `config`.
    pub fn from_sdk_config(config: &SdkConfig, name: impl Into<String>) -> Self {
        Self::new(aws_sdk_ssm::Client::new(config), name)
    }

    /// The current, decrypted value of the parameter.
    async fn fetch(&self) -> Result<Zeroizing<String>, SecretError> {
        let output = self
            .client
            .get_parameter()
            .name(&self.name)
            // A SecureString comes back encrypted without this.
            .with_decryption(true)
            .send()
            .await
            .map_err(|err| {
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_parameter_not_found())
                {
                    SecretError::Missing(self.name.clone())
                } else {
                    SecretError::Unavailable(Box::new(err))
                }
            })?;
        output
            .parameter()
            .and_then(|p| p.value())
            .map(|text| Zeroizing::new(text.to_owned()))
            .ok_or_else(|| {
                SecretError::Malformed(self.name.clone(), "the parameter has no value".to_owned())
            })
    }
}

impl SecretSource for SsmSecrets {
    async fn cos_credentials(&self) -> Result<Credentials, SecretError> {
        let text = self.fetch().await?;
        shape::cos_credentials(&self.name, &text)
    }

    async fn secret(&self, name: &str) -> Result<Secret, SecretError> {
        let text = self.fetch().await?;
        shape::named(&self.name, &text, name)
    }
}
