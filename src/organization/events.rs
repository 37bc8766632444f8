//! The organization's events, as the state machine sends them: `{"accounts": {}}` (or with
//! `"ids"`) lists the accounts to fan out over, `{"sweep": {"account": "ID"}}` sweeps one of
//! them, `{"digest": {"results": "s3://BUCKET/KEY"}}` merges the Map Run's results. Parsing only.

use serde_json::{Map, Value};

use super::accounts::{parse_ids, Account};
use super::results::S3Location;
use crate::trigger::{type_name, Target, TriggerError};
use cf_doctor_model::organization::account_id;
use cf_doctor_model::TriggerInfo;

/// The organization target an event asks for; None when it is not one of these events (a plain
/// `{"sweep": {}}` is the single-account sweep).
pub fn parse(object: &Map<String, Value>) -> Result<Option<Target>, TriggerError> {
    if let Some(options) = object.get("accounts") {
        return accounts(options).map(Some);
    }
    if let Some(options) = object.get("digest") {
        return digest(options).map(Some);
    }
    match object.get("sweep") {
        Some(Value::Object(options)) if options.contains_key("account") => {
            account_sweep(options).map(Some)
        }
        _ => Ok(None),
    }
}

fn malformed(kind: &'static str, error: String) -> TriggerError {
    TriggerError::Malformed { kind, error }
}

