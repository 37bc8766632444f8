//! Fixes for certificates: renew or replace one (an ACM certificate is replaced by a DNS-validated
//! one, which ACM renews by itself; an imported one is re-imported into the same ARN), cover the
//! names CloudFront asks for, send a chain CloudFront trusts, cover the distribution's aliases.
//! <https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html>
//! <https://docs.aws.amazon.com/acm/latest/userguide/import-reimport.html>

use cf_doctor_model::evidence::{AcmCertificate, Distribution, Listener, LoadBalancer};
use cf_doctor_model::fix::CommandLine;
use cf_doctor_model::{Code, Finding, FixStep};
use serde_json::Value;

use super::scene::Scene;
use super::Plan;
use cf_doctor_model::console;

const NEW_CERTIFICATE: &str = "<NEW_CERTIFICATE_ARN>";
/// CloudFront takes viewer (and origin mTLS client) certificates from ACM in us-east-1.
const VIEWER_REGION: &str = "us-east-1";

/// Where a certificate is used, as a fix attaches its replacement.
enum Place<'a> {
    Listener(&'a LoadBalancer, &'a Listener),
    Viewer(&'a Distribution),
    ClientCertificate(&'a Distribution),
    Unknown,
}

fn place<'a>(finding: &Finding, scene: &Scene<'a>, cert: &AcmCertificate) -> Place<'a> {
    if matches!(
        finding.code,
        Code::OriginMtlsCertExpired | Code::OriginMtlsCertExpiring
    ) {
        if let Some(d) = scene.distribution {
            return Place::ClientCertificate(d);
        }
    }
    if let (Some(lb), Some(listener)) = (scene.load_balancer, scene.listener) {
        if listener.certificate_arns.contains(&cert.arn) {
            return Place::Listener(lb, listener);
        }
    }
    match scene.distribution {
        Some(d) if d.viewer_certificate.acm_certificate_arn.as_deref() == Some(&cert.arn) => {
            Place::Viewer(d)
        }
        _ => Place::Unknown,
    }
}

/// An expired, expiring, unissued or unrenewable certificate: renewed, or replaced and attached.
pub(crate) fn renew(finding: &Finding, scene: &Scene<'_>) -> Plan {
    let Some(cert) = scene.certificate else {
        return not_in_acm(finding, scene);
    };
    let reason = finding.evidence.get("reason").and_then(Value::as_str);
    if cert.cert_type == "IMPORTED" {
        return Plan::new(
            format!("Re-import a renewed certificate for {} into the same ARN, which keeps it attached everywhere it is used", cert.domain_name),
            vec![reimport(cert)],
        );
    }
    if cert.has_status("PENDING_VALIDATION") || reason == Some("pending-validation") {
        let mut steps = validation_steps(&cert.region, &cert.domain_name, &cert.arn);
        steps.insert(0, FixStep::says(format!(
            "ACM is waiting for the validation records of {} ({}): nothing needs replacing once they are in place",
            cert.domain_name, cert.arn
        )).console_if(console::certificate(&cert.arn)));
        return Plan::new(
            format!("Put the DNS validation records of the certificate for {} in place so that ACM can issue it", cert.domain_name),
            steps,
        );
    }
    if reason == Some("ineligible") {
        return Plan::new(
            format!("Attach the certificate for {} where it is needed, or delete it: ACM renews only a certificate in use", cert.domain_name),
            vec![
                FixStep::says(format!("Attach {} where it should serve, or delete it if nothing needs it", cert.arn))
                    .command(CommandLine::new(&["aws", "acm", "delete-certificate"]).region(&cert.region).flag("--certificate-arn", &cert.arn).line())
                    .console_if(console::certificate(&cert.arn)),
            ],
        );
    }
    let place = place(finding, scene, cert);
    let mut names = cert.names();
    // The name CloudFront asks the listener for comes first: the new certificate is for it.
    if let (Place::Listener(..), Some(asked)) = (&place, scene.server_name()) {
        if !names.iter().any(|n| n == asked) {
            names.insert(0, asked.to_string());
        }
    }
    let why = if cert.validation_methods.iter().any(|m| m == "EMAIL") {
        format!(
            "{} is EMAIL-validated and renews only when someone approves a mail",
            cert.arn
        )
    } else {
        format!("{} is {}", cert.arn, in_words(cert))
    };
    let mut steps = vec![request(&cert.region, &names, &why)];
    steps.extend(validation_steps(&cert.region, &names[0], NEW_CERTIFICATE));
    let (attach, changes_distribution) = attach_steps(place, cert);
    steps.extend(attach);
    steps.push(
        FixStep::says(format!(
            "Once nothing uses the old certificate {} any more, delete it so it cannot be attached again",
            cert.arn
        ))
        .command(
            delete_certificate(cert),
        )
        .console_if(console::certificate(&cert.arn)),
    );
    let plan = Plan::new(
        format!(
            "Replace the certificate for {} with a DNS-validated one, which ACM renews by itself, and attach it where the old one is used",
            cert.domain_name
        ),
        steps,
    );
    if changes_distribution {
        plan.changing_the_distribution()
    } else {
        plan
    }
}

