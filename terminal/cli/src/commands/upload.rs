//! `cosigner upload PATH…`: asks the server to issue each upload, sends the bytes to the
//! object store with what it signed, and reports completion.
//!
//! Files go a few at a time; a multipart file's parts go a few at a time too, signed in
//! batches just before use. Each upload keeps a resume state (see [`crate::state`]): run
//! again after an interrupt, it asks the server where the upload stands and sends only
//! what is missing, or starts over when the server has given the upload up.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::{StreamExt as _, TryStreamExt as _, stream};

use crate::api::{Described, FileRecord, IssueRequest, SignedPart, backoff};
use crate::commands::{Context, finish_batch};
use crate::error::{CliError, Failure};
use crate::human;
use crate::plan::{Part, PartPlan, sign_batch};
use crate::progress::{FileProgress, Progress, ProgressMode};
use crate::state::{Fingerprint, UploadState};
use crate::transfer::{self, ATTEMPTS, Range};

/// A signature this close to its end is renewed before use rather than risked.
const SIGNATURE_MARGIN: Duration = Duration::from_secs(30);

/// What `cosigner upload` was asked.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Files and folders.
    pub paths: Vec<PathBuf>,
    /// Files at a time.
    pub jobs: usize,
    /// Parts of one file at a time.
    pub parts: usize,
    /// JSON lines instead of summary lines.
    pub json: bool,
    /// How to show progress.
    pub progress: ProgressMode,
}

/// A local file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Its path as found (under the folder given, if it came from one).
    pub path: PathBuf,
    /// The name the server gets: the last component.
    pub name: String,
    /// Its size when found.
    pub size: u64,
}

/// `cosigner upload`.
///
/// # Errors
///
/// A [`Failure`] for an unreadable path, for the one file that failed, or a summary of
/// several; [`CliError::Interrupted`] on Ctrl-C.
pub async fn upload(ctx: &Context, options: UploadOptions) -> Result<(), Failure> {
    let mut notes = Vec::new();
    let files = collect(&options.paths, &mut notes)?;
    let total_bytes = files.iter().map(|f| f.size).sum();
    let progress = Arc::new(Progress::new(options.progress, files.len(), total_bytes));
    for note in notes {
        progress.note(&note);
    }
    let run = Run {
        ctx,
        progress: Arc::clone(&progress),
        in_flight: options.parts.max(1),
        state_warned: AtomicBool::new(false),
    };

    let mut failures = Vec::new();
    let work = stream::iter(&files)
        .map(|file| {
            let run = &run;
            async move { (file, run.upload_one(file).await) }
        })
        .buffer_unordered(options.jobs.max(1))
        .for_each(|(file, result)| {
            match result {
                Ok(record) if options.json => progress.out(&record.raw.to_string()),
                Ok(record) => progress.out(&summary(&record.value)),
                Err(err) => {
                    let resumable = err.is_transient();
                    let failure = Failure::new(format!("upload of {}", file.path.display()), err);
                    failures.push(if resumable {
                        failure.with_hint("the same command resumes where this one stopped")
                    } else {
                        failure
                    });
                }
            }
            async {}
        });
    tokio::select! {
        () = work => {}
        () = interrupted() => {
            progress.finish();
            return Err(Failure::new("upload", CliError::Interrupted));
        }
    }
    progress.finish();

    finish_batch(&progress, failures, files.len(), "upload")
}

/// Resolves when Ctrl-C is pressed; never, where signals cannot be watched.
pub(crate) async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The line printed for an uploaded file: id, size, name.
pub fn summary(record: &FileRecord) -> String {
    format!(
        "{}  {:>10}  {}",
        record.file_id,
        human::size(record.size),
        record.name
    )
}

/// The files under `paths`: files as given, folders walked recursively in name order.
/// Symlinks to files are followed; symlinks to folders are not (they could loop); other
/// kinds (sockets, devices) are skipped. Each skip is noted in `notes`.
///
/// # Errors
///
/// A [`Failure`] for a path that cannot be read: nothing is uploaded then.
pub fn collect(paths: &[PathBuf], notes: &mut Vec<String>) -> Result<Vec<LocalFile>, Failure> {
    let mut files = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for path in paths {
        walk(path, true, &mut files, &mut seen, notes).map_err(|source| {
            Failure::new(
                "upload",
                CliError::Io {
                    what: "cannot read",
                    path: path.clone(),
                    source,
                },
            )
        })?;
    }
    Ok(files)
}

