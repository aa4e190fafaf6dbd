//! The real `cosigner` binary against a fake API and object store on loopback: uploads
//! (single PUT, multipart, interrupted and resumed), listing, downloading, deleting, the
//! quota, the error lines and exit codes, and the privacy of the saved login.

// Test code: a failed unwrap is a failed test with its reason.
#![allow(clippy::unwrap_used)]

mod fake;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use fake::{Fake, SECRET, TOKEN};

/// What one run of the binary did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A config folder and a logged-in (or not) user of one fake.
struct Terminal {
    dir: tempfile::TempDir,
}

impl Terminal {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    fn work(&self) -> PathBuf {
        let work = self.dir.path().join("work");
        fs::create_dir_all(&work).unwrap();
        work
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None, &[])
    }

    fn run_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cosigner"));
        command
            .args(args)
            .current_dir(self.work())
            .env("COSIGNER_CONFIG_DIR", self.config())
            .env_remove("COSIGNER_API")
            .env_remove("COSIGNER_TOKEN")
            .envs(env.iter().copied())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let output = child.wait_with_output().unwrap();
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        // Whatever happened, nothing signed and no token may be shown.
        for text in [&run.stdout, &run.stderr] {
            assert!(!text.contains(SECRET), "a signature leaked: {run:#?}");
            assert!(!text.contains(TOKEN), "the token leaked: {run:#?}");
        }
        run
    }

    fn login(&self, fake: &Fake) {
        let run = self.run_with(
            &["login", "--api", &fake.url, "--token-stdin"],
            Some(TOKEN),
            &[],
        );
        assert_eq!(run.code, 0, "{run:#?}");
    }

    fn upload_dir(&self) -> PathBuf {
        self.config().join("uploads")
    }

    fn states(&self) -> Vec<Value> {
        let Ok(entries) = fs::read_dir(self.upload_dir()) else {
            return Vec::new();
        };
        entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| serde_json::from_slice(&fs::read(p).unwrap()).unwrap())
            .collect()
    }
}

