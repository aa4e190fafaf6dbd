//! The Secrets Manager and SSM adapters over the wire, against `moto_server` on a
//! loopback port (one server for the binary; each test uses its own secret names).

// A failed unwrap here is a failed test, with the error in its message.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::error::Error;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_ssm::types::ParameterType;
use cos_sign::Secret;
use cosigner_core::{Config, SecretError, SecretSource};
use cosigner_local_aws::{sdk_config, shared};
use cosigner_secrets::{CachedSecrets, SecretsManagerSecrets, SsmSecrets, from_config};

const COS: &str = r#"{"secret_id":"AKIDfirst","secret_key":"first-key"}"#;
const COS_ROTATED: &str =
    r#"{"secret_id":"AKIDsecond","secret_key":"second-key","session_token":"tok"}"#;
const APP: &str = r#"{"jwt_secret":"jwt-1","event_secret":"event-1","cursor_secret":"cur-1"}"#;

fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

fn aws() -> aws_config::SdkConfig {
    shared().unwrap_or_else(|e| panic!("{e}")).sdk_config()
}

/// Creates a Secrets Manager secret and returns its ARN.
async fn put_secret(name: &str, value: &str) -> String {
    let client = aws_sdk_secretsmanager::Client::new(&aws());
    let created = client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    created.arn().unwrap().to_owned()
}

async fn rotate_secret(name: &str, value: &str) {
    let client = aws_sdk_secretsmanager::Client::new(&aws());
    client
        .put_secret_value()
        .secret_id(name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
}

async fn put_parameter(name: &str, value: &str, overwrite: bool) {
    let client = aws_sdk_ssm::Client::new(&aws());
    client
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::SecureString)
        .overwrite(overwrite)
        .send()
        .await
        .unwrap();
}

