//! Slack Block Kit payloads an on-call engineer can act on from a phone: verdict and target in the
//! header, the probable cause in one sentence, the top findings with evidence and fix, the
//! via-CloudFront vs direct-to-origin comparison, and buttons to the console pages. Within Slack's
//! limits (50 blocks, 3,000 characters per section text, 150 per header, 75 per button text),
//! with a plain `text` fallback for notifications. Every piece of text that comes from outside
//! (an origin's Server header, certificate names, titles, evidence, alarm names) is escaped for
//! mrkdwn, so no origin can mention a channel or forge a link. A digest opens with its to-do list.

use serde_json::{json, Value};

use super::{evidence_line, is_digest, of_severity, subject_of, truncate};
use cf_doctor_model::{Diagnosis, Finding, Fix, Recovery, Severity, Verdict};

pub const MAX_BLOCKS: usize = 50;
pub const MAX_SECTION_CHARS: usize = 3000;
pub const MAX_HEADER_CHARS: usize = 150;
/// Findings shown in full; the rest are counted ("and N more findings"). Two blocks each, which
/// keeps the message readable on a phone and far inside the block limit.
const SHOWN_FINDINGS: usize = 10;
/// Bullets per severity in a digest's to-do list.
const TODO_SHOWN: usize = 10;

/// Slack's mrkdwn escaping: `&`, `<` and `>` are the control characters of links and mentions
/// (`<!channel>`, `<@U123>`, `<https://...|text>`); escaped, they are shown as they are.
/// https://api.slack.com/reference/surfaces/formatting#escaping
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_CHARS)}})
}

fn context(text: &str) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, MAX_SECTION_CHARS)}]})
}

fn button(text: &str, url: &str) -> Value {
    json!({"type": "button", "text": {"type": "plain_text", "text": truncate(text, 75)}, "url": url})
}

fn verdict_icon(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Critical => ":red_circle:",
        Verdict::Warning => ":large_orange_circle:",
        Verdict::Ok => ":large_green_circle:",
        Verdict::Unknown => ":white_circle:",
    }
}

pub fn payload(d: &Diagnosis) -> Value {
    let icon = verdict_icon(d.verdict);
    let target = match &d.trigger.distribution_id {
        Some(id) => format!("distribution {id}"),
        None => subject_of(d),
    };
    let header = truncate(
        &format!(
            "{} {}: {target}",
            d.verdict.as_str().to_uppercase(),
            "cf-doctor"
        ),
        MAX_HEADER_CHARS,
    );
    let mut blocks =
        vec![json!({"type": "header", "text": {"type": "plain_text", "text": header}})];
    let todo = if is_digest(d) {
        todo_list(d)
    } else {
        Vec::new()
    };
    if todo.is_empty() {
        // An incident: its probable cause first. A digest with nothing to do: its summary.
        let cause = match d.findings.first() {
            Some(first) if d.probable_cause.is_some() && !is_digest(d) => format!(
                "{icon} *Probable cause* `{}`: {}",
                first.code,
                escape(&first.title)
            ),
            _ => format!("{icon} {}", escape(&d.summary)),
        };
        blocks.push(section(&cause));
    }
    blocks.extend(todo);
    if let Some(comparison) = d
        .findings
        .first()
        .filter(|_| !is_digest(d))
        .and_then(comparison)
    {
        blocks.push(section(&comparison));
    }
    if let Some(fix) = d
        .findings
        .first()
        .filter(|_| d.probable_cause.is_some() && !is_digest(d))
        .and_then(|f| f.fix.as_ref())
    {
        blocks.extend(fix_blocks(fix));
    }
    if let Some(lines) = super::cloudfront_log::lines(d).filter(|_| !is_digest(d)) {
        let text = format!("*What CloudFront logged*\n{}", escape(&lines.join("\n")));
        blocks.push(section(&truncate(&text, MAX_SECTION_CHARS)));
    }
    blocks.push(context(&format!(
        "{} · {}",
        escape(&d.trigger.detail),
        d.started_at.format("%Y-%m-%d %H:%M UTC")
    )));
    for (i, f) in d.findings.iter().take(SHOWN_FINDINGS).enumerate() {
        blocks.push(json!({"type": "divider"}));
        blocks.push(section(&finding_text(i + 1, f)));
    }
    if d.findings.len() > SHOWN_FINDINGS {
        blocks.push(context(&format!(
            "and {} more findings (the full report is in the function's log)",
            d.findings.len() - SHOWN_FINDINGS
        )));
    }
    let buttons = console_buttons(d);
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    blocks.truncate(MAX_BLOCKS);
    json!({"text": truncate(&escape(&d.summary), MAX_SECTION_CHARS), "blocks": blocks})
}

