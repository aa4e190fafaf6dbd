//! Numbers for people: sizes in SI units, times in UTC, the quota bar.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use humansize::{DECIMAL, format_size};

/// A size in SI units, as disks and networks count: `12.3 MB`.
pub fn size(bytes: u64) -> String {
    format_size(bytes, DECIMAL)
}

/// A Unix time as `2024-05-01 12:34:56` (UTC).
pub fn time(unix_seconds: u64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(unix_seconds);
    let text = humantime::format_rfc3339_seconds(at).to_string();
    text.trim_end_matches('Z').replacen('T', " ", 1)
}

/// How long ago `then` was, roughly: `5s`, `3m`, `2h`, `4d`; "in the future" for a clock
/// that runs behind.
pub fn ago(now: SystemTime, unix_seconds: u64) -> String {
    let then = UNIX_EPOCH + Duration::from_secs(unix_seconds);
    let Ok(elapsed) = now.duration_since(then) else {
        return "in the future".to_owned();
    };
    let secs = elapsed.as_secs();
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

/// A duration for the verbose log: `850 ms`, `2.4 s`.
pub fn elapsed(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis} ms")
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

/// The quota as a bar `width` cells wide: `█` used, `▒` reserved by unfinished uploads,
/// `░` free. Any byte used or reserved shows at least one cell, so a nearly empty quota
/// still shows that something is there.
pub fn quota_bar(used: u64, reserved: u64, quota: u64, width: usize) -> String {
    let cells = |bytes: u64| -> usize {
        if quota == 0 || bytes == 0 {
            return 0;
        }
        let exact = u128::from(bytes) * width as u128 / u128::from(quota);
        usize::try_from(exact).unwrap_or(width).clamp(1, width)
    };
    let used_cells = cells(used);
    let reserved_cells = cells(reserved).min(width - used_cells);
    let free_cells = width - used_cells - reserved_cells;
    format!(
        "[{}{}{}]",
        "█".repeat(used_cells),
        "▒".repeat(reserved_cells),
        "░".repeat(free_cells)
    )
}

/// A share of the quota in whole percent, rounded down but never to 0 for a non-zero part.
pub fn percent(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    let exact = u128::from(part) * 100 / u128::from(whole);
    let shown = u64::try_from(exact).unwrap_or(u64::MAX);
    if shown == 0 && part > 0 { 1 } else { shown }
}

/// The server's messages count in bytes ("12000000 bytes of your quota are free"); a
/// person reads "12 MB". Every `<digits> bytes` in `message` is rewritten so.
pub fn byte_counts_in(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let (before, from_digits) = rest.split_at(start);
        out.push_str(before);
        let digits_len = from_digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(from_digits.len());
        let (digits, after) = from_digits.split_at(digits_len);
        let preceded_by_word = before
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric);
        match (after.strip_prefix(" bytes"), digits.parse::<u64>()) {
            (Some(tail), Ok(n))
                if !preceded_by_word && !tail.starts_with(|c: char| c.is_alphanumeric()) =>
            {
                out.push_str(&size(n));
                rest = tail;
            }
            _ => {
                out.push_str(digits);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_shown_in_si_units() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(999), "999 B");
        assert_eq!(size(12_000_000), "12 MB");
        assert_eq!(size(1_234_567), "1.23 MB");
    }

    #[test]
    fn times_are_shown_in_utc_without_the_t() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(1_714_566_896), "2024-05-01 12:34:56");
    }

    #[test]
    fn ago_picks_the_largest_whole_unit() {
        let now = UNIX_EPOCH + Duration::from_secs(100_000);

        assert_eq!(ago(now, 99_995), "5s ago");
        assert_eq!(ago(now, 100_000 - 180), "3m ago");
        assert_eq!(ago(now, 100_000 - 7200), "2h ago");
        assert_eq!(ago(now, 0), "1d ago");
        assert_eq!(ago(now, 200_000), "in the future");
    }

    #[test]
    fn byte_counts_in_messages_become_human_sizes() {
        let message = "the file does not fit: 12000000 bytes of your quota are free";

        assert_eq!(
            byte_counts_in(message),
            "the file does not fit: 12 MB of your quota are free"
        );
    }

    #[test]
    fn other_numbers_in_messages_are_left_alone() {
        assert_eq!(
            byte_counts_in("part_numbers: 7 is not a part (1 to 5)"),
            "part_numbers: 7 is not a part (1 to 5)"
        );
        assert_eq!(byte_counts_in("v2 bytes"), "v2 bytes");
        assert_eq!(byte_counts_in("5 bytesize"), "5 bytesize");
        assert_eq!(byte_counts_in("at most 100 bytes"), "at most 100 B");
    }

    #[test]
    fn the_quota_bar_shows_used_reserved_and_free_cells() {
        let bar = quota_bar(50, 25, 100, 8);

        assert_eq!(bar, "[████▒▒░░]");
    }

    #[test]
    fn a_tiny_use_still_shows_one_cell_and_a_full_quota_never_overflows() {
        assert_eq!(quota_bar(1, 0, 1_000_000, 4), "[█░░░]");
        assert_eq!(quota_bar(100, 100, 100, 4), "[████]");
        assert_eq!(quota_bar(0, 0, 0, 3), "[░░░]");
    }

    #[test]
    fn percent_rounds_down_but_not_to_zero() {
        assert_eq!(percent(1, 1000), 1);
        assert_eq!(percent(0, 1000), 0);
        assert_eq!(percent(999, 1000), 99);
        assert_eq!(percent(5, 0), 0);
    }
}
