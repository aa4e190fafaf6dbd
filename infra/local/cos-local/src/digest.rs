//! The checksums COS reports for an object: the MD5 behind its ETag and the CRC-64 of
//! `x-cos-hash-crc64ecma`, computed in one pass as the bytes arrive.

use crc::{CRC_64_XZ, Crc, Table};
use md5::{Digest as _, Md5};

/// CRC-64/XZ: the ECMA-182 polynomial, reflected, with all-ones init and final XOR. COS
/// calls it crc64ecma; the Python SDK's crcmod definition of it is the same function.
static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_XZ);

/// A running MD5, CRC-64 and byte count.
pub struct Hasher {
    md5: Md5,
    crc: crc::Digest<'static, u64, Table<16>>,
    size: u64,
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher {
    /// Nothing hashed yet.
    pub fn new() -> Self {
        Self {
            md5: Md5::new(),
            crc: CRC64.digest(),
            size: 0,
        }
    }

    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        self.crc.update(bytes);
        self.size += bytes.len() as u64;
    }

    /// Bytes hashed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The checksums of everything added.
    pub fn finish(self) -> Digest {
        Digest {
            md5: self.md5.finalize().into(),
            crc64: self.crc.finalize(),
            size: self.size,
        }
    }
}

/// The checksums of a finished body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    /// MD5 of the bytes.
    pub md5: [u8; 16],
    /// CRC-64/XZ of the bytes.
    pub crc64: u64,
    /// Length in bytes.
    pub size: u64,
}

impl Digest {
    /// The ETag of a single-part object: lowercase hex MD5, without quotes.
    pub fn etag(&self) -> String {
        hex::encode(self.md5)
    }
}

/// The ETag of a multipart object: the MD5 of the parts' binary MD5s, a dash, the count.
pub fn multipart_etag<'a>(part_md5s: impl IntoIterator<Item = &'a [u8; 16]>) -> String {
    let mut md5 = Md5::new();
    let mut count = 0usize;
    for part in part_md5s {
        md5.update(part);
        count += 1;
    }
    format!("{}-{count}", hex::encode(md5.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_check_values() {
        let mut hasher = Hasher::new();
        hasher.update(b"1234");
        hasher.update(b"56789");

        let digest = hasher.finish();

        // CRC-64/XZ's catalogue check value for "123456789".
        assert_eq!(digest.crc64, 0x995d_c9bb_df19_39fa);
        assert_eq!(digest.etag(), "25f9e794323b453885f5181f1b624d0b");
        assert_eq!(digest.size, 9);
    }

    #[test]
    fn the_empty_body_has_crc_zero() {
        let digest = Hasher::new().finish();

        assert_eq!(digest.crc64, 0);
        assert_eq!(digest.etag(), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn a_multipart_etag_hashes_the_binary_part_md5s() {
        let a = [0u8; 16];
        let b = [1u8; 16];

        let etag = multipart_etag([&a, &b]);

        let mut joined = Vec::new();
        joined.extend_from_slice(&a);
        joined.extend_from_slice(&b);
        assert_eq!(etag, format!("{}-2", hex::encode(Md5::digest(&joined))));
    }
}
