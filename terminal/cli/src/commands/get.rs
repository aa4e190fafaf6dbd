//! `cosigner get FILE_ID [-o PATH]`: downloads a ready file with the server's signed URL
//! into a temporary file beside the target, checks its length (and its MD5 when the ETag
//! is one), and only then renames it into place.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::api::FileRecord;
use crate::commands::Context;
use crate::commands::upload::interrupted;
use crate::error::{CliError, Failure};
use crate::human;
use crate::progress::{Progress, ProgressMode};
use crate::transfer;

/// What `cosigner get` was asked.
#[derive(Debug, Clone)]
pub struct GetOptions {
    /// The file.
    pub file_id: String,
    /// `-o`.
    pub output: Option<PathBuf>,
    /// `--force`.
    pub force: bool,
    /// How to show progress.
    pub progress: ProgressMode,
}

/// `cosigner get`.
///
/// # Errors
///
/// A [`Failure`] of the download; nothing is left at the target then.
pub async fn get(ctx: &Context, options: GetOptions) -> Result<(), Failure> {
    let action = format!("download of {}", options.file_id);
    let fail = |e| Failure::new(&action, e);
    let found = ctx.api.file(&options.file_id).await.map_err(fail)?.value;
    let record = found.file;
    if record.state != "ready" {
        return Err(fail(CliError::NotReady(record.state)));
    }
    let url = found.url.ok_or_else(|| {
        fail(CliError::BadResponse(
            "a ready file without a URL".to_owned(),
        ))
    })?;
    let target = target_path(options.output.as_deref(), &record);
    if !options.force && target.exists() {
        return Err(fail(CliError::Exists(target)));
    }

    let progress = Arc::new(Progress::new(options.progress, 1, record.size));
    let tracker = progress.file(&record.name, record.size);
    let work = download(ctx, &url, &record, &target, options.force, &tracker);
    let result = tokio::select! {
        result = work => result,
        () = interrupted() => Err(CliError::Interrupted),
    };
    match &result {
        Ok(_) => tracker.finish(),
        Err(_) => tracker.abandon(),
    }
    let checked = result.map_err(fail)?;

    progress.out(&format!(
        "saved {} ({}, {} verified)",
        target.display(),
        human::size(record.size),
        if checked.md5 {
            "length and MD5"
        } else {
            "length"
        }
    ));
    Ok(())
}

/// What was verified.
struct Checked {
    md5: bool,
}

async fn download(
    ctx: &Context,
    url: &crate::api::SignedUrl,
    record: &FileRecord,
    target: &Path,
    force: bool,
    tracker: &crate::progress::FileProgress,
) -> Result<Checked, CliError> {
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let io_err = |what, path: &Path| {
        let path = path.to_owned();
        move |source| CliError::Io { what, path, source }
    };
    // Beside the target, so the final rename stays on one file system; removed on drop if
    // anything below fails.
    let temp = tempfile::Builder::new()
        .prefix(".cosigner-")
        .suffix(".part")
        .tempfile_in(&dir)
        .map_err(io_err("cannot create a file in", &dir))?;
    let handle = temp
        .as_file()
        .try_clone()
        .map_err(io_err("cannot write", temp.path()))?;
    let mut sink = tokio::fs::File::from_std(handle);

    let fetched =
        transfer::get(&ctx.http, url, &mut sink, temp.path(), tracker, ctx.verbose).await?;
    if fetched.len != record.size {
        return Err(CliError::Corrupt(format!(
            "{} bytes arrived, the file has {}",
            fetched.len, record.size
        )));
    }
    let expected = plain_md5(record);
    if let Some(expected) = &expected
        && *expected != fetched.md5_hex
    {
        return Err(CliError::Corrupt(format!(
            "their MD5 is {}, the store's is {expected}",
            fetched.md5_hex
        )));
    }
    sink.sync_all()
        .await
        .map_err(io_err("cannot write", temp.path()))?;
    drop(sink);

    let persisted = if force {
        temp.persist(target)
    } else {
        temp.persist_noclobber(target)
    };
    persisted.map_err(|err| match err.error.kind() {
        // Someone else made the file while we downloaded.
        io::ErrorKind::AlreadyExists => CliError::Exists(target.to_owned()),
        _ => CliError::Io {
            what: "cannot save",
            path: target.to_owned(),
            source: err.error,
        },
    })?;
    Ok(Checked {
        md5: expected.is_some(),
    })
}