fn in_words(cert: &AcmCertificate) -> String {
    match cert.status.as_deref() {
        None => "in a state ACM did not say".to_string(),
        Some("ISSUED") => "close to its expiry".to_string(),
        Some(status) => status.to_lowercase().replace('_', " "),
    }
}

fn request(region: &str, names: &[String], why: &str) -> FixStep {
    let mut command = CommandLine::new(&["aws", "acm", "request-certificate"])
        .region(region)
        .flag("--domain-name", &names[0])
        .flag("--validation-method", "DNS");
    if names.len() > 1 {
        command = command.arg("--subject-alternative-names");
        for name in &names[1..] {
            command = command.arg(name);
        }
    }
    FixStep::says(format!(
        "Request a DNS-validated certificate for {} in {region} ({why}); ACM answers with the new certificate's ARN, written {NEW_CERTIFICATE} below",
        names.join(", ")
    ))
    .command(command.line())
    .console(console::certificate_request(region))
}

/// Show the validation records, then wait for ACM to issue the certificate.
fn validation_steps(region: &str, domain: &str, arn: &str) -> Vec<FixStep> {
    let console = console::certificate(arn).unwrap_or_else(|| console::certificates(region));
    vec![
        FixStep::says(format!(
            "Create each validation CNAME record ACM gives for it in the DNS zone that holds {domain} (in the ACM console, 'Create records in Route 53' does it when the zone is in this account)"
        ))
        .command(
            CommandLine::new(&["aws", "acm", "describe-certificate"])
                .region(region)
                .flag("--certificate-arn", arn)
                .flag("--query", "Certificate.DomainValidationOptions[].ResourceRecord")
                .line(),
        )
        .console(console),
        FixStep::says("Wait until ACM has validated the records and issued the certificate (usually minutes)").command(
            CommandLine::new(&["aws", "acm", "wait", "certificate-validated"])
                .region(region)
                .flag("--certificate-arn", arn)
                .line(),
        ),
    ]
}

/// Attaching the new certificate where the old one is; whether that changes the distribution.
fn attach_steps(place: Place<'_>, old: &AcmCertificate) -> (Vec<FixStep>, bool) {
    match place {
        Place::Listener(lb, listener) => (listener_steps(lb, listener, &old.arn), false),
        Place::Viewer(d) => (vec![viewer_step(d)], true),
        Place::ClientCertificate(d) => (
            vec![FixStep::says(format!(
                "Set {NEW_CERTIFICATE} as the client certificate (origin mTLS) of the origin that uses {} in distribution {} (Origins, Edit); it must be in us-east-1",
                old.arn, d.id
            ))
            .console(console::distribution(&d.id, "origins"))],
            true,
        ),
        Place::Unknown => {
            let used: Vec<&str> = old.in_use_by.iter().map(String::as_str).collect();
            let at = if used.is_empty() {
                "where the old one is used".to_string()
            } else {
                format!("where the old one is used ({})", used.join(", "))
            };
            (
                vec![FixStep::says(format!("Attach {NEW_CERTIFICATE} {at}"))
                    .console_if(console::certificate(&old.arn))],
                false,
            )
        }
    }
}

fn viewer_step(d: &Distribution) -> FixStep {
    FixStep::says(format!(
        "Set {NEW_CERTIFICATE} as the viewer certificate of distribution {} (Edit settings, Custom SSL certificate); the CLI's update-distribution needs the whole configuration back with its ETag, the console changes only this field",
        d.id
    ))
    .console(console::distribution(&d.id, ""))
}

/// The new certificate on a listener, in place of `old`: as its default certificate when `old`
/// is the default, otherwise beside it for SNI, then `old` removed.
fn listener_steps(lb: &LoadBalancer, listener: &Listener, old: &str) -> Vec<FixStep> {
    let named = format!(
        "listener {}:{} of {} ({})",
        listener.protocol, listener.port, lb.name, listener.arn
    );
    let console = console::listener(&lb.region, &listener.arn);
    if listener.certificate_arns.first().map(String::as_str) == Some(old) {
        return vec![FixStep::says(format!(
            "Make {NEW_CERTIFICATE} the default certificate of {named}, in place of {old}"
        ))
        .command(listener_certificates(
            "modify-listener",
            lb,
            listener,
            NEW_CERTIFICATE,
        ))
        .console(console)];
    }
    vec![
        FixStep::says(format!(
            "Add {NEW_CERTIFICATE} to {named}, which selects it by SNI"
        ))
        .command(listener_certificates(
            "add-listener-certificates",
            lb,
            listener,
            NEW_CERTIFICATE,
        ))
        .console(console.clone()),
        FixStep::says(format!("Remove the old certificate {old} from {named}"))
            .command(listener_certificates(
                "remove-listener-certificates",
                lb,
                listener,
                old,
            ))
            .console(console),
    ]
}

