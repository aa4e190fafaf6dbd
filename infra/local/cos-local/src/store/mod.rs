//! The objects of each bucket on disk, with an in-memory index of their metadata for
//! listing.
//!
//! # Layout
//!
//! ```text
//! <data>/buckets/<bucket>/objects/<h:2>/<h>.json        the object's metadata: the commit point
//! <data>/buckets/<bucket>/objects/<h:2>/<h>.<v>.data    its bytes, one file per version <v>
//! <data>/buckets/<bucket>/uploads/<upload id>/…         multipart uploads (see `multipart`)
//! ```
//!
//! `<h>` is the hex SHA-256 of the object key, so any UTF-8 key (spaces, `..`, deep paths,
//! a trailing `/`) maps to a fixed-length, harmless file name that cannot leave the data
//! directory; the key itself is kept in the metadata.
//!
//! A write puts the bytes in a new version file, then renames a new metadata file over the
//! old one, then removes the old version. A crash before the metadata rename leaves an
//! unreferenced version file, which the next start removes; a crash after it leaves the new
//! object whole. Commits to one bucket are serialised by the index lock, so two writers of
//! one key cannot both think they replaced the same old version.

pub mod files;
pub mod multipart;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tokio::sync::RwLock;

use crate::config::Bucket;
use crate::digest::Digest;
use files::{TEMP_PREFIX, TempFile, remove_if_exists, sync_dir, unique_name, write_atomic};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key is taken and the writer asked not to overwrite.
    #[error("the object already exists")]
    Exists,
    /// No object under that key.
    #[error("no such object")]
    NoSuchKey,
    /// No multipart upload with that id (or it is for another key).
    #[error("no such multipart upload")]
    NoSuchUpload,
    /// A listed part is missing or its ETag differs.
    #[error("part {0} was not uploaded or its ETag differs")]
    InvalidPart(u32),
    /// Listed parts are not in ascending order.
    #[error("the parts are not listed in ascending order")]
    InvalidPartOrder,
    /// A part other than the last is below the minimum size.
    #[error("part {number} is {size} bytes, below the minimum of {min}")]
    PartTooSmall {
        /// The part.
        number: u32,
        /// Its size.
        size: u64,
        /// The minimum.
        min: u64,
    },
    /// A file-system operation failed.
    #[error("could not {action}")]
    Io {
        /// What was being done, such as "write the object".
        action: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A metadata file that cannot be read back.
    #[error("the metadata file {path} is corrupt")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// Wraps a file-system error with what was being done.
pub(crate) fn io_error(action: &'static str) -> impl FnOnce(io::Error) -> StoreError {
    move |source| StoreError::Io { action, source }
}

/// The stored metadata of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The object key.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// The ETag without quotes: hex MD5, or `<hex>-<parts>` for a multipart object.
    pub etag: String,
    /// CRC-64/XZ of the bytes, decimal, as `x-cos-hash-crc64ecma` carries it.
    pub crc64: String,
    /// Unix seconds of the write.
    pub last_modified: u64,
    /// The Content-Type given at upload.
    pub content_type: String,
    /// Other headers stored with the object and returned with it (lowercase names):
    /// Content-Disposition, Cache-Control, Content-Encoding, Content-Language, Expires and
    /// every x-cos-meta-*.
    pub headers: Vec<(String, String)>,
    /// The version file holding the bytes.
    pub data_file: String,
}

/// What an upload says about an object besides its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectHeaders {
    /// Content-Type.
    pub content_type: String,
    /// The other stored headers, lowercase names.
    pub headers: Vec<(String, String)>,
}

/// A listing request.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Roll keys up to the first delimiter after the prefix into common prefixes.
    pub delimiter: String,
    /// Start after this key.
    pub marker: String,
    /// At most this many keys and common prefixes together.
    pub max_keys: usize,
}

/// One page of a listing.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// The objects, in key order.
    pub objects: Vec<ObjectMeta>,
    /// The common prefixes, in order.
    pub common_prefixes: Vec<String>,
    /// Whether more follow.
    pub truncated: bool,
    /// The last key or prefix of the page, for the next marker.
    pub next_marker: Option<String>,
}

/// All buckets.
#[derive(Debug)]
pub struct Store {
    buckets: HashMap<String, Arc<BucketStore>>,
}

impl Store {
    /// Opens (creating as needed) the directories of every bucket, sweeps away what an
    /// interrupted write left, and loads the index.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when a directory cannot be created or read.
    pub async fn open(root: &Path, buckets: &[Arc<Bucket>]) -> Result<Self, StoreError> {
        let mut stores = HashMap::new();
        for bucket in buckets {
            let store = BucketStore::open(&root.join("buckets").join(&bucket.name)).await?;
            stores.insert(bucket.name.clone(), Arc::new(store));
        }
        Ok(Self { buckets: stores })
    }

