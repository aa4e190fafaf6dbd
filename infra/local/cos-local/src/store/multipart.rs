//! Multipart uploads on disk.
//!
//! ```text
//! uploads/<upload id>/upload.json               key, initiation time, stored headers
//! uploads/<upload id>/part-<nnnnn>.json         a part's ETag, size, CRC and version file
//! uploads/<upload id>/part-<nnnnn>.<v>.data     its bytes
//! ```
//!
//! Parts are written like objects (version file, then metadata as the commit point), so a
//! part uploaded twice is replaced whole. Completing concatenates the listed parts into a
//! new object and removes the upload's directory.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use super::files::{TEMP_PREFIX, TempFile, remove_if_exists, unique_name, write_atomic};
use super::{BucketStore, ObjectHeaders, ObjectMeta, StoreError, io_error};
use crate::digest::{Hasher, multipart_etag};
use crate::xml::ListedPart;

/// The stored record of an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadMeta {
    /// Its id.
    pub upload_id: String,
    /// The key the object will have.
    pub key: String,
    /// Unix seconds.
    pub initiated: u64,
    /// Headers given at initiation, stored with the object at completion.
    pub headers: ObjectHeaders,
}

/// The stored record of a part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartMeta {
    /// 1..=10000.
    pub number: u32,
    /// Hex MD5, without quotes.
    pub etag: String,
    /// Bytes.
    pub size: u64,
    /// CRC-64/XZ, decimal.
    pub crc64: String,
    /// Unix seconds.
    pub last_modified: u64,
    /// The version file holding the bytes.
    pub data_file: String,
}

/// Upload ids are ours: hex only, so one can never name a path outside `uploads/`.
fn valid_upload_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn part_stem(number: u32) -> String {
    format!("part-{number:05}")
}

impl BucketStore {
    fn upload_dir(&self, upload_id: &str) -> Result<PathBuf, StoreError> {
        if valid_upload_id(upload_id) {
            Ok(self.uploads.join(upload_id))
        } else {
            Err(StoreError::NoSuchUpload)
        }
    }

