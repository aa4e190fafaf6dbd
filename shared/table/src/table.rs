//! [`DynamoFileTable`]: the [`FileTable`] port over one DynamoDB table.
//!
//! A state change reads the file (strongly consistent), decides from its state, and
//! writes the file and its user's counters in one `TransactWriteItems` whose condition
//! is the state it read. If another writer got there first the condition fails, and the
//! change is decided again from a fresh read: a repeat becomes
//! [`Transition::AlreadyDone`], a move to another final state [`TableError::WrongState`].
//! So however many callers race, exactly one transaction moves each file, and the
//! counters move with it.
//!
//! The SDK gives every `TransactWriteItems` an idempotency token and reuses it when it
//! retries, so a transaction whose answer was lost is not applied twice by DynamoDB.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use cosigner_core::{
    FileId, FileRecord, FileState, FileTable, ListPage, TableError, Transition, UserId, UserRecord,
};

use crate::errors::{
    FailedCondition, Item, built, failed_conditions, from_sdk, is_condition_failure,
};
use crate::item::{
    ETAG, FILE_COUNT, FREE, PENDING_COUNT, RESERVED, SIZE, STATE, USED, file_from_item, file_item,
    file_key, free_bytes, n, s, user_from_item, user_item, user_key,
};
use crate::schema::{
    FILE_PREFIX, PENDING_INDEX, PENDING_PARTITION, PENDING_PARTITION_ATTRIBUTE,
    PENDING_SORT_ATTRIBUTE, PK, RELEASED_RETENTION_SECS, SK, TTL_ATTRIBUTE, file_sk, user_pk,
};

/// How often a state change is decided again after losing a race before it reports
/// [`TableError::Conflict`] (each round follows a change someone else made, so a few
/// rounds settle any realistic race).
const ROUNDS: usize = 4;

/// The most files one page may hold.
const MAX_PAGE: u32 = 1000;

/// The file table in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoFileTable {
    client: Client,
    table: String,
}

/// Where a transaction's item stands in it: the file first, its user second.
const FILE_ACTION: usize = 0;
const USER_ACTION: usize = 1;