/// `aws elbv2 VERB --listener-arn L --certificates CertificateArn=ARN` for `modify-listener`,
/// `add-listener-certificates` and `remove-listener-certificates`.
fn listener_certificates(verb: &str, lb: &LoadBalancer, listener: &Listener, arn: &str) -> String {
    CommandLine::new(&["aws", "elbv2", verb])
        .region(&lb.region)
        .flag("--listener-arn", &listener.arn)
        .flag("--certificates", format!("CertificateArn={arn}"))
        .line()
}

fn delete_certificate(cert: &AcmCertificate) -> String {
    CommandLine::new(&["aws", "acm", "delete-certificate"])
        .region(&cert.region)
        .flag("--certificate-arn", &cert.arn)
        .line()
}

fn reimport(cert: &AcmCertificate) -> FixStep {
    FixStep::says(format!(
        "Get a renewed certificate for {} from its CA, then re-import it into {}: <CERTIFICATE_FILE>, <PRIVATE_KEY_FILE> and <CHAIN_FILE> are its PEM files (the chain: each issuer in turn, the leaf's issuer first). Or replace it with an ACM-issued, DNS-validated certificate, which renews by itself",
        cert.names().join(", "),
        cert.arn
    ))
    .command(
        CommandLine::new(&["aws", "acm", "import-certificate"])
            .region(&cert.region)
            .flag("--certificate-arn", &cert.arn)
            .flag("--certificate", "fileb://<CERTIFICATE_FILE>")
            .flag("--private-key", "fileb://<PRIVATE_KEY_FILE>")
            .flag("--certificate-chain", "fileb://<CHAIN_FILE>")
            .line(),
    )
    .console_if(console::certificate(&cert.arn))
}

/// A certificate seen on the wire that is in no load balancer of the account cf-doctor found:
/// it is replaced where the origin's server keeps it.
fn not_in_acm(finding: &Finding, scene: &Scene<'_>) -> Plan {
    let at = scene
        .endpoint
        .as_ref()
        .map(|(h, p)| format!("{h}:{p}"))
        .unwrap_or_else(|| finding.resource.clone());
    let subject = finding
        .evidence
        .get("subject")
        .or_else(|| finding.evidence.pointer("/leaf/subject"))
        .and_then(Value::as_str)
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let mut steps = vec![where_it_lives(scene, &format!(
        "Install a certificate a public CA issued for {} on the server behind {at}, in place of the one it presents{subject}, with its intermediate certificates; cf-doctor found no ACM certificate behind this origin",
        wanted(finding, scene).join(", ")
    ))];
    steps.extend(origin_setting(scene));
    Plan::new(format!("Replace the certificate {at} presents"), steps)
}

/// A step about the origin's server: on the instance's page when the origin is an instance.
fn where_it_lives(scene: &Scene<'_>, action: &str) -> FixStep {
    let step = FixStep::says(action);
    match scene.instance {
        Some(i) => step.console(console::instance(&i.region, &i.instance_id)),
        None => step,
    }
}

/// The names CloudFront accepts from this origin: the evidence's, else the server name.
fn wanted(finding: &Finding, scene: &Scene<'_>) -> Vec<String> {
    let listed: Vec<String> = finding
        .evidence
        .get("accepted_names")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if !listed.is_empty() {
        return listed;
    }
    finding
        .evidence
        .get("expected_name")
        .and_then(Value::as_str)
        .or(scene.server_name())
        .or(scene.endpoint.as_ref().map(|(h, _)| h.as_str()))
        .map(|n| vec![n.to_string()])
        .unwrap_or_default()
}

/// The distribution's origin settings, where the origin domain and protocols are changed.
fn origin_setting(scene: &Scene<'_>) -> Option<FixStep> {
    let d = scene.distribution?;
    Some(
        FixStep::says(format!(
            "Or change the origin's settings in distribution {} (Origins, Edit): its domain, protocol and ports",
            d.id
        ))
        .console(console::distribution(&d.id, "origins")),
    )
}

