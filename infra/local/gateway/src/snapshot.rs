//! Keeping the development table across restarts.
//!
//! `moto_server` holds its tables in memory, so `dev` saves the table's items to a JSON file
//! when it stops and puts them back when it starts. Items are written in DynamoDB's own
//! JSON form (`{"S": "…"}`, `{"N": "…"}`, …), so the file can be read by any DynamoDB tool.

use std::collections::HashMap;
use std::path::Path;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value, json};

/// Writes every item of `table` to `file` (through a temporary file and a rename, so a
/// crash never leaves half a snapshot). Returns how many items were saved.
pub async fn save(client: &Client, table: &str, file: &Path) -> Result<usize, String> {
    let mut items = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| format!("cannot read the table to save it: {e}"))?;
        items.extend(page.items().iter().map(item_to_json));
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => break,
        }
    }
    let text = serde_json::to_vec_pretty(&items).map_err(|e| e.to_string())?;
    let partial = file.with_extension("json.partial");
    std::fs::write(&partial, text)
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    std::fs::rename(&partial, file).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(items.len())
}

/// Puts the items saved in `file` back into `table`; a missing file restores nothing.
pub async fn restore(client: &Client, table: &str, file: &Path) -> Result<usize, String> {
    let text = match std::fs::read(file) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(format!("cannot read {}: {err}", file.display())),
    };
    let items: Vec<Value> = serde_json::from_slice(&text)
        .map_err(|e| format!("{} is not a table snapshot: {e}", file.display()))?;
    for item in &items {
        let item = item_from_json(item)
            .ok_or_else(|| format!("{} holds a malformed item", file.display()))?;
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| format!("cannot restore an item: {e}"))?;
    }
    Ok(items.len())
}

fn item_to_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect(),
    )
}

fn value_to_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(list) => json!({ "SS": list }),
        AttributeValue::Ns(list) => json!({ "NS": list }),
        AttributeValue::L(list) => {
            json!({ "L": list.iter().map(value_to_json).collect::<Vec<_>>() })
        }
        AttributeValue::M(map) => json!({ "M": item_to_json(map) }),
        // Our table holds no binary attributes; anything else is kept as null rather than
        // failing the whole snapshot.
        _ => json!({ "NULL": true }),
    }
}

fn item_from_json(value: &Value) -> Option<HashMap<String, AttributeValue>> {
    value
        .as_object()?
        .iter()
        .map(|(k, v)| Some((k.clone(), value_from_json(v)?)))
        .collect()
}

fn value_from_json(value: &Value) -> Option<AttributeValue> {
    let map: &Map<String, Value> = value.as_object()?;
    let (kind, inner) = map.iter().next()?;
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    Some(match kind.as_str() {
        "S" => AttributeValue::S(inner.as_str()?.to_owned()),
        "N" => AttributeValue::N(inner.as_str()?.to_owned()),
        "BOOL" => AttributeValue::Bool(inner.as_bool()?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(strings(inner)?),
        "L" => AttributeValue::L(
            inner
                .as_array()?
                .iter()
                .map(value_from_json)
                .collect::<Option<_>>()?,
        ),
        "M" => AttributeValue::M(item_from_json(inner)?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_value_round_trips() {
        let item: HashMap<String, AttributeValue> = [
            ("s".to_owned(), AttributeValue::S("USER#u".into())),
            ("n".to_owned(), AttributeValue::N("42".into())),
            ("b".to_owned(), AttributeValue::Bool(true)),
            ("z".to_owned(), AttributeValue::Null(true)),
            ("ss".to_owned(), AttributeValue::Ss(vec!["a".into()])),
            (
                "l".to_owned(),
                AttributeValue::L(vec![AttributeValue::N("1".into())]),
            ),
            (
                "m".to_owned(),
                AttributeValue::M([("k".to_owned(), AttributeValue::S("v".into()))].into()),
            ),
        ]
        .into();

        let back = item_from_json(&item_to_json(&item)).unwrap();

        assert_eq!(back, item);
    }

    #[test]
    fn malformed_items_are_refused() {
        assert!(item_from_json(&json!({ "a": { "X": 1 } })).is_none());
        assert!(item_from_json(&json!({ "a": "plain" })).is_none());
        assert!(item_from_json(&json!([])).is_none());
    }
}
