//! Crash-safe file writing: a temporary file in the target's own directory, fsynced, then
//! renamed over the target, then the directory fsynced. A reader sees the old file or the
//! new one, never a half-written one, and a temporary file that is not renamed is removed
//! when it is dropped.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::fs::File;
use tokio::io::{AsyncWriteExt, BufWriter};

/// The prefix of every temporary file; what startup sweeps away.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Write buffer: large enough that a body becomes a few big writes, not many small ones.
const WRITE_BUFFER: usize = 1 << 20;

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A name no other call in this process or an earlier one returns: the time in
/// nanoseconds, a per-process sequence number and random bits.
pub fn unique_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:x}{sequence:x}{:08x}", fastrand::u32(..))
}

/// A temporary file being written; removed on drop unless persisted.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl TempFile {
    /// Creates an empty temporary file in `dir`, which must exist.
    ///
    /// # Errors
    ///
    /// The file-system error of creating it.
    pub async fn create(dir: &Path) -> io::Result<Self> {
        let path = dir.join(format!("{TEMP_PREFIX}{}", unique_name()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(Self {
            path,
            writer: Some(BufWriter::with_capacity(WRITE_BUFFER, file)),
        })
    }

    /// Appends bytes.
    ///
    /// # Errors
    ///
    /// The file-system error of writing.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.writer {
            Some(writer) => writer.write_all(bytes).await,
            None => Err(io::Error::other("the temporary file is already closed")),
        }
    }

    /// Flushes and fsyncs the file, then renames it to `target` and fsyncs the directory.
    ///
    /// # Errors
    ///
    /// The file-system error of any step; the temporary file is then removed.
    pub async fn persist(mut self, target: &Path) -> io::Result<()> {
        let mut writer = self
            .writer
            .take()
            .ok_or_else(|| io::Error::other("the temporary file is already closed"))?;
        writer.flush().await?;
        let file = writer.into_inner();
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&self.path, target).await?;
        // Renamed: nothing is left to remove on drop.
        self.path = PathBuf::new();
        sync_dir(target.parent().unwrap_or(Path::new("."))).await
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            // A failed or abandoned write: the file must not outlive the request. A plain
            // unlink is quick enough to run here, and it cannot be awaited in `drop`.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Makes a rename or removal in `dir` durable.
///
/// # Errors
///
/// The file-system error of opening or syncing the directory.
pub async fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir).await?.sync_all().await
}

/// Writes `bytes` to `target` crash-safely (temporary file, fsync, rename, fsync).
///
/// # Errors
///
/// The file-system error of any step; no temporary file is left behind.
pub async fn write_atomic(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut temp = TempFile::create(dir).await?;
    temp.write(bytes).await?;
    temp.persist(target).await
}

/// Removes a file, treating "already gone" as done.
///
/// # Errors
///
/// Any other file-system error.
pub async fn remove_if_exists(path: &Path) -> io::Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn a_persisted_file_replaces_the_target_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.json");
        std::fs::write(&target, "old").unwrap();

        write_atomic(&target, b"new").await.unwrap();

        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(names(dir.path()), ["t.json"]);
    }

    #[tokio::test]
    async fn a_dropped_temporary_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();

        let mut temp = TempFile::create(dir.path()).await.unwrap();
        temp.write(b"half").await.unwrap();
        assert_eq!(names(dir.path()).len(), 1);
        drop(temp);

        assert!(names(dir.path()).is_empty());
    }

    #[tokio::test]
    async fn a_failed_rename_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("missing-dir").join("t");

        let result = {
            let mut temp = TempFile::create(dir.path()).await.unwrap();
            temp.write(b"x").await.unwrap();
            temp.persist(&target).await
        };

        assert!(result.is_err());
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn unique_names_do_not_repeat() {
        let mut seen: Vec<String> = (0..1000).map(|_| unique_name()).collect();
        seen.sort();
        seen.dedup();

        assert_eq!(seen.len(), 1000);
    }
}
