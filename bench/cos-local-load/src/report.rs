//! The results as markdown: the best of the rounds side by side with the baseline, every
//! round, and how and where it was measured.

use std::fmt::Write as _;
use std::time::Duration;

use crate::stats::Summary;
use crate::workload::Op;

/// One size and operation in one round, on both targets.
#[derive(Debug, Clone)]
pub struct Row {
    /// The object size as labelled (`4 KiB`).
    pub size: String,
    /// The operation.
    pub op: Op,
    /// cos-local's figures.
    pub cos: Summary,
    /// The plain-file baseline's figures.
    pub files: Summary,
}

/// What was run, for the notes under the tables.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Concurrent clients (and baseline threads).
    pub workers: usize,
    /// Seconds each phase keeps starting operations.
    pub phase_seconds: f64,
    /// Cap on operations per client per phase.
    pub max_ops_per_worker: u64,
    /// Interleaved rounds.
    pub rounds: usize,
    /// Object size label and keys per client, for each size.
    pub keys: Vec<(String, usize)>,
}

/// Where it ran.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    /// When the run started, RFC 3339 UTC.
    pub started: String,
    /// CPU model.
    pub cpu: String,
    /// Logical CPUs this process may use.
    pub cpus: usize,
    /// Kernel release.
    pub kernel: String,
    /// File system of the scratch directory, as `/proc/mounts` names it.
    pub filesystem: String,
    /// `/proc/loadavg`'s three averages at the start.
    pub load_before: String,
    /// The same at the end.
    pub load_after: String,
}

/// For each size and operation, each target's best round: the one with the highest
/// throughput, with that round's latencies.
///
/// Best-of-rounds because the machine is shared: other work can only slow a round down,
/// so the fastest round is the closest to what the code itself costs.
pub fn best_rows(rounds: &[Vec<Row>]) -> Vec<Row> {
    let Some(first) = rounds.first() else {
        return Vec::new();
    };
    let faster = |a: &Summary, b: &Summary| {
        if b.ops_per_sec > a.ops_per_sec {
            *b
        } else {
            *a
        }
    };
    first
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut best = row.clone();
            for round in &rounds[1..] {
                if let Some(other) = round.get(i) {
                    best.cos = faster(&best.cos, &other.cos);
                    best.files = faster(&best.files, &other.files);
                }
            }
            best
        })
        .collect()
}

/// The headline table: one row per size and operation, cos-local beside the baseline.
pub fn headline_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| size | op | cos-local ops/s | cos-local MB/s | cos-local p50 | cos-local p99 \
         | files ops/s | files MB/s | files p50 | files p99 \
         | throughput cos-local ÷ files | p99 cos-local ÷ files |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for row in rows {
        let (c, f) = (&row.cos, &row.files);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.size,
            row.op.label(),
            rate(c.ops_per_sec),
            rate(c.mb_per_sec),
            latency(c.p50),
            latency(c.p99),
            rate(f.ops_per_sec),
            rate(f.mb_per_sec),
            latency(f.p50),
            latency(f.p99),
            ratio(throughput_ratio(c, f)),
            ratio(p99_ratio(c, f)),
        );
    }
    out
}

/// Every round's figures, to show how much the shared machine moved them.
pub fn rounds_table(rounds: &[Vec<Row>]) -> String {
    let mut out = String::from(
        "| round | size | op | cos-local ops/s | files ops/s | throughput ratio \
         | cos-local p99 | files p99 | p99 ratio | operations (cos-local / files) |\n\
         | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for (n, round) in rounds.iter().enumerate() {
        for row in round {
            let (c, f) = (&row.cos, &row.files);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
                n + 1,
                row.size,
                row.op.label(),
                rate(c.ops_per_sec),
                rate(f.ops_per_sec),
                ratio(throughput_ratio(c, f)),
                latency(c.p99),
                latency(f.p99),
                ratio(p99_ratio(c, f)),
                thousands(c.ops),
                thousands(f.ops),
            );
        }
    }
    out
}