fn only_keys(
    kind: &'static str,
    options: &Map<String, Value>,
    accepted: &[&str],
) -> Result<(), TriggerError> {
    match options.keys().find(|k| !accepted.contains(&k.as_str())) {
        Some(unknown) => Err(malformed(
            kind,
            format!(
                "unknown option {:?}; accepted: {}",
                unknown.chars().take(40).collect::<String>(),
                accepted.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// `{"accounts": {}}` or `{"accounts": {"ids": "ID,ID"}}` (a list of ids is accepted too; an
/// empty string means "list them", as the template passes an empty AccountIds).
fn accounts(options: &Value) -> Result<Target, TriggerError> {
    const KIND: &str = "accounts";
    let options = match options {
        Value::Null => return Ok(Target::ListAccounts { ids: None }),
        Value::Object(map) => map,
        other => {
            return Err(malformed(
                KIND,
                format!("\"accounts\" must be an object such as {{}} or {{\"ids\": \"111122223333,444455556666\"}}, got {}", type_name(other)),
            ))
        }
    };
    only_keys(KIND, options, &["ids"])?;
    let ids: Vec<String> = match options.get("ids") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| {
                    malformed(
                        KIND,
                        format!(
                            "\"ids\" must list account ids as strings, got {}",
                            type_name(i)
                        ),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(malformed(
                KIND,
                format!(
                    "\"ids\" must be a comma separated string or a list of account ids, got {}",
                    type_name(other)
                ),
            ))
        }
    };
    if ids.iter().all(|i| i.trim().is_empty()) {
        return Ok(Target::ListAccounts { ids: None });
    }
    let accounts =
        parse_ids(ids.iter().map(String::as_str)).map_err(|e| malformed(KIND, e.to_string()))?;
    Ok(Target::ListAccounts {
        ids: Some(accounts),
    })
}

/// `{"sweep": {"account": "ID"}}`, with the optional `"name"` (the account's name, for the
/// digest) and `"include_disabled"`.
fn account_sweep(options: &Map<String, Value>) -> Result<Target, TriggerError> {
    const KIND: &str = "account sweep";
    only_keys(KIND, options, &["account", "name", "include_disabled"])?;
    let id = options
        .get("account")
        .and_then(Value::as_str)
        .and_then(account_id)
        .ok_or_else(|| {
            malformed(
                KIND,
                format!(
                    "\"account\" must be an AWS account id (12 digits as a string), got {}",
                    describe(options.get("account"))
                ),
            )
        })?;
    let name = match options.get("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(name)) => name.chars().take(100).collect(),
        Some(other) => {
            return Err(malformed(
                KIND,
                format!("\"name\" must be a string, got {}", type_name(other)),
            ))
        }
    };
    let include_disabled = match options.get("include_disabled") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(malformed(
                KIND,
                format!(
                    "\"include_disabled\" must be true or false, got {}",
                    type_name(other)
                ),
            ))
        }
    };
    Ok(Target::AccountSweep {
        trigger: TriggerInfo {
            function: None,
            kind: cf_doctor_model::TriggerKind::Schedule,
            detail: format!("organization sweep: account {id}"),
            distribution_id: None,
            status: None,
        },
        account: Account { id, name },
        include_disabled,
    })
}

/// `{"digest": {"results": "s3://BUCKET/KEY"}}`: the Map Run's manifest.
fn digest(options: &Value) -> Result<Target, TriggerError> {
    const KIND: &str = "organization digest";
    let Value::Object(options) = options else {
        return Err(malformed(
            KIND,
            format!(
                "\"digest\" must be an object such as {{\"results\": \"s3://BUCKET/KEY\"}}, got {}",
                type_name(options)
            ),
        ));
    };
    only_keys(KIND, options, &["results"])?;
    let results = options
        .get("results")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            malformed(
                KIND,
                format!(
                    "\"results\" must be the Map Run's manifest as s3://BUCKET/KEY, got {}",
                    describe(options.get("results"))
                ),
            )
        })?;
    let location = S3Location::parse(results).map_err(|e| malformed(KIND, e.to_string()))?;
    Ok(Target::OrganizationDigest {
        trigger: TriggerInfo {
            function: None,
            kind: cf_doctor_model::TriggerKind::Schedule,
            detail: format!("organization sweep: every account's results ({location})"),
            distribution_id: None,
            status: None,
        },
        results: location.to_string(),
    })
}

fn describe(value: Option<&Value>) -> String {
    match value {
        None => "nothing".into(),
        Some(Value::String(s)) => format!("{:?}", s.chars().take(40).collect::<String>()),
        Some(other) => type_name(other).into(),
    }
}

#[cfg(test)]
mod tests {
    use crate::trigger::{parse_event, Target};
    use serde_json::json;

    #[test]
    fn the_state_machine_s_events_are_recognised() {
        match &parse_event(&json!({"sweep": {"account": "111122223333"}})).unwrap()[..] {
            [Target::AccountSweep {
                account,
                trigger,
                include_disabled: false,
            }] => {
                assert_eq!(account.id, "111122223333");
                assert!(
                    trigger.detail.contains("111122223333"),
                    "{}",
                    trigger.detail
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            &parse_event(&json!({"accounts": {"ids": ""}})).unwrap()[..],
            [Target::ListAccounts { ids: None }]
        ));
        match &parse_event(&json!({"accounts": {"ids": ["111122223333", "444455556666"]}})).unwrap()
            [..]
        {
            [Target::ListAccounts { ids: Some(ids) }] => assert_eq!(ids.len(), 2),
            other => panic!("{other:?}"),
        }
        match &parse_event(&json!({"digest": {"results": "s3://b/r/1/manifest.json"}})).unwrap()[..]
        {
            [Target::OrganizationDigest { results, .. }] => {
                assert_eq!(results, "s3://b/r/1/manifest.json")
            }
            other => panic!("{other:?}"),
        }
        // The single-account sweep is unchanged.
        assert!(matches!(
            &parse_event(&json!({"sweep": {}})).unwrap()[..],
            [Target::Sweep { .. }]
        ));
    }

    #[test]
    fn a_bad_organization_event_says_what_is_accepted() {
        for (event, expected) in [
            (json!({"sweep": {"account": "1234"}}), "12 digits"),
            (
                json!({"sweep": {"account": 111122223333u64}}),
                "got a number",
            ),
            (
                json!({"sweep": {"account": "111122223333", "region": "x"}}),
                "accepted: account, name, include_disabled",
            ),
            (
                json!({"digest": {"results": "bucket/key"}}),
                "s3://BUCKET/KEY",
            ),
            (json!({"digest": {}}), "got nothing"),
            (json!({"accounts": {"ids": "111122223333,abc"}}), "\"abc\""),
            (json!({"accounts": 3}), "got a number"),
        ] {
            let err = parse_event(&event).unwrap_err().to_string();
            assert!(err.contains(expected), "{event}: {err}");
        }
    }
}
