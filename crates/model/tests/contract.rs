//! docs/contract.md and the code agree on the finding codes: every code in the catalog has its
//! row in the contract (with the documentation link the findings carry), and every row names a
//! code that exists.

use std::collections::BTreeSet;

use cf_doctor_model::Code;

fn contract() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/contract.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The rows of the tables under "## Finding codes", as (code, whole row).
fn code_rows(contract: &str) -> Vec<(String, String)> {
    let section = contract
        .split_once("\n## Finding codes")
        .expect("docs/contract.md has a \"## Finding codes\" section")
        .1;
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|line| {
            let first = line.strip_prefix("| `")?;
            let code = first.split('`').next()?;
            Some((code.to_string(), line.to_string()))
        })
        .collect()
}

#[test]
fn every_code_is_in_the_contract_and_every_contract_code_exists() {
    let rows = code_rows(&contract());
    let documented: BTreeSet<&str> = rows.iter().map(|(c, _)| c.as_str()).collect();
    let catalog: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    let undocumented: Vec<_> = catalog.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&catalog).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "codes without a row in docs/contract.md: {undocumented:?}; rows naming no code: {unknown:?}"
    );
    assert_eq!(rows.len(), documented.len(), "a code has two rows");
}

#[test]
fn each_row_links_the_page_its_findings_link() {
    let rows = code_rows(&contract());
    for code in Code::ALL {
        let (_, row) = rows
            .iter()
            .find(|(c, _)| c == code.as_str())
            .expect("checked above");
        assert!(
            row.contains(&code.docs()),
            "the row of {code} in docs/contract.md does not link {}",
            code.docs()
        );
    }
}

#[test]
fn the_check_reads_rows_and_notices_a_missing_one() {
    let contract = contract();
    let without = contract.replace("| `origin-slow` |", "| origin-slow |");
    assert!(!code_rows(&without).iter().any(|(c, _)| c == "origin-slow"));
    assert!(code_rows(&contract).len() >= 20);
}
