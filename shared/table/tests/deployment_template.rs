//! The deployment template declares the table this adapter writes: the same keys, the same
//! index of pending uploads, the same TTL attribute. `create_table` is checked over the
//! wire by the other tests; this keeps the template, which nothing runs here, in step.

use cosigner_table::{
    PENDING_INDEX, PENDING_PARTITION_ATTRIBUTE, PENDING_SORT_ATTRIBUTE, TTL_ATTRIBUTE,
};

const TEMPLATE: &str = include_str!("../../../infra/aws/template.yaml");

#[test]
fn the_template_declares_the_pending_index_and_ttl_of_the_adapter() {
    let expected = [
        format!("IndexName: {PENDING_INDEX}"),
        format!("{{ AttributeName: {PENDING_PARTITION_ATTRIBUTE}, AttributeType: S }}"),
        format!("{{ AttributeName: {PENDING_SORT_ATTRIBUTE}, AttributeType: N }}"),
        format!("{{ AttributeName: {PENDING_PARTITION_ATTRIBUTE}, KeyType: HASH }}"),
        format!("{{ AttributeName: {PENDING_SORT_ATTRIBUTE}, KeyType: RANGE }}"),
        format!("AttributeName: {TTL_ATTRIBUTE}"),
        "{ AttributeName: PK, KeyType: HASH }".to_owned(),
        "{ AttributeName: SK, KeyType: RANGE }".to_owned(),
        format!("${{Table.Arn}}/index/{PENDING_INDEX}"),
    ];

    for line in expected {
        assert!(TEMPLATE.contains(&line), "the template lacks `{line}`");
    }
}

#[test]
fn every_function_crate_is_deployed_and_nothing_else() {
    let functions = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../functions");
    let mut crates: Vec<String> = std::fs::read_dir(&functions)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", functions.display()))
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("src/main.rs").exists())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    crates.sort();
    let mut deployed: Vec<String> = TEMPLATE
        .lines()
        .filter_map(|line| line.trim().strip_prefix("CodeUri: ../../target/lambda/"))
        .map(|rest| rest.trim_end_matches('/').to_owned())
        .collect();
    deployed.sort();

    assert_eq!(crates, deployed);
}
