//! The resume state of unfinished uploads: one small JSON file per upload in
//! `<config>/uploads/`, named after a hash of the file's canonical path, size and
//! modification time, so running the same command again finds it, and a file changed since
//! does not.
//!
//! The state is written when the upload is issued and after every part that reached the
//! store, so a killed process loses at most the parts in flight; it is removed once the
//! upload is complete.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::config::{make_private_dir, write_private};

/// The format of the state files; a file of another version is ignored.
const VERSION: u32 = 1;

/// What identifies one version of a local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// The canonical path (symlinks resolved).
    pub path: PathBuf,
    /// The size in bytes.
    pub size: u64,
    /// The modification time: seconds and nanoseconds since the epoch.
    pub modified: (u64, u32),
}

impl Fingerprint {
    /// The fingerprint of the file at `path` as it is now.
    ///
    /// # Errors
    ///
    /// Any I/O error reading its metadata.
    pub fn of(path: &Path) -> io::Result<Self> {
        let canonical = fs::canonicalize(path)?;
        let meta = fs::metadata(&canonical)?;
        // A file system without modification times gives every version the same one; the
        // size still tells most changes apart.
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| (d.as_secs(), d.subsec_nanos()))
            .unwrap_or((0, 0));
        Ok(Self {
            path: canonical,
            size: meta.len(),
            modified,
        })
    }

    /// The state file's name: the SHA-256 of the three, in hex.
    pub fn key(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(self.path.as_os_str().as_encoded_bytes());
        hash.update([0]);
        hash.update(self.size.to_be_bytes());
        hash.update(self.modified.0.to_be_bytes());
        hash.update(self.modified.1.to_be_bytes());
        hex::encode(hash.finalize())
    }
}

/// The state of one upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadState {
    /// The format version.
    pub version: u32,
    /// The API the upload was issued by.
    pub api_url: String,
    /// The local file, for people reading the folder.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// The server's file id.
    pub file_id: String,
    /// `put` or `multipart`.
    pub method: String,
    /// The multipart upload id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// The multipart part size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_size: Option<u64>,
    /// The parts the store has acknowledged.
    #[serde(default)]
    pub completed: BTreeSet<u32>,
}

impl UploadState {
    /// A fresh state for an upload just issued.
    pub fn new(api_url: &str, fingerprint: &Fingerprint, file_id: &str, method: &str) -> Self {
        Self {
            version: VERSION,
            api_url: api_url.to_owned(),
            path: fingerprint.path.clone(),
            size: fingerprint.size,
            file_id: file_id.to_owned(),
            method: method.to_owned(),
            upload_id: None,
            part_size: None,
            completed: BTreeSet::new(),
        }
    }
}

/// The folder of state files.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    /// The state files in `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn file(&self, fingerprint: &Fingerprint) -> PathBuf {
        self.dir.join(format!("{}.json", fingerprint.key()))
    }

    /// The saved state of this version of the file, if any. A file that cannot be read or
    /// parsed, or was written for another file, is as good as none: the upload starts over.
    pub fn load(&self, fingerprint: &Fingerprint) -> Option<UploadState> {
        let bytes = fs::read(self.file(fingerprint)).ok()?;
        let state: UploadState = serde_json::from_slice(&bytes).ok()?;
        (state.version == VERSION
            && state.size == fingerprint.size
            && state.path == fingerprint.path)
            .then_some(state)
    }

    /// Saves `state`, atomically and privately.
    ///
    /// # Errors
    ///
    /// Any I/O error; the previous state is left as it was.
    pub fn save(&self, fingerprint: &Fingerprint, state: &UploadState) -> io::Result<()> {
        make_private_dir(&self.dir)?;
        let bytes = serde_json::to_vec_pretty(state).map_err(io::Error::other)?;
        write_private(&self.file(fingerprint), &bytes)
    }

    /// Forgets the state of this version of the file.
    ///
    /// # Errors
    ///
    /// Any I/O error but the file being gone already.
    pub fn remove(&self, fingerprint: &Fingerprint) -> io::Result<()> {
        match fs::remove_file(self.file(fingerprint)) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(size: u64, modified: (u64, u32)) -> Fingerprint {
        Fingerprint {
            path: PathBuf::from("/data/video.mp4"),
            size,
            modified,
        }
    }

    #[test]
    fn the_key_changes_with_path_size_and_time() {
        let base = fingerprint(10, (100, 5));
        let mut moved = base.clone();
        moved.path = PathBuf::from("/data/other.mp4");

        assert_eq!(base.key(), fingerprint(10, (100, 5)).key());
        assert_ne!(base.key(), fingerprint(11, (100, 5)).key());
        assert_ne!(base.key(), fingerprint(10, (100, 6)).key());
        assert_ne!(base.key(), moved.key());
        assert_eq!(base.key().len(), 64);
    }

    #[test]
    fn a_saved_state_reads_back_with_its_completed_parts() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path().join("uploads"));
        let print = fingerprint(10, (1, 2));
        let mut state = UploadState::new("http://api", &print, "01F", "multipart");
        state.upload_id = Some("up-1".into());
        state.part_size = Some(4);
        state.completed.extend([1, 3]);

        store.save(&print, &state).unwrap();
        let loaded = store.load(&print);

        assert_eq!(loaded, Some(state));
    }

    #[test]
    fn a_state_for_another_version_of_the_file_is_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path().to_owned());
        let print = fingerprint(10, (1, 2));
        store
            .save(
                &print,
                &UploadState::new("http://api", &print, "01F", "put"),
            )
            .unwrap();

        assert_eq!(store.load(&fingerprint(10, (1, 3))), None);
        assert!(store.load(&print).is_some());
    }

    #[test]
    fn a_corrupt_state_file_counts_as_none_and_removing_twice_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path().to_owned());
        let print = fingerprint(10, (1, 2));
        fs::write(store.file(&print), b"{\"version\":").unwrap();

        assert_eq!(store.load(&print), None);
        store.remove(&print).unwrap();
        store.remove(&print).unwrap();
        assert!(!store.file(&print).exists());
    }

    #[cfg(unix)]
    #[test]
    fn state_files_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path().join("uploads"));
        let print = fingerprint(10, (1, 2));

        store
            .save(
                &print,
                &UploadState::new("http://api", &print, "01F", "put"),
            )
            .unwrap();

        let mode = fs::metadata(store.file(&print))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
}
