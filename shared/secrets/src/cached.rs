//! Fetch once per cold start, refetch on rotation.

use std::collections::HashMap;

use cos_sign::{Credentials, Secret};
use cosigner_core::{SecretError, SecretSource};
use tokio::sync::Mutex;

/// A [`SecretSource`] that asks its source once and then answers from memory, until told
/// to [`refresh`](Self::refresh).
///
/// Concurrent first calls wait for one fetch rather than each making their own: the lock
/// is held while the source is asked. A failed fetch caches nothing, so the next call
/// tries again.
#[derive(Debug)]
pub struct CachedSecrets<S> {
    source: S,
    cos: Mutex<Option<Credentials>>,
    named: Mutex<HashMap<String, Secret>>,
}

impl<S: SecretSource> CachedSecrets<S> {
    /// Caches what `source` answers.
    pub fn new(source: S) -> Self {
        Self {
            source,
            cos: Mutex::new(None),
            named: Mutex::new(HashMap::new()),
        }
    }

    /// The uncached source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// Fetches the COS key pair again now (COS refused the cached one: it was rotated),
    /// caches it and returns it.
    ///
    /// # Errors
    ///
    /// The source's error; the key pair cached before is kept.
    pub async fn refresh_cos_credentials(&self) -> Result<Credentials, SecretError> {
        let mut cached = self.cos.lock().await;
        let fresh = self.source.cos_credentials().await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    /// Fetches again everything fetched so far: the COS key pair and each named secret.
    ///
    /// # Errors
    ///
    /// The first error of the source; every value that could not be fetched keeps its
    /// cached value, and every one that could is replaced.
    pub async fn refresh(&self) -> Result<(), SecretError> {
        let mut first_error = None;
        {
            let mut cached = self.cos.lock().await;
            if cached.is_some() {
                match self.source.cos_credentials().await {
                    Ok(fresh) => *cached = Some(fresh),
                    Err(err) => first_error = Some(err),
                }
            }
        }
        {
            let mut named = self.named.lock().await;
            let names: Vec<String> = named.keys().cloned().collect();
            for name in names {
                match self.source.secret(&name).await {
                    Ok(fresh) => {
                        named.insert(name, fresh);
                    }
                    Err(err) => {
                        first_error.get_or_insert(err);
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl<S: SecretSource> SecretSource for CachedSecrets<S> {
    async fn cos_credentials(&self) -> Result<Credentials, SecretError> {
        let mut cached = self.cos.lock().await;
        if let Some(credentials) = cached.as_ref() {
            return Ok(credentials.clone());
        }
        let fresh = self.source.cos_credentials().await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    async fn secret(&self, name: &str) -> Result<Secret, SecretError> {
        let mut named = self.named.lock().await;
        if let Some(secret) = named.get(name) {
            return Ok(secret.clone());
        }
        let fresh = self.source.secret(name).await?;
        named.insert(name.to_owned(), fresh.clone());
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A source whose answers change with each fetch and that can be told to fail.
    #[derive(Default)]
    struct Rotating {
        fetches: AtomicUsize,
        failing: std::sync::atomic::AtomicBool,
    }

    impl SecretSource for Rotating {
        async fn cos_credentials(&self) -> Result<Credentials, SecretError> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(SecretError::Unavailable("down".into()));
            }
            let n = self.fetches.fetch_add(1, Ordering::SeqCst);
            Ok(Credentials::new(format!("AKID{n}"), format!("key{n}")).unwrap())
        }

        async fn secret(&self, name: &str) -> Result<Secret, SecretError> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(SecretError::Unavailable("down".into()));
            }
            let n = self.fetches.fetch_add(1, Ordering::SeqCst);
            Ok(Secret::new(format!("{name}{n}")))
        }
    }

    #[tokio::test]
    async fn fetches_once_however_many_ask_at_once() {
        let cached = Arc::new(CachedSecrets::new(Rotating::default()));

        let mut tasks = Vec::new();
        for _ in 0..20 {
            let cached = Arc::clone(&cached);
            tasks.push(tokio::spawn(async move {
                cached
                    .cos_credentials()
                    .await
                    .unwrap()
                    .secret_id()
                    .to_owned()
            }));
        }
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap());
        }

        assert!(ids.iter().all(|id| id == "AKID0"), "{ids:?}");
        assert_eq!(cached.source().fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn refresh_replaces_what_was_fetched() {
        let cached = CachedSecrets::new(Rotating::default());
        let before = cached.cos_credentials().await.unwrap();
        let jwt_before = cached.secret("jwt_secret").await.unwrap();

        cached.refresh().await.unwrap();

        let after = cached.cos_credentials().await.unwrap();
        assert_ne!(after.secret_id(), before.secret_id());
        assert_ne!(cached.secret("jwt_secret").await.unwrap(), jwt_before);
        assert_eq!(cached.source().fetches.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_values_it_had() {
        let cached = CachedSecrets::new(Rotating::default());
        cached.cos_credentials().await.unwrap();
        cached.secret("event_secret").await.unwrap();
        cached.source().failing.store(true, Ordering::SeqCst);

        let refreshed = cached.refresh().await;
        let refetched = cached.refresh_cos_credentials().await;

        assert!(matches!(refreshed, Err(SecretError::Unavailable(_))));
        assert!(matches!(refetched, Err(SecretError::Unavailable(_))));
        assert_eq!(cached.cos_credentials().await.unwrap().secret_id(), "AKID0");
        assert_eq!(
            cached.secret("event_secret").await.unwrap().expose(),
            "event_secret1"
        );
    }

    #[tokio::test]
    async fn a_failed_first_fetch_is_tried_again() {
        let cached = CachedSecrets::new(Rotating::default());
        cached.source().failing.store(true, Ordering::SeqCst);
        assert!(cached.cos_credentials().await.is_err());
        cached.source().failing.store(false, Ordering::SeqCst);

        let credentials = cached.cos_credentials().await;

        assert_eq!(credentials.unwrap().secret_id(), "AKID0");
    }
}
