//! `make bench` (latency part): what an on-call engineer waits for on real AWS is the number of
//! round trips on the critical path, which moto's 1-10 ms calls hide. The testkit proxy sits in
//! front of moto and adds a fixed delay D to every AWS call; one run with no delay and one with D
//! give `depth = (wall_D - wall_0) / D`: how many calls stood one after another. Printed with the
//! calls made and the most in flight at once, for (a) a distribution with an ACM viewer
//! certificate and no load balancer, (b) the same with an application load balancer behind the
//! origin, (c) a sweep of 50 distributions, and the shapes known by the account's records: (d) an
//! origin name that is a Route53 ALIAS to an application load balancer, (e) one whose A record
//! holds the Elastic IP of an EC2 instance, and (f) the shape of (a) with a real-time log
//! configuration whose Kinesis stream is read beside the probes. Figures, never assertions.
//!
//! Usage: cf-doctor-latency --cf-doctor PATH [--delay-ms 100] [--runs 3]

use std::io::Write;
use std::time::{Duration, Instant};

use cf_doctor_testkit::alb::{alb, AlbSpec};
use cf_doctor_testkit::cloudfront_xml::{answer, realtime_log_config, realtime_log_config_arn};
use cf_doctor_testkit::instance::{ec2_origin, InstanceSpec};
use cf_doctor_testkit::kinesis::{put_lines, realtime_stream, record_line};
use cf_doctor_testkit::route53::{hosted_zone, record, Target};
use cf_doctor_testkit::{
    aws_env, aws_proxy, create_distribution, import_certificate, sdk_config, tls_origin, AwsProxy,
    DistributionSpec, Fault, LeafSpec, Moto, Origin, OriginConfig, TestCa,
};

struct Scenario {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// What the proxy answers in moto's place on every run (moto serves no
    /// GetRealtimeLogConfig): injected again after each run's reset.
    answers: Vec<Fault>,
}

/// One measurement: wall time, the AWS calls the run made, the most in flight at once.
struct Measured {
    wall: Duration,
    calls: usize,
    max_in_flight: usize,
    code: i32,
    /// The report's probable cause (`-` when none), so a figure is never read off a broken lab.
    probable_cause: String,
}

