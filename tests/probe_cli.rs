//! `netwasm probe`: the seed lab's reachability matrix, held against what
//! the real `ping` sees through `ip netns exec`, as text, as JSON, and
//! compared with expectations.

mod common;

use common::*;
use serde_json::Value;

/// Every (from, to, reachable) of `probe --json`, and the namespaces
/// probed from.
fn matrix(w: &World, lab: &str) -> (Vec<(String, String, bool)>, Value) {
    let out = w.run(&["probe", lab, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("probe --json is JSON");
    assert_eq!(v["schema"], "netwasm.probe/1");
    let pairs = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["error"].is_null(), "{r}");
            (
                r["from"].as_str().unwrap().to_string(),
                r["to"]["address"].as_str().unwrap().to_string(),
                r["reachable"].as_bool().unwrap(),
            )
        })
        .collect();
    (pairs, v)
}

fn check_seed(mode: &str, siblings: bool) {
    let w = World::new();
    let lab = format!("{}-probe", w.prefix);
    let up = w.seed_up(&lab, Some(mode), &["--quiet"]);
    assert!(up.status.success(), "{}", stderr(&up));
    let (pairs, v) = matrix(&w, &lab);

    // Five namespaces, six global addresses, each pinged from the four
    // other namespaces.
    assert_eq!(v["namespaces"].as_array().unwrap().len(), 5, "{v}");
    assert_eq!(v["targets"].as_array().unwrap().len(), 6, "{v}");
    assert_eq!(pairs.len(), 24, "{v}");
    // What the real ping says, pair by pair.
    for (from, to, reachable) in &pairs {
        assert_eq!(
            ping(from, to),
            *reachable,
            "{from} -> {to}: netwasm probe says {reachable}"
        );
    }
    let get = |from: &str, to: &str| {
        pairs
            .iter()
            .find(|(f, t, _)| *f == w.ns(from) && t == to)
            .unwrap_or_else(|| panic!("{from} -> {to} not probed"))
            .2
    };
    assert_eq!(get("ns1", "172.16.10.6"), siblings, "ns1 -> ns2 in {mode}");
    assert_eq!(get("ns2", "172.16.10.5"), siblings, "ns2 -> ns1 in {mode}");
    for child in ["ns1", "ns2"] {
        assert!(
            !get(child, "172.16.10.2"),
            "a child never reaches its parent"
        );
    }
    assert!(get("lan", "172.16.10.5") && get("test", "172.16.10.6"));

    // The text matrix says the same, and counts it.
    let out = w.run(&["probe", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let reachable = pairs.iter().filter(|p| p.2).count();
    assert!(
        text.contains(&format!("\n{reachable}/24 reachable\n")),
        "{text}"
    );
    assert!(text.contains("macvlan1@"), "{text}");

    // Its own JSON is met; one pair turned around is not.
    let golden = w.state_dir.join("golden.json");
    std::fs::write(&golden, w.run(&["probe", &lab, "--json"]).stdout).unwrap();
    let out = w.run(&["probe", &lab, "--expect", golden.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("24 checked, 0 not met"),
        "{}",
        stdout(&out)
    );
    let lines = w.state_dir.join("expect.txt");
    std::fs::write(
        &lines,
        format!(
            "# the chapter's claims\n{ns1} 172.16.10.6 {}\n{ns1} 172.16.10.2 no\n{ns1} 172.16.10.1 yes\n",
            if siblings { "no" } else { "yes" },
            ns1 = w.ns("ns1")
        ),
    )
    .unwrap();
    let out = w.run(&["probe", &lab, "--expect", lines.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(6), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("3 checked, 1 not met"), "{text}");
    assert!(
        text.contains(&format!(
            "MISMATCH {} -> 172.16.10.6: expected {}, found {}",
            w.ns("ns1"),
            if siblings { "unreachable" } else { "reachable" },
            if siblings { "reachable" } else { "unreachable" },
        )),
        "{text}"
    );
    assert!(w.run(&["down", &lab]).status.success());
}

#[test]
fn vepa_siblings_apart_and_no_child_reaches_its_parent() {
    if !root_or_skip() {
        return;
    }
    check_seed("vepa", false);
}

#[test]
fn bridge_siblings_together() {
    if !root_or_skip() {
        return;
    }
    check_seed("bridge", true);
}

#[test]
fn bad_input_exits_2() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let out = w.run(&["probe", "no-such-lab"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("netwasm: error: lab no-such-lab: no such lab"),
        "{}",
        stderr(&out)
    );
    let lab = format!("{}-bad", w.prefix);
    let up = w.seed_up(&lab, None, &["--quiet"]);
    assert!(up.status.success(), "{}", stderr(&up));
    let bad = w.state_dir.join("bad.txt");
    std::fs::write(&bad, "a 10.0.0.1 yes\na 10.0.0.1 maybe\n").unwrap();
    let out = w.run(&["probe", &lab, "--expect", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("line 2: \"maybe\" is not yes or no"),
        "{}",
        stderr(&out)
    );
    // --from probes from the namespaces named, at every address.
    let out = w.run(&["probe", &lab, "--json", "--from", &w.ns("ns1")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["namespaces"], serde_json::json!([w.ns("ns1")]), "{v}");
    assert_eq!(v["probed"], 5, "{v}");
    let out = w.run(&["probe", &lab, "--from", "elsewhere"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--from \"elsewhere\": lab"),
        "{}",
        stderr(&out)
    );
    // A namespace of the lab replaced by someone else's is not probed
    // from, nor are its addresses probed.
    ip(&["netns", "delete", &w.ns("ns2")]);
    ip(&["netns", "add", &w.ns("ns2")]);
    let (pairs, v) = matrix(&w, &lab);
    assert_eq!(v["namespaces"].as_array().unwrap().len(), 4, "{v}");
    assert_eq!(v["skipped"][0]["ns"], w.ns("ns2"), "{v}");
    assert!(pairs.iter().all(|(_, to, _)| to != "172.16.10.6"), "{v}");
    let _ = w.run(&["down", &lab]);
}
