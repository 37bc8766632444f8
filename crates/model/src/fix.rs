//! A finding's fix as an on-call engineer acts on it: the steps with the exact resources, the AWS
//! CLI commands filled in from the evidence (never run by cf-doctor), the console pages, how to
//! know it worked, and what viewers still see right after.

use serde::{Deserialize, Serialize};

/// The placeholder a command holds for what cf-doctor cannot know, e.g. `<NEW_CERTIFICATE_ARN>`:
/// upper-case words between angle brackets, each explained in its step's `do`.
pub fn is_placeholder(word: &str) -> bool {
    word.len() > 2
        && word.starts_with('<')
        && word.ends_with('>')
        && word[1..word.len() - 1]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    /// The fix in one sentence.
    pub summary: String,
    /// What to do, in order.
    pub steps: Vec<FixStep>,
    /// How to know it worked: cf-doctor run again, and for a fault on the wire what CloudFront
    /// will be shown.
    pub verify: Vec<FixStep>,
    /// What viewers still see right after the fix, and for how long (cached errors, deployment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// One action: in words naming the resource, and where it can be done from a shell or a console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixStep {
    #[serde(rename = "do")]
    pub action: String,
    /// An AWS CLI (or openssl, dig, cf-doctor) command line, quoted for a POSIX shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The AWS console page where the same is done, in the resource's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<String>,
}

impl FixStep {
    pub fn says(action: impl Into<String>) -> FixStep {
        FixStep {
            action: action.into(),
            command: None,
            console: None,
        }
    }
    pub fn command(mut self, command: impl Into<String>) -> FixStep {
        self.command = Some(command.into());
        self
    }
    pub fn console(mut self, url: impl Into<String>) -> FixStep {
        self.console = Some(url.into());
        self
    }
    /// The console page when there is one (a certificate page needs an ACM ARN).
    pub fn console_if(mut self, url: Option<String>) -> FixStep {
        self.console = url.or(self.console);
        self
    }
}

/// A command line built word by word, each word quoted for a POSIX shell only when it must be.
#[derive(Debug, Clone, Default)]
pub struct CommandLine {
    words: Vec<String>,
}

impl CommandLine {
    pub fn new(words: &[&str]) -> CommandLine {
        CommandLine {
            words: words.iter().map(|w| w.to_string()).collect(),
        }
    }
    pub fn arg(mut self, word: impl Into<String>) -> CommandLine {
        self.words.push(word.into());
        self
    }
    /// `--flag value`.
    pub fn flag(self, flag: &str, value: impl Into<String>) -> CommandLine {
        self.arg(flag).arg(value)
    }
    /// `--region R` for a command on a regional service.
    pub fn region(self, region: &str) -> CommandLine {
        self.flag("--region", region)
    }
    pub fn line(&self) -> String {
        self.words
            .iter()
            .map(|w| quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One word for a POSIX shell: as it is when it holds only characters no shell treats specially,
/// otherwise in single quotes (a single quote inside written as `'\''`).
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | ',' | '@' | '+' | '%')
        });
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_a_shell_would_read_them_otherwise() {
        assert_eq!(
            quote("arn:aws:acm:eu-west-1:1:certificate/ab-c"),
            "arn:aws:acm:eu-west-1:1:certificate/ab-c"
        );
        assert_eq!(quote("*.shop.example"), "'*.shop.example'");
        assert_eq!(quote("<NEW_CERTIFICATE_ARN>"), "'<NEW_CERTIFICATE_ARN>'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        let line = CommandLine::new(&["aws", "acm", "request-certificate"])
            .region("us-east-1")
            .flag("--domain-name", "*.shop.example")
            .line();
        assert_eq!(
            line,
            "aws acm request-certificate --region us-east-1 --domain-name '*.shop.example'"
        );
    }

    #[test]
    fn placeholders_are_upper_case_words_in_angle_brackets() {
        assert!(is_placeholder("<NEW_CERTIFICATE_ARN>"));
        assert!(!is_placeholder("<>"));
        assert!(!is_placeholder("<new>"));
        assert!(!is_placeholder("NEW"));
    }
}
