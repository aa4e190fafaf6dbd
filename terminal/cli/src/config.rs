//! Where the login (API URL and token) and the resume state are kept: the config folder,
//! `$COSIGNER_CONFIG_DIR` or the platform's (`~/.config/cosigner` on Linux), private to the
//! user: the folder is made `0700` and every file in it `0600` from its creation, never
//! widened and narrowed after.

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CliError;

/// The API a fresh `cosigner login` talks to: the local stack's gateway.
pub const DEFAULT_API: &str = "http://127.0.0.1:8080";

const CONFIG_FILE: &str = "config.json";

/// The environment, read once in `main`: everything the command takes from it.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `COSIGNER_CONFIG_DIR`.
    pub config_dir: Option<PathBuf>,
    /// `COSIGNER_API`.
    pub api: Option<String>,
    /// `COSIGNER_TOKEN`.
    pub token: Option<Token>,
}

impl Env {
    /// Reads the process's environment; empty values count as unset.
    pub fn from_process() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            config_dir: std::env::var_os("COSIGNER_CONFIG_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            api: var("COSIGNER_API"),
            token: var("COSIGNER_TOKEN").map(Token::new),
        }
    }
}

/// A bearer token. It has no `Display`, and its `Debug` prints a redaction, so it cannot
/// end up in a message or a log by accident.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    /// Wraps a token, without surrounding whitespace.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into().trim().to_owned())
    }

    /// The token, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the token is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A saved login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// The API's base URL.
    pub api_url: String,
    /// The token for that API.
    pub token: Token,
}

/// The config folder.
#[derive(Debug, Clone)]
pub struct ConfigDir {
    root: PathBuf,
}

impl ConfigDir {
    /// `$COSIGNER_CONFIG_DIR`, else the platform's config folder plus `cosigner`.
    ///
    /// # Errors
    ///
    /// [`CliError::Usage`] when the platform has no config folder (no home directory).
    pub fn locate(env: &Env) -> Result<Self, CliError> {
        let root = match &env.config_dir {
            Some(dir) => dir.clone(),
            None => dirs::config_dir()
                .map(|dir| dir.join("cosigner"))
                .ok_or_else(|| {
                    CliError::Usage(
                        "no config folder on this system; set COSIGNER_CONFIG_DIR".to_owned(),
                    )
                })?,
        };
        Ok(Self { root })
    }

    /// A config folder at `root` (for tests and tools).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The file holding the login.
    pub fn login_file(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    /// The folder of resume state files.
    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }

    /// The saved login, if any.
    ///
    /// # Errors
    ///
    /// [`CliError::Io`] when the file exists but cannot be read or parsed.
    pub fn load(&self) -> Result<Option<Login>, CliError> {
        let path = self.login_file();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(CliError::Io {
                    what: "cannot read the login in",
                    path,
                    source,
                });
            }
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|err| CliError::Io {
                what: "cannot parse the login in",
                path,
                source: io::Error::new(io::ErrorKind::InvalidData, err),
            })
    }

    /// Saves the login, readable by the user only; answers the file's path.
    ///
    /// # Errors
    ///
    /// [`CliError::Io`] when the folder or the file cannot be written.
    pub fn save(&self, login: &Login) -> Result<PathBuf, CliError> {
        let path = self.login_file();
        let io_err = |path: &Path, source| CliError::Io {
            what: "cannot save the login in",
            path: path.to_owned(),
            source,
        };
        make_private_dir(&self.root).map_err(|e| io_err(&self.root, e))?;
        let bytes = serde_json::to_vec_pretty(login)
            .map_err(|e| io_err(&path, io::Error::new(io::ErrorKind::InvalidData, e)))?;
        write_private(&path, &bytes).map_err(|e| io_err(&path, e))?;
        Ok(path)
    }

    /// Forgets the login; answers whether there was one.
    ///
    /// # Errors
    ///
    /// [`CliError::Io`] when the file exists but cannot be removed.
    pub fn remove(&self) -> Result<bool, CliError> {
        let path = self.login_file();
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(CliError::Io {
                what: "cannot remove the login in",
                path,
                source,
            }),
        }
    }
}

/// Creates `dir` (and missing parents) as `0700`, and narrows it to `0700` if it exists.
///
/// # Errors
///
/// Any I/O error.
pub fn make_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        builder.mode(0o700);
        builder.create(dir)?;
        let mode = fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode != 0o700 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
    }
    #[cfg(not(unix))]
    builder.create(dir)?;
    Ok(())
}

/// Writes `bytes` to `path` atomically: into a new `0600` file beside it, then renamed over
/// it, so a crash leaves the old file or the new one, never half of one, and the bytes are
/// never readable by others, not even for a moment.
///
/// # Errors
///
/// Any I/O error; the temporary file is removed.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    // `tempfile` creates its files `0600` on Unix.
    let mut temp = tempfile::Builder::new()
        .prefix(".cosigner-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|err| err.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_shows_in_debug_output() {
        let login = Login {
            api_url: "http://api".into(),
            token: Token::new("secret-token"),
        };

        let shown = format!("{login:?}");

        assert!(!shown.contains("secret-token"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn a_saved_login_reads_back_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let config = ConfigDir::at(dir.path().join("cosigner"));
        let login = Login {
            api_url: "http://127.0.0.1:1".into(),
            token: Token::new(" tok \n"),
        };

        config.save(&login).unwrap();
        let loaded = config.load().unwrap();
        let removed = config.remove().unwrap();

        assert_eq!(loaded.unwrap().token.expose(), "tok");
        assert!(removed);
        assert_eq!(config.load().unwrap(), None);
        assert!(!config.remove().unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn the_login_file_is_private_and_so_is_its_folder() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cosigner");
        fs::create_dir(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let config = ConfigDir::at(&root);

        let path = config
            .save(&Login {
                api_url: "http://api".into(),
                token: Token::new("t"),
            })
            .unwrap();

        let file_mode = fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let dir_mode = fs::metadata(&root).unwrap().permissions().mode() & 0o777;
        assert_eq!(file_mode, 0o600);
        assert_eq!(dir_mode, 0o700);
    }

    #[test]
    fn a_corrupt_login_file_is_an_error_not_a_missing_login() {
        let dir = tempfile::tempdir().unwrap();
        let config = ConfigDir::at(dir.path());
        fs::write(config.login_file(), b"{not json").unwrap();

        let loaded = config.load();

        assert!(matches!(loaded, Err(CliError::Io { .. })));
    }
}
