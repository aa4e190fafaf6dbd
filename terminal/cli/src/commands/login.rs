//! `cosigner login` and `cosigner logout`, and which API and token the other commands use.

use std::io::Read as _;

use crate::api::{Api, parse_base};
use crate::config::{ConfigDir, DEFAULT_API, Env, Login, Token};
use crate::error::{CliError, Failure};
use crate::progress;

/// Where the token of `cosigner login` comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// `--token`.
    Given(String),
    /// `--token-stdin`.
    Stdin,
    /// Neither.
    Missing,
}

/// The API URL in one spelling: parsed, without a trailing slash.
///
/// # Errors
///
/// [`CliError::Usage`] for a URL that is not `http(s)://HOST…`.
pub fn normalise_api(url: &str) -> Result<String, CliError> {
    Ok(parse_base(url)?.as_str().trim_end_matches('/').to_owned())
}

/// The API to talk to: `--api`, else `$COSIGNER_API`, else the saved login's, else the
/// local default; and its token: `$COSIGNER_TOKEN`, else the saved one if it was saved for
/// that same API. A token is never sent to an API it was not saved for.
///
/// # Errors
///
/// [`CliError::NotLoggedIn`] without a token for the API; [`CliError::Usage`] for a bad
/// URL; [`CliError::Io`] for an unreadable login file.
pub fn session(
    http: reqwest::Client,
    env: &Env,
    config: &ConfigDir,
    api_flag: Option<&str>,
    verbose: bool,
) -> Result<Api, CliError> {
    let stored = config.load()?;
    let chosen = api_flag.or(env.api.as_deref());
    let api_url = match (chosen, &stored) {
        (Some(url), _) => normalise_api(url)?,
        (None, Some(login)) => normalise_api(&login.api_url)?,
        (None, None) => DEFAULT_API.to_owned(),
    };
    let token = match (&env.token, stored) {
        (Some(token), _) => token.clone(),
        (None, Some(login)) if normalise_api(&login.api_url).ok().as_ref() == Some(&api_url) => {
            login.token
        }
        (None, _) => return Err(CliError::NotLoggedIn(chosen.map(|_| api_url))),
    };
    Api::new(http, &api_url, token, verbose)
}

/// `cosigner login`: checks the token with `GET /v1/me`, then saves it.
///
/// # Errors
///
/// A [`Failure`] of the login.
pub async fn login(
    http: reqwest::Client,
    env: &Env,
    config: &ConfigDir,
    api_flag: Option<&str>,
    source: TokenSource,
    verbose: bool,
) -> Result<(), Failure> {
    let stored_api = config.load().ok().flatten().map(|login| login.api_url);
    let raw_api = api_flag
        .map(str::to_owned)
        .or_else(|| env.api.clone())
        .or(stored_api)
        .unwrap_or_else(|| DEFAULT_API.to_owned());
    let api_url = normalise_api(&raw_api).map_err(|e| Failure::new("login", e))?;
    let action = format!("login to {api_url}");
    let token = read_token(source).map_err(|e| Failure::new(&action, e))?;

    let api =
        Api::new(http, &api_url, token.clone(), verbose).map_err(|e| Failure::new(&action, e))?;
    let me = api.me().await.map_err(|e| Failure::new(&action, e))?;
    let path = config
        .save(&Login {
            api_url: api_url.clone(),
            token,
        })
        .map_err(|e| Failure::new(&action, e))?;

    progress::out(&format!(
        "logged in to {api_url} as {}; saved in {}",
        me.value.user_id,
        path.display()
    ));
    Ok(())
}

fn read_token(source: TokenSource) -> Result<Token, CliError> {
    let token = match source {
        TokenSource::Given(token) => Token::new(token),
        TokenSource::Stdin => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|source| CliError::Io {
                    what: "cannot read the token from",
                    path: "standard input".into(),
                    source,
                })?;
            Token::new(text)
        }
        TokenSource::Missing => {
            return Err(CliError::Usage(
                "no token given; pass it on standard input with --token-stdin, or with --token"
                    .to_owned(),
            ));
        }
    };
    if token.is_empty() {
        return Err(CliError::Usage("the token is empty".to_owned()));
    }
    Ok(token)
}

/// `cosigner logout`.
///
/// # Errors
///
/// A [`Failure`] when the login file cannot be removed.
pub fn logout(config: &ConfigDir) -> Result<(), Failure> {
    let removed = config.remove().map_err(|e| Failure::new("logout", e))?;
    let line = if removed {
        "logged out; the saved token is forgotten"
    } else {
        "not logged in; nothing to forget"
    };
    progress::out(line);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(dir: &tempfile::TempDir, api: &str) -> ConfigDir {
        let config = ConfigDir::at(dir.path());
        config
            .save(&Login {
                api_url: api.into(),
                token: Token::new("saved"),
            })
            .unwrap();
        config
    }

    #[test]
    fn the_saved_login_is_used_for_its_own_api() {
        let dir = tempfile::tempdir().unwrap();
        let config = saved(&dir, "http://api.test:8080");

        let api = session(
            reqwest::Client::new(),
            &Env::default(),
            &config,
            None,
            false,
        )
        .unwrap();

        assert_eq!(api.base(), "http://api.test:8080");
    }

    #[test]
    fn the_saved_token_is_not_sent_to_another_api() {
        let dir = tempfile::tempdir().unwrap();
        let config = saved(&dir, "http://api.test:8080");

        let result = session(
            reqwest::Client::new(),
            &Env::default(),
            &config,
            Some("http://elsewhere.test"),
            false,
        );

        assert!(
            matches!(result, Err(CliError::NotLoggedIn(Some(api))) if api == "http://elsewhere.test")
        );
    }

    #[test]
    fn the_environment_token_and_api_win() {
        let dir = tempfile::tempdir().unwrap();
        let config = saved(&dir, "http://api.test:8080");
        let env = Env {
            config_dir: None,
            api: Some("http://env.test/".into()),
            token: Some(Token::new("env")),
        };

        let api = session(reqwest::Client::new(), &env, &config, None, false).unwrap();

        assert_eq!(api.base(), "http://env.test");
    }

    #[test]
    fn without_any_login_the_answer_is_not_logged_in() {
        let dir = tempfile::tempdir().unwrap();

        let result = session(
            reqwest::Client::new(),
            &Env::default(),
            &ConfigDir::at(dir.path()),
            None,
            false,
        );

        assert!(matches!(result, Err(CliError::NotLoggedIn(None))));
    }
}