/// The origin's certificate does not cover what CloudFront asks for.
pub(crate) fn name_mismatch(finding: &Finding, scene: &Scene<'_>) -> Plan {
    let wanted = wanted(finding, scene);
    let first = wanted.first().cloned().unwrap_or_default();
    let mut steps = Vec::new();
    match (scene.load_balancer, scene.listener, scene.certificate) {
        (Some(lb), Some(listener), Some(cert)) => {
            let why = format!("the listener presents {} for {}, which it does not cover", cert.arn, cert.names().join(", "));
            steps.push(request(&cert.region, std::slice::from_ref(&first), &why));
            steps.extend(validation_steps(&cert.region, &first, NEW_CERTIFICATE));
            steps.push(
                FixStep::says(format!(
                    "Add {NEW_CERTIFICATE} to listener {}:{} of {} ({}): the listener selects it by SNI for {first}",
                    listener.protocol, listener.port, lb.name, listener.arn
                ))
                .command(
                    listener_certificates("add-listener-certificates", lb, listener, NEW_CERTIFICATE),
                )
                .console(console::listener(&lb.region, &listener.arn)),
            );
        }
        _ => steps.push(where_it_lives(scene, &format!(
            "Add {} to the names of the certificate the origin presents (or install one that covers it)",
            wanted.join(" or ")
        ))),
    }
    let forwarded = scene.distribution.and_then(|d| {
        let (host, _) = scene.endpoint.as_ref()?;
        d.origins
            .iter()
            .find(|o| &o.domain_name == host)?
            .forwarded_host
            .as_ref()
    });
    if let (Some(f), Some(d)) = (forwarded, scene.distribution) {
        steps.push(
            FixStep::says(format!(
                "Or stop forwarding the viewer's Host header to this origin ({}), so that CloudFront asks for the origin domain instead of {}",
                f.forwarded_by.join("; "),
                f.host
            ))
            .console(console::distribution(&d.id, "behaviors")),
        );
    }
    let mut plan = Plan::new(
        format!("Give the origin a certificate that covers {first}"),
        steps,
    );
    if let Some(step) = origin_setting(scene) {
        plan.steps.push(step);
    }
    plan
}

/// A certificate CloudFront does not trust, a chain out of order, a handshake that fails.
pub(crate) fn trust(finding: &Finding, scene: &Scene<'_>) -> Plan {
    let at = scene
        .endpoint
        .as_ref()
        .map(|(h, p)| format!("{h}:{p}"))
        .unwrap_or_else(|| finding.resource.clone());
    let what = match finding.code {
        Code::OriginCertSelfSigned => "Replace the self-signed certificate with one a public CA issued (CloudFront trusts only public CAs)",
        Code::OriginCertUntrusted => "Use a certificate from a publicly trusted CA and send its intermediate certificates with it",
        Code::OriginCertChainOrder => "Send the chain leaf first, then each issuer in turn",
        _ => "Make the origin complete a TLS handshake on this port: HTTPS (not plain HTTP), with a certificate and a TLS 1.2 policy",
    };
    let mut steps = Vec::new();
    match (scene.certificate, scene.load_balancer, scene.listener) {
        (Some(cert), _, _) if cert.cert_type == "IMPORTED" => steps.push(reimport(cert)),
        (_, Some(lb), Some(listener)) => steps.push(
            FixStep::says(format!(
                "{what}: on listener {}:{} of {} ({})",
                listener.protocol, listener.port, lb.name, listener.arn
            ))
            .command(
                CommandLine::new(&["aws", "elbv2", "describe-listeners"])
                    .region(&lb.region)
                    .flag("--listener-arns", &listener.arn)
                    .line(),
            )
            .console(console::listener(&lb.region, &listener.arn)),
        ),
        _ => steps.push(where_it_lives(
            scene,
            &format!("{what}, on the server behind {at}"),
        )),
    }
    steps.extend(origin_setting(scene));
    Plan::new(format!("{what} at {at}"), steps)
}

/// The viewer certificate does not cover every alias: a certificate in us-east-1 that does.
pub(crate) fn viewer_aliases(scene: &Scene<'_>) -> Plan {
    let Some(d) = scene.distribution else {
        return Plan::new(
            "Use a viewer certificate that covers every alias",
            Vec::new(),
        );
    };
    let mut names: Vec<String> = scene.certificate.map(|c| c.names()).unwrap_or_default();
    for alias in &d.aliases {
        if !names.contains(alias) {
            names.push(alias.clone());
        }
    }
    let why = match scene.certificate {
        Some(c) => format!("{} covers only {}", c.arn, c.names().join(", ")),
        None => "CloudFront takes viewer certificates from us-east-1".to_string(),
    };
    if names.is_empty() {
        return Plan::new(
            "Use a viewer certificate that covers every alias",
            vec![viewer_step(d)],
        );
    }
    let mut steps = vec![request(VIEWER_REGION, &names, &why)];
    steps.extend(validation_steps(VIEWER_REGION, &names[0], NEW_CERTIFICATE));
    steps.push(viewer_step(d));
    Plan::new(
        format!(
            "Give distribution {} a viewer certificate that covers {}",
            d.id,
            d.aliases.join(", ")
        ),
        steps,
    )
    .changing_the_distribution()
}
