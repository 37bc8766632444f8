//! template.yaml as CloudFormation reads it, for the tests of what it defines: PyYAML from the
//! test venv (moto's server extra installs it) turns it into JSON, CloudFormation's short tags
//! (`!Sub`, `!Ref`, ...) kept as plain values (`{"Sub": ...}`).

use std::process::Command;

use serde_json::Value;

pub fn template() -> Value {
    let root = env!("CARGO_MANIFEST_DIR");
    let python = format!("{root}/.venv/bin/python3");
    let script = r#"
import json, sys, yaml
class Loader(yaml.SafeLoader):
    pass
def tagged(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}
Loader.add_multi_constructor("!", tagged)
print(json.dumps(yaml.load(open(sys.argv[1]), Loader=Loader)))
"#;
    let out = Command::new(&python)
        .args(["-c", script, &format!("{root}/template.yaml")])
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e} (make venv creates it)"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the template as JSON")
}
