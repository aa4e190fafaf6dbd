//! What every function builds once per cold start: the configuration from the environment,
//! the AWS SDK configuration, the secret sources, and from them either the routes'
//! dependencies or the token verifier. Each `functions/<name>/src/main.rs` is a few lines
//! over this crate, so the eleven functions cannot drift apart in how they start.
//!
//! Nothing here is fetched per request: a warm invocation reuses what the cold start built.

use std::process::ExitCode;
use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use tracing::{error, info};

use cosigner_api::{AppKeys, AuthError, Authenticator, CredentialRefresh, Deps, DepsError, lambda};
use cosigner_core::{Config, ConfigError, SecretError, SecretSource, SystemClock};
use cosigner_cos_client::{ClientError, CosClient, CosSettings};
use cosigner_secrets::{ConfiguredSecrets, from_config};
use cosigner_table::DynamoFileTable;

/// The name under which the HS256 signing secret is kept with the app's secrets.
pub const JWT_SECRET: &str = "jwt_secret";

/// The dependencies of every route function in production and under the local runtime.
pub type RouteDeps = Deps<DynamoFileTable, CosClient, SystemClock>;

/// Why a function could not start. Its `Display` is the one line the function logs
/// before it exits.
#[derive(Debug, thiserror::Error)]
pub enum ColdStartError {
    /// Environment variables are missing or bad (all of them are listed).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The COS key pair could not be read from its store.
    #[error("the COS credentials could not be read (COS_CREDENTIALS)")]
    CosCredentials(#[source] SecretError),
    /// The app's own secrets could not be read from their store.
    #[error("the app secrets could not be read (APP_SECRETS)")]
    AppSecrets(#[source] SecretError),
    /// The COS client could not be built from the settings.
    #[error("the COS client could not be built")]
    CosClient(#[source] ClientError),
    /// The routes' dependencies could not be built.
    #[error("the route dependencies could not be built")]
    Deps(#[source] DepsError),
    /// The token verifier could not be built.
    #[error("the token verifier could not be built")]
    Auth(#[source] AuthError),
}

/// The configuration and the clients a function starts from.
pub struct Environment {
    /// The checked configuration.
    pub config: Config,
    /// The AWS SDK configuration: region, credentials and, for local runs,
    /// `AWS_ENDPOINT_URL`, all from the environment.
    pub aws: SdkConfig,
    /// The secret sources `COS_CREDENTIALS` and `APP_SECRETS` name.
    pub secrets: Arc<ConfiguredSecrets>,
}

impl Environment {
    /// Reads the configuration and prepares the clients; fetches nothing yet.
    ///
    /// # Errors
    ///
    /// [`ColdStartError::Config`] listing every missing or bad variable.
    pub async fn load() -> Result<Self, ColdStartError> {
        let config = Config::from_env()?;
        // The SDK reads AWS_REGION, the credentials and AWS_ENDPOINT_URL itself; the last is
        // how local runs reach moto_server instead of AWS.
        let aws = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let secrets = Arc::new(from_config(&config, &aws));
        Ok(Self {
            config,
            aws,
            secrets,
        })
    }

    /// The routes' dependencies: the table, the COS client signing with the credentials
    /// from the store, the app's keys, and a refetch of the credentials for when COS says
    /// they were rotated.
    ///
    /// # Errors
    ///
    /// A [`ColdStartError`] naming the secret or client that failed.
    pub async fn route_deps(self) -> Result<RouteDeps, ColdStartError> {
        let Self {
            config,
            aws,
            secrets,
        } = self;

        let credentials = secrets
            .cos_credentials()
            .await
            .map_err(ColdStartError::CosCredentials)?;
        let keys = AppKeys::fetch(secrets.as_ref())
            .await
            .map_err(ColdStartError::AppSecrets)?;
        let store = CosClient::new(&CosSettings::from_config(&config), credentials.clone())
            .map_err(ColdStartError::CosClient)?;
        let table = DynamoFileTable::new(aws_sdk_dynamodb::Client::new(&aws), &config.table_name);

        let refresh = CredentialRefresh::from_source(secrets, |store: &CosClient, fresh| {
            store.set_credentials(fresh);
        });
        let deps = Deps::new(config, table, store, SystemClock, credentials, keys)
            .map_err(ColdStartError::Deps)?;
        Ok(deps.with_credential_refresh(refresh))
    }

    /// The token verifier: HS256 with the app's `jwt_secret` when the store has one, and
    /// RS256/ES256 through `AUTH_JWKS_URL` when it is set.
    ///
    /// # Errors
    ///
    /// [`ColdStartError::AppSecrets`] when the secret store fails (a missing `jwt_secret` is
    /// fine when a JWKS is configured), [`ColdStartError::Auth`] when neither is there.
    pub async fn authenticator(&self) -> Result<Authenticator, ColdStartError> {
        let jwt_secret = match self.secrets.secret(JWT_SECRET).await {
            Ok(secret) => Some(secret),
            Err(SecretError::Missing(_)) if self.config.jwt.jwks_url.is_some() => None,
            Err(err) => return Err(ColdStartError::AppSecrets(err)),
        };
        let authenticator =
            Authenticator::new(&self.config.jwt, jwt_secret).map_err(ColdStartError::Auth)?;
        info!(algorithms = ?authenticator.accepted_algorithms(), "token verifier ready");
        Ok(authenticator)
    }
}

/// Starts a route function: tracing, then the dependencies.
///
/// # Errors
///
/// As [`Environment::load`] and [`Environment::route_deps`].
pub async fn route_deps() -> Result<RouteDeps, ColdStartError> {
    lambda::init_tracing();
    Environment::load().await?.route_deps().await
}

/// Starts the authorizer: tracing, then the token verifier.
///
/// # Errors
///
/// As [`Environment::load`] and [`Environment::authenticator`].
pub async fn authenticator() -> Result<Authenticator, ColdStartError> {
    lambda::init_tracing();
    // Limitation: the authorizer reads the whole configuration, so it needs the COS and
    // table variables it never uses; one environment for every function keeps the
    // deployment template simple.
    Environment::load().await?.authenticator().await
}

/// Logs why the function could not start, in one line, and gives the exit code. Lambda
/// reports the exit as an init error, and the line says what to fix.
pub fn failed(err: &ColdStartError) -> ExitCode {
    let cause = cosigner_api::cause_chain(err);
    error!(cause, "the function cannot start");
    ExitCode::FAILURE
}

/// The exit code once the runtime loop ends (it only ends when the Runtime API fails).
pub fn finished(outcome: Result<(), lambda_http::Error>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            error!(cause = %err, "the Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}