    /// Starts a multipart upload.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when its record cannot be written.
    pub async fn create_upload(
        &self,
        key: &str,
        headers: ObjectHeaders,
    ) -> Result<UploadMeta, StoreError> {
        let upload_id = unique_name();
        let dir = self.uploads.join(&upload_id);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io_error("start the multipart upload"))?;
        let meta = UploadMeta {
            upload_id,
            key: key.to_owned(),
            initiated: crate::now_secs(),
            headers,
        };
        let json = serde_json::to_vec(&meta).map_err(|e| StoreError::Io {
            action: "start the multipart upload",
            source: io::Error::other(e),
        })?;
        if let Err(error) = write_atomic(&dir.join("upload.json"), &json).await {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return Err(io_error("start the multipart upload")(error));
        }
        Ok(meta)
    }

    /// The record of an upload for `key`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchUpload`] when there is none for that key.
    pub async fn upload(&self, upload_id: &str, key: &str) -> Result<UploadMeta, StoreError> {
        let path = self.upload_dir(upload_id)?.join("upload.json");
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NoSuchUpload),
            Err(e) => return Err(io_error("read the multipart upload")(e)),
        };
        let meta: UploadMeta = serde_json::from_slice(&bytes)
            .map_err(|source| StoreError::Corrupt { path, source })?;
        if meta.key == key {
            Ok(meta)
        } else {
            Err(StoreError::NoSuchUpload)
        }
    }

    /// A temporary file inside the upload's directory, for a part's bytes.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchUpload`], or [`StoreError::Io`] when the file cannot be created.
    pub async fn temp_for_part(&self, upload: &UploadMeta) -> Result<TempFile, StoreError> {
        let dir = self.upload_dir(&upload.upload_id)?;
        match TempFile::create(&dir).await {
            Ok(temp) => Ok(temp),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::NoSuchUpload),
            Err(e) => Err(io_error("write the part")(e)),
        }
    }

    /// Makes a written temporary file part `number` of the upload, replacing any earlier
    /// part of that number.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchUpload`] when the upload was completed or aborted meanwhile,
    /// [`StoreError::Io`] when the disk refuses.
    pub async fn commit_part(
        &self,
        upload: &UploadMeta,
        number: u32,
        temp: TempFile,
        digest: crate::digest::Digest,
    ) -> Result<PartMeta, StoreError> {
        let dir = self.upload_dir(&upload.upload_id)?;
        let lock = self.upload_lock(&upload.upload_id);
        let _shared = lock.read().await;
        if !tokio::fs::try_exists(dir.join("upload.json"))
            .await
            .unwrap_or(false)
        {
            return Err(StoreError::NoSuchUpload);
        }
        let stem = part_stem(number);
        let data_file = format!("{stem}.{}.data", unique_name());
        temp.persist(&dir.join(&data_file))
            .await
            .map_err(io_error("write the part"))?;
        let meta = PartMeta {
            number,
            etag: digest.etag(),
            size: digest.size,
            crc64: digest.crc64.to_string(),
            last_modified: crate::now_secs(),
            data_file: data_file.clone(),
        };
        let meta_path = dir.join(format!("{stem}.json"));
        // Two uploads of one part number at once may both see the same previous part; the
        // loser's version file is then left over, and goes with the upload's directory.
        let previous = read_part(&meta_path).await.ok();
        let json = serde_json::to_vec(&meta).map_err(|e| StoreError::Io {
            action: "write the part",
            source: io::Error::other(e),
        })?;
        if let Err(error) = write_atomic(&meta_path, &json).await {
            let _ = remove_if_exists(&dir.join(&data_file)).await;
            return Err(io_error("write the part")(error));
        }
        if let Some(previous) = previous.filter(|p| p.data_file != data_file) {
            let _ = remove_if_exists(&dir.join(previous.data_file)).await;
        }
        Ok(meta)
    }

    /// The parts uploaded so far, by number.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchUpload`], or [`StoreError::Io`] when the directory cannot be read.
    pub async fn parts(&self, upload: &UploadMeta) -> Result<Vec<PartMeta>, StoreError> {
        let dir = self.upload_dir(&upload.upload_id)?;
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NoSuchUpload),
            Err(e) => return Err(io_error("list the parts")(e)),
        };
        let mut parts = BTreeMap::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(io_error("list the parts"))?
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("part-") && name.ends_with(".json") {
                // A part replaced or removed while we list is simply skipped.
                if let Ok(part) = read_part(&entry.path()).await {
                    parts.insert(part.number, part);
                }
            }
        }
        Ok(parts.into_values().collect())
    }

    /// Completes an upload: checks the listed parts against the stored ones, concatenates
    /// them into the object and removes the upload.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidPartOrder`], [`StoreError::InvalidPart`],
    /// [`StoreError::PartTooSmall`], [`StoreError::NoSuchUpload`], [`StoreError::Exists`]
    /// under `forbid_overwrite`, [`StoreError::Io`].
    pub async fn complete_upload(
        &self,
        upload: &UploadMeta,
        listed: &[ListedPart],
        min_part_bytes: u64,
        forbid_overwrite: bool,
    ) -> Result<ObjectMeta, StoreError> {
        if listed.windows(2).any(|w| w[0].number >= w[1].number) {
            return Err(StoreError::InvalidPartOrder);
        }
        let lock = self.upload_lock(&upload.upload_id);
        let exclusive = lock.write().await;
        // Completed or aborted while we waited for the lock?
        let upload = self.upload(&upload.upload_id, &upload.key).await?;
        let stored: BTreeMap<u32, PartMeta> = self
            .parts(&upload)
            .await?
            .into_iter()
            .map(|p| (p.number, p))
            .collect();
        let mut chosen = Vec::with_capacity(listed.len());
        for part in listed {
            let found = stored
                .get(&part.number)
                .filter(|p| p.etag.eq_ignore_ascii_case(&part.etag))
                .ok_or(StoreError::InvalidPart(part.number))?;
            chosen.push(found);
        }
        if let Some((_, rest)) = chosen.split_last()
            && let Some(small) = rest.iter().find(|p| p.size < min_part_bytes)
        {
            return Err(StoreError::PartTooSmall {
                number: small.number,
                size: small.size,
                min: min_part_bytes,
            });
        }

        let dir = self.upload_dir(&upload.upload_id)?;
        let mut temp = self.temp_for_object(&upload.key).await?;
        let mut hasher = Hasher::new();
        let mut md5s = Vec::with_capacity(chosen.len());
        let mut buffer = vec![0u8; 1 << 20];
        for part in &chosen {
            let mut file = match tokio::fs::File::open(dir.join(&part.data_file)).await {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(StoreError::InvalidPart(part.number));
                }
                Err(e) => return Err(io_error("read a part")(e)),
            };
            loop {
                let read = file
                    .read(&mut buffer)
                    .await
                    .map_err(io_error("read a part"))?;
                if read == 0 {
                    break;
                }
                hasher.update(&buffer[..read]);
                temp.write(&buffer[..read])
                    .await
                    .map_err(io_error("write the object"))?;
            }
            let mut md5 = [0u8; 16];
            hex::decode_to_slice(&part.etag, &mut md5).map_err(|e| StoreError::Io {
                action: "read a part",
                source: io::Error::other(e),
            })?;
            md5s.push(md5);
        }
        let etag = multipart_etag(md5s.iter());
        let meta = self
            .commit_object(
                &upload.key,
                temp,
                hasher.finish(),
                etag,
                upload.headers.clone(),
                forbid_overwrite,
            )
            .await?;

        if let Err(error) = tokio::fs::remove_dir_all(&dir).await {
            tracing::warn!(cause = %error, "could not remove a completed upload's parts");
        }
        drop(exclusive);
        self.forget_upload_lock(&upload.upload_id);
        Ok(meta)
    }

    /// Aborts an upload and removes its parts.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchUpload`], or [`StoreError::Io`] when the parts cannot be removed.
    pub async fn abort_upload(&self, upload: &UploadMeta) -> Result<(), StoreError> {
        let dir = self.upload_dir(&upload.upload_id)?;
        let lock = self.upload_lock(&upload.upload_id);
        let exclusive = lock.write().await;
        // The record goes first: once it is gone the upload no longer exists, even if
        // removing the parts fails half way.
        match tokio::fs::remove_file(dir.join("upload.json")).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NoSuchUpload),
            Err(e) => return Err(io_error("abort the multipart upload")(e)),
        }
        let result = tokio::fs::remove_dir_all(&dir)
            .await
            .map_err(io_error("remove the parts"));
        drop(exclusive);
        self.forget_upload_lock(&upload.upload_id);
        result
    }

    /// Every upload in progress, by key then initiation time.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the uploads directory cannot be read.
    pub async fn list_uploads(&self) -> Result<Vec<UploadMeta>, StoreError> {
        let mut entries = tokio::fs::read_dir(&self.uploads)
            .await
            .map_err(io_error("list the multipart uploads"))?;
        let mut uploads = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(io_error("list the multipart uploads"))?
        {
            let path = entry.path().join("upload.json");
            if let Ok(bytes) = tokio::fs::read(&path).await
                && let Ok(meta) = serde_json::from_slice::<UploadMeta>(&bytes)
            {
                uploads.push(meta);
            }
        }
        uploads.sort_by(|a, b| {
            (a.key.as_str(), a.initiated, a.upload_id.as_str()).cmp(&(
                b.key.as_str(),
                b.initiated,
                b.upload_id.as_str(),
            ))
        });
        Ok(uploads)
    }
}