/// Everything an error shows: its message, its `Debug`, and its causes.
fn everything_shown(err: &SecretError) -> String {
    let mut text = format!("{err} {err:?}");
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn secrets_manager_serves_the_key_pair_and_the_app_secrets_by_name_or_arn() {
    let (cos, app) = (unique("cos"), unique("app"));
    let cos_arn = put_secret(&cos, COS).await;
    put_secret(&app, APP).await;

    let by_name = SecretsManagerSecrets::from_sdk_config(&aws(), &cos);
    let by_arn = SecretsManagerSecrets::from_sdk_config(&aws(), cos_arn);
    let app = SecretsManagerSecrets::from_sdk_config(&aws(), &app);

    let credentials = by_name.cos_credentials().await.unwrap();
    assert_eq!(credentials.secret_id(), "AKIDfirst");
    assert_eq!(credentials.secret_key().expose(), "first-key");
    assert_eq!(by_arn.cos_credentials().await.unwrap(), credentials);
    for (name, value) in [("jwt_secret", "jwt-1"), ("event_secret", "event-1")] {
        assert_eq!(app.secret(name).await.unwrap(), Secret::new(value));
    }
}

#[tokio::test]
async fn a_rotated_secrets_manager_key_pair_is_served_after_a_refresh() {
    let name = unique("cos");
    put_secret(&name, COS).await;
    let cached = CachedSecrets::new(SecretsManagerSecrets::from_sdk_config(&aws(), &name));
    let before = cached.cos_credentials().await.unwrap();

    rotate_secret(&name, COS_ROTATED).await;
    let still_cached = cached.cos_credentials().await.unwrap();
    let refreshed = cached.refresh_cos_credentials().await.unwrap();

    assert_eq!(before.secret_id(), "AKIDfirst");
    assert_eq!(still_cached, before);
    assert_eq!(refreshed.secret_id(), "AKIDsecond");
    assert_eq!(refreshed.session_token().map(Secret::expose), Some("tok"));
    assert_eq!(cached.cos_credentials().await.unwrap(), refreshed);
}

#[tokio::test]
async fn a_missing_secrets_manager_secret_is_missing() {
    let name = unique("absent");
    let store = SecretsManagerSecrets::from_sdk_config(&aws(), &name);

    let err = store.cos_credentials().await.unwrap_err();

    assert!(
        matches!(err, SecretError::Missing(ref id) if *id == name),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_malformed_secrets_manager_secret_is_described_without_its_value() {
    let cases = [
        ("not-json-zq7-value", "not JSON"),
        (
            r#"{"secret_id":"AKIDx","secret_key":918273645}"#,
            "secret_key is not a string",
        ),
        (
            r#"{"secret_id":"AKIDx","secret_kee":"zq7-typo-value"}"#,
            "secret_key is missing",
        ),
    ];
    for (value, expected) in cases {
        let name = unique("bad");
        put_secret(&name, value).await;
        let store = SecretsManagerSecrets::from_sdk_config(&aws(), &name);

        let err = store.cos_credentials().await.unwrap_err();

        let shown = everything_shown(&err);
        assert!(matches!(err, SecretError::Malformed(..)), "{shown}");
        assert!(shown.contains(expected), "{shown}");
        for secret in ["zq7", "918273645"] {
            assert!(!shown.contains(secret), "{shown} shows {secret}");
        }
    }
}

#[tokio::test]
async fn ssm_serves_a_secure_string_and_its_rotation_after_a_refresh() {
    let (cos, app) = (format!("/cosigner/{}", unique("cos")), unique("app"));
    put_parameter(&cos, COS, false).await;
    put_parameter(&app, APP, false).await;
    let cached = CachedSecrets::new(SsmSecrets::from_sdk_config(&aws(), &cos));
    let app = SsmSecrets::from_sdk_config(&aws(), &app);
    let before = cached.cos_credentials().await.unwrap();

    put_parameter(&cos, COS_ROTATED, true).await;
    let still_cached = cached.cos_credentials().await.unwrap();
    cached.refresh().await.unwrap();

    assert_eq!(before.secret_key().expose(), "first-key");
    assert_eq!(still_cached, before);
    assert_eq!(
        cached.cos_credentials().await.unwrap().secret_id(),
        "AKIDsecond"
    );
    assert_eq!(
        app.secret("cursor_secret").await.unwrap(),
        Secret::new("cur-1")
    );
}

#[tokio::test]
async fn a_missing_or_malformed_ssm_parameter_is_reported_without_its_value() {
    let absent = unique("absent");
    let bad = unique("bad");
    put_parameter(&bad, "{\"jwt_secret\": zq7-unquoted}", false).await;

    let missing = SsmSecrets::from_sdk_config(&aws(), &absent)
        .secret("jwt_secret")
        .await
        .unwrap_err();
    let malformed = SsmSecrets::from_sdk_config(&aws(), &bad)
        .secret("jwt_secret")
        .await
        .unwrap_err();

    assert!(
        matches!(missing, SecretError::Missing(ref n) if *n == absent),
        "{missing:?}"
    );
    let shown = everything_shown(&malformed);
    assert!(matches!(malformed, SecretError::Malformed(..)), "{shown}");
    assert!(!shown.contains("zq7"), "{shown}");
}

#[tokio::test]
async fn from_config_reads_each_set_from_the_store_it_names() {
    let (cos, app) = (unique("cos"), unique("app"));
    put_secret(&cos, COS).await;
    put_parameter(&app, APP, false).await;
    let settings = HashMap::from([
        ("COS_BUCKET", "examplebucket-1250000000".to_owned()),
        ("COS_REGION", "ap-guangzhou".to_owned()),
        ("TABLE_NAME", "files".to_owned()),
        ("COS_CREDENTIALS", format!("secretsmanager:{cos}")),
        ("APP_SECRETS", format!("ssm:{app}")),
    ]);
    let config = Config::from_lookup(|name| settings.get(name).cloned()).unwrap();

    let secrets = from_config(&config, &aws());

    assert_eq!(
        secrets.cos_credentials().await.unwrap().secret_id(),
        "AKIDfirst"
    );
    assert_eq!(
        secrets.secret("jwt_secret").await.unwrap(),
        Secret::new("jwt-1")
    );
}

#[tokio::test]
async fn an_unreachable_store_is_unavailable() {
    // A port that was free a moment ago and has nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = sdk_config(&format!("http://127.0.0.1:{port}"));

    let manager = SecretsManagerSecrets::from_sdk_config(&nowhere, "x")
        .cos_credentials()
        .await
        .unwrap_err();
    let ssm = SsmSecrets::from_sdk_config(&nowhere, "x")
        .secret("jwt_secret")
        .await
        .unwrap_err();

    assert!(
        matches!(manager, SecretError::Unavailable(_)),
        "{manager:?}"
    );
    assert!(matches!(ssm, SecretError::Unavailable(_)), "{ssm:?}");
}
