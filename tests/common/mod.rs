//! Shared set-up for integration tests: moto (one per test process), a test PKI whose root is
//! handed to cf-doctor as its extra CA file, and the cf-doctor App pointed at both. Every origin
//! name is mapped to 127.0.0.1 with a resolve override, so no test ever sends a DNS query.
#![allow(dead_code)]

use std::io::Write;
use std::time::Duration;

use cf_doctor::config::Config;
use cf_doctor::App;
use cf_doctor_model::{Diagnosis, TriggerInfo};
use cf_doctor_testkit::{
    create_distribution, moto, sdk_config, tls_origin, DistributionSpec, LeafSpec, Origin,
    OriginConfig, TestCa,
};

pub struct Lab {
    pub sdk: aws_config::SdkConfig,
    pub ca: TestCa,
    pub ca_file: tempfile::NamedTempFile,
    pub cloudfront: aws_sdk_cloudfront::Client,
}

pub async fn lab() -> Lab {
    let sdk = sdk_config(&moto().endpoint).await;
    let ca = TestCa::new("cf-doctor test root");
    let mut ca_file = tempfile::NamedTempFile::new().expect("temp file for the test CA");
    ca_file
        .write_all(ca.cert_pem().as_bytes())
        .expect("write the test CA");
    Lab {
        cloudfront: aws_sdk_cloudfront::Client::new(&sdk),
        sdk,
        ca,
        ca_file,
    }
}

impl Lab {
    /// Configuration as a test user would set it: the origin name pinned to loopback, the test
    /// root trusted, and a short probe timeout.
    pub fn config(&self, host: &str) -> Config {
        let mut config = Config {
            probe_timeout: Duration::from_millis(1500),
            ca_file: Some(self.ca_file.path().to_path_buf()),
            ..Config::default()
        };
        config
            .add_resolve(&format!("{host}=127.0.0.1"))
            .expect("valid resolve override");
        config
    }

    pub fn app(&self, config: Config) -> App {
        App::new(&self.sdk, config).expect("the app starts")
    }

    pub async fn distribution(&self, spec: &DistributionSpec) -> String {
        create_distribution(&self.cloudfront, spec).await
    }

    /// The founding outage for `host`: a loopback origin serving a certificate that expired
    /// `days_ago` days ago, and a distribution in front of it. Returns the origin (keep it alive)
    /// and the distribution id.
    pub async fn expired_origin(&self, host: &str, days_ago: i64) -> (Origin, String) {
        let leaf = self
            .ca
            .leaf(&LeafSpec::valid_for(&[host]).expired_days_ago(days_ago));
        let origin = tls_origin(OriginConfig::new(leaf.full_chain(), leaf.key_der)).await;
        let id = self
            .distribution(&DistributionSpec::https_origin(host, origin.port()))
            .await;
        (origin, id)
    }

    /// Seeds a distribution whose origin `host` is served on `port`, then diagnoses it as an alarm
    /// about `status` would.
    pub async fn diagnose(
        &self,
        host: &str,
        port: u16,
        tweak: impl FnOnce(&mut DistributionSpec),
    ) -> Diagnosis {
        let mut spec = DistributionSpec::https_origin(host, port);
        tweak(&mut spec);
        let id = self.distribution(&spec).await;
        let app = self.app(self.config(host));
        app.diagnose(&id, alarm(&id, None))
            .await
            .expect("the inspection completes")
    }
}

pub fn alarm(id: &str, status: Option<u16>) -> TriggerInfo {
    TriggerInfo {
        function: None,
        kind: cf_doctor_model::TriggerKind::Alarm,
        detail: "test alarm".into(),
        distribution_id: Some(id.into()),
        status,
    }
}

/// The sample events in events/ (file names, sorted) and the folder they are in.
pub fn sample_events() -> (String, Vec<String>) {
    let dir = format!("{}/events", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    (dir, names)
}

/// The actions named by the report's `inspection-incomplete` findings.
pub fn gaps(d: &Diagnosis) -> Vec<String> {
    d.findings
        .iter()
        .filter(|f| f.code == cf_doctor_model::Code::InspectionIncomplete)
        .map(|f| f.evidence["action"].as_str().unwrap_or("?").to_string())
        .collect()
}

pub fn codes(d: &Diagnosis) -> Vec<&'static str> {
    d.findings.iter().map(|f| f.code.as_str()).collect()
}
#[allow(unused_imports)]
pub use cf_doctor_testkit::alb;
pub mod bootstrap;
pub mod edge;
pub mod emf;
pub mod template;
