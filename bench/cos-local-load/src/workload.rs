//! What every phase does, whichever target it runs against: the object sizes, the bytes,
//! the keys, how many workers and for how long.

use std::time::{Duration, Instant};

use bytes::Bytes;

/// An operation the load run times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Store an object (cos-local: a signed PUT; files: write, fsync, rename, fsync the
    /// directory).
    Put,
    /// Read back an object written in the PUT phase and check its bytes.
    Get,
}

impl Op {
    /// The name in the report.
    pub fn label(self) -> &'static str {
        match self {
            Op::Put => "PUT",
            Op::Get => "GET",
        }
    }
}

/// One object size: its payload and how many keys each worker cycles through.
#[derive(Debug, Clone)]
pub struct Workload {
    /// How the size is written in the report (`4 KiB`).
    pub label: String,
    /// The bytes every object of this size holds.
    // Limitation: every key of a size holds the same bytes, so a read-back check catches
    // wrong or missing bytes but not an answer served from another key of the same size.
    pub payload: Bytes,
    /// Keys per worker; a worker that writes more objects overwrites its oldest, so the
    /// disk a run uses stays bounded whatever the speed of the machine.
    pub slots: usize,
}

impl Workload {
    /// A workload of `size` pseudo-random bytes (seeded, so every run stores the same bytes).
    pub fn new(size: usize, slots: usize) -> Self {
        let mut rng = fastrand::Rng::with_seed(size as u64);
        let payload: Vec<u8> = std::iter::repeat_with(|| rng.u8(..)).take(size).collect();
        Self {
            label: size_label(size),
            payload: Bytes::from(payload),
            slots: slots.max(1),
        }
    }

    /// The key worker `worker` uses for its slot `slot`; the same names serve as file names
    /// in the baseline, so both targets see the same layout of keys.
    pub fn key(&self, worker: usize, slot: usize) -> String {
        format!("load/{}/w{worker:02}/o{slot:04}", self.payload.len())
    }
}

/// How hard and how long each phase runs.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Concurrent workers (clients, or threads for the files).
    pub workers: usize,
    /// How long each phase keeps starting operations.
    pub phase: Duration,
    /// A cap on operations per worker per phase, whatever the time left.
    pub max_ops_per_worker: u64,
}

impl Plan {
    /// The instant after which workers start no new operation.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.phase
    }

    /// Whether a worker that has done `done` operations should stop. At least one is
    /// always done, so every worker has something to read back.
    pub fn finished(&self, done: u64, deadline: Instant) -> bool {
        done >= 1 && (done >= self.max_ops_per_worker || Instant::now() >= deadline)
    }
}

/// The slots each worker wrote successfully in a PUT phase; what its GET phase reads.
pub type Written = Vec<Vec<usize>>;

/// Records a successful write of `slot` once.
pub fn mark_written(written: &mut Vec<usize>, slot: usize) {
    if !written.contains(&slot) {
        written.push(slot);
    }
}

/// `4 KiB`, `8 MiB`, or bytes when the size is not a whole number of either.
pub fn size_label(size: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if size >= MIB && size.is_multiple_of(MIB) {
        format!("{} MiB", size / MIB)
    } else if size >= KIB && size.is_multiple_of(KIB) {
        format!("{} KiB", size / KIB)
    } else {
        format!("{size} B")
    }
}

/// Checks a read-back chunk against the payload at `offset`.
///
/// # Errors
///
/// A message saying where the bytes first differ, or that there are too many.
pub fn check_chunk(payload: &[u8], offset: usize, chunk: &[u8]) -> Result<(), String> {
    let Some(expected) = payload.get(offset..offset + chunk.len()) else {
        return Err(format!(
            "read {} bytes or more, expected {}",
            offset + chunk.len(),
            payload.len()
        ));
    };
    match expected.iter().zip(chunk).position(|(a, b)| a != b) {
        Some(at) => Err(format!(
            "byte {} differs from what was written",
            offset + at
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_labelled_in_the_largest_whole_unit() {
        assert_eq!(size_label(4096), "4 KiB");
        assert_eq!(size_label(8 * 1024 * 1024), "8 MiB");
        assert_eq!(size_label(1536 * 1024), "1536 KiB");
        assert_eq!(size_label(1000), "1000 B");
    }

    #[test]
    fn a_workload_holds_the_same_bytes_every_time() {
        let first = Workload::new(4096, 8);

        let second = Workload::new(4096, 8);

        assert_eq!(first.payload.len(), 4096);
        assert_eq!(first.payload, second.payload);
        assert!(first.payload.iter().any(|&b| b != first.payload[0]));
    }

    #[test]
    fn keys_name_the_size_worker_and_slot() {
        let workload = Workload::new(4096, 8);

        assert_eq!(workload.key(3, 17), "load/4096/w03/o0017");
    }

    #[test]
    fn a_chunk_is_checked_at_its_offset() {
        let payload = b"abcdef";

        assert_eq!(check_chunk(payload, 2, b"cd"), Ok(()));
        assert_eq!(
            check_chunk(payload, 2, b"cx"),
            Err("byte 3 differs from what was written".to_owned())
        );
        assert_eq!(
            check_chunk(payload, 5, b"fg"),
            Err("read 7 bytes or more, expected 6".to_owned())
        );
    }

    #[test]
    fn a_worker_always_does_one_operation_then_stops_at_its_cap() {
        let plan = Plan {
            workers: 1,
            phase: Duration::ZERO,
            max_ops_per_worker: 3,
        };
        let far = Instant::now() + Duration::from_secs(3600);

        assert!(!plan.finished(0, Instant::now()));
        assert!(plan.finished(1, Instant::now()));
        assert!(!plan.finished(2, far));
        assert!(plan.finished(3, far));
    }

    #[test]
    fn a_slot_is_marked_written_once() {
        let mut written = Vec::new();

        mark_written(&mut written, 2);
        mark_written(&mut written, 2);
        mark_written(&mut written, 0);

        assert_eq!(written, [2, 0]);
    }
}
