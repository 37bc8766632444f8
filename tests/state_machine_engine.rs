//! template.yaml's organization state machine (OrganizationSweep) run by an engine no one here
//! wrote: LocalStack's Step Functions executes its own definition (ListAccounts, the Distributed
//! Map with its ItemSelector, Catch and ResultWriter, the digest's `States.Format`), and every
//! payload the engine hands the function is run through the real binary, which takes it as the
//! event it is meant to be: the account list, each account's sweep, the caught failure beside its
//! item, the digest's `results` URL. tests/state_machine.rs builds the same payloads by its own
//! reading of the definition's paths; here they come from an engine that is not ours.
//!
//! What LocalStack (localstack-core 2026.3.0 on Python >= 3.13, from `.venv-localstack`, made by
//! `make localstack-venv`) does and does not do, as found by running it:
//! - It takes the definition with one change: `ToleratedFailurePercentage: 100` becomes `100.0`.
//!   Its ASL grammar lexes `100` as an integer where it accepts only a decimal number
//!   (InvalidDefinition otherwise), and it then warns that the field has no effect.
//! - Its Lambda calls leave it as real Invoke requests, here to this test's own Lambda endpoint
//!   (`DISTRIBUTED_MODE=1` makes its internal AWS clients take their endpoints from
//!   `AWS_ENDPOINT_URL_LAMBDA` and `AWS_ENDPOINT_URL`): each payload is recorded and run through
//!   `cf-doctor invoke`, and the binary's answer is what the engine gets back. Its mocked service
//!   integrations (SFN_MOCK_CONFIG) would hide the items: it runs a DISTRIBUTED map's items inside
//!   the parent execution and discards their events, so no history holds their TaskScheduled, and
//!   ListExecutions by mapRunArn answers InternalError instead of listing child executions.
//! - Its ResultWriter writes only the manifest: no result files, and the manifest names none. So
//!   each item is run again as AWS runs a Distributed Map's child execution (a Standard execution
//!   of the ItemProcessor's states with the item as its input), and those executions' inputs and
//!   outputs make the result file, the test's own, that the digest payload is then run on.
//!
//! Nothing leaves loopback: LocalStack listens on 127.0.0.1 only, runs no DNS server, sends no
//! analytics, downloads no certificate, and its phone-home endpoints point at a closed loopback
//! port. The list and sweep payloads run against a moto organization (as tests/organization.rs),
//! the digest against LocalStack's S3, where ResultWriter wrote the manifest.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cf_doctor_testkit::organizations::{create_account, create_organization};
use cf_doctor_testkit::{aws_env, closed_port, sdk_config, Moto, OwnedMoto};
use common::template::template;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// LocalStack's account for any test credentials: the function, the state machines and the
/// results bucket live there.
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:cf-doctor";
const ROLE_ARN: &str = "arn:aws:iam::000000000000:role/cf-doctor-organization-sweep";
const RESULTS_BUCKET: &str = "cf-doctor-org-results";
/// The management account of moto's organization (its test credentials' account).
const MANAGEMENT: &str = "123456789012";
/// What Lambda answers for a function that ran out of time, as an unhandled function error.
const TIMED_OUT: &str = "Sandbox.Timedout";
const TIMED_OUT_MESSAGE: &str = "Task timed out after 900.00 seconds";
/// LocalStack answered in 2.5 to 5 s here (a fresh data directory each time); the margin is for a
/// loaded machine.
const LOCALSTACK_READY_TIMEOUT: Duration = Duration::from_secs(90);
const EXECUTION_TIMEOUT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread")]
async fn localstack_runs_the_organization_state_machine_and_hands_cf_doctor_only_events_it_accepts()
{
    let started = Instant::now();
    let org = organization().await;
    let lambda = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0 for the Lambda endpoint");
    let lambda_endpoint = format!("http://{}", lambda.local_addr().unwrap());
    let localstack = LocalStack::start(&lambda_endpoint).await;
    let function = Arc::new(Function {
        org_env: aws_env(&org.moto.endpoint),
        results_env: aws_env(&localstack.endpoint),
        times_out: org.legacy.clone(),
        answers: Mutex::default(),
        invocations: Mutex::default(),
    });
    let server = tokio::spawn(serve(lambda, Arc::clone(&function)));
    let sfn = StepFunctions::new(&localstack);
    let s3 = aws_sdk_s3::Client::new(&sdk_config(&localstack.endpoint).await);
    s3.create_bucket()
        .bucket(RESULTS_BUCKET)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateBucket on LocalStack: {e:?}\n{}", localstack.log()));

    // The organization's run, as the schedule starts it (template.yaml's Nightly input).
    let definition = definition_as_deployed();
    let machine = sfn
        .create_state_machine("cf-doctor-organization", &definition)
        .await;
    let execution = sfn.run(&machine, &json!({"max_concurrency": 2})).await;
    assert_eq!(
        execution["status"],
        "SUCCEEDED",
        "{execution}\n{}",
        localstack.log()
    );
    let invoked = std::mem::take(&mut *function.invocations.lock().unwrap());

    // Exactly one account list, one sweep per listed account and one digest reached the function.
    let of_kind = |kind: &str| -> Vec<&Invocation> {
        invoked
            .iter()
            .filter(|i| i.payload.get(kind).is_some())
            .collect()
    };
    let (lists, sweeps, digests) = (of_kind("accounts"), of_kind("sweep"), of_kind("digest"));
    assert_eq!(
        lists.len() + sweeps.len() + digests.len(),
        invoked.len(),
        "{invoked:#?}"
    );
    for invocation in &invoked {
        assert_eq!(invocation.function, FUNCTION_ARN, "{invocation:#?}");
        invocation.ran.assert_accepted(&invocation.payload);
    }

    // The account list: the template's default AccountIds (empty: every account Organizations
    // lists), answered by the binary from moto's organization.
    assert_eq!(lists.len(), 1, "{invoked:#?}");
    assert_eq!(lists[0].payload, json!({"accounts": {"ids": ""}}));
    let listed = lists[0].ran.answer["accounts"]
        .as_array()
        .unwrap_or_else(|| panic!("no account list: {:#?}", lists[0]))
        .clone();
    let mut ids: Vec<&str> = listed.iter().map(|a| a["id"].as_str().unwrap()).collect();
    ids.sort();
    let mut expected = vec![MANAGEMENT, org.shop.as_str(), org.legacy.as_str()];
    expected.sort();
    assert_eq!(ids, expected);

    // Each account's sweep: ItemSelector's `{"sweep": {"account", "name"}}`, one per account, and
    // the binary sweeps that account (moto lets every member role be assumed).
    assert_eq!(sweeps.len(), listed.len(), "{invoked:#?}");
    for account in &listed {
        let item = json!({"sweep": {"account": account["id"], "name": account["name"]}});
        assert!(
            sweeps.iter().any(|s| s.payload == item),
            "no {item} among {sweeps:#?}"
        );
    }
    for sweep in &sweeps {
        assert_eq!(
            sweep.ran.answer["schema"], "cf-doctor/account-sweep/v1",
            "{sweep:#?}"
        );
        assert_eq!(
            sweep.ran.answer["account"],
            sweep.payload["sweep"]["account"]
        );
    }

    // The map ran as the definition says: MaxConcurrencyPath read from the input, every item
    // counted, and none failed, legacy's timeout being caught inside its item.
    let history = sfn
        .history(execution["executionArn"].as_str().unwrap())
        .await;
    let map_output = exited(&history, "SweepAccounts");
    let map_run = map_output["MapRunArn"].as_str().unwrap().to_string();
    let described = sfn
        .call("DescribeMapRun", json!({"mapRunArn": map_run}))
        .await;
    assert_eq!(described["maxConcurrency"], 2, "{described}");
    assert_eq!(
        described["itemCounts"]["total"],
        listed.len(),
        "{described}"
    );
    assert_eq!(described["itemCounts"]["failed"], 0, "{described}");

    // The digest: `States.Format('s3://{}/{}', ...)` on ResultWriterDetails names the manifest
    // ResultWriter wrote, and that is the only object it wrote (no result files).
    let written = &map_output["ResultWriterDetails"];
    assert_eq!(written["Bucket"], RESULTS_BUCKET, "{map_output}");
    let manifest_key = written["Key"].as_str().unwrap().to_string();
    assert!(
        manifest_key.starts_with("runs/") && manifest_key.ends_with("/manifest.json"),
        "{manifest_key}"
    );
    let results_url = format!("s3://{RESULTS_BUCKET}/{manifest_key}");
    assert_eq!(digests.len(), 1, "{invoked:#?}");
    assert_eq!(
        digests[0].payload,
        json!({"digest": {"results": results_url}})
    );
    assert_eq!(keys(&s3).await, std::slice::from_ref(&manifest_key));
    let manifest: Value = serde_json::from_str(&get(&s3, &manifest_key).await).unwrap();
    assert_eq!(manifest["MapRunArn"], map_run.as_str(), "{manifest}");
    assert_eq!(manifest["DestinationBucket"], RESULTS_BUCKET, "{manifest}");
    for status in ["SUCCEEDED", "FAILED", "PENDING"] {
        assert_eq!(manifest["ResultFiles"][status], json!([]), "{manifest}");
    }
    // The binary read that manifest and its digest is the execution's output (the Digest
    // state's OutputPath $.Payload). A manifest that names no result is no account recorded,
    // which the digest says as a gap: never "ok, 0 accounts".
    assert!(
        digests[0].ran.answer["trigger"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&results_url)),
        "{:#?}",
        digests[0]
    );
    assert_eq!(
        digests[0].ran.answer["verdict"], "unknown",
        "{:#?}",
        digests[0]
    );
    assert_eq!(
        digests[0].ran.answer["findings"][0]["code"], "inspection-incomplete",
        "{:#?}",
        digests[0]
    );
    let output: Value = serde_json::from_str(execution["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, digests[0].ran.answer);

    // The parent's history holds the two tasks outside the map, with the same payloads.
    assert_eq!(
        scheduled(&history),
        [
            json!({"FunctionName": FUNCTION_ARN, "Payload": lists[0].payload}),
            json!({"FunctionName": FUNCTION_ARN, "Payload": digests[0].payload}),
        ]
    );

    // Each item as a child execution: the ItemProcessor's states with the item as input.
    let processor = &definition["States"]["SweepAccounts"]["ItemProcessor"];
    let item_machine = sfn
        .create_state_machine(
            "cf-doctor-organization-item",
            &json!({"StartAt": processor["StartAt"], "States": processor["States"]}),
        )
        .await;
    let mut children = Vec::new();
    for sweep in &sweeps {
        let child = sfn.run(&item_machine, &sweep.payload).await;
        assert_eq!(child["status"], "SUCCEEDED", "{child}");
        let arn = child["executionArn"].as_str().unwrap();
        assert_eq!(
            scheduled(&sfn.history(arn).await),
            [json!({"FunctionName": FUNCTION_ARN, "Payload": sweep.payload})]
        );
        let output: Value = serde_json::from_str(child["output"].as_str().unwrap()).unwrap();
        if sweep.payload["sweep"]["account"] == org.legacy.as_str() {
            // The caught failure beside its item: NotInspected passes on the item's input with
            // Catch's `$.failure` (the Lambda error's type, and its payload as the cause).
            let mut caught = sweep.payload.clone();
            caught["failure"] =
                json!({"Error": TIMED_OUT, "Cause": timed_out_payload().to_string()});
            assert_eq!(output, caught);
        } else {
            assert_eq!(output, sweep.ran.answer);
        }
        children.push(child);
    }

    // The test's own result file beside LocalStack's manifest, as ResultWriter lays them out in
    // AWS, then the digest payload the engine built, run on them.
    let prefix = manifest_key.trim_end_matches("/manifest.json");
    let succeeded: Vec<Value> = children.iter().map(result_entry).collect();
    let file = format!("{prefix}/SUCCEEDED_0.json");
    let body = Value::Array(succeeded).to_string();
    let mut manifest = manifest;
    manifest["ResultFiles"]["SUCCEEDED"] = json!([{"Key": file, "Size": body.len()}]);
    put(&s3, &file, body).await;
    put(&s3, &manifest_key, manifest.to_string()).await;
    let digest = run_binary(&digests[0].payload, &function.results_env).await;
    digest.assert_accepted(&digests[0].payload);
    let report = &digest.answer;
    let summary = report["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("3 account(s) (1 not inspected)"),
        "{report}"
    );
    let gaps: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["evidence"]["account"] == org.legacy.as_str())
        .collect();
    assert_eq!(gaps.len(), 1, "{report}");
    assert_eq!(gaps[0]["code"], "inspection-incomplete");
    let error = gaps[0]["evidence"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(TIMED_OUT) && error.contains(TIMED_OUT_MESSAGE),
        "{error}"
    );
    // Every account has its check: the two swept, and the one not inspected.
    let checked: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "account-sweep")
        .filter_map(|c| c["target"].as_str())
        .collect();
    assert_eq!(checked.len(), expected.len(), "{checked:?}");
    for account in &expected {
        assert!(
            checked.iter().any(|c| c.starts_with(account)),
            "{account}: {checked:?}"
        );
    }

    server.abort();
    eprintln!(
        "LocalStack answered after {:.1} s; the whole test took {:.1} s",
        localstack.ready_after.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

// ---- The organization: moto, as tests/organization.rs seeds it ----------------------------------

struct Org {
    moto: OwnedMoto,
    shop: String,
    /// The account whose sweep "runs out of Lambda's time" in this run.
    legacy: String,
}

async fn organization() -> Org {
    let moto = Moto::start();
    let organizations = aws_sdk_organizations::Client::new(&sdk_config(&moto.endpoint).await);
    create_organization(&organizations).await;
    let shop = create_account(&organizations, "shop").await;
    let legacy = create_account(&organizations, "legacy").await;
    Org { moto, shop, legacy }
}

// ---- The definition, as CloudFormation hands it to Step Functions ------------------------------

/// OrganizationSweep's Definition with its DefinitionSubstitutions put in, as CloudFormation does
/// it: in the text. AccountIds is the template's default (empty: every account Organizations
/// lists).
fn definition_as_deployed() -> Value {
    let template = template();
    let resource = &template["Resources"]["OrganizationSweep"];
    assert_eq!(resource["Type"], "AWS::Serverless::StateMachine");
    let mut definition = resource["Properties"]["Definition"].clone();
    let substitutions = resource["Properties"]["DefinitionSubstitutions"]
        .as_object()
        .expect("DefinitionSubstitutions");
    // LocalStack's grammar takes the percentage only as a decimal number; 100.0 is the same value.
    let percentage = &mut definition["States"]["SweepAccounts"]["ToleratedFailurePercentage"];
    assert_eq!(*percentage, json!(100));
    *percentage = json!(100.0);
    let mut text = definition.to_string();
    let values = [
        ("FunctionArn", FUNCTION_ARN),
        ("ResultsBucket", RESULTS_BUCKET),
        ("AccountIds", ""),
    ];
    let names: BTreeSet<&str> = substitutions.keys().map(String::as_str).collect();
    assert_eq!(names, values.iter().map(|(name, _)| *name).collect());
    for (name, value) in values {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    serde_json::from_str(&text).expect("the substituted definition is JSON")
}

// ---- LocalStack -----------------------------------------------------------------------------

/// LocalStack's runtime from its own venv, on a free loopback port, with its data, cache and
/// temporary files in a directory of its own; killed on drop.
struct LocalStack {
    /// `http://127.0.0.1:PORT`
    endpoint: String,
    ready_after: Duration,
    child: Child,
    log: PathBuf,
    _data: tempfile::TempDir,
}

impl LocalStack {
    async fn start(lambda_endpoint: &str) -> LocalStack {
        let root = env!("CARGO_MANIFEST_DIR");
        let python = PathBuf::from(format!("{root}/.venv-localstack/bin/python3"));
        assert!(
            python.is_file(),
            "{} is missing: LocalStack's venv is made by `make localstack-venv` (scripts/localstack; \
             it needs Python >= 3.13), and `make test` makes it",
            python.display()
        );
        let data = tempfile::tempdir().expect("a temporary directory for LocalStack");
        for dir in ["home", "tmp", "root"] {
            std::fs::create_dir(data.path().join(dir)).unwrap();
        }
        let nowhere = format!("http://127.0.0.1:{}", closed_port());
        let http = http_client();
        let mut failures = Vec::new();
        // Another process may take the port between our probe and LocalStack's bind: retry that.
        for attempt in 0..3 {
            let port = closed_port();
            let endpoint = format!("http://127.0.0.1:{port}");
            let log = data.path().join(format!("localstack-{attempt}.log"));
            let out = File::create(&log).unwrap();
            let d = |dir: &str| data.path().join(dir).to_string_lossy().into_owned();
            let started = Instant::now();
            let mut child = Command::new(&python)
                .args(["-m", "localstack.runtime.main"])
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                // No profile from ~/.localstack, no file outside the data directory.
                .env("HOME", d("home"))
                .env("TMPDIR", d("tmp"))
                .env("FILESYSTEM_ROOT", d("root"))
                .env("OVERRIDE_IN_DOCKER", "0")
                .env("SERVICES", "stepfunctions,s3,sts")
                // The default (twisted) server binds 0.0.0.0 whatever GATEWAY_LISTEN says;
                // hypercorn binds the address given.
                .env("GATEWAY_SERVER", "hypercorn")
                .env("GATEWAY_LISTEN", format!("127.0.0.1:{port}"))
                .env("LOCALSTACK_HOST", format!("127.0.0.1:{port}"))
                // Nothing phones home: no analytics, no DNS server on port 53, no certificate
                // download, and the API and analytics endpoints at a closed loopback port.
                .env("DISABLE_EVENTS", "1")
                .env("DNS_ADDRESS", "0")
                .env("SKIP_SSL_CERT_DOWNLOAD", "1")
                .env("API_ENDPOINT", &nowhere)
                .env("ANALYTICS_API", &nowhere)
                // Its internal AWS clients take their endpoints from the environment: Lambda is
                // this test's endpoint, everything else LocalStack itself.
                .env("DISTRIBUTED_MODE", "1")
                .env("AWS_ENDPOINT_URL", &endpoint)
                .env("AWS_ENDPOINT_URL_LAMBDA", lambda_endpoint)
                .env("PYTHONUNBUFFERED", "1")
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("{}: {e}: run `make localstack-venv`", python.display())
                });
            loop {
                let health = get_text(&http, &format!("{endpoint}/_localstack/health")).await;
                if health.is_ok_and(|h| h.contains("\"stepfunctions\"")) {
                    return LocalStack {
                        endpoint,
                        ready_after: started.elapsed(),
                        child,
                        log,
                        _data: data,
                    };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    failures.push(format!("exited {status}:\n{}", tail(&log)));
                    break;
                }
                if started.elapsed() > LOCALSTACK_READY_TIMEOUT {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "LocalStack did not answer on {endpoint} within {LOCALSTACK_READY_TIMEOUT:?}:\n{}",
                        tail(&log)
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!("LocalStack did not start: {failures:#?}");
    }

    /// The end of its log, for failure messages.
    fn log(&self) -> String {
        tail(&self.log)
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

// ---- The function: Lambda's Invoke API, answered by the binary ------------------------------

/// One Invoke request the engine sent, and what the binary made of its payload.
#[derive(Debug, Clone)]
struct Invocation {
    function: String,
    payload: Value,
    ran: Ran,
}

/// `cf-doctor invoke` on one payload.
#[derive(Debug, Clone)]
struct Ran {
    code: i32,
    answer: Value,
    stderr: String,
}

impl Ran {
    /// Taken as an event of the payload's kind: no usage error (64, which a MalformedEvent is),
    /// and an answer of that kind.
    fn assert_accepted(&self, payload: &Value) {
        assert!(
            (0..=3).contains(&self.code),
            "{payload}: exit {}, stderr:\n{}",
            self.code,
            self.stderr
        );
        let kind = if payload.get("accounts").is_some() {
            self.answer["accounts"].is_array()
        } else if payload.get("sweep").is_some() {
            self.answer["schema"] == "cf-doctor/account-sweep/v1"
        } else {
            self.answer["schema"] == "cf-doctor/diagnosis/v1"
                && self.answer["trigger"]["kind"] == "schedule"
        };
        assert!(kind, "{payload} was not answered in kind: {self:#?}");
    }
}

struct Function {
    /// For the list and the sweeps: moto's organization.
    org_env: Vec<(String, String)>,
    /// For the digest: LocalStack's S3, where the results are.
    results_env: Vec<(String, String)>,
    /// The account whose sweep ends as Lambda ends a function out of time.
    times_out: String,
    /// The binary's answer to each payload it ran on (a child execution repeats an item).
    answers: Mutex<HashMap<String, Ran>>,
    invocations: Mutex<Vec<Invocation>>,
}

fn timed_out_payload() -> Value {
    json!({"errorType": TIMED_OUT, "errorMessage": TIMED_OUT_MESSAGE})
}

async fn serve(listener: TcpListener, function: Arc<Function>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let function = Arc::clone(&function);
        tokio::spawn(async move {
            if let Err(e) = invoke(stream, &function).await {
                eprintln!("the Lambda endpoint: {e}");
            }
        });
    }
}

/// One `POST /2015-03-31/functions/NAME/invocations`: the payload run through the binary, its
/// answer returned as Lambda returns a function's result (or, for the account that times out, as
/// Lambda reports an unhandled function error).
async fn invoke(mut stream: TcpStream, function: &Function) -> std::io::Result<()> {
    let (path, body) = read_request(&mut stream).await?;
    let name = path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|p| p.strip_suffix("/invocations"))
        .map(percent_decoded)
        .unwrap_or_else(|| panic!("not a Lambda Invoke: {path}"));
    let payload: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
    let cached = function
        .answers
        .lock()
        .unwrap()
        .get(&payload.to_string())
        .cloned();
    let ran = match cached {
        Some(ran) => ran,
        None => {
            let env = if payload.get("digest").is_some() {
                &function.results_env
            } else {
                &function.org_env
            };
            let ran = run_binary(&payload, env).await;
            function
                .answers
                .lock()
                .unwrap()
                .insert(payload.to_string(), ran.clone());
            ran
        }
    };
    let times_out = payload["sweep"]["account"] == function.times_out.as_str();
    let (extra, answer) = if times_out {
        (
            "X-Amz-Function-Error: Unhandled\r\n",
            timed_out_payload().to_string(),
        )
    } else {
        ("", ran.answer.to_string())
    };
    function.invocations.lock().unwrap().push(Invocation {
        function: name,
        payload,
        ran,
    });
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Amz-Executed-Version: $LATEST\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// The request line's path and the body (Content-Length bytes after the head).
async fn read_request(stream: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((path, body))
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The real binary on one event, as `cf-doctor invoke -` reads it (the Lambda handler's path).
async fn run_binary(payload: &Value, env: &[(String, String)]) -> Ran {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cf-doctor"))
        .args(["invoke", "-", "--format", "json"])
        .env_clear()
        .envs(env.iter().cloned())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the cf-doctor binary runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(payload.to_string().as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    Ran {
        code: out.status.code().unwrap_or(-1),
        answer: serde_json::from_str(&stdout).unwrap_or(Value::String(stdout.into_owned())),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// ---- Step Functions' API on LocalStack (JSON over HTTP; it checks no signature) ---------------

type Http = Client<HttpConnector, Full<Bytes>>;

fn http_client() -> Http {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn get_text(http: &Http, url: &str) -> Result<String, String> {
    let request = hyper::Request::get(url)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = http.request(request).await.map_err(|e| e.to_string())?;
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&body.to_bytes()).into_owned())
}

struct StepFunctions<'a> {
    http: Http,
    localstack: &'a LocalStack,
}

impl<'a> StepFunctions<'a> {
    fn new(localstack: &'a LocalStack) -> StepFunctions<'a> {
        StepFunctions {
            http: http_client(),
            localstack,
        }
    }

    async fn call(&self, action: &str, input: Value) -> Value {
        let request = hyper::Request::post(&self.localstack.endpoint)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("AWSStepFunctions.{action}"))
            // The region and the access key (so the account) are read from here.
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/states/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(Full::new(Bytes::from(input.to_string())))
            .unwrap();
        let response = self
            .http
            .request(request)
            .await
            .unwrap_or_else(|e| panic!("{action}: {e}\n{}", self.localstack.log()));
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert!(
            status.is_success(),
            "{action} {input}: {status} {text}\n{}",
            self.localstack.log()
        );
        serde_json::from_str(&text).unwrap()
    }

    async fn create_state_machine(&self, name: &str, definition: &Value) -> String {
        let created = self
            .call(
                "CreateStateMachine",
                json!({"name": name, "definition": definition.to_string(), "roleArn": ROLE_ARN, "type": "STANDARD"}),
            )
            .await;
        created["stateMachineArn"].as_str().unwrap().to_string()
    }

    /// Starts an execution and waits for its end: DescribeExecution's answer.
    async fn run(&self, machine: &str, input: &Value) -> Value {
        let started = self
            .call(
                "StartExecution",
                json!({"stateMachineArn": machine, "input": input.to_string()}),
            )
            .await;
        let arn = started["executionArn"].as_str().unwrap();
        let deadline = Instant::now() + EXECUTION_TIMEOUT;
        loop {
            let described = self
                .call("DescribeExecution", json!({"executionArn": arn}))
                .await;
            if described["status"] != "RUNNING" {
                return described;
            }
            assert!(
                Instant::now() < deadline,
                "{arn} still running after {EXECUTION_TIMEOUT:?}\n{}",
                self.localstack.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn history(&self, execution: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut token = Value::Null;
        loop {
            let mut input = json!({"executionArn": execution, "maxResults": 1000});
            if !token.is_null() {
                input["nextToken"] = token;
            }
            let page = self.call("GetExecutionHistory", input).await;
            events.extend(page["events"].as_array().unwrap().iter().cloned());
            token = page["nextToken"].clone();
            if token.is_null() {
                return events;
            }
        }
    }
}

/// Every TaskScheduled event's parameters (what the task hands its resource), in order.
fn scheduled(history: &[Value]) -> Vec<Value> {
    history
        .iter()
        .filter(|e| e["type"] == "TaskScheduled")
        .map(|e| {
            let text = e["taskScheduledEventDetails"]["parameters"]
                .as_str()
                .unwrap();
            serde_json::from_str(text).unwrap()
        })
        .collect()
}

/// A state's output, from its exit event.
fn exited(history: &[Value], state: &str) -> Value {
    let event = history
        .iter()
        .find(|e| e["stateExitedEventDetails"]["name"] == state)
        .unwrap_or_else(|| panic!("{state} never exited: {history:#?}"));
    serde_json::from_str(event["stateExitedEventDetails"]["output"].as_str().unwrap()).unwrap()
}

/// A child execution as ResultWriter lists it in a result file: input and output as JSON text,
/// dates as ISO 8601 (DescribeExecution gives epoch seconds).
fn result_entry(execution: &Value) -> Value {
    let date = |field: &str| {
        let seconds = execution[field].as_f64().unwrap();
        chrono::DateTime::from_timestamp_millis((seconds * 1000.0) as i64)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    json!({
        "ExecutionArn": execution["executionArn"],
        "Input": execution["input"],
        "InputDetails": {"Included": true},
        "Name": execution["name"],
        "Output": execution["output"],
        "OutputDetails": {"Included": true},
        "StartDate": date("startDate"),
        "StateMachineArn": execution["stateMachineArn"],
        "Status": execution["status"],
        "StopDate": date("stopDate"),
    })
}

// ---- LocalStack's S3 ------------------------------------------------------------------------

async fn keys(s3: &aws_sdk_s3::Client) -> Vec<String> {
    let listed = s3
        .list_objects_v2()
        .bucket(RESULTS_BUCKET)
        .send()
        .await
        .expect("ListObjectsV2 on LocalStack");
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

async fn get(s3: &aws_sdk_s3::Client, key: &str) -> String {
    let object = s3
        .get_object()
        .bucket(RESULTS_BUCKET)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetObject {key}: {e:?}"));
    let bytes = object.body.collect().await.unwrap().into_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn put(s3: &aws_sdk_s3::Client, key: &str, body: String) {
    s3.put_object()
        .bucket(RESULTS_BUCKET)
        .key(key)
        .body(body.into_bytes().into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutObject {key}: {e:?}"));
}
