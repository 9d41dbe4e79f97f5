//! The cookbook's macvlan lab, built by the seed example through
//! `netwasm run`, checked independently with `ip -j -d` and `ping`.

mod common;

use common::*;

/// Checks what `up PREFIX MODE` built, with `ip`, not with netwasm.
fn assert_lab_built(w: &World, mode: &str) {
    for suffix in ["lan", "test", "net1", "ns1", "ns2"] {
        assert!(
            w.namespaces().contains(&w.ns(suffix)),
            "namespace {} missing",
            w.ns(suffix)
        );
    }
    for (n, ip) in [(1, "172.16.10.5/24"), (2, "172.16.10.6/24")] {
        let ns = w.ns(&format!("ns{n}"));
        let l = link(&ns, &format!("macvlan{n}"));
        assert_eq!(l["linkinfo"]["info_kind"], "macvlan", "{l}");
        assert_eq!(
            l["linkinfo"]["info_data"]["mode"], mode,
            "kernel reports the mode: {l}"
        );
        assert!(
            l["link_netnsid"].is_number(),
            "parent lives in another namespace: {l}"
        );
        assert!(
            l["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
            "{l}"
        );
        assert_eq!(addrs4(&ns, &format!("macvlan{n}")), vec![ip.to_string()]);
        assert_eq!(default_gateway(&ns).as_deref(), Some("172.16.10.1"));
        let lo = link(&ns, "lo");
        assert!(
            lo["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
            "lo is up: {lo}"
        );
    }
    let eth0 = link(&w.ns("net1"), "eth0");
    assert_eq!(eth0["linkinfo"]["info_kind"], "veth");
    assert_eq!(
        addrs4(&w.ns("net1"), "eth0"),
        vec!["172.16.10.2/24".to_string()]
    );
    let port = link(&w.ns("lan"), "net1");
    assert_eq!(port["master"], "br0");
    assert_eq!(
        addrs4(&w.ns("lan"), "br0"),
        vec!["172.16.10.1/24".to_string()]
    );
}

fn assert_reachability(w: &World, siblings: bool) {
    let lan = w.ns("lan");
    for ip in ["172.16.10.2", "172.16.10.5", "172.16.10.6"] {
        assert!(ping(&lan, ip), "the gateway reaches {ip}");
        assert!(ping(&w.ns("test"), ip), "the test server reaches {ip}");
    }
    assert_eq!(ping(&w.ns("ns1"), "172.16.10.6"), siblings, "ns1 -> ns2");
    assert!(
        !ping(&w.ns("ns1"), "172.16.10.2"),
        "a child never reaches its parent's address"
    );
    assert!(
        !ping(&w.ns("ns2"), "172.16.10.2"),
        "a child never reaches its parent's address"
    );
}

#[test]
fn vepa_is_the_default_and_isolates_siblings() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-seed", w.prefix);
    let out = w.seed_up(&lab, None, &[]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("8 checked, 8 met, 0 NOT met"),
        "{}",
        stdout(&out)
    );
    assert_lab_built(&w, "vepa");
    assert_reachability(&w, false);

    let out = w.run(&["down", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        w.namespaces().is_empty(),
        "left behind: {:?}",
        w.namespaces()
    );
    let out = w.run(&["down", &lab]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("nothing left to undo"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bridge_mode_lets_siblings_talk_but_not_to_the_parent() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-seed", w.prefix);
    let out = w.seed_up(&lab, Some("bridge"), &[]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_lab_built(&w, "bridge");
    assert_reachability(&w, true);

    // The guest's own teardown, run against the lab it built.
    let out = w.run(&[
        "run",
        "--lab",
        &lab,
        "--attach",
        seed_guest().to_str().unwrap(),
        "--",
        "down",
        &w.prefix,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        w.namespaces().is_empty(),
        "left behind: {:?}",
        w.namespaces()
    );
    assert!(
        stderr(&out).contains("nothing is left up"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_lab_that_is_up_is_not_run_over() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let seed = seed_guest();
    let lab = format!("{}-seed", w.prefix);
    let up = |extra: &[&str]| {
        let mut args = vec!["run", "--lab", &lab];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[seed.to_str().unwrap(), "--", "up", &w.prefix]);
        w.run(&args)
    };
    assert!(up(&[]).status.success());
    let again = up(&[]);
    assert_eq!(again.status.code(), Some(3), "{}", stderr(&again));
    assert!(
        stderr(&again).contains(&format!("lab {lab} is up")),
        "{}",
        stderr(&again)
    );
    let replaced = up(&["--replace"]);
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    assert!(
        stderr(&replaced).contains("replaced"),
        "{}",
        stderr(&replaced)
    );
    assert_eq!(w.namespaces().len(), 5);
    assert!(w.run(&["down", &lab]).status.success());
    assert!(w.namespaces().is_empty());
}