fn walk(
    path: &Path,
    given: bool,
    files: &mut Vec<LocalFile>,
    seen: &mut std::collections::HashSet<PathBuf>,
    notes: &mut Vec<String>,
) -> std::io::Result<()> {
    let link = fs::symlink_metadata(path)?;
    let meta = fs::metadata(path)?;
    if meta.is_dir() {
        if link.file_type().is_symlink() && !given {
            notes.push(format!("skipping {}: a link to a folder", path.display()));
            return Ok(());
        }
        let mut entries = fs::read_dir(path)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()?;
        entries.sort();
        for entry in entries {
            walk(&entry, false, files, seen, notes)?;
        }
    } else if meta.is_file() {
        // The same file named twice (or reached by two links) is uploaded once.
        if seen.insert(fs::canonicalize(path)?) {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            files.push(LocalFile {
                path: path.to_owned(),
                name,
                size: meta.len(),
            });
        }
    } else {
        notes.push(format!("skipping {}: not a regular file", path.display()));
    }
    Ok(())
}

/// The content type of a file, from its extension.
pub fn content_type_of(path: &Path) -> String {
    mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_owned()
}

/// How a saved upload stands on the server.
enum Resumed {
    /// It is complete.
    Done(Box<Described<FileRecord>>),
    /// It is gone; start a new one.
    StartOver,
}

/// One `cosigner upload` run.
struct Run<'a> {
    ctx: &'a Context,
    progress: Arc<Progress>,
    in_flight: usize,
    state_warned: AtomicBool,
}

