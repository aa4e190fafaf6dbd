//! The sources a configuration names: one for the COS key pair, one for the app's
//! secrets, each the environment, Secrets Manager or SSM.

use aws_config::SdkConfig;
use cos_sign::{Credentials, Secret};
use cosigner_core::{Config, CredentialSource, SecretError, SecretSource};

use crate::{EnvSecrets, SecretsManagerSecrets, SsmSecrets};

/// One source of secrets, whichever kind the configuration chose.
#[derive(Debug, Clone)]
pub enum SecretBackend {
    /// Environment variables.
    Env(EnvSecrets),
    /// A Secrets Manager secret.
    SecretsManager(SecretsManagerSecrets),
    /// An SSM parameter.
    Ssm(SsmSecrets),
}

impl SecretBackend {
    /// The backend for `source`; the AWS ones get clients made from `aws`.
    pub fn new(source: &CredentialSource, aws: &SdkConfig) -> Self {
        match source {
            CredentialSource::Env => Self::Env(EnvSecrets::from_env()),
            CredentialSource::SecretsManager(id) => {
                Self::SecretsManager(SecretsManagerSecrets::from_sdk_config(aws, id))
            }
            CredentialSource::Ssm(name) => Self::Ssm(SsmSecrets::from_sdk_config(aws, name)),
        }
    }
}

impl SecretSource for SecretBackend {
    async fn cos_credentials(&self) -> Result<Credentials, SecretError> {
        match self {
            Self::Env(env) => env.cos_credentials().await,
            Self::SecretsManager(store) => store.cos_credentials().await,
            Self::Ssm(store) => store.cos_credentials().await,
        }
    }

    async fn secret(&self, name: &str) -> Result<Secret, SecretError> {
        match self {
            Self::Env(env) => env.secret(name).await,
            Self::SecretsManager(store) => store.secret(name).await,
            Self::Ssm(store) => store.secret(name).await,
        }
    }
}

/// The COS key pair from one backend and the named secrets from another, as
/// `COS_CREDENTIALS` and `APP_SECRETS` say.
#[derive(Debug, Clone)]
pub struct ConfiguredSecrets {
    cos: SecretBackend,
    app: SecretBackend,
}

impl ConfiguredSecrets {
    /// Pairs a backend for the COS key pair with one for the named secrets.
    pub fn new(cos: SecretBackend, app: SecretBackend) -> Self {
        Self { cos, app }
    }
}

/// The secret sources `config` names. Nothing is fetched yet; wrap the result in
/// [`CachedSecrets`](crate::CachedSecrets) to fetch once per cold start.
///
/// `aws` is only used when a source is Secrets Manager or SSM.
pub fn from_config(config: &Config, aws: &SdkConfig) -> ConfiguredSecrets {
    ConfiguredSecrets::new(
        SecretBackend::new(&config.cos_credentials, aws),
        SecretBackend::new(&config.app_secrets, aws),
    )
}

impl SecretSource for ConfiguredSecrets {
    async fn cos_credentials(&self) -> Result<Credentials, SecretError> {
        self.cos.cos_credentials().await
    }

    async fn secret(&self, name: &str) -> Result<Secret, SecretError> {
        self.app.secret(name).await
    }
}
