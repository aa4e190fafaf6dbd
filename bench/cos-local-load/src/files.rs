//! The baseline: the same bytes, keys and concurrency as against cos-local, written to
//! and read from plain files.
//!
//! A write is made as durable as cos-local makes an object's bytes: a temporary file in
//! the target's directory, written, fsynced, renamed over the target, then the directory
//! fsynced. What cos-local does beyond that (HTTP, signature checks, MD5 and CRC-64 of the
//! body, its metadata file with its own fsyncs, the index) is the overhead the comparison
//! shows.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Instant;

use crate::stats::{PhaseResult, WorkerTally};
use crate::workload::{Plan, Workload, Written, check_chunk, mark_written};

/// Plain files under one directory.
#[derive(Debug)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    /// A store rooted at `root`, which must exist.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    /// Runs the PUT phase: one thread per worker, each writing its keys in turn.
    pub fn put_phase(&self, workload: &Workload, plan: &Plan) -> (PhaseResult, Written) {
        let deadline = plan.deadline();
        let started = Instant::now();
        let tallies: Vec<(WorkerTally, Vec<usize>)> = thread::scope(|scope| {
            let handles: Vec<_> = (0..plan.workers)
                .map(|worker| {
                    scope.spawn(move || {
                        let mut tally = WorkerTally::default();
                        let mut written = Vec::new();
                        let mut done = 0;
                        while !plan.finished(done, deadline) {
                            let slot = (done % workload.slots as u64) as usize;
                            let path = self.root.join(workload.key(worker, slot));
                            let begun = Instant::now();
                            let outcome = write_durably(&path, &workload.payload, done);
                            if outcome.is_ok() {
                                mark_written(&mut written, slot);
                            }
                            tally.count(outcome, begun.elapsed());
                            done += 1;
                        }
                        (tally, written)
                    })
                })
                .collect();
            handles.into_iter().map(join_worker).collect()
        });
        collect(tallies, started)
    }

    /// Runs the GET phase: each worker reads back, in turn, the keys it wrote.
    pub fn get_phase(&self, workload: &Workload, plan: &Plan, written: &Written) -> PhaseResult {
        let deadline = plan.deadline();
        let started = Instant::now();
        let tallies: Vec<(WorkerTally, Vec<usize>)> = thread::scope(|scope| {
            let handles: Vec<_> = written
                .iter()
                .enumerate()
                .filter(|(_, slots)| !slots.is_empty())
                .map(|(worker, slots)| {
                    scope.spawn(move || {
                        let mut tally = WorkerTally::default();
                        // One buffer per worker, as a reader that cares about speed keeps.
                        let mut buffer = Vec::with_capacity(workload.payload.len());
                        let mut done = 0;
                        while !plan.finished(done, deadline) {
                            let slot = slots[(done % slots.len() as u64) as usize];
                            let path = self.root.join(workload.key(worker, slot));
                            let begun = Instant::now();
                            let outcome = read_and_check(&path, &workload.payload, &mut buffer);
                            tally.count(outcome, begun.elapsed());
                            done += 1;
                        }
                        (tally, Vec::new())
                    })
                })
                .collect();
            handles.into_iter().map(join_worker).collect()
        });
        collect(tallies, started).0
    }
}

/// Writes `bytes` to `target` through a temporary file: write, fsync, rename, fsync the
/// directory. Returns the bytes written.
fn write_durably(target: &Path, bytes: &[u8], attempt: u64) -> io::Result<u64> {
    let dir = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".tmp-{name}-{attempt}"));
    let mut file = File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temp, target)?;
    File::open(dir)?.sync_all()?;
    Ok(bytes.len() as u64)
}

/// Reads `path` whole and checks it holds `payload`. Returns the bytes read.
fn read_and_check(path: &Path, payload: &[u8], buffer: &mut Vec<u8>) -> Result<u64, String> {
    buffer.clear();
    File::open(path)
        .and_then(|mut file| file.read_to_end(buffer))
        .map_err(|e| format!("reading {}: {e}", path.display()))?;
    if buffer.len() != payload.len() {
        return Err(format!(
            "{} holds {} bytes, expected {}",
            path.display(),
            buffer.len(),
            payload.len()
        ));
    }
    check_chunk(payload, 0, buffer)?;
    Ok(buffer.len() as u64)
}

/// A worker thread's tally; a panicked worker counts as one error rather than ending the
/// run, so the report still shows what the others measured.
fn join_worker(
    handle: thread::ScopedJoinHandle<'_, (WorkerTally, Vec<usize>)>,
) -> (WorkerTally, Vec<usize>) {
    handle.join().unwrap_or_else(|_| {
        let tally = WorkerTally {
            errors: 1,
            first_error: Some("a worker thread panicked".to_owned()),
            ..WorkerTally::default()
        };
        (tally, Vec::new())
    })
}

fn collect(tallies: Vec<(WorkerTally, Vec<usize>)>, started: Instant) -> (PhaseResult, Written) {
    let elapsed = started.elapsed();
    let mut result = PhaseResult::default();
    let mut written = Vec::with_capacity(tallies.len());
    for (tally, slots) in tallies {
        result.absorb(tally);
        written.push(slots);
    }
    result.elapsed = elapsed;
    (result, written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_durable_write_leaves_only_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b");

        let written = write_durably(&target, b"hello", 0).unwrap();

        assert_eq!(written, 5);
        assert_eq!(fs::read(&target).unwrap(), b"hello");
        let names: Vec<_> = fs::read_dir(dir.path().join("a")).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn reading_back_other_bytes_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        fs::write(&path, b"hellO").unwrap();
        let mut buffer = Vec::new();

        let same = read_and_check(&path, b"hellO", &mut buffer);
        let other = read_and_check(&path, b"hello", &mut buffer);
        let shorter = read_and_check(&path, b"hello!", &mut buffer);

        assert_eq!(same, Ok(5));
        assert_eq!(
            other,
            Err("byte 4 differs from what was written".to_owned())
        );
        assert!(shorter.unwrap_err().contains("holds 5 bytes, expected 6"));
    }

    #[test]
    fn the_get_phase_reads_back_what_the_put_phase_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let workload = Workload::new(1024, 2);
        let plan = Plan {
            workers: 3,
            phase: std::time::Duration::from_secs(60),
            max_ops_per_worker: 4,
        };

        let (mut put, written) = store.put_phase(&workload, &plan);
        let mut get = store.get_phase(&workload, &plan, &written);

        assert_eq!((put.ops, put.errors), (12, 0));
        assert_eq!(put.bytes, 12 * 1024);
        assert_eq!(written, vec![vec![0, 1]; 3]);
        assert_eq!((get.ops, get.errors), (12, 0));
        assert_eq!(put.summary().ops, 12);
        assert!(get.summary().p99.is_some());
    }
}