/// Bytes that differ from one offset to the next, so a misplaced part shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn write(path: &Path, bytes: &[u8]) -> String {
    fs::write(path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

fn single_error_line(run: &Run) -> &str {
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one error line expected: {run:#?}");
    lines[0]
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn login_checks_the_token_and_saves_it_privately_and_logout_forgets_it() {
    let fake = Fake::start();
    let terminal = Terminal::new();

    let refused = terminal.run_with(
        &["login", "--api", &fake.url, "--token-stdin"],
        Some("not-the-token"),
        &[],
    );
    let accepted = terminal.run_with(
        &["login", "--api", &fake.url, "--token-stdin"],
        Some(TOKEN),
        &[],
    );
    let saved = fs::read_to_string(terminal.config().join("config.json")).unwrap();
    #[cfg(unix)]
    let modes = (
        mode(&terminal.config().join("config.json")),
        mode(&terminal.config()),
    );
    let me = terminal.run(&["me"]);
    let logout = terminal.run(&["logout"]);
    let after = terminal.run(&["me"]);

    assert_eq!(refused.code, 3, "{refused:#?}");
    let line = single_error_line(&refused);
    assert!(
        line.starts_with(&format!(
            "error: login to {} refused: the token is not valid",
            fake.url
        )),
        "{line}"
    );
    assert!(line.ends_with("(unauthorized, request req-0001)"), "{line}");
    assert_eq!(accepted.code, 0, "{accepted:#?}");
    assert!(
        accepted
            .stdout
            .starts_with(&format!("logged in to {} as alice", fake.url))
    );
    assert!(saved.contains(TOKEN) && saved.contains(&fake.url));
    #[cfg(unix)]
    assert_eq!(modes, (0o600, 0o700));
    assert_eq!(me.code, 0, "{me:#?}");
    assert!(me.stdout.contains("user       alice"));
    assert_eq!(logout.code, 0);
    assert!(!terminal.config().join("config.json").exists());
    assert_eq!(after.code, 3);
    assert!(single_error_line(&after).contains("not logged in; run `cosigner login"));
}

#[test]
fn a_small_file_goes_in_one_put_with_exactly_the_signed_headers() {
    let fake = Fake::start();
    let terminal = Terminal::new();
    terminal.login(&fake);
    let path = write(&terminal.work().join("hello.txt"), &pattern(1500));

    let run = terminal.run(&["upload", "--json", &path]);

    assert_eq!(run.code, 0, "{run:#?}");
    let record: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(record["state"], "ready");
    assert_eq!(record["name"], "hello.txt");
    assert_eq!(record["size"], 1500);
    let (puts, stored) = fake.with(|w| (w.puts.clone(), w.objects.values().next().cloned()));
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].file_id, record["file_id"].as_str().unwrap());
    let header = |name: &str| {
        puts[0]
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("content-length").as_deref(), Some("1500"));
    assert_eq!(header("content-type").as_deref(), Some("text/plain"));
    assert_eq!(header("x-cos-forbid-overwrite").as_deref(), Some("true"));
    assert_eq!(header("transfer-encoding"), None);
    assert_eq!(stored.unwrap(), pattern(1500));
    assert!(
        terminal.states().is_empty(),
        "the resume state outlived the upload"
    );
}

#[test]
fn a_file_is_listed_downloaded_verified_and_deleted() {
    let fake = Fake::start();
    let terminal = Terminal::new();
    terminal.login(&fake);
    let source = write(&terminal.work().join("report.pdf"), &pattern(1200));
    let upload = terminal.run(&["upload", &source]);
    let id = fake.with(|w| w.file_named("report.pdf").id);
    let out = terminal.dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let out_arg = out.to_str().unwrap();

    let ls = terminal.run(&["ls"]);
    let got = terminal.run(&["get", &id, "-o", out_arg]);
    let again = terminal.run(&["get", &id, "-o", out_arg]);
    let forced = terminal.run(&["get", &id, "-o", out_arg, "--force"]);
    let rm = terminal.run(&["rm", &id]);
    let gone = terminal.run(&["get", &id]);

    assert_eq!(upload.code, 0, "{upload:#?}");
    assert_eq!(upload.stdout, format!("{id}     1.20 kB  report.pdf\n"));
    assert_eq!(ls.code, 0, "{ls:#?}");
    let lines: Vec<&str> = ls.stdout.lines().collect();
    assert!(lines[0].starts_with("ID "), "{ls:#?}");
    assert!(
        lines[1].starts_with(&id) && lines[1].contains("ready") && lines[1].ends_with("report.pdf")
    );
    assert_eq!(got.code, 0, "{got:#?}");
    assert!(got.stdout.contains("length and MD5 verified"), "{got:#?}");
    assert_eq!(fs::read(out.join("report.pdf")).unwrap(), pattern(1200));
    assert_eq!(again.code, 1);
    assert!(
        single_error_line(&again).contains("exists; pass --force"),
        "{again:#?}"
    );
    assert_eq!(forced.code, 0, "{forced:#?}");
    assert_eq!(
        fs::read_dir(&out).unwrap().count(),
        1,
        "a temporary file was left behind"
    );
    assert_eq!(rm.code, 0, "{rm:#?}");
    assert_eq!(rm.stdout, format!("deleted {id}\n"));
    assert_eq!(gone.code, 4, "{gone:#?}");
    let line = single_error_line(&gone);
    assert!(
        line.starts_with(&format!(
            "error: download of {id} refused: no such file (not_found, request req-"
        )),
        "{line}"
    );
}

#[test]
fn a_download_that_does_not_match_its_etag_is_not_saved() {
    let fake = Fake::start();
    let terminal = Terminal::new();
    terminal.login(&fake);
    fake.with(|w| w.corrupt_etag = true);
    let source = write(&terminal.work().join("a.bin"), &pattern(100));
    assert_eq!(terminal.run(&["upload", &source]).code, 0);
    let id = fake.with(|w| w.file_named("a.bin").id);
    let out = terminal.dir.path().join("out");
    fs::create_dir(&out).unwrap();

    let got = terminal.run(&["get", &id, "-o", out.to_str().unwrap()]);

    assert_eq!(got.code, 1, "{got:#?}");
    assert!(
        single_error_line(&got)
            .contains("the downloaded bytes do not match the file: their MD5 is")
    );
    assert_eq!(
        fs::read_dir(&out).unwrap().count(),
        0,
        "something was saved"
    );
}

#[test]
fn a_large_file_goes_in_parallel_parts_and_arrives_whole() {
    let fake = Fake::start();
    let terminal = Terminal::new();
    terminal.login(&fake);
    let path = write(&terminal.work().join("video.mp4"), &pattern(4500));

    let run = terminal.run(&["-v", "upload", "--progress", "plain", &path]);

    assert_eq!(run.code, 0, "{run:#?}");
    let file = fake.with(|w| w.file_named("video.mp4"));
    let (mut parts, object) = fake.with(|w| (w.stored_parts(), w.objects[&file.id].clone()));
    parts.sort_unstable();
    assert_eq!(parts, [1, 2, 3, 4, 5]);
    assert_eq!(object, pattern(4500));
    assert_eq!(file.state, "ready");
    assert_eq!(file.content_type, "video/mp4");
    assert!(
        run.stderr.contains("POST /v1/uploads → 201 in "),
        "{run:#?}"
    );
    assert!(run.stderr.contains("/parts → 200"), "{run:#?}");
    assert!(
        run.stderr.contains("PUT part 5 of video.mp4 on 127.0.0.1:"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("video.mp4: 100% (4.50 kB)"), "{run:#?}");
    assert!(terminal.states().is_empty());
}

#[test]
fn an_interrupted_multipart_upload_resumes_with_only_the_missing_parts() {
    let fake = Fake::start();
    let terminal = Terminal::new();
    terminal.login(&fake);
    let path = write(&terminal.work().join("disk.img"), &pattern(10_500));
    fake.with(|w| w.fail_parts_after = Some(4));

    let first = terminal.run(&["upload", &path]);
    let states = terminal.states();
    let first_parts = fake.with(|w| w.stored_parts());
    fake.with(|w| w.fail_parts_after = None);
    let second = terminal.run(&["upload", &path]);

    assert_eq!(first.code, 6, "{first:#?}");
    let line = single_error_line(&first);
    assert!(
        line.contains("disk.img failed: the object store at 127.0.0.1:"),
        "{line}"
    );
    assert!(
        line.ends_with(
            "answered 500 InternalError; try again later; the same command resumes where this \
             one stopped"
        ),
        "{line}"
    );
    assert_eq!(states.len(), 1);
    let completed: Vec<u32> = serde_json::from_value(states[0]["completed"].clone()).unwrap();
    assert_eq!(completed.len(), 4, "{states:#?}");
    let mut sorted_first = first_parts.clone();
    sorted_first.sort_unstable();
    assert_eq!(sorted_first, completed);

    assert_eq!(second.code, 0, "{second:#?}");
    let file = fake.with(|w| w.file_named("disk.img"));
    let (all_parts, object, files) =
        fake.with(|w| (w.stored_parts(), w.objects[&file.id].clone(), w.files.len()));
    let mut resent = all_parts[first_parts.len()..].to_vec();
    resent.sort_unstable();
    let missing: Vec<u32> = (1..=11).filter(|n| !completed.contains(n)).collect();
    assert_eq!(resent, missing, "only the missing parts are sent again");
    assert_eq!(object, pattern(10_500));
    assert_eq!(files, 1, "the same upload was continued");
    assert!(second.stdout.starts_with(&file.id));
    assert!(terminal.states().is_empty());
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_an_upload_that_the_same_command_then_finishes() {
    let fake = Fake::start();
    let terminal = Terminal::new();
    terminal.login(&fake);
    let path = write(&terminal.work().join("disk.img"), &pattern(12_000));
    fake.with(|w| w.put_delay_ms = 200);
    let child = Command::new(env!("CARGO_BIN_EXE_cosigner"))
        .args(["upload", "--parts", "2", &path])
        .env("COSIGNER_CONFIG_DIR", terminal.config())
        .env_remove("COSIGNER_API")
        .env_remove("COSIGNER_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while fake.with(|w| w.stored_parts().len()) < 2 {
        assert!(started.elapsed().as_secs() < 20, "no part arrived");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let stopped = child.wait_with_output().unwrap();
    let states = terminal.states();
    fake.with(|w| w.put_delay_ms = 0);
    let resumed = terminal.run(&["upload", &path]);

    assert!(kill.success());
    assert_eq!(stopped.status.code(), Some(130), "{stopped:#?}");
    assert_eq!(
        String::from_utf8_lossy(&stopped.stderr),
        "error: upload failed: interrupted; run the same command again to resume\n"
    );
    assert_eq!(states.len(), 1);
    let completed = states[0]["completed"].as_array().unwrap().len();
    assert!((2..12).contains(&completed), "{states:#?}");
    assert_eq!(resumed.code, 0, "{resumed:#?}");
    let file = fake.with(|w| w.file_named("disk.img"));
    assert_eq!(fake.with(|w| w.objects[&file.id].clone()), pattern(12_000));
    assert!(terminal.states().is_empty());
}

#[test]
fn a_resumed_upload_the_server_has_forgotten_starts_over() {
    let fake = Fake::start();
    let terminal = Terminal::new();
    terminal.login(&fake);
    let path = write(&terminal.work().join("disk.img"), &pattern(5000));
    fake.with(|w| w.fail_parts_after = Some(2));
    let first = terminal.run(&["upload", &path]);
    let old_id = fake.with(|w| {
        w.fail_parts_after = None;
        let id = w.file_named("disk.img").id;
        w.files.remove(&id);
        id
    });

    let second = terminal.run(&["upload", &path]);

    assert_eq!(first.code, 6, "{first:#?}");
    assert_eq!(second.code, 0, "{second:#?}");
    let file = fake.with(|w| w.file_named("disk.img"));
    assert_ne!(file.id, old_id);
    assert_eq!(file.state, "ready");
    assert_eq!(fake.with(|w| w.objects[&file.id].clone()), pattern(5000));
}

#[test]
fn a_folder_is_uploaded_recursively_and_listed_in_pages() {
    let fake = Fake::start();
    let terminal = Terminal::new();
    terminal.login(&fake);
    let folder = terminal.work().join("photos");
    fs::create_dir_all(folder.join("2024")).unwrap();
    write(&folder.join("a.jpg"), &pattern(300));
    write(&folder.join("b.png"), &pattern(400));
    write(&folder.join("2024/c.gif"), &pattern(2500));

    let upload = terminal.run(&["upload", "--jobs", "3", folder.to_str().unwrap()]);
    let first_page = terminal.run(&["ls", "--limit", "2"]);
    let all = terminal.run(&["ls", "--all", "--limit", "2"]);
    let json = terminal.run(&["ls", "--json"]);
    let me = terminal.run(&["me", "--json"]);

    assert_eq!(upload.code, 0, "{upload:#?}");
    assert_eq!(upload.stdout.lines().count(), 3);
    assert_eq!(first_page.stdout.lines().count(), 3, "{first_page:#?}");
    assert!(
        first_page.stderr.contains("`cosigner ls --cursor c2`"),
        "{first_page:#?}"
    );
    assert_eq!(all.stdout.lines().count(), 4, "{all:#?}");
    assert!(all.stderr.is_empty(), "{all:#?}");
    let names: Vec<String> = json
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["a.jpg", "b.png", "c.gif"]);
    let me: Value = serde_json::from_str(me.stdout.trim()).unwrap();
    assert_eq!(me["used_bytes"], 3200);
    assert_eq!(me["reserved_bytes"], 0);
    assert_eq!(me["file_count"], 3);
}

#[test]
fn one_failing_file_does_not_stop_the_others_and_sets_the_exit_code() {
    let fake = Fake::start();
    let terminal = Terminal::new();
    terminal.login(&fake);
    let folder = terminal.work().join("mixed");
    fs::create_dir(&folder).unwrap();
    write(&folder.join("empty.txt"), b"");
    write(&folder.join("good.txt"), &pattern(10));

    let run = terminal.run(&["upload", folder.to_str().unwrap()]);

    assert_eq!(run.code, 5, "{run:#?}");
    assert!(run.stdout.ends_with("  good.txt\n"), "{run:#?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    assert!(
        lines[0].contains("empty.txt refused: the file is empty"),
        "{run:#?}"
    );
    assert!(
        lines[1].starts_with("error: upload failed: 1 of 2 files failed"),
        "{run:#?}"
    );
}

#[test]
fn errors_are_one_line_with_the_servers_code_and_a_documented_exit_code() {
    let fake = Fake::start();
    let terminal = Terminal::new();
    let not_logged_in = terminal.run(&["ls"]);
    terminal.login(&fake);
    fake.with(|w| w.quota = 700);
    let big = write(&terminal.work().join("big.bin"), &pattern(1000));

    let over_quota = terminal.run(&["upload", &big]);
    let unknown = terminal.run(&["rm", "01HXNOSUCHFILE"]);
    let unreachable = terminal.run_with(
        &["--api", "http://127.0.0.1:1", "me"],
        None,
        &[("COSIGNER_TOKEN", TOKEN)],
    );
    let other_api = terminal.run(&["--api", "http://127.0.0.1:1", "me"]);
    let usage = terminal.run(&["upload"]);

    assert_eq!(not_logged_in.code, 3);
    assert_eq!(
        single_error_line(&not_logged_in),
        "error: listing files failed: not logged in; run `cosigner login --api URL \
         --token-stdin` first"
    );
    assert_eq!(over_quota.code, 5, "{over_quota:#?}");
    let line = single_error_line(&over_quota);
    assert!(
        line.starts_with(&format!(
            "error: upload of {big} refused: the file does not fit: 700 B of your quota are free \
             (quota_exceeded, request req-"
        )),
        "{line}"
    );
    assert_eq!(unknown.code, 4);
    assert!(
        single_error_line(&unknown).contains("deletion of 01HXNOSUCHFILE refused: no such file")
    );
    assert_eq!(unreachable.code, 6);
    assert!(
        single_error_line(&unreachable).contains("cannot reach 127.0.0.1:1: the connection failed")
    );
    assert_eq!(
        other_api.code, 3,
        "the saved token is not sent to another API"
    );
    assert!(single_error_line(&other_api).contains("not logged in to http://127.0.0.1:1"));
    assert_eq!(usage.code, 2);
}

#[test]
fn the_help_lists_the_exit_codes() {
    let terminal = Terminal::new();

    let help = terminal.run(&["--help"]);

    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Exit codes:"));
    assert!(help.stdout.contains("5  refused by limits"));
}