    /// The store of a bucket.
    pub fn bucket(&self, name: &str) -> Option<&Arc<BucketStore>> {
        self.buckets.get(name)
    }
}

/// One bucket's objects and uploads.
//
// Limitation: the index holds every object's metadata in memory (a few hundred bytes per
// object) and is rebuilt by reading every metadata file at start; fine for development
// and tests, not for millions of objects.
#[derive(Debug)]
pub struct BucketStore {
    objects: PathBuf,
    uploads: PathBuf,
    index: RwLock<BTreeMap<String, ObjectMeta>>,
    upload_locks: Mutex<HashMap<String, Arc<RwLock<()>>>>,
}

fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl BucketStore {
    async fn open(dir: &Path) -> Result<Self, StoreError> {
        let objects = dir.join("objects");
        let uploads = dir.join("uploads");
        for path in [&objects, &uploads] {
            tokio::fs::create_dir_all(path)
                .await
                .map_err(io_error("create the data directory"))?;
        }
        let (objects_clone, uploads_clone) = (objects.clone(), uploads.clone());
        let index = tokio::task::spawn_blocking(move || {
            multipart::sweep(&uploads_clone)?;
            load_index(&objects_clone)
        })
        .await
        .map_err(|e| StoreError::Io {
            action: "load the index",
            source: io::Error::other(e),
        })??;
        Ok(Self {
            objects,
            uploads,
            index: RwLock::new(index),
            upload_locks: Mutex::new(HashMap::new()),
        })
    }

    fn shard(&self, hash: &str) -> PathBuf {
        self.objects.join(&hash[..2])
    }

    /// A temporary file beside where the object's bytes will live, so the final rename
    /// stays within one directory.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the directory or the file cannot be created.
    pub async fn temp_for_object(&self, key: &str) -> Result<TempFile, StoreError> {
        let shard = self.shard(&key_hash(key));
        tokio::fs::create_dir_all(&shard)
            .await
            .map_err(io_error("write the object"))?;
        TempFile::create(&shard)
            .await
            .map_err(io_error("write the object"))
    }

    /// Makes a fully written temporary file the object under `key`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Exists`] when `forbid_overwrite` is set and the key is taken (nothing
    /// changes then), [`StoreError::Io`] when the disk refuses.
    pub async fn commit_object(
        &self,
        key: &str,
        temp: TempFile,
        digest: Digest,
        etag: String,
        headers: ObjectHeaders,
        forbid_overwrite: bool,
    ) -> Result<ObjectMeta, StoreError> {
        let hash = key_hash(key);
        let shard = self.shard(&hash);
        if forbid_overwrite && self.index.read().await.contains_key(key) {
            return Err(StoreError::Exists);
        }
        let data_file = format!("{hash}.{}.data", unique_name());
        temp.persist(&shard.join(&data_file))
            .await
            .map_err(io_error("write the object"))?;
        let meta = ObjectMeta {
            key: key.to_owned(),
            size: digest.size,
            etag,
            crc64: digest.crc64.to_string(),
            last_modified: crate::now_secs(),
            content_type: headers.content_type,
            headers: headers.headers,
            data_file: data_file.clone(),
        };

        // Limitation: the index's write lock is held while the metadata file is written and
        // fsynced, so small PUTs commit one at a time (the load run shows about 1,000 small
        // PUTs a second from 32 clients); a lock per key would let them commit together.
        let mut index = self.index.write().await;
        if forbid_overwrite && index.contains_key(key) {
            drop(index);
            let _ = remove_if_exists(&shard.join(&data_file)).await;
            return Err(StoreError::Exists);
        }
        let json = serde_json::to_vec(&meta).map_err(|e| StoreError::Io {
            action: "write the object metadata",
            source: io::Error::other(e),
        })?;
        if let Err(error) = write_atomic(&shard.join(format!("{hash}.json")), &json).await {
            drop(index);
            let _ = remove_if_exists(&shard.join(&data_file)).await;
            return Err(io_error("write the object metadata")(error));
        }
        let old = index.insert(key.to_owned(), meta.clone());
        drop(index);

        if let Some(old) = old.filter(|old| old.data_file != data_file)
            && let Err(error) = remove_if_exists(&shard.join(&old.data_file)).await
        {
            tracing::warn!(cause = %error, "could not remove a replaced object version");
        }
        Ok(meta)
    }

    /// The metadata of an object.
    pub async fn head(&self, key: &str) -> Option<ObjectMeta> {
        self.index.read().await.get(key).cloned()
    }

    /// Opens an object for reading.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchKey`], or [`StoreError::Io`] when its file cannot be opened.
    pub async fn open_object(
        &self,
        key: &str,
    ) -> Result<(ObjectMeta, tokio::fs::File), StoreError> {
        let shard = self.shard(&key_hash(key));
        // A concurrent overwrite may remove the version we looked up before we open it;
        // looking again finds the new one.
        for _ in 0..3 {
            let meta = self.head(key).await.ok_or(StoreError::NoSuchKey)?;
            match tokio::fs::File::open(shard.join(&meta.data_file)).await {
                Ok(file) => return Ok((meta, file)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error("read the object")(e)),
            }
        }
        Err(StoreError::NoSuchKey)
    }

    /// Deletes an object; `false` when there was none.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when its metadata cannot be removed.
    pub async fn delete_object(&self, key: &str) -> Result<bool, StoreError> {
        let hash = key_hash(key);
        let shard = self.shard(&hash);
        let mut index = self.index.write().await;
        if !index.contains_key(key) {
            return Ok(false);
        }
        remove_if_exists(&shard.join(format!("{hash}.json")))
            .await
            .map_err(io_error("delete the object"))?;
        let old = index.remove(key);
        drop(index);
        if let Err(error) = sync_dir(&shard).await {
            tracing::warn!(cause = %error, "could not sync a directory after a delete");
        }
        if let Some(old) = old
            && let Err(error) = remove_if_exists(&shard.join(&old.data_file)).await
        {
            tracing::warn!(cause = %error, "could not remove a deleted object's bytes");
        }
        Ok(true)
    }

    /// One page of the bucket's keys.
    pub async fn list(&self, query: &ListQuery) -> ListPage {
        let index = self.index.read().await;
        let prefix = query.prefix.as_str();
        let marker = query.marker.as_str();
        let start = if prefix > marker {
            Bound::Included(prefix)
        } else if marker.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(marker)
        };
        let mut page = ListPage::default();
        let mut count = 0usize;
        for (key, meta) in index.range::<str, _>((start, Bound::Unbounded)) {
            if !key.starts_with(prefix) {
                break;
            }
            let rolled = (!query.delimiter.is_empty())
                .then(|| key[prefix.len()..].find(&query.delimiter))
                .flatten()
                .map(|at| &key[..prefix.len() + at + query.delimiter.len()]);
            if let Some(common) = rolled {
                let seen = page.common_prefixes.last().is_some_and(|c| c == common);
                if seen || (!marker.is_empty() && common <= marker) {
                    continue;
                }
                if count == query.max_keys {
                    page.truncated = true;
                    break;
                }
                page.common_prefixes.push(common.to_owned());
                page.next_marker = Some(common.to_owned());
            } else {
                if count == query.max_keys {
                    page.truncated = true;
                    break;
                }
                page.objects.push(meta.clone());
                page.next_marker = Some(key.clone());
            }
            count += 1;
        }
        page
    }

    /// The lock of one multipart upload: parts are committed under its read side, while
    /// complete and abort take its write side.
    //
    // Limitation: the lock of an upload that is never completed or aborted stays in the
    // map until the server stops (a few dozen bytes each).
    fn upload_lock(&self, upload_id: &str) -> Arc<RwLock<()>> {
        let mut locks = self
            .upload_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks
            .entry(upload_id.to_owned())
            .or_insert_with(|| Arc::new(RwLock::new(())))
            .clone()
    }

    fn forget_upload_lock(&self, upload_id: &str) {
        let mut locks = self
            .upload_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.remove(upload_id);
    }
}

