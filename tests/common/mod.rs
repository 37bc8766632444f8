//! Shared set-up for integration tests: moto (one per test process), a test PKI whose root is
//! handed to cf-doctor as its extra CA file, and the cf-doctor App pointed at both. Every origin
//! name is mapped to 127.0.0.1 with a resolve override, so no test ever sends a DNS query.
#![allow(dead_code)]

use std::io::Write;
use std::time::Duration;

use cf_doctor::config::Config;
use cf_doctor::diagnosis::{Diagnosis, TriggerInfo};
use cf_doctor::App;
use cf_doctor_testkit::{create_distribution, moto, sdk_config, DistributionSpec, TestCa};

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
        kind: "alarm".into(),
        detail: "test alarm".into(),
        distribution_id: Some(id.into()),
        status,
    }
}

pub fn codes(d: &Diagnosis) -> Vec<&'static str> {
    d.findings.iter().map(|f| f.code.as_str()).collect()
}
pub mod alb;
