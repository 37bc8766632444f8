//! cf-doctor-testkit: everything cf-doctor's tests and the local lab need to stand up a fake AWS
//! (moto), fake origins and fake notification sinks, all on loopback.
//!
//! Nothing here talks to anything but 127.0.0.1 / ::1 (or the loopback of a network namespace
//! it creates, see [`netns`]): the tests must be runnable on a laptop without AWS credentials
//! and must never touch a real account.

pub mod alb;
pub mod aws;
pub mod cloudfront_xml;
pub mod dns;
pub mod ec2_xml;
mod http;
pub mod instance;
pub mod kinesis;
pub mod measure;
pub mod moto;
pub mod netns;
pub mod openssl_origin;
pub mod organizations;
pub mod origin;
pub mod pki;
pub mod proxy;
pub mod route53;
pub mod runtime_api;
mod serve;
pub mod slack_sink;
pub mod standard_logs;
pub mod syn_dropper;

pub use aws::{
    create_distribution, import_certificate, receive_all, topic_with_queue, BehaviorSpec,
    DistributionSpec,
};
pub use dns::{dns_server, dns_server_with, DnsServer, Record};
pub use moto::{aws_env, moto, sdk_config, Moto, OwnedMoto};
pub use netns::isolated;
pub use openssl_origin::{legacy_tls_origin, openssl_mtls_origin, LegacyTls, OpensslOrigin};
pub use origin::{
    closed_port, plain_http_origin, silent_origin, tls_origin, tls_origin_at,
    tls_origin_dual_stack, Origin, OriginConfig,
};
pub use pki::{self_signed, CrossSignedChain, Leaf, LeafSpec, TestCa};
pub use proxy::{aws_proxy, AwsProxy, Call, Fault, FaultKind};
pub use runtime_api::{runtime_api, Invocation, RuntimeApi};
pub use slack_sink::{slack_sink, Recorded, Reply, SlackSink};
pub use syn_dropper::{syn_dropper, syn_dropper_on, SynDropper};

/// The workspace root (the parent of this crate's directory), where `.venv/` and `events/` live.
pub fn workspace_root() -> std::path::PathBuf {
    let testkit = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    testkit
        .parent()
        .expect(
            "testkit's CARGO_MANIFEST_DIR has no parent: testkit must live inside the workspace",
        )
        .to_path_buf()
}