/// Reads every metadata file, and removes temporary files and version files that no
/// metadata names: the remains of writes a crash interrupted.
fn load_index(objects: &Path) -> Result<BTreeMap<String, ObjectMeta>, StoreError> {
    let mut index = BTreeMap::new();
    let shards = std::fs::read_dir(objects).map_err(io_error("read the data directory"))?;
    for shard in shards {
        let shard = shard.map_err(io_error("read the data directory"))?.path();
        if !shard.is_dir() {
            continue;
        }
        let mut referenced = HashSet::new();
        let mut data_files = Vec::new();
        for entry in std::fs::read_dir(&shard).map_err(io_error("read the data directory"))? {
            let path = entry.map_err(io_error("read the data directory"))?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with(TEMP_PREFIX) {
                let _ = std::fs::remove_file(&path);
            } else if name.ends_with(".data") {
                data_files.push((name, path));
            } else if name.ends_with(".json") {
                match read_meta(&path) {
                    Ok(meta) => {
                        referenced.insert(meta.data_file.clone());
                        index.insert(meta.key.clone(), meta);
                    }
                    Err(error) => {
                        tracing::warn!(cause = %error, "skipping an object whose metadata is corrupt");
                    }
                }
            }
        }
        for (name, path) in data_files {
            if !referenced.contains(&name) {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    Ok(index)
}

fn read_meta(path: &Path) -> Result<ObjectMeta, StoreError> {
    let bytes = std::fs::read(path).map_err(io_error("read the object metadata"))?;
    serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Hasher;

    async fn bucket_store(dir: &Path) -> BucketStore {
        BucketStore::open(&dir.join("b-1")).await.unwrap()
    }

    async fn put(
        store: &BucketStore,
        key: &str,
        body: &[u8],
        forbid: bool,
    ) -> Result<ObjectMeta, StoreError> {
        let mut temp = store.temp_for_object(key).await.unwrap();
        temp.write(body).await.unwrap();
        let mut hasher = Hasher::new();
        hasher.update(body);
        let digest = hasher.finish();
        store
            .commit_object(
                key,
                temp,
                digest,
                digest.etag(),
                ObjectHeaders::default(),
                forbid,
            )
            .await
    }

    fn all_files(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_owned()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    out.push(path.file_name().unwrap().to_string_lossy().into_owned());
                }
            }
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn any_key_round_trips_and_an_overwrite_leaves_one_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = bucket_store(dir.path()).await;
        let key = "../../etc/passwd ü+~/";

        put(&store, key, b"one", false).await.unwrap();
        put(&store, key, b"two", false).await.unwrap();

        let (meta, file) = store.open_object(key).await.unwrap();
        drop(file);
        assert_eq!(meta.key, key);
        assert_eq!(meta.size, 3);
        let files = all_files(dir.path());
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(files.iter().all(|f| !f.contains("passwd")));
    }

    #[tokio::test]
    async fn forbid_overwrite_refuses_a_taken_key_and_keeps_the_old_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = bucket_store(dir.path()).await;
        let first = put(&store, "k", b"first", true).await.unwrap();

        let second = put(&store, "k", b"second", true).await;

        assert!(matches!(second, Err(StoreError::Exists)));
        assert_eq!(store.head("k").await.unwrap(), first);
        assert_eq!(all_files(dir.path()).len(), 2);
    }

    #[tokio::test]
    async fn reopening_rebuilds_the_index_and_sweeps_interrupted_writes() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = bucket_store(dir.path()).await;
            put(&store, "kept", b"x", false).await.unwrap();
            let mut abandoned = store.temp_for_object("kept").await.unwrap();
            abandoned.write(b"partial").await.unwrap();
            // Simulate a crash: the temporary file stays, and an orphan version appears.
            std::mem::forget(abandoned);
            let shard = store.shard(&key_hash("kept"));
            std::fs::write(shard.join(format!("{}.orphan.data", key_hash("kept"))), "o").unwrap();
        }

        let store = bucket_store(dir.path()).await;

        assert_eq!(store.head("kept").await.unwrap().size, 1);
        assert_eq!(all_files(dir.path()).len(), 2);
    }

    #[tokio::test]
    async fn delete_removes_metadata_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = bucket_store(dir.path()).await;
        put(&store, "k", b"x", false).await.unwrap();

        assert!(store.delete_object("k").await.unwrap());
        assert!(!store.delete_object("k").await.unwrap());

        assert!(store.head("k").await.is_none());
        assert!(all_files(dir.path()).is_empty());
    }

    #[tokio::test]
    async fn listing_rolls_up_common_prefixes_and_pages_with_markers() {
        let dir = tempfile::tempdir().unwrap();
        let store = bucket_store(dir.path()).await;
        for key in ["a/1", "a/2", "b", "c/x/1", "c/y", "d"] {
            put(&store, key, b"x", false).await.unwrap();
        }
        let query = |marker: &str, max_keys| ListQuery {
            prefix: String::new(),
            delimiter: "/".into(),
            marker: marker.into(),
            max_keys,
        };

        let first = store.list(&query("", 2)).await;
        let second = store
            .list(&query(first.next_marker.as_deref().unwrap(), 2))
            .await;
        let third = store
            .list(&query(second.next_marker.as_deref().unwrap(), 2))
            .await;

        assert_eq!(first.common_prefixes, ["a/"]);
        assert_eq!(first.objects[0].key, "b");
        assert!(first.truncated);
        assert_eq!(second.common_prefixes, ["c/"]);
        assert_eq!(second.objects[0].key, "d");
        assert!(!second.truncated);
        assert!(third.objects.is_empty() && third.common_prefixes.is_empty());

        let prefixed = store
            .list(&ListQuery {
                prefix: "c/".into(),
                delimiter: String::new(),
                marker: String::new(),
                max_keys: 1000,
            })
            .await;
        let keys: Vec<_> = prefixed.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["c/x/1", "c/y"]);
    }
}