impl Run<'_> {
    async fn upload_one(&self, file: &LocalFile) -> Result<Described<FileRecord>, CliError> {
        let print = Fingerprint::of(&file.path).map_err(|source| CliError::Io {
            what: "cannot read",
            path: file.path.clone(),
            source,
        })?;
        if print.size == 0 {
            return Err(CliError::Refused(
                "the file is empty, and the server stores files of one byte or more".to_owned(),
            ));
        }
        let tracker = Arc::new(self.progress.file(&file.name, print.size));

        let result = self.send(file, &print, &tracker).await;

        match &result {
            Ok(_) => tracker.finish(),
            Err(_) => tracker.abandon(),
        }
        result
    }

    async fn send(
        &self,
        file: &LocalFile,
        print: &Fingerprint,
        tracker: &Arc<FileProgress>,
    ) -> Result<Described<FileRecord>, CliError> {
        let saved = self
            .ctx
            .states
            .load(print)
            .filter(|state| state.api_url == self.ctx.api.base());
        // Limitation: a file changed since its upload was interrupted gets a new fingerprint,
        // so its old pending upload is not found here to be released; the server's sweep
        // releases it when its window closes.
        if let Some(state) = saved {
            match self.resume(file, print, state, tracker).await? {
                Resumed::Done(record) => return Ok(*record),
                Resumed::StartOver => self.forget(print),
            }
        }
        self.start(file, print, tracker).await
    }

    /// Continues a saved upload, after asking the server how it stands.
    async fn resume(
        &self,
        file: &LocalFile,
        print: &Fingerprint,
        state: UploadState,
        tracker: &Arc<FileProgress>,
    ) -> Result<Resumed, CliError> {
        let api = &self.ctx.api;
        let found = match api.file(&state.file_id).await {
            Ok(found) => found.value.file,
            Err(CliError::Api(failure)) if failure.status == 404 => return Ok(Resumed::StartOver),
            Err(err) => return Err(err),
        };

        match (found.state.as_str(), state.method.as_str()) {
            ("ready", _) => self
                .complete(print, &state.file_id)
                .await
                .map(|record| Resumed::Done(Box::new(record))),
            ("pending", "multipart") if found.upload_id == state.upload_id => {
                match self.send_parts(file, print, state.clone(), tracker).await {
                    Err(err) if is_gone(&err) => {
                        self.give_up(&state.file_id).await;
                        Ok(Resumed::StartOver)
                    }
                    Err(err) => Err(err),
                    Ok(()) => self
                        .complete(print, &state.file_id)
                        .await
                        .map(|record| Resumed::Done(Box::new(record))),
                }
            }
            ("pending", "put") => match api.complete(&state.file_id).await {
                // The PUT had gone through before the interruption.
                Ok(record) => {
                    self.forget(print);
                    Ok(Resumed::Done(Box::new(record)))
                }
                Err(err) if is_gone(&err) => {
                    self.give_up(&state.file_id).await;
                    Ok(Resumed::StartOver)
                }
                Err(err) => Err(err),
            },
            ("pending", _) => {
                self.give_up(&state.file_id).await;
                Ok(Resumed::StartOver)
            }
            _ => Ok(Resumed::StartOver),
        }
    }

    /// Issues a new upload and sends it.
    async fn start(
        &self,
        file: &LocalFile,
        print: &Fingerprint,
        tracker: &Arc<FileProgress>,
    ) -> Result<Described<FileRecord>, CliError> {
        // Limitation: no `content_md5` is declared: the server alone decides whether the file
        // goes as one PUT or in parts, and a multipart upload cannot be bound to one MD5.
        // Single PUTs are checked by length; downloads check the ETag's MD5.
        let request = IssueRequest {
            name: file.name.clone(),
            size: print.size,
            content_type: content_type_of(&file.path),
        };
        let issued = self.ctx.api.issue_upload(&request).await?;
        let mut state =
            UploadState::new(self.ctx.api.base(), print, &issued.file_id, &issued.method);

        match issued.method.as_str() {
            "put" => {
                let headers = issued.headers.ok_or_else(|| {
                    CliError::BadResponse("a PUT upload without its signed headers".to_owned())
                })?;
                self.save(print, &state);
                let range = Range {
                    offset: 0,
                    len: print.size,
                };
                let label = self.label(&file.name, None);
                let sent = transfer::put_with_retries(
                    &self.ctx.http,
                    &issued.url,
                    &headers,
                    &file.path,
                    range,
                    tracker,
                    label.as_deref(),
                )
                .await;
                match sent {
                    // Overwriting is forbidden, so a retry after an answer lost on the way
                    // finds the object there already. The key is this upload's alone, and
                    // the server checks the object's size when the upload completes.
                    Ok(()) | Err(CliError::Store { status: 409, .. }) => {}
                    Err(err) => return Err(err),
                }
            }
            "multipart" => {
                let (Some(upload_id), Some(part_size)) = (issued.upload_id, issued.part_size)
                else {
                    return Err(CliError::BadResponse(
                        "a multipart upload without its upload id or part size".to_owned(),
                    ));
                };
                let plan = plan_of(print.size, part_size)?;
                if issued.part_count.is_some_and(|count| count != plan.count()) {
                    return Err(CliError::BadResponse(format!(
                        "{} parts announced for {} parts of {part_size} bytes",
                        issued.part_count.unwrap_or_default(),
                        plan.count()
                    )));
                }
                state.upload_id = Some(upload_id);
                state.part_size = Some(part_size);
                self.save(print, &state);
                self.send_parts(file, print, state, tracker).await?;
            }
            // Limitation: the POST form method is for browsers; this command never asks for
            // it, so a server answering with it is not understood.
            other => {
                return Err(CliError::BadResponse(format!(
                    "an upload method this command does not know: {other}"
                )));
            }
        }

        self.complete(print, &issued.file_id).await
    }

    /// Reports the upload complete and forgets its state. A multipart upload the server
    /// cannot complete (a part missing in the store, or the upload expired) is given up, so
    /// the next run starts over rather than failing the same way again.
    async fn complete(
        &self,
        print: &Fingerprint,
        file_id: &str,
    ) -> Result<Described<FileRecord>, CliError> {
        match self.ctx.api.complete(file_id).await {
            Ok(record) => {
                self.forget(print);
                Ok(record)
            }
            Err(err) if is_gone(&err) => {
                self.give_up(file_id).await;
                self.forget(print);
                Err(err)
            }
            Err(err) => Err(err),
        }
    }

    /// Sends the parts the state does not have, `in_flight` at a time.
    async fn send_parts(
        &self,
        file: &LocalFile,
        print: &Fingerprint,
        state: UploadState,
        tracker: &Arc<FileProgress>,
    ) -> Result<(), CliError> {
        let part_size = state.part_size.ok_or_else(|| {
            CliError::BadResponse("a multipart state without a part size".to_owned())
        })?;
        let plan = plan_of(print.size, part_size)?;
        tracker.advance(plan.bytes_done(&state.completed));
        let missing = plan.missing(&state.completed);
        let file_id = state.file_id.clone();
        let shared = Mutex::new(state);

        let batches: Vec<Vec<Part>> = missing
            .chunks(sign_batch(self.in_flight))
            .map(<[Part]>::to_vec)
            .collect();
        let file_id = file_id.as_str();
        // Lazily: a batch is signed only when the transfers before it have drained, so no
        // signature waits long before its use.
        let tickets = stream::iter(batches)
            .then(|batch| async move { self.sign(file_id, batch).await.map(stream::iter) })
            .map_ok(|tickets| tickets.map(Ok::<Ticket, CliError>))
            .try_flatten();
        tickets
            .map_ok(|ticket| self.send_part(file, print, file_id, ticket, tracker, &shared))
            .try_buffer_unordered(self.in_flight)
            .try_collect::<()>()
            .await
    }

    /// Signs `parts`, pairing each with its URL.
    async fn sign(&self, file_id: &str, parts: Vec<Part>) -> Result<Vec<Ticket>, CliError> {
        let numbers: Vec<u32> = parts.iter().map(|p| p.number).collect();
        let signed = self.ctx.api.sign_parts(file_id, &numbers).await?;
        let deadline = Instant::now() + signed.valid_for();
        let mut by_number: HashMap<u32, SignedPart> = signed
            .parts
            .into_iter()
            .map(|p| (p.part_number, p))
            .collect();
        parts
            .into_iter()
            .map(|part| {
                let signed = by_number.remove(&part.number).ok_or_else(|| {
                    CliError::BadResponse(format!(
                        "part {} was asked for but not signed",
                        part.number
                    ))
                })?;
                check_part_length(&signed, part)?;
                Ok(Ticket {
                    part,
                    signed,
                    deadline,
                })
            })
            .collect()
    }

    /// Sends one part, renewing its signature when it is about to lapse or the store
    /// refuses it, and retrying when the network or the store fails.
    async fn send_part(
        &self,
        file: &LocalFile,
        print: &Fingerprint,
        file_id: &str,
        mut ticket: Ticket,
        tracker: &Arc<FileProgress>,
        shared: &Mutex<UploadState>,
    ) -> Result<(), CliError> {
        let range = Range {
            offset: ticket.part.offset,
            len: ticket.part.len,
        };
        let label = self.label(&file.name, Some(ticket.part.number));
        let mut attempt = 1;
        let mut renewed = false;
        loop {
            if Instant::now() + SIGNATURE_MARGIN >= ticket.deadline {
                ticket = self.renew(file_id, ticket.part).await?;
            }
            let sent = transfer::put(
                &self.ctx.http,
                &ticket.signed.url,
                &ticket.signed.headers,
                &file.path,
                range,
                tracker,
                label.as_deref(),
            )
            .await;
            match sent {
                Ok(()) => break,
                // A signature can lapse while a part waits behind slow ones, or the clocks
                // disagree: one fresh signature is worth a try.
                Err(CliError::Store { status: 403, .. }) if !renewed => {
                    renewed = true;
                    ticket = self.renew(file_id, ticket.part).await?;
                }
                Err(err) if err.is_transient() && attempt < ATTEMPTS => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }

        let snapshot = {
            let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
            state.completed.insert(ticket.part.number);
            state.clone()
        };
        self.save(print, &snapshot);
        Ok(())
    }

    async fn renew(&self, file_id: &str, part: Part) -> Result<Ticket, CliError> {
        let mut tickets = self.sign(file_id, vec![part]).await?;
        tickets
            .pop()
            .ok_or_else(|| CliError::BadResponse("no part was signed".to_owned()))
    }

    /// A label for `-v` lines, or none without `-v`.
    fn label(&self, name: &str, part: Option<u32>) -> Option<String> {
        self.ctx.verbose.then(|| match part {
            Some(number) => format!("part {number} of {name}"),
            None => name.to_owned(),
        })
    }

    /// Saves the resume state; a failure costs resumability only, so it is a warning, shown
    /// once.
    fn save(&self, print: &Fingerprint, state: &UploadState) {
        if let Err(err) = self.ctx.states.save(print, state)
            && !self.state_warned.swap(true, Ordering::Relaxed)
        {
            self.progress.note(&format!(
                "warning: cannot save the resume state ({err}); an interrupted upload will \
                     start over"
            ));
        }
    }

    fn forget(&self, print: &Fingerprint) {
        // A state left behind is harmless: the next run asks the server and starts over.
        let _ = self.ctx.states.remove(print);
    }

    /// Releases an upload that will not be finished, so its reservation comes back now
    /// rather than when the server sweeps it.
    async fn give_up(&self, file_id: &str) {
        let _ = self.ctx.api.abort(file_id).await;
    }
}

