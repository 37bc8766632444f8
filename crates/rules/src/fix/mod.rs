//! Fixes: every finding above info gets the steps a senior engineer would give, with the exact
//! resources, the AWS CLI commands filled in and the console pages, all from the evidence; how to
//! know it worked; and what viewers still see right after (docs/contract.md, "Fixes").
//! cf-doctor stays read-only: a command is handed over, never run. What it cannot know (a new
//! certificate's ARN) is an upper-case placeholder in angle brackets, explained in its step.

mod after;
mod application;
mod certificate;
mod edge;
mod network;
mod scene;

use cf_doctor_model::fix::CommandLine;
use cf_doctor_model::{Code, Evidence, Finding, Fix, FixStep, Layer, Severity, TriggerInfo};

use after::Changes;
use scene::Scene;

/// What one code's fix holds before the common parts (verify, after) are added.
pub(crate) struct Plan {
    pub summary: String,
    pub steps: Vec<FixStep>,
    /// Whether the fix changes the distribution (then it must deploy before viewers see it).
    pub changes: Changes,
}

impl Plan {
    pub fn new(summary: impl Into<String>, steps: Vec<FixStep>) -> Plan {
        Plan {
            summary: summary.into(),
            steps,
            changes: Changes::Elsewhere,
        }
    }
    pub fn changing_the_distribution(mut self) -> Plan {
        self.changes = Changes::Distribution;
        self
    }
}

/// Gives every finding above info its fix.
pub fn attach(findings: &mut [Finding], evidence: &Evidence, trigger: &TriggerInfo) {
    for finding in findings.iter_mut().filter(|f| f.severity > Severity::Info) {
        let scene = Scene::of(finding, evidence, trigger);
        finding.fix = Some(build(finding, &scene));
    }
}

fn build(finding: &Finding, scene: &Scene<'_>) -> Fix {
    let plan = match finding.code {
        Code::OriginCertExpired
        | Code::OriginCertExpiring
        | Code::OriginCertNotYetValid
        | Code::AcmCertExpired
        | Code::AcmCertExpiring
        | Code::AcmCertRenewalAtRisk
        | Code::AcmCertNotIssued
        | Code::OriginMtlsCertExpired
        | Code::OriginMtlsCertExpiring => certificate::renew(finding, scene),
        Code::OriginCertNameMismatch => certificate::name_mismatch(finding, scene),
        Code::OriginCertSelfSigned
        | Code::OriginCertUntrusted
        | Code::OriginCertChainOrder
        | Code::OriginTlsHandshakeFailed => certificate::trust(finding, scene),
        Code::ViewerCertAliasUncovered => certificate::viewer_aliases(scene),
        Code::OriginDnsFailure => network::dns(scene),
        Code::OriginConnectionRefused | Code::OriginListenerMissing => {
            network::listener(finding, scene)
        }
        Code::OriginConnectionTimeout | Code::OriginSecurityGroupBlocksPort => {
            network::dropped(finding, scene)
        }
        Code::OriginInstanceNotRunning => network::instance(scene),
        Code::OriginTlsProtocolMismatch => network::protocols(scene),
        Code::VpcOriginNotDeployed => network::vpc_origin(finding, scene),
        Code::OriginNoHealthyTargets => application::targets(scene),
        Code::OriginHttpError => application::errors(scene),
        Code::OriginSlow => application::slow(scene),
        Code::LambdaEdgeExecutionError
        | Code::LambdaEdgeValidationError
        | Code::LambdaEdgeThrottled
        | Code::LambdaEdgeMisconfigured => edge::lambda(finding, scene),
        Code::CloudfrontFunctionExecutionError
        | Code::CloudfrontFunctionValidationError
        | Code::CloudfrontFunctionThrottled => edge::function(finding, scene),
        Code::EdgeErrorFromCloudfront | Code::CloudfrontLoggedOriginErrors => {
            edge::logged(finding, scene)
        }
        Code::DistributionDisabled | Code::DistributionDeploying => edge::disabled(scene),
        Code::InspectionIncomplete | Code::OriginMtlsRequired => edge::gap(finding),
    };
    let mut steps = plan.steps;
    if steps.is_empty() {
        // The evidence holds too little to name a resource: the finding's own advice stands.
        steps.push(FixStep::says(finding.remediation.clone()));
    }
    Fix {
        summary: plan.summary,
        steps,
        verify: verify(finding, scene),
        after: after::words(
            finding,
            scene.distribution,
            scene.trigger.status,
            plan.changes,
        ),
    }
}

/// cf-doctor run again, and for a fault on the wire the handshake CloudFront will be shown.
fn verify(finding: &Finding, scene: &Scene<'_>) -> Vec<FixStep> {
    let account = scene
        .evidence
        .account
        .as_deref()
        .map(|a| format!(" with credentials for account {a}"))
        .unwrap_or_default();
    let mut steps = vec![match scene.distribution_id() {
        Some(id) => FixStep::says(format!(
            "Run cf-doctor on distribution {id} again{account}: the finding is gone and nothing critical is left"
        ))
        .command(CommandLine::new(&["cf-doctor", "diagnose", id]).line()),
        None => FixStep::says(format!(
            "Run the sweep again{account}: the finding is gone from the digest"
        ))
        .command(CommandLine::new(&["cf-doctor", "sweep"]).line()),
    }];
    let on_the_wire = matches!(
        finding.code.layer(),
        Layer::Handshake | Layer::Certificate | Layer::ExpiryAhead
    ) || scene.certificate.is_some_and(|_| scene.listener.is_some());
    if let (true, Some((host, port)), Some(server_name)) =
        (on_the_wire, &scene.endpoint, scene.server_name())
    {
        steps.push(
            FixStep::says(format!(
                "See what {host}:{port} shows CloudFront when it asks for {server_name}: 'Verification: OK' and the new certificate's subject (run it where the origin admits you: it may admit only CloudFront)"
            ))
            .command(format!(
                "{} </dev/null",
                CommandLine::new(&["openssl", "s_client", "-brief"])
                    .flag("-connect", format!("{host}:{port}"))
                    .flag("-servername", server_name)
                    .line()
            )),
        );
    }
    steps
}

#[cfg(test)]
mod tests;