/// A digest's first screen: the critical findings (to do today), the warnings (soon), one line
/// each, and how many notes follow; empty when there is nothing to do.
fn todo_list(d: &Diagnosis) -> Vec<Value> {
    let mut blocks = Vec::new();
    let icon = verdict_icon(d.verdict);
    for (severity, heading) in [
        (Severity::Critical, "To do today"),
        (Severity::Warning, "Soon"),
    ] {
        let listed = of_severity(d, severity);
        if listed.is_empty() {
            continue;
        }
        let mut text = format!("*{heading}* ({} {})", listed.len(), severity.as_str());
        if blocks.is_empty() {
            text = format!("{icon} {text}");
        }
        for f in listed.iter().take(TODO_SHOWN) {
            text.push_str(&format!(
                "\n• `{}` {}",
                f.code,
                escape(&truncate(&f.title, 250))
            ));
        }
        if listed.len() > TODO_SHOWN {
            text.push_str(&format!("\n… and {} more", listed.len() - TODO_SHOWN));
        }
        blocks.push(section(&text));
    }
    let notes = of_severity(d, Severity::Info).len();
    if !blocks.is_empty() && notes > 0 {
        blocks.push(context(&format!(
            "{notes} note(s) (info: housekeeping such as unused certificates) follow"
        )));
    }
    blocks
}

fn finding_text(n: usize, f: &Finding) -> String {
    let severity = f.severity.as_str();
    let viewers = if f.status_codes.is_empty() {
        String::new()
    } else {
        format!(
            " · viewers get {}",
            f.status_codes
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join("/")
        )
    };
    format!(
        "*{n}. {}*\n`{}` · {severity}{viewers} · {}\n*Evidence:* {}\n*Fix:* {}\n<{}|AWS docs>",
        escape(&f.title),
        f.code,
        escape(&f.resource),
        escape(&evidence_line(&f.evidence, 1200)),
        escape(&f.remediation),
        f.docs
    )
}

/// The move from the founding outage, side by side: what viewers get through CloudFront and what
/// the origin answers when asked directly.
fn comparison(f: &Finding) -> Option<String> {
    let direct = f.facts.direct_request.as_deref()?;
    // What the edge answered when it was asked; otherwise what the finding implies.
    let via = match (f.facts.via_cloudfront.as_deref(), f.status_codes.as_slice()) {
        (Some(seen), _) => seen.to_string(),
        (None, []) => "an error".to_string(),
        (None, codes) => format!(
            "viewers get {}",
            codes
                .iter()
                .map(|c| format!("HTTP {c}"))
                .collect::<Vec<_>>()
                .join("/")
        ),
    };
    Some(format!(
        "*Via CloudFront:* {}\n*Direct to origin:* {}",
        escape(&via),
        escape(direct)
    ))
}

/// Buttons one actions block holds at most (Slack allows 25; more would not be read at 3 a.m.).
const FIX_BUTTONS: usize = 5;

/// The probable cause's fix: its steps with commands in code blocks, how to verify and what
/// viewers still see, in one section; each step's console page as a button.
fn fix_blocks(fix: &Fix) -> Vec<Value> {
    let mut pieces = vec![format!("*What to do:* {}", escape(&fix.summary))];
    let mut buttons = Vec::new();
    let command = |c: &Option<String>| {
        c.as_ref()
            .map(|c| format!("\n```{}```", escape(c)))
            .unwrap_or_default()
    };
    for (n, step) in fix.steps.iter().enumerate() {
        pieces.push(format!(
            "{}. {}{}",
            n + 1,
            escape(&step.action),
            command(&step.command)
        ));
        if let Some(url) = &step.console {
            if buttons.len() < FIX_BUTTONS && !buttons.iter().any(|b: &Value| b["url"] == *url) {
                buttons.push(button(&format!("Step {}: open in console", n + 1), url));
            }
        }
    }
    for step in &fix.verify {
        pieces.push(format!(
            "*Verify:* {}{}",
            escape(&step.action),
            command(&step.command)
        ));
    }
    if let Some(after) = &fix.after {
        pieces.push(format!("*After:* {}", escape(after)));
    }
    // Whole pieces only, so that no code block is cut open; what does not fit is said.
    const LEFT_OUT: &str = "… the rest of the fix is in the full report";
    let mut text = String::new();
    for piece in pieces {
        if text.len() + piece.len() + 1 > MAX_SECTION_CHARS - LEFT_OUT.len() - 1 {
            text.push_str(&format!("\n{LEFT_OUT}"));
            break;
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&piece);
    }
    let mut blocks = vec![section(&text)];
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    blocks
}

