//! The Distributed Map's results, read back for the organization digest: the Map Run's
//! `manifest.json` (written by ResultWriter) names a file per status, each a JSON array of child
//! executions with their input and output as JSON strings. A swept account's output is its
//! summary; an account whose step failed, timed out or never ran is named from its input.

use serde::Deserialize;
use serde_json::Value;

use cf_doctor_aws::error_text;
use cf_doctor_model::evidence::Gap;
use cf_doctor_model::organization::{account_id, AccountSweep, ACCOUNT_SWEEP_SCHEMA};
use cf_doctor_rules::organization::not_inspected;

/// `s3://BUCKET/KEY`, the manifest's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{0:?} is not an S3 location: expected s3://BUCKET/KEY, the Map Run's manifest.json (ResultWriterDetails)")]
    BadLocation(String),
    #[error("cannot read the Map Run's manifest s3://{bucket}/{key}: {error}")]
    Manifest {
        bucket: String,
        key: String,
        error: String,
    },
}

impl S3Location {
    pub fn parse(text: &str) -> Result<S3Location, ResultsError> {
        let bad = || ResultsError::BadLocation(text.chars().take(200).collect());
        let rest = text.trim().strip_prefix("s3://").ok_or_else(bad)?;
        let (bucket, key) = rest.split_once('/').ok_or_else(bad)?;
        if bucket.is_empty() || key.is_empty() {
            return Err(bad());
        }
        Ok(S3Location {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Manifest {
    destination_bucket: Option<String>,
    #[serde(default)]
    result_files: ResultFiles,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
struct ResultFiles {
    #[serde(default)]
    succeeded: Vec<ResultFile>,
    #[serde(default)]
    failed: Vec<ResultFile>,
    #[serde(default)]
    pending: Vec<ResultFile>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResultFile {
    key: String,
}

/// One child execution as a result file lists it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChildExecution {
    /// AWS writes the input and output as JSON text; an object is taken as it is.
    #[serde(default)]
    input: Option<Value>,
    #[serde(default)]
    output: Option<Value>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    cause: Option<String>,
    #[serde(default)]
    start_date: Option<String>,
}

/// What the results hold: every account's summary, and the files or entries that could not be
/// read (gaps, never a reason to drop the rest).
#[derive(Debug, Default)]
pub struct MapResults {
    pub accounts: Vec<AccountSweep>,
    pub gaps: Vec<Gap>,
}

/// Reads the manifest and every result file it names.
pub async fn read(
    s3: &aws_sdk_s3::Client,
    manifest: &S3Location,
) -> Result<MapResults, ResultsError> {
    let text = get(s3, &manifest.bucket, &manifest.key)
        .await
        .map_err(|error| ResultsError::Manifest {
            bucket: manifest.bucket.clone(),
            key: manifest.key.clone(),
            error,
        })?;
    let parsed: Manifest = serde_json::from_str(&text).map_err(|e| ResultsError::Manifest {
        bucket: manifest.bucket.clone(),
        key: manifest.key.clone(),
        error: format!("not a Map Run manifest ({e})"),
    })?;
    let bucket = parsed
        .destination_bucket
        .clone()
        .unwrap_or_else(|| manifest.bucket.clone());
    let files = parsed.result_files;
    let mut results = MapResults::default();
    for file in files
        .succeeded
        .iter()
        .chain(&files.failed)
        .chain(&files.pending)
    {
        match get(s3, &bucket, &file.key).await {
            Ok(text) => results.absorb(&file.key, &text),
            Err(error) => results.gaps.push(Gap::new(
                "s3:GetObject",
                &format!("s3://{bucket}/{}", file.key),
                error,
                "the accounts whose results are in this file",
            )),
        }
    }
    results.nothing_recorded(manifest);
    Ok(results)
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<String, String> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| error_text(&e))?;
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| format!("reading the body: {e}"))?
        .into_bytes();
    String::from_utf8(bytes.to_vec()).map_err(|_| "the object is not UTF-8 text".to_string())
}

impl MapResults {
    /// Adds what one result file (a JSON array of child executions) holds.
    /// A Map Run always has an item (the account cf-doctor runs in is listed), so results that
    /// name no account at all are a run whose results went missing, never "0 accounts, ok".
    pub fn nothing_recorded(&mut self, manifest: &S3Location) {
        if self.accounts.is_empty() && self.gaps.is_empty() {
            self.gaps.push(Gap::new(
                "s3:GetObject",
                &manifest.to_string(),
                "the Map Run's manifest names no result file, so no account's sweep was recorded"
                    .into(),
                "every account of the organization",
            ));
        }
    }

    pub fn absorb(&mut self, key: &str, text: &str) {
        let executions: Vec<ChildExecution> = match serde_json::from_str(text) {
            Ok(list) => list,
            Err(e) => {
                self.gaps.push(Gap::new(
                    "results",
                    key,
                    format!("not a Map Run result file ({e})"),
                    "the accounts whose results are in this file",
                ));
                return;
            }
        };
        for execution in executions {
            match account_of(&execution) {
                Ok(summary) => self.accounts.push(summary),
                Err(problem) => self.gaps.push(Gap::new(
                    "results",
                    key,
                    problem,
                    "one account's result in this file",
                )),
            }
        }
    }
}

/// The summary a child execution carries, or the account it was about when it carries none.
fn account_of(execution: &ChildExecution) -> Result<AccountSweep, String> {
    let output = execution.output.as_ref().and_then(json_of);
    if let Some(output) = &output {
        if output.get("schema").and_then(Value::as_str) == Some(ACCOUNT_SWEEP_SCHEMA) {
            return serde_json::from_value(output.clone())
                .map_err(|e| format!("an account summary that does not parse: {e}"));
        }
        // The state machine's catch: the item's input with the error Step Functions caught.
        if let Some(failure) = output.get("failure") {
            let account = output
                .pointer("/sweep/account")
                .and_then(Value::as_str)
                .and_then(account_id)
                .ok_or("a caught failure without the account it was about")?;
            return Ok(failed(
                &account,
                failure.get("Error"),
                failure.get("Cause"),
                execution,
            ));
        }
    }
    let input: Value = execution
        .input
        .as_ref()
        .and_then(json_of)
        .ok_or("a child execution with neither a summary nor its input")?;
    let account = input
        .pointer("/sweep/account")
        .and_then(Value::as_str)
        .and_then(account_id)
        .ok_or("a child execution whose input names no account")?;
    let status = execution.status.as_deref().unwrap_or("unknown status");
    let error = execution
        .error
        .clone()
        .map(Value::String)
        .unwrap_or_else(|| Value::String(format!("the step ended {status}")));
    let cause = execution.cause.clone().map(Value::String);
    Ok(failed(&account, Some(&error), cause.as_ref(), execution))
}

/// A result file's `Input` or `Output`: JSON text (as AWS writes it), or already an object.
fn json_of(value: &Value) -> Option<Value> {
    match value {
        Value::String(text) => serde_json::from_str(text).ok(),
        Value::Object(_) => Some(value.clone()),
        _ => None,
    }
}

fn failed(
    account: &str,
    error: Option<&Value>,
    cause: Option<&Value>,
    execution: &ChildExecution,
) -> AccountSweep {
    let error = error.and_then(Value::as_str).unwrap_or("States.TaskFailed");
    let mut text = error.to_string();
    if let Some(cause) = cause.and_then(Value::as_str).filter(|c| !c.is_empty()) {
        let cause: String = cause.chars().take(500).collect();
        text.push_str(&format!(": {cause}"));
    }
    let started_at = execution
        .start_date
        .as_deref()
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.with_timezone(&chrono::Utc))
        .unwrap_or_else(chrono::Utc::now);
    not_inspected(
        account,
        None,
        "the account's sweep step",
        &text,
        started_at,
        0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_is_an_s3_uri_with_a_key() {
        assert_eq!(
            S3Location::parse("s3://results-bucket/runs/7/manifest.json").unwrap(),
            S3Location {
                bucket: "results-bucket".into(),
                key: "runs/7/manifest.json".into()
            }
        );
        for bad in [
            "results-bucket/manifest.json",
            "s3://bucket",
            "s3:///key",
            "s3://bucket/",
        ] {
            let err = S3Location::parse(bad).unwrap_err().to_string();
            assert!(err.contains("s3://BUCKET/KEY"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_failed_step_names_its_account_from_its_input() {
        let mut results = MapResults::default();
        let file = serde_json::json!([
            {"ExecutionArn": "arn:aws:states:us-east-1:1:execution:m/map:1", "Input": "{\"sweep\":{\"account\":\"111122223333\"}}",
             "Status": "FAILED", "Error": "Sandbox.Timedout", "Cause": "Task timed out after 900.00 seconds"},
            {"Input": "{\"sweep\":{\"account\":\"444455556666\"}}", "Status": "SUCCEEDED",
             "Output": "{\"sweep\":{\"account\":\"444455556666\"},\"failure\":{\"Error\":\"Lambda.TooManyRequestsException\",\"Cause\":\"Rate exceeded\"}}"},
            {"Input": "not json", "Status": "FAILED"}
        ]);
        results.absorb("FAILED_0.json", &file.to_string());
        let named: Vec<(&str, &str)> = results
            .accounts
            .iter()
            .map(|a| (a.account.as_str(), a.not_inspected.as_deref().unwrap()))
            .collect();
        assert_eq!(
            named,
            [
                ("111122223333", "the account's sweep step: Sandbox.Timedout: Task timed out after 900.00 seconds"),
                ("444455556666", "the account's sweep step: Lambda.TooManyRequestsException: Rate exceeded")
            ]
        );
        assert_eq!(results.gaps.len(), 1, "{:?}", results.gaps);
        results.absorb("SUCCEEDED_0.json", "{\"not\": \"a list\"}");
        assert!(
            results.gaps[1].error.contains("not a Map Run result file"),
            "{:?}",
            results.gaps
        );
    }

    #[test]
    fn a_manifest_that_names_no_result_is_a_gap_not_an_empty_organization() {
        // What LocalStack's ResultWriter writes (tests/state_machine_engine.rs): a manifest whose
        // result lists are all empty.
        let manifest = S3Location::parse("s3://results/runs/1/manifest.json").unwrap();
        let mut results = MapResults::default();
        results.nothing_recorded(&manifest);
        assert_eq!(results.gaps.len(), 1);
        assert_eq!(
            results.gaps[0].resource,
            "s3://results/runs/1/manifest.json"
        );
        assert!(results.gaps[0].error.contains("names no result file"));
        // Results that name accounts need no such gap.
        let mut results = MapResults::default();
        results.absorb(
            "SUCCEEDED_0.json",
            r#"[{"Input": "{\"sweep\":{\"account\":\"111122223333\"}}", "Status": "FAILED"}]"#,
        );
        results.nothing_recorded(&manifest);
        assert!(results.gaps.is_empty(), "{:?}", results.gaps);
        assert_eq!(results.accounts.len(), 1);
    }
}
