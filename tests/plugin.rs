//! CNI plugins (world `netwasm:lab/plugin`) as the runtime loads them:
//! the example plugin fits the world, lab scripts and plugins are told
//! apart by their exports, and a lab script built with the SDK does not
//! pick up the plugin world's imports. Unprivileged: nothing runs.

mod common;

use common::*;
use netwasm::runtime::Runtime;

fn message(e: anyhow::Error) -> String {
    format!("{e:#}")
}

#[test]
fn the_macvlan_plugin_loads_as_a_plugin_and_not_as_a_lab() {
    let rt = Runtime::new(None).unwrap();
    let path = rust_guest("cni-macvlan");
    let plugin = rt
        .load_plugin(&path)
        .expect("cni-macvlan fits world plugin");
    assert!(
        plugin
            .imports
            .iter()
            .any(|i| i.starts_with("netwasm:lab/cni@")),
        "it imports cni: {:?}",
        plugin.imports
    );
    // Refused for its world's type imports (`netns`) or, were they let
    // by, for not exporting `run`.
    let e = message(rt.load(&path).err().expect("a plugin is not a lab"));
    assert!(
        e.contains("imports `netns`") || e.contains("does not export `run"),
        "{e}"
    );
}

#[test]
fn a_lab_script_is_not_a_plugin_and_does_not_import_cni() {
    let rt = Runtime::new(None).unwrap();
    let path = seed_guest();
    let lab = rt.load(&path).expect("the seed lab loads as a lab");
    assert!(
        !lab.imports.iter().any(|i| i.contains("/cni@")),
        "a lab script must not import cni: {:?}",
        lab.imports
    );
    let e = message(rt.load_plugin(&path).err().expect("a lab is not a plugin"));
    assert!(
        e.contains("is not a netwasm CNI plugin") && e.contains("export `add:"),
        "{e}"
    );
}
