//! The command line: what `cosigner` accepts, and its help.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::error::EXIT_CODES_HELP;
use crate::progress::ProgressMode;

/// Upload, list, download and delete files through a Cosigner server. The files go
/// straight to the object store with signatures the server makes; this command never
/// holds a storage secret.
#[derive(Debug, Parser)]
#[command(name = "cosigner", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Print each request's status, request id and time on stderr (never a token or a
    /// signed URL).
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// The API's base URL [default: $COSIGNER_API, then the saved login's, then
    /// http://127.0.0.1:8080].
    #[arg(long, global = true, value_name = "URL")]
    pub api: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a token with the server and save it with the API URL, readable by you only.
    Login {
        /// The token (visible to other users in the process list; prefer --token-stdin).
        #[arg(long, conflicts_with = "token_stdin", value_name = "TOKEN")]
        token: Option<String>,
        /// Read the token from standard input.
        #[arg(long)]
        token_stdin: bool,
    },

    /// Forget the saved token.
    Logout,

    /// Upload files and folders (recursively). Large files go in parallel parts; an
    /// interrupted upload continues where it stopped when the same command runs again.
    Upload {
        /// Files or folders.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Files sent at the same time.
        #[arg(short, long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=16))]
        jobs: u32,
        /// Parts of one file sent at the same time.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=16))]
        parts: u32,
        /// Print each uploaded file's record as one JSON object per line.
        #[arg(long)]
        json: bool,
        /// Show no progress.
        #[arg(short, long)]
        quiet: bool,
        /// How to show progress.
        #[arg(long, value_enum, default_value_t = ProgressMode::Auto, value_name = "MODE")]
        progress: ProgressMode,
    },

    /// List your files, newest first.
    Ls {
        /// Files per page (1 to 100) [default: 20, or 100 with --all].
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: Option<u32>,
        /// Every page, not just the first.
        #[arg(long)]
        all: bool,
        /// Start at this page (from a previous listing's hint).
        #[arg(long, conflicts_with = "all", value_name = "CURSOR")]
        cursor: Option<String>,
        /// One JSON object per file.
        #[arg(long)]
        json: bool,
    },

    /// Download a file, verified, to its original name or to -o.
    Get {
        /// The file's id.
        #[arg(value_name = "FILE_ID")]
        file_id: String,
        /// Where to save it: a file, or a folder to save it in under its name.
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
        /// Show no progress.
        #[arg(short, long)]
        quiet: bool,
        /// How to show progress.
        #[arg(long, value_enum, default_value_t = ProgressMode::Auto, value_name = "MODE")]
        progress: ProgressMode,
    },

    /// Delete files (or give up unfinished uploads).
    Rm {
        /// The files' ids.
        #[arg(required = true, value_name = "FILE_ID")]
        file_ids: Vec<String>,
    },

    /// Show your quota: used, reserved by unfinished uploads, available.
    Me {
        /// The server's answer as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_help_documents_the_exit_codes() {
        let help = Cli::command().render_long_help().to_string();

        assert!(help.contains("3  not logged in"), "{help}");
        assert!(help.contains("6  server or network unavailable"), "{help}");
    }

    #[test]
    fn upload_needs_a_path_and_bounds_its_parallelism() {
        assert!(Cli::try_parse_from(["cosigner", "upload"]).is_err());
        assert!(Cli::try_parse_from(["cosigner", "upload", "-j", "0", "a"]).is_err());
        assert!(Cli::try_parse_from(["cosigner", "upload", "-j", "8", "a", "b"]).is_ok());
    }
}