async fn measure(bin: &str, proxy: &AwsProxy, scenario: &Scenario) -> Measured {
    proxy.reset();
    for answer in &scenario.answers {
        proxy.inject(answer.clone());
    }
    let started = Instant::now();
    let output = tokio::process::Command::new(bin)
        .args(&scenario.args)
        .env_clear()
        .envs(scenario.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stderr(std::process::Stdio::null())
        .output()
        .await
        .expect("cf-doctor runs");
    let wall = started.elapsed();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    Measured {
        wall,
        calls: proxy.calls().len(),
        max_in_flight: proxy.max_in_flight(),
        code: output.status.code().unwrap_or(-1),
        probable_cause: report["probable_cause"].as_str().unwrap_or("-").to_string(),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn report(bin: &str, proxy: &AwsProxy, scenario: &Scenario, delay: Duration, runs: usize) {
    let at = |latency: Duration| {
        proxy.set_latency(latency);
        async move {
            // A first run warms moto's backends for the service calls; it is not counted.
            measure(bin, proxy, scenario).await;
            let mut walls = Vec::new();
            let mut last = None;
            for _ in 0..runs {
                let m = measure(bin, proxy, scenario).await;
                walls.push(m.wall);
                last = Some(m);
            }
            (median(walls), last.expect("at least one run"))
        }
    };
    let (wall_0, m0) = at(Duration::ZERO).await;
    let (wall_d, md) = at(delay).await;
    proxy.set_latency(Duration::ZERO);
    let depth = (wall_d.as_secs_f64() - wall_0.as_secs_f64()) / delay.as_secs_f64();
    println!(
        "{}: {} AWS calls, at most {} in flight; wall {:.0} ms with no delay, {:.0} ms with {} ms per call: depth {:.1} (exit {}, probable cause {})",
        scenario.name,
        md.calls,
        md.max_in_flight.max(m0.max_in_flight),
        wall_0.as_secs_f64() * 1000.0,
        wall_d.as_secs_f64() * 1000.0,
        delay.as_millis(),
        depth,
        md.code,
        md.probable_cause
    );
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// The environment of a run through `proxy`: origin names pinned to loopback, the lab's CA.
fn env_for(proxy: &AwsProxy, pins: &[String], ca_file: &str) -> Vec<(String, String)> {
    let mut env = aws_env(&proxy.endpoint);
    env.push(("CF_DOCTOR_RESOLVE".into(), pins.join(",")));
    env.push(("ORIGIN_CA_FILE".into(), ca_file.to_string()));
    env.push(("PROBE_TIMEOUT_MS".into(), "2000".into()));
    env
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(bin) = flag(&args, "--cf-doctor") else {
        eprintln!("usage: cf-doctor-latency --cf-doctor PATH [--delay-ms 100] [--runs 3]");
        std::process::exit(64);
    };
    let delay = Duration::from_millis(
        flag(&args, "--delay-ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(100),
    );
    let runs: usize = flag(&args, "--runs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    println!(
        "\nlatency: every AWS call held {} ms by the proxy (depth = extra wall time / delay), median of {runs} run(s)",
        delay.as_millis()
    );
    let ca = TestCa::new("latency bench root");
    let mut ca_file = tempfile::NamedTempFile::new().expect("a temp file");
    ca_file.write_all(ca.cert_pem().as_bytes()).unwrap();
    let ca_path = ca_file.path().display().to_string();

    let moto = Moto::start();
    let sdk = sdk_config(&moto.endpoint).await;
    let proxy = aws_proxy(&moto.endpoint).await;
    let acm = aws_sdk_acm::Client::new(&sdk);
    let cloudfront = aws_sdk_cloudfront::Client::new(&sdk);

    // (a) An ACM viewer certificate, a healthy origin, no load balancer.
    let host = "origin.latency.test";
    let leaf = ca.leaf(&LeafSpec::valid_for(&[host]));
    let origin: Origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let viewer = ca.leaf(&LeafSpec::valid_for(&[
        "shop.latency.test",
        "alb.latency.test",
    ]));
    let viewer_arn = import_certificate(&acm, &viewer, &ca.cert_pem()).await;
    let plain = create_distribution(
        &cloudfront,
        &DistributionSpec {
            aliases: vec!["shop.latency.test".into()],
            viewer_acm_arn: Some(viewer_arn.clone()),
            ..DistributionSpec::https_origin(host, origin.port())
        },
    )
    .await;
    let without_lb = Scenario {
        name: "(a) alarm diagnosis, ACM viewer certificate, no load balancer",
        args: ["diagnose", &plain, "--format", "json"]
            .map(String::from)
            .to_vec(),
        env: env_for(&proxy, &[format!("{host}=127.0.0.1")], &ca_path),
        answers: Vec::new(),
    };
    report(&bin, &proxy, &without_lb, delay, runs).await;

    // (f) The same shape with a real-time log configuration on its cache behaviour: the config
    // and the Kinesis stream (2 shards, a record per request) are read beside the probes.
    let logged_host = "logged.latency.test";
    let logged_leaf = ca.leaf(&LeafSpec::valid_for(&[logged_host]));
    let logged_origin = tls_origin(OriginConfig::new(
        logged_leaf.full_chain(),
        logged_leaf.key_der.clone_key(),
    ))
    .await;
    let stream = realtime_stream(&sdk, "latency-realtime", 2).await;
    let now = chrono::Utc::now().timestamp();
    let lines: Vec<String> = (0..200)
        .map(|i| {
            record_line(&[
                &format!("{}.{:03}", now - 60, i),
                if i % 4 == 0 { "502" } else { "200" },
                "/api/cart",
                "IAD89-C1",
                if i % 4 == 0 {
                    "OriginConnectError"
                } else {
                    "Miss"
                },
            ])
        })
        .collect();
    put_lines(&sdk, &stream, &lines).await;
    let logged = create_distribution(
        &cloudfront,
        &DistributionSpec {
            realtime_log_config_arn: Some(realtime_log_config_arn("latency")),
            ..DistributionSpec::https_origin(logged_host, logged_origin.port())
        },
    )
    .await;
    let with_realtime_logs = Scenario {
        name: "(f) alarm diagnosis, (a) with a real-time log configuration read from Kinesis",
        args: ["diagnose", &logged, "--format", "json"]
            .map(String::from)
            .to_vec(),
        env: env_for(&proxy, &[format!("{logged_host}=127.0.0.1")], &ca_path),
        answers: vec![Fault::on(
            "cloudfront",
            "GetRealtimeLogConfig",
            1,
            answer(realtime_log_config(
                "latency",
                100,
                &stream,
                &[
                    "timestamp",
                    "sc-status",
                    "cs-uri-stem",
                    "x-edge-location",
                    "x-edge-detailed-result-type",
                ],
            )),
        )],
    };
    report(&bin, &proxy, &with_realtime_logs, delay, runs).await;

    // (b) The same with an application load balancer behind the origin.
    let lb_leaf = ca.leaf(&LeafSpec::valid_for(&["*.us-east-1.elb.amazonaws.com"]));
    let lb_origin = tls_origin(OriginConfig::new(
        lb_leaf.full_chain(),
        lb_leaf.key_der.clone_key(),
    ))
    .await;
    let listener_cert = import_certificate(&acm, &lb_leaf, &ca.cert_pem()).await;
    let lb = alb(
        &sdk,
        &AlbSpec::healthy("latency-alb", lb_origin.port(), listener_cert),
    )
    .await;
    let behind = create_distribution(
        &cloudfront,
        &DistributionSpec {
            aliases: vec!["alb.latency.test".into()],
            viewer_acm_arn: Some(viewer_arn),
            ..DistributionSpec::https_origin(&lb.dns_name, lb_origin.port())
        },
    )
    .await;
    let with_lb = Scenario {
        name: "(b) alarm diagnosis, with an application load balancer behind the origin",
        args: ["diagnose", &behind, "--format", "json"]
            .map(String::from)
            .to_vec(),
        env: env_for(&proxy, &[format!("{}=127.0.0.1", lb.dns_name)], &ca_path),
        answers: Vec::new(),
    };
    report(&bin, &proxy, &with_lb, delay, runs).await;

    // (d) An origin name that is a Route53 ALIAS to an application load balancer: the zone is
    // listed beside GetDistribution, the record read once the origin is known, then the load
    // balancer inspected.
    let alias_host = "shop.alias.bench.test";
    let alias_leaf = ca.leaf(&LeafSpec::valid_for(&[alias_host]));
    let alias_origin = tls_origin(OriginConfig::new(
        alias_leaf.full_chain(),
        alias_leaf.key_der.clone_key(),
    ))
    .await;
    let alias_cert = import_certificate(&acm, &alias_leaf, &ca.cert_pem()).await;
    let alias_lb = alb(
        &sdk,
        &AlbSpec::healthy("latency-alias-alb", alias_origin.port(), alias_cert),
    )
    .await;
    let zone = hosted_zone(&sdk, "alias.bench.test").await;
    record(
        &sdk,
        &zone,
        alias_host,
        Target::Alias {
            dns_name: format!("dualstack.{}", alias_lb.dns_name),
            hosted_zone_id: alias_lb.canonical_hosted_zone_id.clone(),
        },
    )
    .await;
    let aliased = create_distribution(
        &cloudfront,
        &DistributionSpec::https_origin(alias_host, alias_origin.port()),
    )
    .await;
    let via_alias = Scenario {
        name: "(d) alarm diagnosis, origin a Route53 ALIAS to an application load balancer",
        args: ["diagnose", &aliased, "--format", "json"]
            .map(String::from)
            .to_vec(),
        env: env_for(&proxy, &[format!("{alias_host}=127.0.0.1")], &ca_path),
        answers: Vec::new(),
    };
    report(&bin, &proxy, &via_alias, delay, runs).await;

    // (e) An origin name whose A record holds an EC2 instance's Elastic IP: the record, the
    // address, then the instance and its security groups.
    let instance_host = "www.instance.bench.test";
    let instance_leaf = ca.leaf(&LeafSpec::valid_for(&[instance_host]));
    let instance_origin = tls_origin(OriginConfig::new(
        instance_leaf.full_chain(),
        instance_leaf.key_der.clone_key(),
    ))
    .await;
    let eip = std::net::Ipv4Addr::new(203, 0, 113, 77);
    ec2_origin(
        &sdk,
        &InstanceSpec::cloudfront_only("latency-instance", instance_origin.port(), eip),
    )
    .await;
    let zone = hosted_zone(&sdk, "instance.bench.test").await;
    record(
        &sdk,
        &zone,
        instance_host,
        Target::Addresses(vec![std::net::IpAddr::V4(eip)]),
    )
    .await;
    let on_instance = create_distribution(
        &cloudfront,
        &DistributionSpec::https_origin(instance_host, instance_origin.port()),
    )
    .await;
    let via_instance = Scenario {
        name: "(e) alarm diagnosis, origin an A record holding an EC2 instance's Elastic IP",
        args: ["diagnose", &on_instance, "--format", "json"]
            .map(String::from)
            .to_vec(),
        env: env_for(&proxy, &[format!("{instance_host}=127.0.0.1")], &ca_path),
        answers: Vec::new(),
    };
    report(&bin, &proxy, &via_instance, delay, runs).await;
    drop(proxy);
    drop(moto);

    // (c) A sweep of 50 distributions, each with its own origin name, on a moto of its own.
    let moto = Moto::start();
    let sdk = sdk_config(&moto.endpoint).await;
    let proxy = aws_proxy(&moto.endpoint).await;
    let cloudfront = aws_sdk_cloudfront::Client::new(&sdk);
    let wildcard = ca.leaf(&LeafSpec::valid_for(&["*.fleet.latency.test"]));
    let fleet = tls_origin(OriginConfig::new(
        wildcard.full_chain(),
        wildcard.key_der.clone_key(),
    ))
    .await;
    let mut pins = Vec::new();
    for i in 0..50 {
        let name = format!("o{i}.fleet.latency.test");
        create_distribution(
            &cloudfront,
            &DistributionSpec::https_origin(&name, fleet.port()),
        )
        .await;
        pins.push(format!("{name}=127.0.0.1"));
    }
    let sweep = Scenario {
        name: "(c) sweep of 50 distributions",
        args: ["sweep", "--format", "json"].map(String::from).to_vec(),
        env: env_for(&proxy, &pins, &ca_path),
        answers: Vec::new(),
    };
    report(&bin, &proxy, &sweep, delay, runs).await;
    println!("  targets: depth at most 2 for (a) and (f), at most 3 for (b)");
}
