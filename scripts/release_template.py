"""Writes the release's template: template.yaml with the function's code taken from the zip beside
it (CodeUri: bootstrap.zip) instead of built from source (BuildMethod rust-cargolambda), and the
Serverless Application Repository's SemanticVersion set to the release. `sam deploy` and
`sam package` upload the zip as it is: no Rust toolchain, no SAM beta feature.

Usage: release_template.py template.yaml OUT.yaml VERSION
"""

import sys


def replace_once(text: str, old: str, new: str) -> str:
    count = text.count(old)
    if count != 1:
        sys.exit(f"release_template: expected one {old!r} in the template, found {count}")
    return text.replace(old, new)


def main() -> None:
    source, out, version = sys.argv[1], sys.argv[2], sys.argv[3]
    text = open(source, encoding="utf-8").read()
    text = replace_once(
        text,
        "      # `cargo lambda build --release --arm64 --bin cf-doctor` in the workspace root: only the\n"
        "      # cf-doctor binary is built, never the testkit member.\n"
        "      BuildMethod: rust-cargolambda\n"
        "      BuildProperties:\n"
        "        Binary: cf-doctor\n",
        "",
    )
    text = replace_once(
        text,
        "      CodeUri: .\n",
        "      # The released arm64 binary (make release), the same bytes as SHA256SUMS names.\n"
        "      CodeUri: bootstrap.zip\n",
    )
    lines = text.splitlines(keepends=True)
    versions = [i for i, line in enumerate(lines) if line.strip().startswith("SemanticVersion:")]
    if len(versions) != 1:
        sys.exit(f"release_template: expected one SemanticVersion, found {len(versions)}")
    i = versions[0]
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    lines[i] = f"{indent}SemanticVersion: {version}\n"
    with open(out, "w", encoding="utf-8") as f:
        f.write("".join(lines))


if __name__ == "__main__":
    main()
