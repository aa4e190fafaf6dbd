//! `cosigner ls`, `cosigner rm` and `cosigner me`: the small commands over the file list
//! and the quota.

use std::time::SystemTime;

use serde_json::Value;

use crate::api::FileRecord;
use crate::commands::{Context, finish_batch};
use crate::error::{CliError, Failure};
use crate::human;
use crate::progress::{self, Progress, ProgressMode};

/// Files per page of `ls`, and of `ls --all`.
const PAGE: u32 = 20;
const PAGE_ALL: u32 = 100;

/// What `cosigner ls` was asked.
#[derive(Debug, Clone, Default)]
pub struct LsOptions {
    /// Files per page.
    pub limit: Option<u32>,
    /// Every page.
    pub all: bool,
    /// Where to start.
    pub cursor: Option<String>,
    /// JSON lines.
    pub json: bool,
}

/// `cosigner ls`: pages are printed as they come, so `--all` over many files starts at
/// once and holds one page in memory.
///
/// # Errors
///
/// A [`Failure`] of the listing.
pub async fn ls(ctx: &Context, options: LsOptions) -> Result<(), Failure> {
    let fail = |e| Failure::new("listing files", e);
    let limit = options
        .limit
        .unwrap_or(if options.all { PAGE_ALL } else { PAGE });
    let mut cursor = options.cursor;
    let mut shown = 0usize;
    let now = SystemTime::now();

    loop {
        let page = ctx.api.list(limit, cursor.as_deref()).await.map_err(fail)?;
        for raw in &page.files {
            if options.json {
                progress::out(&raw.to_string());
            } else {
                let record = parse_record(raw).map_err(fail)?;
                if shown == 0 {
                    progress::out(&header());
                }
                progress::out(&row(&record, now));
            }
            shown += 1;
        }
        cursor = page.next_cursor;
        match &cursor {
            Some(_) if options.all => {}
            Some(next) => {
                eprintln!(
                    "more files: `cosigner ls --cursor {next}` shows the next page, \
                     `cosigner ls --all` every file"
                );
                break;
            }
            None => break,
        }
    }
    if shown == 0 && !options.json {
        eprintln!("no files yet; `cosigner upload PATH` sends some");
    }
    Ok(())
}

fn parse_record(raw: &Value) -> Result<FileRecord, CliError> {
    serde_json::from_value(raw.clone())
        .map_err(|e| CliError::BadResponse(format!("a file record with unexpected fields ({e})")))
}

/// The column titles of `ls`.
pub fn header() -> String {
    format!(
        "{:<26}  {:>10}  {:<17}  {:<19}  NAME",
        "ID", "SIZE", "STATE", "CREATED (UTC)"
    )
}

/// One line of `ls`: id, size, state, creation time, name; a pending upload's time also
/// says how long ago, since that tells whether it is still in progress.
pub fn row(record: &FileRecord, now: SystemTime) -> String {
    let state = if record.state == "pending" {
        format!("{} ({})", record.state, human::ago(now, record.created_at))
    } else {
        record.state.clone()
    };
    format!(
        "{:<26}  {:>10}  {:<17}  {:<19}  {}",
        record.file_id,
        human::size(record.size),
        state,
        human::time(record.created_at),
        record.name
    )
}

/// `cosigner rm`: deletes each file; one failing does not stop the others.
///
/// # Errors
///
/// A [`Failure`] for the one file, or a summary of several.
pub async fn rm(ctx: &Context, file_ids: &[String]) -> Result<(), Failure> {
    let progress = Progress::new(ProgressMode::None, 0, 0);
    let mut failures = Vec::new();
    for id in file_ids {
        match ctx.api.delete(id).await {
            Ok(()) => progress.out(&format!("deleted {id}")),
            Err(err) => failures.push(Failure::new(format!("deletion of {id}"), err)),
        }
    }
    finish_batch(&progress, failures, file_ids.len(), "rm")
}

/// `cosigner me`.
///
/// # Errors
///
/// A [`Failure`] of the request.
pub async fn me(ctx: &Context, json: bool) -> Result<(), Failure> {
    let me = ctx
        .api
        .me()
        .await
        .map_err(|e| Failure::new("reading your quota", e))?;
    if json {
        progress::out(&me.raw.to_string());
        return Ok(());
    }
    for line in quota_lines(&me.value) {
        progress::out(&line);
    }
    Ok(())
}

/// The lines of `cosigner me`.
pub fn quota_lines(me: &crate::api::Me) -> Vec<String> {
    let quota = me.quota_bytes;
    let pending = match me.pending_count {
        0 => String::new(),
        1 => " by 1 unfinished upload".to_owned(),
        n => format!(" by {n} unfinished uploads"),
    };
    vec![
        format!("user       {}", me.user_id),
        format!(
            "quota      {} {}",
            human::quota_bar(me.used_bytes, me.reserved_bytes, quota, 30),
            human::size(quota)
        ),
        format!(
            "used       {} ({}%) in {} {}",
            human::size(me.used_bytes),
            human::percent(me.used_bytes, quota),
            me.file_count,
            if me.file_count == 1 { "file" } else { "files" }
        ),
        format!(
            "reserved   {} ({}%){pending}",
            human::size(me.reserved_bytes),
            human::percent(me.reserved_bytes, quota)
        ),
        format!(
            "available  {} ({}%)",
            human::size(me.available_bytes),
            human::percent(me.available_bytes, quota)
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::api::Me;

    #[test]
    fn a_row_lines_up_under_the_header() {
        let record = FileRecord {
            file_id: "01HX0000000000000000000000".into(),
            name: "photo.jpg".into(),
            size: 1_500_000,
            content_type: "image/jpeg".into(),
            state: "ready".into(),
            method: None,
            etag: None,
            upload_id: None,
            created_at: 1_714_566_896,
        };

        let line = row(&record, UNIX_EPOCH);

        assert!(
            line.starts_with("01HX0000000000000000000000     1.50 MB  ready "),
            "{line}"
        );
        assert!(line.ends_with("  2024-05-01 12:34:56  photo.jpg"), "{line}");
        assert_eq!(header().find("NAME"), line.find("photo.jpg"));
    }

    #[test]
    fn a_pending_row_says_how_old_it_is() {
        let record = FileRecord {
            file_id: "01HX".into(),
            name: "big.iso".into(),
            size: 1,
            content_type: "application/octet-stream".into(),
            state: "pending".into(),
            method: Some("multipart".into()),
            etag: None,
            upload_id: Some("u".into()),
            created_at: 1000,
        };

        let line = row(&record, UNIX_EPOCH + Duration::from_secs(1120));

        assert!(line.contains("pending (2m ago)"), "{line}");
        assert_eq!(header().find("NAME"), line.find("big.iso"));
    }

    #[test]
    fn the_quota_lines_show_each_share() {
        let me = Me {
            user_id: "alice".into(),
            quota_bytes: 10_000_000,
            used_bytes: 5_000_000,
            reserved_bytes: 1_000_000,
            available_bytes: 4_000_000,
            file_count: 1,
            pending_count: 2,
        };

        let lines = quota_lines(&me);

        assert_eq!(lines[0], "user       alice");
        assert!(lines[1].ends_with("] 10 MB"), "{}", lines[1]);
        assert_eq!(lines[2], "used       5 MB (50%) in 1 file");
        assert_eq!(lines[3], "reserved   1 MB (10%) by 2 unfinished uploads");
        assert_eq!(lines[4], "available  4 MB (40%)");
    }
}
