//! `netwasm show`: a lab's namespaces, links, addresses and routes as
//! aligned text tables, or as JSON (`netwasm.show/1`).

use super::view::{LabView, LinkView, LinksShown, NsView};
use crate::vocab::text::printable;

/// The view as pretty-printed JSON, ending in a newline.
pub fn json(view: &LabView) -> String {
    let mut s = serde_json::to_string_pretty(view).expect("a lab view always serializes");
    s.push('\n');
    s
}

/// A table whose columns are as wide as their widest cell. Cells may hold
/// several lines; a row is as tall as its tallest cell.
struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<Vec<String>>>,
}

impl Table {
    fn new(header: Vec<&'static str>) -> Self {
        Self {
            header,
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<Vec<String>>) {
        self.rows.push(cells);
    }

    fn render(&self, indent: &str, out: &mut String) {
        let n = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(n) {
                for line in cell {
                    widths[i] = widths[i].max(line.chars().count());
                }
            }
        }
        let mut line = |cells: &[&str]| {
            let mut s = String::from(indent);
            for (i, c) in cells.iter().enumerate() {
                s.push_str(c);
                if i + 1 < cells.len() {
                    let pad = widths[i] - c.chars().count() + 2;
                    s.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(&self.header);
        for row in &self.rows {
            let height = row.iter().map(Vec::len).max().unwrap_or(1).max(1);
            for k in 0..height {
                let cells: Vec<&str> = (0..n)
                    .map(|i| row.get(i).and_then(|c| c.get(k)).map_or("", String::as_str))
                    .collect();
                line(&cells);
            }
        }
    }
}

fn dash(s: Option<&str>) -> String {
    s.unwrap_or("-").to_string()
}

fn link_row(l: &LinkView) -> Vec<Vec<String>> {
    let mut relation = vec![match (&l.parent, &l.peer, &l.vxlan) {
        (_, Some(p), _) => format!("peer {}", p.display()),
        (Some(p), None, _) => p.display(),
        (None, None, Some(v)) => match &v.device {
            Some(d) => format!("dev {}", d.display()),
            None => "-".to_string(),
        },
        (None, None, None) => "-".to_string(),
    }];
    let mut mode = dash(l.macvlan_mode.as_deref());
    if let Some(v) = &l.vxlan {
        mode = format!("vni {}", v.id);
        let dest = match (&v.remote, &v.group) {
            (Some(r), _) => format!("remote {r}:{}", v.port),
            (None, Some(g)) => format!("group {g}:{}", v.port),
            (None, None) => format!("port {}", v.port),
        };
        relation.push(dest);
        if let Some(local) = &v.local {
            relation.push(format!("local {local}"));
        }
    }
    let mut addrs: Vec<String> = l.addresses.iter().map(|a| a.cidr.clone()).collect();
    if addrs.is_empty() {
        addrs.push("-".into());
    }
    vec![
        vec![l.name.clone()],
        vec![dash(l.kind.as_deref())],
        vec![mode],
        relation,
        vec![dash(l.master.as_deref())],
        vec![dash(l.mac.as_deref())],
        vec![l.mtu.to_string()],
        vec![if l.admin_up { "up" } else { "down" }.to_string()],
        vec![l.oper_state.clone()],
        addrs,
    ]
}

fn namespace(ns: &NsView, out: &mut String) {
    let mut title = format!(
        "namespace {}",
        if ns.name == "/" { "/ (root)" } else { &ns.name }
    );
    title += match (ns.present, ns.created_by_lab) {
        (false, _) => "  MISSING: the ledger records it, the kernel has no such namespace",
        (true, true) => "  (created by the lab)",
        (true, false) => "  (not created by the lab; showing the lab's links only)",
    };
    out.push_str(&title);
    out.push('\n');
    if let Some(e) = &ns.error {
        out.push_str(&format!("  error: {e}\n"));
    }
    if !ns.present || ns.error.is_some() {
        return;
    }
    if ns.links.is_empty() {
        let what = if ns.links_shown == LinksShown::Lab {
            "no links of the lab"
        } else {
            "no links"
        };
        out.push_str(&format!("  {what}\n"));
    } else {
        let mut t = Table::new(vec![
            "LINK",
            "KIND",
            "MODE",
            "PARENT/PEER",
            "MASTER",
            "MAC",
            "MTU",
            "ADMIN",
            "OPER",
            "ADDRESSES",
        ]);
        for l in &ns.links {
            t.row(link_row(l));
        }
        t.render("  ", out);
    }
    if ns.routes.is_empty() {
        out.push_str("  no routes\n");
    } else {
        out.push('\n');
        let mut t = Table::new(vec![
            "ROUTE", "GATEWAY", "DEV", "METRIC", "PROTO", "SCOPE", "SOURCE",
        ]);
        for r in &ns.routes {
            t.row(vec![
                vec![r.destination_display().to_string()],
                vec![dash(r.gateway.as_deref())],
                vec![dash(r.dev.as_deref())],
                vec![r.metric.map_or("-".to_string(), |m| m.to_string())],
                vec![r.protocol.clone()],
                vec![r.scope.clone()],
                vec![dash(r.source.as_deref())],
            ]);
        }
        t.render("  ", out);
    }
    if !ns.processes.is_empty() {
        out.push('\n');
        let mut t = Table::new(vec!["PID", "STATE", "PROCESSES", "COMMAND", "OUTPUT"]);
        for p in &ns.processes {
            t.row(vec![
                vec![p.pid.map_or("-".to_string(), |p| p.to_string())],
                vec![if p.running { "running" } else { "exited" }.to_string()],
                vec![p.processes.to_string()],
                // The guest chose argv: escaped, whatever the journal held.
                vec![printable(&p.command)],
                vec![dash(p.stdout_log.as_deref()), dash(p.stderr_log.as_deref())],
            ]);
        }
        t.render("  ", out);
    }
}

/// The view as text: one section per namespace.
pub fn table(view: &LabView) -> String {
    let mut out = String::new();
    let missing = view.namespaces.iter().filter(|n| !n.present).count();
    out.push_str(&format!(
        "lab {}: {} namespaces",
        view.lab,
        view.namespaces.len()
    ));
    if missing > 0 {
        out.push_str(&format!(", {missing} missing"));
    }
    out.push('\n');
    if let Some(d) = &view.journal_damage {
        out.push_str(&format!(
            "the journal is damaged: {d}; objects recorded after that are not shown\n"
        ));
    }
    for ns in &view.namespaces {
        out.push('\n');
        namespace(ns, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::view::*;
    use super::*;

    fn sample() -> LabView {
        let link = |index, name: &str, kind: Option<&str>| LinkView {
            index,
            name: name.into(),
            kind: kind.map(Into::into),
            macvlan_mode: None,
            parent: None,
            vxlan: None,
            peer: None,
            master: None,
            mac: Some("02:00:00:00:00:01".into()),
            mtu: 1500,
            admin_up: true,
            oper_state: "UP".into(),
            in_ledger: true,
            addresses: vec![],
        };
        let mut mv = link(2, "macvlan1", Some("macvlan"));
        mv.macvlan_mode = Some("bridge".into());
        mv.parent = Some(LinkRef {
            index: 3,
            name: Some("eth0".into()),
            namespace: Some("x-net1".into()),
        });
        for (cidr, fam) in [("172.16.10.5/24", "inet"), ("fe80::1/64", "inet6")] {
            let (a, p) = cidr.split_once('/').unwrap();
            mv.addresses.push(AddrView {
                cidr: cidr.into(),
                address: a.into(),
                prefix_len: p.parse().unwrap(),
                family: fam,
                scope: "global".into(),
            });
        }
        LabView {
            schema: SCHEMA,
            lab: "demo".into(),
            journal_damage: None,
            namespaces: vec![
                NsView {
                    name: "x-ns1".into(),
                    created_by_lab: true,
                    present: true,
                    error: None,
                    links_shown: LinksShown::All,
                    links: vec![link(1, "lo", None), mv],
                    routes: vec![RouteView {
                        destination: "0.0.0.0/0".into(),
                        family: "inet",
                        gateway: Some("172.16.10.1".into()),
                        dev: Some("macvlan1".into()),
                        metric: None,
                        protocol: "static".into(),
                        scope: "global".into(),
                        source: None,
                    }],
                    processes: vec![],
                },
                NsView {
                    name: "x-gone".into(),
                    created_by_lab: true,
                    present: false,
                    error: None,
                    links_shown: LinksShown::All,
                    links: vec![],
                    routes: vec![],
                    processes: vec![],
                },
            ],
        }
    }

    #[test]
    fn table_is_aligned_and_reports_missing_namespaces() {
        let text = table(&sample());
        assert!(
            text.starts_with("lab demo: 2 namespaces, 1 missing\n"),
            "{text}"
        );
        assert!(text.contains("namespace x-gone  MISSING"), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        let header = lines
            .iter()
            .find(|l| l.trim_start().starts_with("LINK"))
            .unwrap();
        let row = lines
            .iter()
            .find(|l| l.trim_start().starts_with("macvlan1"))
            .unwrap();
        // Every column starts at the same offset in the header and the row.
        let col = |line: &str, text: &str| line.find(text).unwrap();
        assert_eq!(col(header, "PARENT/PEER"), col(row, "eth0@x-net1"));
        assert_eq!(col(header, "ADDRESSES"), col(row, "172.16.10.5/24"));
        let cont = lines
            .iter()
            .find(|l| l.trim_start().starts_with("fe80::1/64"))
            .unwrap();
        assert_eq!(col(header, "ADDRESSES"), col(cont, "fe80::1/64"));
        assert!(text.contains("default"), "{text}");
    }

    #[test]
    fn json_has_the_schema() {
        let v: serde_json::Value = serde_json::from_str(&json(&sample())).unwrap();
        assert_eq!(v["schema"], "netwasm.show/1");
        assert_eq!(v["namespaces"][0]["links"][1]["parent"]["name"], "eth0");
        assert_eq!(v["namespaces"][1]["present"], false);
        assert_eq!(
            v["namespaces"][0]["links"][1]["vxlan"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn a_vxlan_shows_its_tunnel() {
        let mut v = sample();
        let mut vx = v.namespaces[0].links[1].clone();
        vx.name = "vx0".into();
        vx.kind = Some("vxlan".into());
        vx.macvlan_mode = None;
        vx.parent = None;
        vx.vxlan = Some(VxlanView {
            id: 42,
            local: Some("10.99.0.1".into()),
            remote: Some("10.99.0.2".into()),
            group: None,
            port: 4789,
            device: Some(LinkRef {
                index: 2,
                name: Some("va".into()),
                namespace: Some("x-ns1".into()),
            }),
            learning: true,
            ttl: 0,
        });
        v.namespaces[0].links = vec![vx];
        let text = table(&v);
        let lines: Vec<&str> = text.lines().collect();
        let header = lines
            .iter()
            .find(|l| l.trim_start().starts_with("LINK"))
            .unwrap();
        let row = lines
            .iter()
            .position(|l| l.trim_start().starts_with("vx0"))
            .unwrap();
        let col = |line: &str, text: &str| line.find(text).unwrap();
        assert_eq!(col(header, "MODE"), col(lines[row], "vni 42"), "{text}");
        assert_eq!(col(header, "PARENT/PEER"), col(lines[row], "dev va@x-ns1"));
        assert_eq!(
            col(header, "PARENT/PEER"),
            col(lines[row + 1], "remote 10.99.0.2:4789")
        );
        assert_eq!(
            col(header, "PARENT/PEER"),
            col(lines[row + 2], "local 10.99.0.1")
        );
        let j: serde_json::Value = serde_json::from_str(&json(&v)).unwrap();
        let t = &j["namespaces"][0]["links"][0]["vxlan"];
        assert_eq!(t["id"], 42);
        assert_eq!(t["remote"], "10.99.0.2");
        assert_eq!(t["group"], serde_json::Value::Null);
        assert_eq!(t["port"], 4789);
        assert_eq!(t["device"]["name"], "va");
    }
}
