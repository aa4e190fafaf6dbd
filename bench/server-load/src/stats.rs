//! Latency samples and what the reports say about them: nearest-rank percentiles, ratios
//! against a baseline, and the machine's load average.

use std::time::Duration;

/// The latencies of one operation, in the order they were taken.
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    /// No samples yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one latency.
    pub fn push(&mut self, latency: Duration) {
        self.0.push(latency);
    }

    /// Adds every latency of `other`.
    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// How many latencies there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The percentiles of the samples, or `None` when there are none.
    pub fn summary(&self) -> Option<Summary> {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let total: Duration = sorted.iter().sum();
        let count = u32::try_from(sorted.len()).ok().filter(|&n| n > 0)?;
        Some(Summary {
            count: sorted.len(),
            p50: percentile(&sorted, 50.0)?,
            p90: percentile(&sorted, 90.0)?,
            p99: percentile(&sorted, 99.0)?,
            max: *sorted.last()?,
            mean: total / count,
        })
    }
}

/// What a set of latencies comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// How many latencies.
    pub count: usize,
    /// The median.
    pub p50: Duration,
    /// The 90th percentile.
    pub p90: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    /// The slowest.
    pub max: Duration,
    /// The mean.
    pub mean: Duration,
}

/// The `p`th percentile (0 < p ≤ 100) of latencies sorted in ascending order, by the
/// nearest-rank method: the smallest sample with at least `p`% of the samples at or below
/// it. It is always one of the samples, never an interpolation: the p99 of 100 samples is
/// the 99th smallest, not a blend of two.
///
/// `None` for no samples or a `p` outside (0, 100].
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    // The rank is at most the sample count, so the cast back cannot truncate.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// `value / baseline`, as a ratio such as `1.23`; `None` for a zero baseline.
pub fn ratio(value: Duration, baseline: Duration) -> Option<f64> {
    (!baseline.is_zero()).then(|| value.as_secs_f64() / baseline.as_secs_f64())
}

/// A duration in milliseconds with two decimals, as the tables print it.
pub fn millis(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64() * 1000.0)
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` shows them (`-` elsewhere).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "-".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: impl IntoIterator<Item = u64>) -> Vec<Duration> {
        values.into_iter().map(Duration::from_millis).collect()
    }

    #[test]
    fn percentiles_of_one_to_a_hundred_are_the_ranks_themselves() {
        let sorted = ms(1..=100);

        let (p50, p90, p99, p100) = (
            percentile(&sorted, 50.0),
            percentile(&sorted, 90.0),
            percentile(&sorted, 99.0),
            percentile(&sorted, 100.0),
        );

        assert_eq!(p50, Some(Duration::from_millis(50)));
        assert_eq!(p90, Some(Duration::from_millis(90)));
        assert_eq!(p99, Some(Duration::from_millis(99)));
        assert_eq!(p100, Some(Duration::from_millis(100)));
    }

    #[test]
    fn a_percentile_between_ranks_takes_the_next_sample_up_never_a_blend() {
        let sorted = ms([10, 20, 30, 40]);

        let p50 = percentile(&sorted, 50.0);
        let p60 = percentile(&sorted, 60.0);
        let p99 = percentile(&sorted, 99.0);

        assert_eq!(p50, Some(Duration::from_millis(20)));
        assert_eq!(p60, Some(Duration::from_millis(30)));
        assert_eq!(p99, Some(Duration::from_millis(40)));
    }

    #[test]
    fn a_single_sample_is_every_percentile() {
        let sorted = ms([7]);

        let low = percentile(&sorted, 0.1);
        let high = percentile(&sorted, 100.0);

        assert_eq!(low, Some(Duration::from_millis(7)));
        assert_eq!(high, Some(Duration::from_millis(7)));
    }

    #[test]
    fn no_samples_or_a_percentile_out_of_range_has_no_answer() {
        let sorted = ms([1, 2, 3]);

        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&sorted, 0.0), None);
        assert_eq!(percentile(&sorted, 100.5), None);
        assert_eq!(percentile(&sorted, f64::NAN), None);
    }

    #[test]
    fn a_summary_sorts_the_samples_it_was_given_in_any_order() {
        let mut samples = Samples::new();
        for value in ms([30, 10, 50, 20, 40]) {
            samples.push(value);
        }

        let summary = samples.summary();

        assert_eq!(
            summary,
            Some(Summary {
                count: 5,
                p50: Duration::from_millis(30),
                p90: Duration::from_millis(50),
                p99: Duration::from_millis(50),
                max: Duration::from_millis(50),
                mean: Duration::from_millis(30),
            })
        );
    }

    #[test]
    fn an_empty_set_has_no_summary() {
        let summary = Samples::new().summary();

        assert_eq!(summary, None);
    }

    #[test]
    fn a_ratio_against_a_zero_baseline_has_no_answer() {
        let same = ratio(Duration::from_millis(12), Duration::from_millis(10));
        let zero = ratio(Duration::from_millis(12), Duration::ZERO);

        assert!(same.is_some_and(|r| (r - 1.2).abs() < 1e-9));
        assert_eq!(zero, None);
    }

    #[test]
    fn milliseconds_print_with_two_decimals() {
        let text = millis(Duration::from_micros(1_234_567));

        assert_eq!(text, "1234.57");
    }
}
