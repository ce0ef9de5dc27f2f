//! `docs/reference.md` and the function table of `script::help` agree
//! with the code.

use pktscript::script::{self, help};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

#[test]
fn reference_md_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reference.md");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == help::reference_markdown(),
        "docs/reference.md is stale: run `pktscript --reference > docs/reference.md` \
         (cargo run -q -- --reference > docs/reference.md)"
    );
}

/// Names of the script functions the engine has registered, operators,
/// property accessors and layer constructors aside.
fn registered() -> BTreeSet<String> {
    let sources = Rc::new(RefCell::new(HashMap::new()));
    let engine = script::engine(&Default::default(), &sources);
    let constructors: BTreeSet<&str> = pktscript::layers::REGISTRY
        .iter()
        .flat_map(|p| help::constructors(p))
        .collect();
    engine
        .gen_fn_signatures(false)
        .into_iter()
        .filter_map(|sig| {
            let name = sig.split('(').next()?.trim().to_string();
            let ident = name
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_');
            (ident && !name.contains('$') && !constructors.contains(name.as_str())).then_some(name)
        })
        .collect()
}

#[test]
fn every_registered_function_is_documented() {
    let documented: BTreeSet<String> = help::FUNCTIONS.iter().map(|f| f.name.to_string()).collect();
    let registered = registered();
    assert!(
        registered.len() > 30,
        "too few functions found: {registered:?}"
    );
    let missing: Vec<&String> = registered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "registered functions without an entry in script::help::FUNCTIONS: {missing:?}"
    );
    let stale: Vec<&String> = documented.difference(&registered).collect();
    assert!(
        stale.is_empty(),
        "script::help::FUNCTIONS documents functions that are not registered: {stale:?}"
    );
    for f in help::FUNCTIONS {
        assert!(
            help::GROUPS.contains(&f.group),
            "{}: unknown group {}",
            f.name,
            f.group
        );
    }
}

#[test]
fn every_layer_has_help() {
    for p in pktscript::layers::REGISTRY {
        let text = help::help_for(p.name).expect(p.name);
        for f in p.fields {
            assert!(text.contains(f.name), "{}: {} missing", p.name, f.name);
        }
    }
    assert!(
        help::help_for("read_pcap")
            .unwrap()
            .contains("read_pcap(path [, expr])")
    );
}