/// The whole results document.
pub fn document(
    rounds: &[Vec<Row>],
    settings: &Settings,
    machine: &Machine,
    errors: &[String],
) -> String {
    let best = best_rows(rounds);
    let mut out = String::from("# cos-local under load\n\n");
    out.push_str(
        "Written by `bench/cos-local-load` (`make bench`); run it again rather than editing. \
         Signed PUTs of each object size from concurrent clients on loopback, then GETs of \
         the objects each client wrote, every body checked byte for byte; beside them the \
         same concurrency, bytes and keys written to and read from plain files, so what the \
         store itself costs shows.\n\n",
    );
    out.push_str(&headline_table(&best));
    let keys: Vec<String> = settings
        .keys
        .iter()
        .map(|(size, keys)| format!("{keys} for {size}"))
        .collect();
    let _ = write!(
        out,
        "\n- {workers} clients, each its own HTTP connection pool (and {workers} threads \
         for the files). Best of {rounds} interleaved rounds: for each row and target, the \
         round with the highest throughput, with that round's p50 and p99; the ratios \
         compare those. Each phase starts operations for {seconds} s (at most {max} per \
         client), then waits for those in flight; throughput is over that whole wall time.\n\
         - MB/s counts payload bytes, 10⁶ a megabyte. Latency is per operation: for \
         cos-local from signing the request until its answer is read and checked, for the \
         files from opening until the last fsync (PUT) or the last byte compared (GET).\n\
         - PUT on the files is as durable as cos-local makes an object's bytes: a temporary \
         file in the target's directory, written, fsynced, renamed over the target, the \
         directory fsynced. cos-local does that too, and besides it: HTTP over loopback, \
         the signature check, MD5 and CRC-64 of the body, and the object's metadata file \
         written the same durable way (a second pair of fsyncs). GET on the files opens \
         the file and reads it whole; cos-local streams it over HTTP. Either read comes from \
         the page cache, as the objects were just written.\n\
         - Keys per client ({keys}): a client that writes more overwrites its oldest, so \
         the disk a run uses stays bounded.\n\
         - The client and cos-local share the machine's CPUs over loopback; the file \
         baseline has no server to share them with.\n",
        workers = settings.workers,
        rounds = settings.rounds,
        seconds = settings.phase_seconds,
        max = thousands(settings.max_ops_per_worker),
        keys = keys.join(", "),
    );
    if errors.is_empty() {
        out.push_str("- Errors: none.\n");
    } else {
        let _ = writeln!(out, "- Errors: {}.", errors.join("; "));
    }
    let _ = write!(
        out,
        "\nMeasured {} on {}, {} logical CPUs (Linux {}), scratch directory on {}; load \
         average {} at the start and {} at the end (1, 5 and 15 minutes). The machine was \
         shared with other work.\n",
        machine.started,
        machine.cpu,
        machine.cpus,
        machine.kernel,
        machine.filesystem,
        machine.load_before,
        machine.load_after,
    );
    out.push_str("\n## Each round\n\n");
    out.push_str(&rounds_table(rounds));
    out
}

/// cos-local's throughput over the baseline's.
pub fn throughput_ratio(cos: &Summary, files: &Summary) -> Option<f64> {
    (files.ops_per_sec > 0.0).then(|| cos.ops_per_sec / files.ops_per_sec)
}

/// cos-local's p99 over the baseline's.
pub fn p99_ratio(cos: &Summary, files: &Summary) -> Option<f64> {
    let (c, f) = (cos.p99?, files.p99?);
    (!f.is_zero()).then(|| c.as_nanos() as f64 / f.as_nanos() as f64)
}

/// A rate: whole numbers with separators from 100 up, a few decimals below.
pub fn rate(value: f64) -> String {
    if value >= 100.0 {
        thousands(value.round() as u64)
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// A latency in milliseconds, to about three significant digits.
pub fn latency(value: Option<Duration>) -> String {
    let Some(value) = value else {
        return "–".to_owned();
    };
    let ms = value.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        format!("{} ms", thousands(ms.round() as u64))
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else if ms >= 1.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.3} ms")
    }
}