impl DynamoFileTable {
    /// The adapter over the table `table`, through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// The SDK client, for callers that measure or inspect the table directly.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn read_user(&self, user: &UserId) -> Result<Option<UserRecord>, TableError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(user_key(user)))
            .consistent_read(true)
            .send()
            .await
            .map_err(from_sdk)?;
        output.item().map(user_from_item).transpose()
    }

    async fn read_file(
        &self,
        user: &UserId,
        file: FileId,
    ) -> Result<Option<FileRecord>, TableError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(file_key(user, file)))
            .consistent_read(true)
            .send()
            .await
            .map_err(from_sdk)?;
        output.item().map(file_from_item).transpose()
    }

    /// Runs a transaction: `Ok(Err(_))` when only conditions failed.
    async fn transact(
        &self,
        actions: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Vec<FailedCondition>>, TableError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(err) => failed_conditions(err).map(Err),
        }
    }

    /// Adds `changes` (attribute, signed amount) to a user's counters, provided the
    /// profile exists (`ADD` alone would create a profile from nothing).
    fn move_counters(
        &self,
        user: &UserId,
        changes: &[(&str, i128)],
    ) -> Result<TransactWriteItem, TableError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(user_key(user)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        let mut adds = Vec::with_capacity(changes.len());
        for (i, (attribute, amount)) in changes.iter().enumerate() {
            adds.push(format!("#c{i} :c{i}"));
            update = update
                .expression_attribute_names(format!("#c{i}"), *attribute)
                .expression_attribute_values(format!(":c{i}"), n(amount));
        }
        let update = built(
            update
                .update_expression(format!("ADD {}", adds.join(", ")))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Why a user's counters could not move: the profile is gone.
    fn missing_profile() -> TableError {
        TableError::Corrupt("the profile of the file's owner is missing".to_owned())
    }
}

impl FileTable for DynamoFileTable {
    async fn ensure_user(
        &self,
        user: &UserId,
        default_quota: u64,
        now: u64,
    ) -> Result<UserRecord, TableError> {
        if let Some(existing) = self.read_user(user).await? {
            return Ok(existing);
        }

        let profile = UserRecord::new(user.clone(), default_quota, now);
        let created = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(user_item(&profile)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;

        match created {
            Ok(_) => Ok(profile),
            // Another request created it between our read and our write: theirs stands.
            Err(err) if is_condition_failure(&err) => {
                self.read_user(user).await?.ok_or(TableError::Conflict)
            }
            Err(err) => Err(from_sdk(err)),
        }
    }

    async fn reserve(&self, file: &FileRecord, max_pending: u64) -> Result<(), TableError> {
        if file.state != FileState::Pending {
            return Err(TableError::WrongState(file.state));
        }
        let put = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(file_item(file)))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?;
        // The quota condition is one comparison against `free_bytes`: see the schema
        // module for why the counter exists.
        let size = i128::from(file.size);
        let reserve = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(user_key(&file.user)))
                .update_expression("ADD #reserved :size, #pending :one, #free :minus_size")
                .condition_expression("#free >= :size AND #pending < :max_pending")
                .expression_attribute_names("#reserved", RESERVED)
                .expression_attribute_names("#pending", PENDING_COUNT)
                .expression_attribute_names("#free", FREE)
                .expression_attribute_values(":size", n(size))
                .expression_attribute_values(":minus_size", n(-size))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":max_pending", n(max_pending))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?;

        let failed = match self
            .transact(vec![
                TransactWriteItem::builder().put(put).build(),
                TransactWriteItem::builder().update(reserve).build(),
            ])
            .await?
        {
            Ok(()) => return Ok(()),
            Err(failed) => failed,
        };

        if let Some(existing) = failed.iter().find(|f| f.index == FILE_ACTION) {
            // The same record already there is this reservation made before (a retry
            // after a lost answer): it counted once, and that stands.
            let same = existing
                .item
                .as_ref()
                .map(file_from_item)
                .transpose()?
                .is_some_and(|stored| stored == *file);
            return if same {
                Ok(())
            } else {
                Err(TableError::Conflict)
            };
        }
        let Some(profile) = failed
            .into_iter()
            .find(|f| f.index == USER_ACTION)
            .and_then(|f| f.item)
        else {
            // No profile to reserve against yet: the caller creates it and tries again.
            return Err(TableError::NotFound);
        };
        let user = user_from_item(&profile)?;
        let free = free_bytes(&profile)?;
        if user.pending_count >= max_pending {
            Err(TableError::TooManyPending)
        } else if free < size {
            Err(TableError::QuotaExceeded {
                size: file.size,
                available: u64::try_from(free).unwrap_or(0),
            })
        } else {
            Err(TableError::Conflict)
        }
    }

    async fn get_file(
        &self,
        user: &UserId,
        file: FileId,
    ) -> Result<Option<FileRecord>, TableError> {
        self.read_file(user, file).await
    }

    async fn mark_ready(
        &self,
        seen: &FileRecord,
        size: u64,
        etag: &str,
    ) -> Result<Transition, TableError> {
        let (user, file) = (&seen.user, seen.id);
        // The caller's copy is tried first, which spares a read in the usual case; the
        // conditions below refuse it when it is out of date, and the item is read then.
        let mut current = seen.clone();
        for round in 0..ROUNDS {
            if round > 0 {
                current = self
                    .read_file(user, file)
                    .await?
                    .ok_or(TableError::NotFound)?;
            }
            match current.state {
                FileState::Pending => {}
                FileState::Ready => return Ok(Transition::AlreadyDone(current)),
                other => return Err(TableError::WrongState(other)),
            }

            let declared = i128::from(current.size);
            let confirmed = i128::from(size);
            let file_update = built(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(file_key(user, file)))
                    .update_expression(
                        "SET #state = :ready, #size = :size, #etag = :etag REMOVE #ipk, #isk",
                    )
                    .condition_expression("#state = :pending AND #size = :declared")
                    .expression_attribute_names("#state", STATE)
                    .expression_attribute_names("#size", SIZE)
                    .expression_attribute_names("#etag", ETAG)
                    .expression_attribute_names("#ipk", PENDING_PARTITION_ATTRIBUTE)
                    .expression_attribute_names("#isk", PENDING_SORT_ATTRIBUTE)
                    .expression_attribute_values(":ready", s(FileState::Ready.as_str()))
                    .expression_attribute_values(":pending", s(FileState::Pending.as_str()))
                    .expression_attribute_values(":size", n(size))
                    .expression_attribute_values(":declared", n(declared))
                    .expression_attribute_values(":etag", s(etag))
                    .build(),
            )?;
            // The reservation of the declared size becomes the confirmed size used.
            let counters = self.move_counters(
                user,
                &[
                    (RESERVED, -declared),
                    (USED, confirmed),
                    (FREE, declared - confirmed),
                    (PENDING_COUNT, -1),
                    (FILE_COUNT, 1),
                ],
            )?;

            match self
                .transact(vec![
                    TransactWriteItem::builder().update(file_update).build(),
                    counters,
                ])
                .await?
            {
                Ok(()) => {
                    let ready = FileRecord {
                        state: FileState::Ready,
                        size,
                        etag: Some(etag.to_owned()),
                        ..current
                    };
                    return Ok(Transition::Applied(ready));
                }
                Err(failed) if failed.iter().any(|f| f.index == FILE_ACTION) => continue,
                Err(_) => return Err(Self::missing_profile()),
            }
        }
        Err(TableError::Conflict)
    }

    async fn release(
        &self,
        user: &UserId,
        file: FileId,
        to: FileState,
    ) -> Result<Transition, TableError> {
        if !matches!(to, FileState::Expired | FileState::Aborted) {
            // Only the two release states end a reservation without bytes to keep.
            return Err(TableError::WrongState(to));
        }
        for _ in 0..ROUNDS {
            let current = self
                .read_file(user, file)
                .await?
                .ok_or(TableError::NotFound)?;
            if current.state == to {
                return Ok(Transition::AlreadyDone(current));
            }
            if current.state != FileState::Pending {
                return Err(TableError::WrongState(current.state));
            }

            let declared = i128::from(current.size);
            let file_update = built(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(file_key(user, file)))
                    .update_expression("SET #state = :to, #ttl = :ttl REMOVE #ipk, #isk")
                    .condition_expression("#state = :pending AND #size = :declared")
                    .expression_attribute_names("#state", STATE)
                    .expression_attribute_names("#size", SIZE)
                    .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                    .expression_attribute_names("#ipk", PENDING_PARTITION_ATTRIBUTE)
                    .expression_attribute_names("#isk", PENDING_SORT_ATTRIBUTE)
                    .expression_attribute_values(":to", s(to.as_str()))
                    .expression_attribute_values(":pending", s(FileState::Pending.as_str()))
                    .expression_attribute_values(":declared", n(declared))
                    .expression_attribute_values(
                        ":ttl",
                        n(current.expires_at.saturating_add(RELEASED_RETENTION_SECS)),
                    )
                    .build(),
            )?;
            let counters = self.move_counters(
                user,
                &[(RESERVED, -declared), (FREE, declared), (PENDING_COUNT, -1)],
            )?;

            match self
                .transact(vec![
                    TransactWriteItem::builder().update(file_update).build(),
                    counters,
                ])
                .await?
            {
                Ok(()) => {
                    let released = FileRecord {
                        state: to,
                        ..current
                    };
                    return Ok(Transition::Applied(released));
                }
                Err(failed) if failed.iter().any(|f| f.index == FILE_ACTION) => continue,
                Err(_) => return Err(Self::missing_profile()),
            }
        }
        Err(TableError::Conflict)
    }

    async fn delete_file(&self, user: &UserId, file: FileId) -> Result<Transition, TableError> {
        for _ in 0..ROUNDS {
            let current = self
                .read_file(user, file)
                .await?
                .ok_or(TableError::NotFound)?;
            let size = i128::from(current.size);
            let counters: &[(&str, i128)] = match current.state {
                FileState::Ready => &[(USED, -size), (FREE, size), (FILE_COUNT, -1)],
                FileState::Pending => &[(RESERVED, -size), (FREE, size), (PENDING_COUNT, -1)],
                // A released file holds no bytes: it just goes.
                FileState::Expired | FileState::Aborted => &[],
            };
            let condition = "#state = :state AND #size = :size";
            let state = s(current.state.as_str());

            let deleted = if counters.is_empty() {
                let deleted = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(file_key(user, file)))
                    .condition_expression(condition)
                    .expression_attribute_names("#state", STATE)
                    .expression_attribute_names("#size", SIZE)
                    .expression_attribute_values(":state", state)
                    .expression_attribute_values(":size", n(size))
                    .send()
                    .await;
                match deleted {
                    Ok(_) => true,
                    Err(err) if is_condition_failure(&err) => false,
                    Err(err) => return Err(from_sdk(err)),
                }
            } else {
                let delete = built(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(file_key(user, file)))
                        .condition_expression(condition)
                        .expression_attribute_names("#state", STATE)
                        .expression_attribute_names("#size", SIZE)
                        .expression_attribute_values(":state", state)
                        .expression_attribute_values(":size", n(size))
                        .build(),
                )?;
                let actions = vec![
                    TransactWriteItem::builder().delete(delete).build(),
                    self.move_counters(user, counters)?,
                ];
                match self.transact(actions).await? {
                    Ok(()) => true,
                    Err(failed) if failed.iter().any(|f| f.index == FILE_ACTION) => false,
                    Err(_) => return Err(Self::missing_profile()),
                }
            };

            if deleted {
                return Ok(Transition::Applied(current));
            }
            // Someone changed or removed the file meanwhile: decide again.
        }
        Err(TableError::Conflict)
    }

    async fn list_files(
        &self,
        user: &UserId,
        limit: u32,
        after: Option<FileId>,
    ) -> Result<ListPage, TableError> {
        let limit = limit.min(MAX_PAGE) as usize;
        let mut files = Vec::with_capacity(limit);
        if limit == 0 {
            return Ok(ListPage {
                files,
                next_after: None,
            });
        }

        // Newest first is descending sort keys, since file ids are ULIDs. `after` bounds
        // the range from above; the profile's sort key (`PROFILE`) sorts after every
        // `FILE#` key, so it is never in range.
        let (range, bound) = match after {
            Some(after) => ("#sk < :bound", file_sk(&after.to_string())),
            None => ("begins_with(#sk, :bound)", FILE_PREFIX.to_owned()),
        };
        let mut start: Option<Item> = None;
        let mut more = false;
        loop {
            // Released files are filtered out after DynamoDB reads them, so a page may
            // come back short: read on until the page is full or the user's files end.
            let wanted = limit - files.len();
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(format!("#pk = :pk AND {range}"))
                .filter_expression("#state IN (:pending, :ready)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_names("#state", STATE)
                .expression_attribute_values(":pk", s(user_pk(user.as_str())))
                .expression_attribute_values(":bound", s(&bound))
                .expression_attribute_values(":pending", s(FileState::Pending.as_str()))
                .expression_attribute_values(":ready", s(FileState::Ready.as_str()))
                .scan_index_forward(false)
                .consistent_read(true)
                // One more than needed tells whether another page follows.
                .limit(i32::try_from(wanted + 1).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(from_sdk)?;
            for item in output.items() {
                if files.len() == limit {
                    more = true;
                    break;
                }
                files.push(file_from_item(item)?);
            }
            match output.last_evaluated_key() {
                Some(key) if !more && files.len() < limit => start = Some(key.clone()),
                Some(_) => {
                    more = true;
                    break;
                }
                None => break,
            }
        }

        let next_after = if more {
            files.last().map(|f| f.id)
        } else {
            None
        };
        Ok(ListPage { files, next_after })
    }

    async fn expired_pending(&self, now: u64, limit: u32) -> Result<Vec<FileRecord>, TableError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // The index is eventually consistent: an upload just confirmed may still show
        // here. The sweep's `release` is conditional on the state, so it skips those.
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PENDING_INDEX)
            .key_condition_expression("#ipk = :partition AND #isk < :now")
            .expression_attribute_names("#ipk", PENDING_PARTITION_ATTRIBUTE)
            .expression_attribute_names("#isk", PENDING_SORT_ATTRIBUTE)
            .expression_attribute_values(":partition", s(PENDING_PARTITION))
            .expression_attribute_values(":now", n(now))
            .scan_index_forward(true)
            .limit(i32::try_from(limit.min(MAX_PAGE)).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(from_sdk)?;
        output.items().iter().map(file_from_item).collect()
    }
}