/// Where to save: `-o` (inside it, if it is a folder), else the file's name, made safe,
/// in the current folder.
pub fn target_path(output: Option<&Path>, record: &FileRecord) -> PathBuf {
    let name = || PathBuf::from(safe_name(&record.name, &record.file_id));
    match output {
        Some(path) if path.is_dir() => path.join(name()),
        Some(path) => path.to_owned(),
        None => name(),
    }
}

/// A name that stays in the folder it is saved in: no separators, no control characters,
/// none of the characters Windows forbids, not `.` or `..`, at most 200 bytes (the
/// extension kept); `fallback` (the file id) when nothing is left.
pub fn safe_name(name: &str, fallback: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_end_matches(['.', ' ']);
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        return fallback.to_owned();
    }
    shorten(cleaned, 200)
}

fn shorten(name: &str, max_bytes: usize) -> String {
    if name.len() <= max_bytes {
        return name.to_owned();
    }
    let extension = match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= 16 => &name[dot..],
        _ => "",
    };
    let mut stem_end = max_bytes - extension.len();
    while !name.is_char_boundary(stem_end) {
        stem_end -= 1;
    }
    format!("{}{extension}", &name[..stem_end])
}

/// The MD5 to check a download against: the ETag of an upload sent in one piece, when it is
/// a plain MD5. A multipart ETag is a hash of the parts' hashes, not of the bytes.
pub fn plain_md5(record: &FileRecord) -> Option<String> {
    if record.method.as_deref() == Some("multipart") {
        return None;
    }
    let etag = record
        .etag
        .as_deref()?
        .trim()
        .trim_matches('"')
        .to_ascii_lowercase();
    (etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())).then_some(etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, method: &str, etag: Option<&str>) -> FileRecord {
        FileRecord {
            file_id: "01HXFILE".into(),
            name: name.into(),
            size: 3,
            content_type: "text/plain".into(),
            state: "ready".into(),
            method: Some(method.into()),
            etag: etag.map(str::to_owned),
            upload_id: None,
            created_at: 0,
        }
    }

    #[test]
    fn names_are_made_safe_to_save() {
        assert_eq!(safe_name("report.pdf", "id"), "report.pdf");
        assert_eq!(safe_name("../../etc/passwd", "id"), ".._.._etc_passwd");
        assert_eq!(safe_name("a\u{7}b:c?.txt", "id"), "a_b_c_.txt");
        assert_eq!(safe_name("..", "id"), "id");
        assert_eq!(safe_name("  ", "id"), "id");
        assert_eq!(safe_name("name. . ", "id"), "name");
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        let long = format!("{}.tar.gz", "é".repeat(150));

        let short = safe_name(&long, "id");

        assert!(short.len() <= 200, "{}", short.len());
        assert!(short.ends_with(".gz"));
        assert!(short.starts_with('é'));
    }

    #[test]
    fn only_a_single_piece_upload_with_a_plain_md5_is_checked() {
        let md5 = "\"0CC175B9C0F1B6A831C399E269772661\"";

        assert_eq!(
            plain_md5(&record("a", "put", Some(md5))).as_deref(),
            Some("0cc175b9c0f1b6a831c399e269772661")
        );
        assert_eq!(plain_md5(&record("a", "multipart", Some(md5))), None);
        assert_eq!(plain_md5(&record("a", "put", Some("\"abc-3\""))), None);
        assert_eq!(plain_md5(&record("a", "put", None)), None);
    }

    #[test]
    fn the_target_is_the_safe_name_or_inside_a_folder_given() {
        let dir = tempfile::tempdir().unwrap();
        let file = record("x/y.txt", "put", None);

        assert_eq!(target_path(None, &file), PathBuf::from("x_y.txt"));
        assert_eq!(
            target_path(Some(dir.path()), &file),
            dir.path().join("x_y.txt")
        );
        assert_eq!(
            target_path(Some(&dir.path().join("out.bin")), &file),
            dir.path().join("out.bin")
        );
    }
}
