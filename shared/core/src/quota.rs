//! Limits on uploads, and the quota arithmetic.

use std::time::Duration;

use crate::UserRecord;

/// The limits a deployment enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest single file, in bytes.
    pub max_upload_bytes: u64,
    /// Quota of a new user, in bytes.
    pub default_quota_bytes: u64,
    /// Most pending uploads one user may hold at once.
    pub max_pending_uploads: u64,
    /// How long an upload signature is valid.
    pub upload_url_ttl: Duration,
    /// How long a download URL is valid.
    pub download_url_ttl: Duration,
    /// Files of at least this size are uploaded in parts.
    pub multipart_threshold_bytes: u64,
    /// Bytes per part of a multipart upload.
    pub part_size_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_upload_bytes: 5 << 30,
            default_quota_bytes: 1 << 30,
            max_pending_uploads: 20,
            upload_url_ttl: Duration::from_secs(900),
            download_url_ttl: Duration::from_secs(300),
            multipart_threshold_bytes: 64 << 20,
            part_size_bytes: 8 << 20,
        }
    }
}

/// Whether a new reservation fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaCheck {
    /// It fits.
    Fits,
    /// `used + reserved + size` would pass the quota.
    Exceeded {
        /// Bytes still free.
        available: u64,
    },
}

impl QuotaCheck {
    /// `reserved + used + size ≤ quota`, without overflow.
    pub fn of(user: &UserRecord, size: u64) -> Self {
        let taken = user.used_bytes.saturating_add(user.reserved_bytes);
        let available = user.quota_bytes.saturating_sub(taken);
        if size <= available {
            Self::Fits
        } else {
            Self::Exceeded { available }
        }
    }
}

impl Limits {
    /// Number of parts for a multipart upload of `size` bytes.
    pub fn part_count(&self, size: u64) -> u64 {
        size.div_ceil(self.part_size_bytes.max(1)).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UserId;

    #[test]
    fn a_reservation_fits_up_to_the_last_byte() {
        let mut user = UserRecord::new(UserId::new("u").unwrap(), 100, 0);
        user.used_bytes = 60;
        user.reserved_bytes = 30;

        assert_eq!(QuotaCheck::of(&user, 10), QuotaCheck::Fits);
        assert_eq!(
            QuotaCheck::of(&user, 11),
            QuotaCheck::Exceeded { available: 10 }
        );
    }

    #[test]
    fn counters_past_the_quota_leave_nothing_available() {
        let mut user = UserRecord::new(UserId::new("u").unwrap(), 100, 0);
        user.used_bytes = u64::MAX;

        assert_eq!(
            QuotaCheck::of(&user, 1),
            QuotaCheck::Exceeded { available: 0 }
        );
    }

    #[test]
    fn parts_cover_the_file() {
        let limits = Limits {
            part_size_bytes: 8,
            ..Limits::default()
        };

        assert_eq!(limits.part_count(16), 2);
        assert_eq!(limits.part_count(17), 3);
        assert_eq!(limits.part_count(0), 1);
    }
}
