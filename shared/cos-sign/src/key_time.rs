//! The validity window of a signature, `<start>;<end>` in Unix seconds.

use std::fmt;
use std::str::FromStr;

use crate::SignError;

/// A signature's validity window: valid from `start` through `end`, both Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyTime {
    start: u64,
    end: u64,
}

impl KeyTime {
    /// A window from `start` through `end`.
    ///
    /// # Errors
    ///
    /// [`SignError::WindowEndsBeforeStart`] when `end < start`.
    pub fn new(start: u64, end: u64) -> Result<Self, SignError> {
        if end < start {
            return Err(SignError::WindowEndsBeforeStart { start, end });
        }
        Ok(Self { start, end })
    }

    /// A window that opens `backdate` seconds before `now` and closes `ttl` seconds after it.
    ///
    /// Back-dating the start lets a terminal whose clock runs a little behind use a fresh
    /// signature; the official Python SDK back-dates by 60 seconds.
    pub fn around(now: u64, backdate: u64, ttl: u64) -> Self {
        Self {
            start: now.saturating_sub(backdate),
            end: now.saturating_add(ttl),
        }
    }

    /// First valid second.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Last valid second.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Whether `now` falls inside the window, ends included.
    pub fn contains(&self, now: u64) -> bool {
        self.start <= now && now <= self.end
    }

    /// `<start>;<end>`, as [`Display`](fmt::Display) writes it, made without the formatting
    /// machinery: a signature writes it three times.
    pub(crate) fn text(&self) -> String {
        let mut out = String::with_capacity(41);
        self.push_to(&mut out);
        out
    }

    /// Appends `<start>;<end>` to `out`.
    pub(crate) fn push_to(&self, out: &mut String) {
        let mut digits = itoa::Buffer::new();
        out.push_str(digits.format(self.start));
        out.push(';');
        out.push_str(digits.format(self.end));
    }
}

impl fmt::Display for KeyTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl FromStr for KeyTime {
    type Err = SignError;

    /// Parses `<start>;<end>`: plain decimal digits, no sign, no spaces.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || SignError::InvalidKeyTime(text.to_owned());
        let (start, end) = text.split_once(';').ok_or_else(malformed)?;
        let start = parse_seconds(start).ok_or_else(malformed)?;
        let end = parse_seconds(end).ok_or_else(malformed)?;
        Self::new(start, end)
    }
}

/// Unix seconds as COS writes them: 1 to 20 ASCII digits, nothing else.
pub(crate) fn parse_seconds(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_that_ends_before_it_starts_is_refused() {
        assert_eq!(
            KeyTime::new(10, 9),
            Err(SignError::WindowEndsBeforeStart { start: 10, end: 9 })
        );
        assert!(KeyTime::new(10, 10).is_ok());
    }

    #[test]
    fn round_trips_through_text() {
        let window: KeyTime = "1557989151;1557996351".parse().unwrap();

        assert_eq!(window.start(), 1557989151);
        assert_eq!(window.to_string(), "1557989151;1557996351");
    }

    #[test]
    fn refuses_signs_spaces_and_missing_halves() {
        for bad in ["", ";", "1;", ";1", "+1;2", "1; 2", "1;2;3", "-1;2", "2;1"] {
            assert!(bad.parse::<KeyTime>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn around_backdates_the_start() {
        let window = KeyTime::around(1000, 60, 300);

        assert_eq!((window.start(), window.end()), (940, 1300));
        assert!(window.contains(940) && window.contains(1300) && !window.contains(1301));
    }
}