async fn read_part(path: &Path) -> Result<PartMeta, StoreError> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(io_error("read a part"))?;
    serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
        path: path.to_owned(),
        source,
    })
}

/// At start: removes uploads whose record is gone (aborted half way), temporary files, and
/// part versions no part record names.
pub(super) fn sweep(uploads: &Path) -> Result<(), StoreError> {
    for entry in std::fs::read_dir(uploads).map_err(io_error("read the uploads directory"))? {
        let dir = entry
            .map_err(io_error("read the uploads directory"))?
            .path();
        if !dir.is_dir() {
            continue;
        }
        if !dir.join("upload.json").exists() {
            let _ = std::fs::remove_dir_all(&dir);
            continue;
        }
        let mut referenced = HashSet::new();
        let mut data_files = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io_error("read the uploads directory"))? {
            let path = entry
                .map_err(io_error("read the uploads directory"))?
                .path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with(TEMP_PREFIX) {
                let _ = std::fs::remove_file(&path);
            } else if name.ends_with(".data") {
                data_files.push((name, path));
            } else if name.starts_with("part-") && name.ends_with(".json") {
                let part = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<PartMeta>(&b).ok());
                if let Some(part) = part {
                    referenced.insert(part.data_file);
                }
            }
        }
        for (name, path) in data_files {
            if !referenced.contains(&name) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    async fn store(dir: &Path) -> BucketStore {
        BucketStore::open(&dir.join("b-1")).await.unwrap()
    }

    async fn upload_part(
        store: &BucketStore,
        upload: &UploadMeta,
        number: u32,
        body: &[u8],
    ) -> PartMeta {
        let mut temp = store.temp_for_part(upload).await.unwrap();
        temp.write(body).await.unwrap();
        let mut hasher = Hasher::new();
        hasher.update(body);
        let digest: Digest = hasher.finish();
        store
            .commit_part(upload, number, temp, digest)
            .await
            .unwrap()
    }

    fn listed(parts: &[&PartMeta]) -> Vec<ListedPart> {
        parts
            .iter()
            .map(|p| ListedPart {
                number: p.number,
                etag: p.etag.clone(),
            })
            .collect()
    }

    #[tokio::test]
    async fn completing_concatenates_the_listed_parts() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let upload = store
            .create_upload("big", ObjectHeaders::default())
            .await
            .unwrap();
        let one = upload_part(&store, &upload, 1, b"hello ").await;
        let _replaced = upload_part(&store, &upload, 2, b"old").await;
        let two = upload_part(&store, &upload, 2, b"world").await;

        let meta = store
            .complete_upload(&upload, &listed(&[&one, &two]), 1, false)
            .await
            .unwrap();

        assert_eq!(meta.size, 11);
        assert!(meta.etag.ends_with("-2"));
        let (_, mut file) = store.open_object("big").await.unwrap();
        let mut text = String::new();
        file.read_to_string(&mut text).await.unwrap();
        assert_eq!(text, "hello world");
        assert!(matches!(
            store.upload(&upload.upload_id, "big").await,
            Err(StoreError::NoSuchUpload)
        ));
    }

    #[tokio::test]
    async fn completion_checks_order_etags_and_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let upload = store
            .create_upload("k", ObjectHeaders::default())
            .await
            .unwrap();
        let one = upload_part(&store, &upload, 1, b"aa").await;
        let two = upload_part(&store, &upload, 2, b"b").await;
        let mut wrong = two.clone();
        wrong.etag = "0".repeat(32);

        let order = store
            .complete_upload(&upload, &listed(&[&two, &one]), 1, false)
            .await;
        let etag = store
            .complete_upload(&upload, &listed(&[&one, &wrong]), 1, false)
            .await;
        let size = store
            .complete_upload(&upload, &listed(&[&one, &two]), 3, false)
            .await;

        assert!(matches!(order, Err(StoreError::InvalidPartOrder)));
        assert!(matches!(etag, Err(StoreError::InvalidPart(2))));
        assert!(matches!(
            size,
            Err(StoreError::PartTooSmall { number: 1, .. })
        ));
        assert_eq!(store.parts(&upload).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn aborting_removes_the_upload_and_unknown_ids_are_no_such_upload() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let upload = store
            .create_upload("k", ObjectHeaders::default())
            .await
            .unwrap();
        upload_part(&store, &upload, 1, b"x").await;

        store.abort_upload(&upload).await.unwrap();

        assert!(matches!(
            store.abort_upload(&upload).await,
            Err(StoreError::NoSuchUpload)
        ));
        assert!(matches!(
            store.upload("../x", "k").await,
            Err(StoreError::NoSuchUpload)
        ));
        assert!(store.list_uploads().await.unwrap().is_empty());
    }
}
