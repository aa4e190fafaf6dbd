//! What one phase measured: its operations, bytes, errors, wall time and every latency,
//! and the figures derived from them.

use std::time::Duration;

/// Latencies of the successful operations of one phase, in microseconds.
///
/// Every sample is kept rather than bucketed: a phase lasts seconds, so even the fastest
/// one (small file reads) holds a few million `u32`s at most, and exact percentiles cost
/// one sort.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    micros: Vec<u32>,
    sorted: bool,
}

impl Latencies {
    /// Records one operation's latency (saturating at about 71 minutes).
    pub fn record(&mut self, took: Duration) {
        self.micros
            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        self.sorted = false;
    }

    /// Takes in another worker's samples.
    pub fn merge(&mut self, other: Latencies) {
        self.micros.extend(other.micros);
        self.sorted = false;
    }

    /// The nearest-rank percentile `p` (0 < p ≤ 100): the smallest sample that at least
    /// `p` percent of the samples do not exceed. `None` without samples.
    pub fn percentile(&mut self, p: f64) -> Option<Duration> {
        if self.micros.is_empty() {
            return None;
        }
        if !self.sorted {
            self.micros.sort_unstable();
            self.sorted = true;
        }
        let n = self.micros.len();
        // Nearest rank is ceil(p/100 × n), counted from 1; clamped so that rounding in the
        // float product can never step outside the samples.
        let rank = (p / 100.0 * n as f64).ceil() as usize;
        let index = rank.clamp(1, n) - 1;
        Some(Duration::from_micros(u64::from(self.micros[index])))
    }
}

/// The outcome of one phase: one operation on one target at one object size.
#[derive(Debug, Clone, Default)]
pub struct PhaseResult {
    /// Operations that succeeded.
    pub ops: u64,
    /// Payload bytes moved by the operations that succeeded.
    pub bytes: u64,
    /// Operations that failed (bad status, wrong bytes, I/O error).
    pub errors: u64,
    /// The first failure, for the report.
    pub first_error: Option<String>,
    /// Wall time from the start until the last worker finished.
    pub elapsed: Duration,
    /// Latency of every successful operation.
    pub latencies: Latencies,
}

impl PhaseResult {
    /// Folds one worker's tally into the phase's.
    pub fn absorb(&mut self, worker: WorkerTally) {
        self.ops += worker.ops;
        self.bytes += worker.bytes;
        self.errors += worker.errors;
        if self.first_error.is_none() {
            self.first_error = worker.first_error;
        }
        self.latencies.merge(worker.latencies);
    }

    /// The figures a report row shows.
    pub fn summary(&mut self) -> Summary {
        let seconds = self.elapsed.as_secs_f64();
        let per_second = |n: u64| {
            if seconds > 0.0 {
                n as f64 / seconds
            } else {
                0.0
            }
        };
        Summary {
            ops_per_sec: per_second(self.ops),
            mb_per_sec: per_second(self.bytes) / 1e6,
            p50: self.latencies.percentile(50.0),
            p99: self.latencies.percentile(99.0),
            ops: self.ops,
            errors: self.errors,
        }
    }
}

/// What one worker counted during a phase.
#[derive(Debug, Default)]
pub struct WorkerTally {
    /// Operations that succeeded.
    pub ops: u64,
    /// Payload bytes of those operations.
    pub bytes: u64,
    /// Operations that failed.
    pub errors: u64,
    /// This worker's first failure.
    pub first_error: Option<String>,
    /// Latency of each successful operation.
    pub latencies: Latencies,
}

impl WorkerTally {
    /// Counts a finished operation: its latency and bytes when it succeeded, its error when
    /// it did not.
    pub fn count<E: std::fmt::Display>(&mut self, outcome: Result<u64, E>, took: Duration) {
        match outcome {
            Ok(bytes) => {
                self.ops += 1;
                self.bytes += bytes;
                self.latencies.record(took);
            }
            Err(error) => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(error.to_string());
                }
            }
        }
    }
}

/// The figures of one phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Successful operations per second of wall time.
    pub ops_per_sec: f64,
    /// Payload megabytes (10⁶ bytes) per second of wall time.
    pub mb_per_sec: f64,
    /// Median latency.
    pub p50: Option<Duration>,
    /// 99th-percentile latency.
    pub p99: Option<Duration>,
    /// Successful operations.
    pub ops: u64,
    /// Failed operations.
    pub errors: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latencies(micros: impl IntoIterator<Item = u64>) -> Latencies {
        let mut latencies = Latencies::default();
        for us in micros {
            latencies.record(Duration::from_micros(us));
        }
        latencies
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut samples = latencies((1..=100).rev());

        let p50 = samples.percentile(50.0);
        let p99 = samples.percentile(99.0);
        let p100 = samples.percentile(100.0);

        assert_eq!(p50, Some(Duration::from_micros(50)));
        assert_eq!(p99, Some(Duration::from_micros(99)));
        assert_eq!(p100, Some(Duration::from_micros(100)));
    }

    #[test]
    fn a_p99_of_few_samples_is_their_maximum() {
        let mut samples = latencies([30, 10, 20]);

        let p99 = samples.percentile(99.0);

        assert_eq!(p99, Some(Duration::from_micros(30)));
    }

    #[test]
    fn no_samples_give_no_percentile() {
        let mut samples = Latencies::default();

        assert_eq!(samples.percentile(50.0), None);
    }

    #[test]
    fn recording_after_a_percentile_sorts_again() {
        let mut samples = latencies([5, 1]);
        let _ = samples.percentile(50.0);

        samples.record(Duration::from_micros(0));

        assert_eq!(samples.percentile(1.0), Some(Duration::ZERO));
    }

    #[test]
    fn a_summary_divides_by_wall_time_and_keeps_only_successes() {
        let mut worker = WorkerTally::default();
        worker.count::<&str>(Ok(4_000_000), Duration::from_millis(10));
        worker.count::<&str>(Ok(4_000_000), Duration::from_millis(30));
        worker.count(Err("503 from the server"), Duration::from_millis(99));
        let mut phase = PhaseResult {
            elapsed: Duration::from_secs(2),
            ..PhaseResult::default()
        };

        phase.absorb(worker);
        let summary = phase.summary();

        assert_eq!(summary.ops, 2);
        assert_eq!(summary.errors, 1);
        assert_eq!(summary.ops_per_sec, 1.0);
        assert_eq!(summary.mb_per_sec, 4.0);
        assert_eq!(summary.p99, Some(Duration::from_millis(30)));
        assert_eq!(phase.first_error.as_deref(), Some("503 from the server"));
    }
}
