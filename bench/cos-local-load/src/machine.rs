//! What the results say about the machine: CPU, kernel, load average and the file system
//! the scratch directory is on. Read from `/proc`; elsewhere the fields say `unknown`.

use std::path::Path;
use std::time::SystemTime;

use crate::report::Machine;

/// The machine as it is now, with the scratch directory's file system.
pub fn describe(scratch: &Path) -> Machine {
    let cpuinfo = read("/proc/cpuinfo");
    let mounts = read("/proc/mounts");
    let scratch = scratch
        .canonicalize()
        .unwrap_or_else(|_| scratch.to_owned());
    Machine {
        started: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        cpu: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown CPU".to_owned()),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        filesystem: filesystem_of(&scratch.to_string_lossy(), &mounts)
            .unwrap_or_else(|| "an unknown file system".to_owned()),
        load_before: load_average(),
        load_after: String::new(),
    }
}

/// `/proc/loadavg`'s 1, 5 and 15 minute averages.
pub fn load_average() -> String {
    let text = read("/proc/loadavg");
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    if fields.len() == 3 {
        fields.join(" ")
    } else {
        "unknown".to_owned()
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The first `model name` of `/proc/cpuinfo`.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
}

/// The type and device of the mount holding `path`: the longest mount point that is
/// `path` or one of its parents.
fn filesystem_of(path: &str, mounts: &str) -> Option<String> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (device, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            let under = point == "/"
                || path == point
                || path
                    .strip_prefix(point)
                    .is_some_and(|rest| rest.starts_with('/'));
            under.then_some((point.len(), format!("{kind} ({device})")))
        })
        .max_by_key(|(length, _)| *length)
        .map(|(_, described)| described)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "/dev/vda / ext4 rw,relatime 0 0\n\
                          tmpfs /tmp tmpfs rw 0 0\n\
                          tmpfs /tmpx tmpfs rw 0 0\n";

    #[test]
    fn the_longest_mount_point_above_the_path_wins() {
        assert_eq!(
            filesystem_of("/tmp/run", MOUNTS).as_deref(),
            Some("tmpfs (tmpfs)")
        );
        assert_eq!(
            filesystem_of("/work/x", MOUNTS).as_deref(),
            Some("ext4 (/dev/vda)")
        );
        assert_eq!(
            filesystem_of("/tmpfoo", MOUNTS).as_deref(),
            Some("ext4 (/dev/vda)")
        );
    }

    #[test]
    fn the_cpu_model_is_the_first_model_name() {
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\n";

        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model(""), None);
    }
}
