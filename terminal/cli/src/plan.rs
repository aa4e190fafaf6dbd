//! Splitting a file into the parts of a multipart upload, and grouping the parts still to
//! send into batches to sign.

use std::collections::BTreeSet;

/// The most parts the server signs in one call.
pub const MAX_SIGN_BATCH: usize = 100;

/// The parts of a multipart upload: `size` bytes cut into `part_size` pieces, the last one
/// shorter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPlan {
    size: u64,
    part_size: u64,
}

/// One part: its number (from 1), where it starts in the file and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// The part number, 1 to the part count.
    pub number: u32,
    /// Its first byte in the file.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
}

impl PartPlan {
    /// The plan for `size` bytes in parts of `part_size`, or `None` when the server's
    /// figures make no sense (a zero part size, or more parts than part numbers).
    pub fn new(size: u64, part_size: u64) -> Option<Self> {
        if part_size == 0 || size == 0 {
            return None;
        }
        let plan = Self { size, part_size };
        u32::try_from(plan.count()).ok()?;
        Some(plan)
    }

    /// How many parts.
    pub fn count(&self) -> u64 {
        self.size.div_ceil(self.part_size)
    }

    /// The part numbered `number`, if the upload has it.
    pub fn part(&self, number: u32) -> Option<Part> {
        let index = u64::from(number).checked_sub(1)?;
        if index >= self.count() {
            return None;
        }
        let offset = index * self.part_size;
        let len = self.part_size.min(self.size - offset);
        Some(Part {
            number,
            offset,
            len,
        })
    }

    /// The parts not in `done`, in order.
    pub fn missing(&self, done: &BTreeSet<u32>) -> Vec<Part> {
        (1..=self.count())
            .filter_map(|n| u32::try_from(n).ok())
            .filter(|n| !done.contains(n))
            .filter_map(|n| self.part(n))
            .collect()
    }

    /// The bytes of the parts in `done`.
    pub fn bytes_done(&self, done: &BTreeSet<u32>) -> u64 {
        done.iter()
            .filter_map(|&n| self.part(n))
            .map(|part| part.len)
            .sum()
    }
}

/// How many parts to sign per call: enough to keep `in_flight` transfers busy a while
/// without signing far ahead of use (a signature's window is short), and no more than the
/// server allows.
pub fn sign_batch(in_flight: usize) -> usize {
    (in_flight * 4).clamp(1, MAX_SIGN_BATCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_cut_into_full_parts_and_a_shorter_last_one() {
        let plan = PartPlan::new(10, 4).unwrap();

        assert_eq!(plan.count(), 3);
        assert_eq!(
            plan.part(1),
            Some(Part {
                number: 1,
                offset: 0,
                len: 4
            })
        );
        assert_eq!(
            plan.part(3),
            Some(Part {
                number: 3,
                offset: 8,
                len: 2
            })
        );
        assert_eq!(plan.part(0), None);
        assert_eq!(plan.part(4), None);
    }

    #[test]
    fn a_size_that_divides_evenly_has_no_short_part() {
        let plan = PartPlan::new(12, 4).unwrap();

        assert_eq!(plan.count(), 3);
        assert_eq!(plan.part(3).unwrap().len, 4);
    }

    #[test]
    fn nonsense_figures_make_no_plan() {
        assert_eq!(PartPlan::new(10, 0), None);
        assert_eq!(PartPlan::new(0, 4), None);
        assert_eq!(PartPlan::new(u64::MAX, 1), None);
    }

    #[test]
    fn missing_parts_skip_the_ones_done_and_count_their_bytes() {
        let plan = PartPlan::new(10, 4).unwrap();
        let done = BTreeSet::from([1, 3]);

        let missing = plan.missing(&done);

        assert_eq!(
            missing,
            vec![Part {
                number: 2,
                offset: 4,
                len: 4
            }]
        );
        assert_eq!(plan.bytes_done(&done), 6);
    }

    #[test]
    fn parts_of_another_plan_in_the_done_set_are_ignored() {
        let plan = PartPlan::new(10, 4).unwrap();

        assert_eq!(plan.bytes_done(&BTreeSet::from([9])), 0);
        assert_eq!(plan.missing(&BTreeSet::from([9])).len(), 3);
    }

    #[test]
    fn sign_batches_stay_within_the_servers_limit() {
        assert_eq!(sign_batch(4), 16);
        assert_eq!(sign_batch(0), 1);
        assert_eq!(sign_batch(1000), MAX_SIGN_BATCH);
    }
}