/// A part with its signature.
#[derive(Debug)]
struct Ticket {
    part: Part,
    signed: SignedPart,
    /// When the signature lapses, on the local monotonic clock.
    deadline: Instant,
}

fn plan_of(size: u64, part_size: u64) -> Result<PartPlan, CliError> {
    PartPlan::new(size, part_size).ok_or_else(|| {
        CliError::BadResponse(format!("a part size of {part_size} bytes for {size} bytes"))
    })
}

/// The signed `Content-Length` of a part must be the part's: the store would refuse
/// anything else, and a mismatch means the file and the upload disagree.
fn check_part_length(signed: &SignedPart, part: Part) -> Result<(), CliError> {
    let declared = signed
        .headers
        .0
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map(|(_, value)| value.as_str());
    match declared {
        Some(value) if value.parse::<u64>().ok() != Some(part.len) => {
            Err(CliError::BadResponse(format!(
                "part {} signed for {value} bytes, not {}",
                part.number, part.len
            )))
        }
        _ => Ok(()),
    }
}

/// Whether the server says the upload is gone or cannot go on (404, 409).
fn is_gone(err: &CliError) -> bool {
    matches!(err, CliError::Api(failure) if matches!(failure.status, 404 | 409))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_come_from_the_extension() {
        assert_eq!(content_type_of(Path::new("a/photo.JPG")), "image/jpeg");
        assert_eq!(content_type_of(Path::new("notes.txt")), "text/plain");
        assert_eq!(
            content_type_of(Path::new("blob")),
            "application/octet-stream"
        );
    }

    #[test]
    fn folders_are_walked_in_name_order_and_duplicates_dropped() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("b.txt"), "b").unwrap();
        fs::write(dir.path().join("a.txt"), "a").unwrap();
        fs::write(dir.path().join("sub/c.bin"), "cc").unwrap();
        let mut notes = Vec::new();

        let files = collect(
            &[dir.path().to_owned(), dir.path().join("a.txt")],
            &mut notes,
        )
        .unwrap();

        let names: Vec<_> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "b.txt", "c.bin"]);
        assert_eq!(files[2].size, 2);
        assert!(notes.is_empty());
    }

    #[test]
    fn a_missing_path_fails_before_anything_is_sent() {
        let mut notes = Vec::new();

        let failure = collect(&[PathBuf::from("/no/such/file")], &mut notes).unwrap_err();

        assert!(
            failure
                .line()
                .starts_with("error: upload failed: cannot read /no/such/file")
        );
        assert_eq!(failure.exit_code(), 1);
    }

    #[test]
    fn a_part_signed_for_another_length_is_caught() {
        let signed: SignedPart = serde_json::from_value(serde_json::json!({
            "part_number": 2, "url": "http://s/k", "headers": {"Content-Length": "10"}
        }))
        .unwrap();
        let part = Part {
            number: 2,
            offset: 10,
            len: 7,
        };

        assert!(check_part_length(&signed, part).is_err());
        assert!(check_part_length(&signed, Part { len: 10, ..part }).is_ok());
    }
}