/// A ratio such as `0.42×`, or a dash when there is nothing to divide by.
pub fn ratio(value: Option<f64>) -> String {
    match value {
        None => "–".to_owned(),
        Some(v) if v >= 10.0 => format!("{}×", thousands(v.round() as u64)),
        Some(v) if v >= 0.1 => format!("{v:.2}×"),
        Some(v) => format!("{v:.3}×"),
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(ops_per_sec: f64, p99_ms: u64) -> Summary {
        Summary {
            ops_per_sec,
            mb_per_sec: ops_per_sec * 4096.0 / 1e6,
            p50: Some(Duration::from_millis(p99_ms / 2)),
            p99: Some(Duration::from_millis(p99_ms)),
            ops: (ops_per_sec * 4.0) as u64,
            errors: 0,
        }
    }

    fn row(cos: Summary, files: Summary) -> Row {
        Row {
            size: "4 KiB".to_owned(),
            op: Op::Put,
            cos,
            files,
        }
    }

    #[test]
    fn thousands_are_separated_by_commas() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn rates_latencies_and_ratios_keep_about_three_digits() {
        assert_eq!(rate(12345.6), "12,346");
        assert_eq!(rate(42.25), "42.2");
        assert_eq!(rate(4.256), "4.26");
        assert_eq!(latency(Some(Duration::from_micros(41))), "0.041 ms");
        assert_eq!(latency(Some(Duration::from_micros(2346))), "2.35 ms");
        assert_eq!(latency(Some(Duration::from_micros(23456))), "23.5 ms");
        assert_eq!(latency(Some(Duration::from_millis(1234))), "1,234 ms");
        assert_eq!(latency(None), "–");
        assert_eq!(ratio(Some(0.4213)), "0.42×");
        assert_eq!(ratio(Some(0.0123)), "0.012×");
        assert_eq!(ratio(Some(35.4)), "35×");
        assert_eq!(ratio(Some(5788.4)), "5,788×");
        assert_eq!(ratio(None), "–");
    }

    #[test]
    fn ratios_put_cos_local_over_the_files() {
        let cos = summary(100.0, 30);
        let files = summary(400.0, 10);

        assert_eq!(throughput_ratio(&cos, &files), Some(0.25));
        assert_eq!(p99_ratio(&cos, &files), Some(3.0));
        assert_eq!(throughput_ratio(&cos, &summary(0.0, 10)), None);
    }

    #[test]
    fn the_best_round_is_chosen_per_target() {
        let rounds = vec![
            vec![row(summary(100.0, 30), summary(900.0, 5))],
            vec![row(summary(150.0, 40), summary(800.0, 4))],
        ];

        let best = best_rows(&rounds);

        assert_eq!(best.len(), 1);
        assert_eq!(best[0].cos, summary(150.0, 40));
        assert_eq!(best[0].files, summary(900.0, 5));
    }

    #[test]
    fn the_headline_table_has_one_row_per_size_and_operation() {
        let rows = vec![row(summary(100.0, 30), summary(400.0, 10))];

        let table = headline_table(&rows);

        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].matches('|').count(), lines[1].matches('|').count());
        assert_eq!(
            lines[2],
            "| 4 KiB | PUT | 100 | 0.41 | 15.0 ms | 30.0 ms | 400 | 1.64 | 5.00 ms | 10.0 ms \
             | 0.25× | 3.00× |"
        );
    }

    #[test]
    fn the_document_names_the_errors_and_the_load_average() {
        let rounds = vec![vec![row(summary(100.0, 30), summary(400.0, 10))]];
        let settings = Settings {
            workers: 32,
            phase_seconds: 4.0,
            max_ops_per_worker: 1000,
            rounds: 1,
            keys: vec![("4 KiB".to_owned(), 256)],
        };
        let machine = Machine {
            load_before: "3.10 2.00 1.00".to_owned(),
            ..Machine::default()
        };

        let text = document(&rounds, &settings, &machine, &["PUT x: 500".to_owned()]);

        assert!(text.contains("- Errors: PUT x: 500."));
        assert!(text.contains("load average 3.10 2.00 1.00 at the start"));
        assert!(text.contains("Keys per client (256 for 4 KiB)"));
        assert!(text.contains("## Each round"));
    }
}
