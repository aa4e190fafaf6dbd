//! Everything a route needs, built once per cold start and shared by every request: the
//! configuration, the table, the object store, the clock, the URL signer with the server's COS
//! credentials, the server's own HMAC keys, and a way to refetch the COS credentials when COS
//! says they were rotated.
//!
//! ```text
//! let keys = AppKeys::fetch(&secrets).await?;
//! let credentials = secrets.cos_credentials().await?;
//! let deps = Deps::new(config, table, store, SystemClock, credentials, keys)?
//!     .with_credential_refresh(CredentialRefresh::from_source(
//!         Arc::new(secrets),
//!         |store: &CosClient, credentials| store.set_credentials(credentials),
//!     ));
//! let response = dispatch(&deps, caller, request).await;
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use cos_sign::{Credentials, Secret, SignError};
use cosigner_core::{Clock, Config, FileTable, ObjectStore, SecretError, SecretSource};

use crate::signer::UrlSigner;

/// A boxed, sendable future, as the credential refresh hook returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The names under which the server's own secrets are kept in the secret store.
pub const EVENT_SECRET: &str = "event_secret";
/// See [`EVENT_SECRET`].
pub const CURSOR_SECRET: &str = "cursor_secret";

/// The server's own keys: one authenticates relayed COS events, one protects list cursors.
///
/// `Debug` shows neither; both are zeroed on drop (they are [`Secret`]s).
#[derive(Clone)]
pub struct AppKeys {
    pub(crate) event_secret: Secret,
    pub(crate) cursor_secret: Secret,
}

impl AppKeys {
    /// Keys from their values.
    pub fn new(event_secret: Secret, cursor_secret: Secret) -> Self {
        Self {
            event_secret,
            cursor_secret,
        }
    }

    /// Reads `event_secret` and `cursor_secret` from the secret store.
    ///
    /// # Errors
    ///
    /// The [`SecretError`] of the first secret that could not be read.
    pub async fn fetch(source: &impl SecretSource) -> Result<Self, SecretError> {
        let event_secret = source.secret(EVENT_SECRET).await?;
        let cursor_secret = source.secret(CURSOR_SECRET).await?;
        Ok(Self::new(event_secret, cursor_secret))
    }
}

impl fmt::Debug for AppKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppKeys { .. }")
    }
}

type FetchCredentials =
    dyn Fn() -> BoxFuture<'static, Result<Credentials, SecretError>> + Send + Sync;
type ApplyCredentials<O> = dyn Fn(&O, Credentials) + Send + Sync;

/// How to recover from a rotated COS key: fetch the credentials again, and hand them to the
/// object store (the URL signer is updated by [`Deps`] itself).
pub struct CredentialRefresh<O> {
    fetch: Arc<FetchCredentials>,
    apply: Arc<ApplyCredentials<O>>,
}

impl<O> CredentialRefresh<O> {
    /// A refresh from a fetch function and a function that installs new credentials in the
    /// store (for `CosClient`, its `set_credentials`).
    pub fn new<F, A>(fetch: F, apply: A) -> Self
    where
        F: Fn() -> BoxFuture<'static, Result<Credentials, SecretError>> + Send + Sync + 'static,
        A: Fn(&O, Credentials) + Send + Sync + 'static,
    {
        Self {
            fetch: Arc::new(fetch),
            apply: Arc::new(apply),
        }
    }

    /// A refresh that reads [`SecretSource::cos_credentials`] again.
    pub fn from_source<S, A>(source: Arc<S>, apply: A) -> Self
    where
        S: SecretSource + 'static,
        A: Fn(&O, Credentials) + Send + Sync + 'static,
    {
        Self::new(
            move || {
                let source = Arc::clone(&source);
                Box::pin(async move { source.cos_credentials().await })
            },
            apply,
        )
    }
}

impl<O> Clone for CredentialRefresh<O> {
    fn clone(&self) -> Self {
        Self {
            fetch: Arc::clone(&self.fetch),
            apply: Arc::clone(&self.apply),
        }
    }
}

/// Deps could not be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    /// `COS_BUCKET`, `COS_REGION` or `COS_ENDPOINT` do not make a usable endpoint.
    #[error("the COS endpoint of the configuration is not usable")]
    Endpoint(#[source] SignError),
}

/// Everything a route needs. Build it once per cold start; share it by reference.
pub struct Deps<T: FileTable, O: ObjectStore, C: Clock> {
    /// The function's configuration.
    pub config: Config,
    /// The table of users and files.
    pub table: T,
    /// The server's own calls to COS.
    pub store: O,
    /// The time.
    pub clock: C,
    pub(crate) signer: UrlSigner,
    pub(crate) keys: AppKeys,
    refresh: Option<CredentialRefresh<O>>,
}

impl<T: FileTable, O: ObjectStore, C: Clock> Deps<T, O, C> {
    /// Dependencies over a table, a store and a clock, signing with `credentials`.
    ///
    /// Without [`Deps::with_credential_refresh`], a rotated COS key is a 502 until the next
    /// cold start.
    ///
    /// # Errors
    ///
    /// [`DepsError::Endpoint`] when the bucket, region or custom endpoint are not usable
    /// (the config loader already checks them, so this is a programming error).
    pub fn new(
        config: Config,
        table: T,
        store: O,
        clock: C,
        credentials: Credentials,
        keys: AppKeys,
    ) -> Result<Self, DepsError> {
        let signer = UrlSigner::from_config(&config, credentials).map_err(DepsError::Endpoint)?;
        Ok(Self {
            config,
            table,
            store,
            clock,
            signer,
            keys,
            refresh: None,
        })
    }

    /// Refetches the COS credentials through `refresh` when COS refuses the current ones.
    pub fn with_credential_refresh(mut self, refresh: CredentialRefresh<O>) -> Self {
        self.refresh = Some(refresh);
        self
    }

    /// Fetches the COS credentials again and installs them in the signer and the store.
    ///
    /// Returns `Ok(false)` when no refresh is configured.
    pub(crate) async fn refresh_credentials(&self) -> Result<bool, SecretError> {
        let Some(refresh) = &self.refresh else {
            return Ok(false);
        };
        let credentials = (refresh.fetch)().await?;
        self.signer.set_credentials(credentials.clone());
        (refresh.apply)(&self.store, credentials);
        Ok(true)
    }
}