/// Console pages for the distribution and the certificates the top findings name.
fn console_buttons(d: &Diagnosis) -> Vec<Value> {
    let mut buttons = Vec::new();
    if let Some(id) = &d.trigger.distribution_id {
        buttons.push(button(
            "Open distribution",
            &format!(
                "https://us-east-1.console.aws.amazon.com/cloudfront/v4/home#/distributions/{id}"
            ),
        ));
    }
    for f in d.findings.iter().take(SHOWN_FINDINGS) {
        if let Some(url) = cf_doctor_model::console::certificate(&f.resource) {
            if buttons.len() < 4 && !buttons.iter().any(|b| b["url"] == url) {
                buttons.push(button("Open certificate", &url));
            }
        }
    }
    if let Some(first) = d.findings.first() {
        buttons.push(button("AWS docs", &first.docs));
    }
    buttons
}

/// A short note when an alarm that was diagnosed goes back to OK, linked to the alarm.
pub fn recovery(r: &Recovery, note: &str) -> Value {
    let target = r
        .distribution_id
        .as_deref()
        .map(|id| format!(" on distribution {id}"))
        .unwrap_or_default();
    let text = format!(
        ":white_check_mark: Recovered: alarm *{}*{target} is OK again",
        escape(&r.alarm_name)
    );
    let mut blocks = vec![section(&text), context(&escape(note))];
    if let Some(region) = &r.region {
        let url = format!(
            "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{}",
            url_escape(&r.alarm_name)
        );
        blocks.push(json!({"type": "actions", "elements": [button("Open alarm", &url)]}));
    }
    json!({"text": truncate(&text.replace('*', ""), MAX_SECTION_CHARS), "blocks": blocks})
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cf_doctor_model::{Code, Severity, TriggerInfo};

    fn report(findings: usize) -> Diagnosis {
        let trigger = TriggerInfo {
            function: None,
            kind: cf_doctor_model::TriggerKind::Alarm,
            detail: "alarm".into(),
            distribution_id: Some("E2EXAMPLE".into()),
            status: None,
        };
        let findings = (0..findings)
            .map(|i| {
                Finding::new(
                    Code::AcmCertExpiring,
                    Severity::Warning,
                    format!("arn:aws:acm:us-east-1:123456789012:certificate/c{i}"),
                )
                .title("t".repeat(500))
                .evidence(json!({"pad": "e".repeat(5000)}))
                .remediation("r".repeat(2000))
            })
            .collect();
        cf_doctor_rules::assemble(
            trigger,
            findings,
            vec![],
            chrono::DateTime::from_timestamp(1_764_072_000, 0).unwrap(),
            1,
        )
    }

    #[test]
    fn a_report_with_200_findings_stays_within_slacks_limits_and_says_what_it_left_out() {
        let p = payload(&report(200));
        let blocks = p["blocks"].as_array().unwrap();
        assert!(blocks.len() <= MAX_BLOCKS);
        for b in blocks {
            if let Some(text) = b.pointer("/text/text").and_then(Value::as_str) {
                let limit = if b["type"] == "header" {
                    MAX_HEADER_CHARS
                } else {
                    MAX_SECTION_CHARS
                };
                assert!(
                    text.chars().count() <= limit,
                    "{} chars in a {}",
                    text.chars().count(),
                    b["type"]
                );
            }
        }
        assert!(p.to_string().contains("and 190 more findings"));
        let buttons = blocks.last().unwrap()["elements"].as_array().unwrap();
        assert!(
            buttons.len() <= 5
                && buttons
                    .iter()
                    .all(|b| b["text"]["text"].as_str().unwrap().len() <= 75)
        );
    }

    #[test]
    fn text_an_origin_controls_cannot_mention_a_channel_or_forge_a_link() {
        let trigger = TriggerInfo {
            function: None,
            kind: cf_doctor_model::TriggerKind::Alarm,
            detail: "alarm \"<!here> & co\"".into(),
            distribution_id: Some("E2EXAMPLE".into()),
            status: None,
        };
        let finding = Finding::new(
            Code::OriginHttpError,
            Severity::Critical,
            "origin.test:443@127.0.0.1",
        )
        .title("Origin answers 503 (Server: <!channel>)")
        .evidence(json!({"server": "<!channel> <@U024BE7LH> <https://evil.example|click>", "names": ["a&b"]}))
        .remediation("Fix <https://evil.example|this>");
        let d = cf_doctor_rules::assemble(
            trigger,
            vec![finding],
            vec![],
            chrono::DateTime::from_timestamp(1_764_072_000, 0).unwrap(),
            1,
        );
        let text = payload(&d).to_string();
        for forbidden in [
            "<!channel>",
            "<!here>",
            "<@U024BE7LH>",
            "<https://evil.example",
        ] {
            assert!(!text.contains(forbidden), "{forbidden} got through: {text}");
        }
        assert!(text.contains("&lt;!channel&gt;"), "{text}");
        assert!(text.contains("a&amp;b"), "{text}");
        assert!(
            text.contains("|AWS docs>"),
            "cf-doctor's own link stays a link: {text}"
        );
        let r = Recovery {
            alarm_name: "<!channel>".into(),
            alarm_arn: None,
            region: None,
            distribution_id: None,
        };
        assert!(!recovery(&r, "<!here>").to_string().contains("<!"));
    }

    #[test]
    fn a_digest_opens_with_what_to_do_today() {
        let trigger = TriggerInfo {
            function: None,
            kind: cf_doctor_model::TriggerKind::Schedule,
            detail: "scheduled sweep".into(),
            distribution_id: None,
            status: None,
        };
        let mut findings: Vec<Finding> = (0..12)
            .map(|i| {
                Finding::new(
                    Code::AcmCertExpired,
                    Severity::Critical,
                    format!("arn:c{i}"),
                )
                .title(format!("certificate {i} expired"))
            })
            .collect();
        findings.push(
            Finding::new(Code::AcmCertExpiring, Severity::Warning, "arn:w")
                .title("certificate w expires in 20 day(s)"),
        );
        findings.push(
            Finding::new(
                Code::AcmCertExpired,
                Severity::Info,
                "3 unused certificates",
            )
            .title("3 unused ACM certificates have expired: delete them"),
        );
        let d = cf_doctor_rules::assemble(
            trigger,
            findings,
            vec![],
            chrono::DateTime::from_timestamp(1_764_072_000, 0).unwrap(),
            1,
        );
        let p = payload(&d);
        let blocks = p["blocks"].as_array().unwrap();
        let today = blocks[1]["text"]["text"].as_str().unwrap();
        assert!(
            today.starts_with(":red_circle: *To do today* (12 critical)"),
            "the first thing under the header: {today}"
        );
        assert!(today.contains("• `acm-cert-expired` certificate 0 expired"));
        assert!(today.ends_with("… and 2 more"), "{today}");
        let soon = blocks[2]["text"]["text"].as_str().unwrap();
        assert!(soon.starts_with("*Soon* (1 warning)"), "{soon}");
        assert!(p.to_string().contains("1 note(s)"));
        assert!(!p.to_string().contains("Probable cause"));
    }

    #[test]
    fn a_recovery_links_to_its_alarm() {
        let r = Recovery {
            alarm_name: "shop 5xx".into(),
            alarm_arn: None,
            region: Some("us-east-1".into()),
            distribution_id: Some("E2EXAMPLE".into()),
        };
        let p = recovery(&r, "alarm moved to OK");
        assert!(p["text"]
            .as_str()
            .unwrap()
            .starts_with(":white_check_mark: Recovered: alarm shop 5xx on distribution E2EXAMPLE"));
        assert!(p.to_string().contains("#alarmsV2:alarm/shop%205xx"));
    }
}
