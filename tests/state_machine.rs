//! The organization sweep's state machine (template.yaml, OrganizationSweep) read as Step
//! Functions reads it: every transition leads to a state, and the payloads its steps build — the
//! account list request, each Distributed Map item, a caught failure, the digest request — are
//! events the function accepts, built here by applying the definition's own JSONPath templates
//! (the few forms it uses) to the outputs the function gives. sam validate and cfn-lint check the
//! template's shape, not what the payloads say; tests/organization.rs runs the binary on them.
//!
//! The template is read as tests/common/template.rs reads it (PyYAML, short tags kept).

use std::collections::BTreeSet;

mod common;

use cf_doctor::organization::results::MapResults;
use cf_doctor::organization::Account;
use cf_doctor::trigger::{parse_event, Target};
use cf_doctor::TargetResult;
use common::template::template;
use serde_json::{json, Map, Value};

fn state_machine() -> (Value, Value) {
    let t = template();
    let props = t["Resources"]["OrganizationSweep"]["Properties"].clone();
    assert_eq!(
        t["Resources"]["OrganizationSweep"]["Type"],
        "AWS::Serverless::StateMachine"
    );
    (
        props["Definition"].clone(),
        props["DefinitionSubstitutions"].clone(),
    )
}

/// `$`, `$.a.b` on `input`, `$$.Map.Item.Value.x` on the map item. A path that is not there
/// panics: Step Functions fails the state (States.Runtime) on it.
fn path(expr: &str, input: &Value, item: &Value) -> Value {
    let (base, rest) = if let Some(rest) = expr.strip_prefix("$$.Map.Item.Value") {
        (item, rest)
    } else if let Some(rest) = expr.strip_prefix('$') {
        (input, rest)
    } else {
        panic!("a JSONPath this test does not read: {expr}");
    };
    rest.split('.')
        .filter(|p| !p.is_empty())
        .fold(base.clone(), |v, key| match v.get(key) {
            Some(value) => value.clone(),
            None => panic!("{expr}: no {key:?} in {v} (Step Functions would fail the state)"),
        })
}

/// `States.Format('...{}...', $.a, $.b)` or a path.
fn evaluate(expr: &str, input: &Value, item: &Value) -> Value {
    let Some(args) = expr
        .strip_prefix("States.Format(")
        .and_then(|e| e.strip_suffix(')'))
    else {
        return path(expr, input, item);
    };
    let mut parts = args.split(',').map(str::trim);
    let mut text = parts.next().unwrap().trim_matches('\'').to_string();
    for arg in parts {
        let value = path(arg, input, item);
        let value = value
            .as_str()
            .map(str::to_string)
            .unwrap_or(value.to_string());
        text = text.replacen("{}", &value, 1);
    }
    json!(text)
}

/// A Parameters / ItemSelector template applied: `key.$` fields evaluated, `${Name}` substituted.
fn apply(
    template: &Value,
    input: &Value,
    item: &Value,
    substitutions: &Map<String, Value>,
) -> Value {
    match template {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| match k.strip_suffix(".$") {
                    Some(key) => (key.to_string(), evaluate(v.as_str().unwrap(), input, item)),
                    None => (k.clone(), apply(v, input, item, substitutions)),
                })
                .collect(),
        ),
        Value::String(s) => {
            let mut s = s.clone();
            for (name, value) in substitutions {
                s = s.replace(&format!("${{{name}}}"), value.as_str().unwrap_or(""));
            }
            json!(s)
        }
        other => other.clone(),
    }
}

/// Every state name and every transition target in a States object (nested ones included).
fn transitions(states: &Value, names: &mut BTreeSet<String>, targets: &mut Vec<String>) {
    for (name, state) in states.as_object().unwrap() {
        names.insert(name.clone());
        if let Some(next) = state["Next"].as_str() {
            targets.push(next.to_string());
        }
        for catch in state["Catch"].as_array().into_iter().flatten() {
            targets.push(catch["Next"].as_str().unwrap().to_string());
        }
        let processor = &state["ItemProcessor"];
        if processor.is_object() {
            targets.push(processor["StartAt"].as_str().unwrap().to_string());
            transitions(&processor["States"], names, targets);
        }
    }
}

#[test]
fn every_transition_leads_to_a_state_and_the_map_is_distributed_with_results_in_s3() {
    let (definition, _) = state_machine();
    let mut names = BTreeSet::new();
    let mut targets = vec![definition["StartAt"].as_str().unwrap().to_string()];
    transitions(&definition["States"], &mut names, &mut targets);
    for target in &targets {
        assert!(names.contains(target), "{target} is not a state: {names:?}");
    }
    let map = &definition["States"]["SweepAccounts"];
    assert_eq!(
        map["ItemProcessor"]["ProcessorConfig"]["Mode"],
        "DISTRIBUTED"
    );
    assert_eq!(
        map["ResultWriter"]["Resource"],
        "arn:aws:states:::s3:putObject"
    );
    assert_eq!(map["MaxConcurrencyPath"], "$.max_concurrency");
    assert_eq!(map["ToleratedFailurePercentage"], 100);
}

#[test]
fn the_payloads_the_state_machine_builds_are_events_the_function_accepts() {
    let (definition, substitutions) = state_machine();
    let states = &definition["States"];
    let scheduled = json!({"max_concurrency": 8});
    for ids in ["", "111122223333,444455556666"] {
        let mut subs = substitutions.as_object().unwrap().clone();
        subs.insert("AccountIds".into(), json!(ids));
        subs.insert(
            "FunctionArn".into(),
            json!("arn:aws:lambda:us-east-1:123456789012:function:cf-doctor"),
        );
        let request = apply(
            &states["ListAccounts"]["Parameters"],
            &scheduled,
            &Value::Null,
            &subs,
        );
        match &parse_event(&request["Payload"]).expect("the list request")[..] {
            [Target::ListAccounts { ids: None }] => assert_eq!(ids, ""),
            [Target::ListAccounts { ids: Some(list) }] => assert_eq!(list.len(), 2),
            other => panic!("{request}: {other:?}"),
        }
    }

    // The list step's answer, as the function gives it (an account listed by Organizations
    // has a name, one given by id an empty one), then the map items built from it.
    let answer = TargetResult::Accounts(vec![
        Account {
            id: "444455556666".into(),
            name: "shop".into(),
        },
        Account::by_id("777788889999"),
    ])
    .to_json();
    let listed = path(
        "$.Payload.accounts",
        &json!({"Payload": answer}),
        &Value::Null,
    );
    let selector = &states["SweepAccounts"]["ItemSelector"];
    let item_input = apply(selector, &scheduled, &listed[0], &Map::new());
    let by_id = apply(selector, &scheduled, &listed[1], &Map::new());
    assert!(matches!(
        &parse_event(&by_id).expect("an item given by id")[..],
        [Target::AccountSweep { account, .. }] if account.id == "777788889999" && account.name.is_empty()
    ));
    let processor = &states["SweepAccounts"]["ItemProcessor"]["States"];
    let subs = substitutions.as_object().unwrap().clone();
    let invoke = apply(
        &processor["SweepAccount"]["Parameters"],
        &item_input,
        &Value::Null,
        &subs,
    );
    match &parse_event(&invoke["Payload"]).expect("the item's event")[..] {
        [Target::AccountSweep { account, .. }] => {
            assert_eq!(
                (account.id.as_str(), account.name.as_str()),
                ("444455556666", "shop")
            )
        }
        other => panic!("{invoke}: {other:?}"),
    }

    // A caught failure keeps the item's input beside the error: the digest names its account.
    let catch = &processor["SweepAccount"]["Catch"][0];
    assert_eq!(catch["ResultPath"], "$.failure");
    let mut caught = item_input.clone();
    caught["failure"] = json!({"Error": "States.Timeout", "Cause": "Task timed out"});
    let mut results = MapResults::default();
    results.absorb(
        "SUCCEEDED_0.json",
        &json!([{"Input": item_input.to_string(), "Output": caught.to_string(), "Status": "SUCCEEDED"}])
            .to_string(),
    );
    assert_eq!(results.accounts.len(), 1, "{:?}", results.gaps);
    assert_eq!(results.accounts[0].account, "444455556666");

    // The map's output with ResultWriter, then the digest request built from it.
    let map_output = json!({
        "MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:cf-doctor-organization/SweepAccounts:1",
        "ResultWriterDetails": {"Bucket": "results-bucket", "Key": "runs/1/manifest.json"}
    });
    let digest = apply(
        &states["Digest"]["Parameters"],
        &map_output,
        &Value::Null,
        &subs,
    );
    match &parse_event(&digest["Payload"]).expect("the digest request")[..] {
        [Target::OrganizationDigest { results, .. }] => {
            assert_eq!(results, "s3://results-bucket/runs/1/manifest.json")
        }
        other => panic!("{digest}: {other:?}"),
    }
}
