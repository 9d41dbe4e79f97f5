//! A guest for tests: each argument is one statement, run in order.
//!
//! ```text
//! ns NAME                      create a namespace       open NAME    open one
//! nsall NAME...                create them all at once (namespace.create-all)
//! root                         open the root namespace  del-ns NAME  delete one
//! list-ns                      print visible namespaces
//! many N PREFIX [MS [PNS PARENT]]  create PREFIX-0 .. PREFIX-(N-1), MS ms apart,
//!                              each with a macvlan mv0 on PARENT in PNS
//! bridge NS NAME               veth NS NAME PEERNS PEER
//! macvlan NS PARENT NAME [MODE|-] [TARGETNS]
//! vxlan NS NAME ID [remote=A] [group=G] [local=A] [dev=LINK] [port=N]
//!                  [ttl=N] [nolearning]      vxinfo NS LINK
//! up NS LINK | down NS LINK | mtu NS LINK N | mac NS LINK MAC
//! master NS LINK BRIDGE | hairpin NS LINK on|off
//! move NS LINK TONS [NEWNAME] | del-link NS LINK | info NS LINK
//! links NS | addrs NS LINK | routes NS   print what the host reports
//! addr NS LINK CIDR | del-addr NS LINK CIDR
//! route NS DEST [via GW] [dev LINK] [metric N] | del-route (same)
//! forward NS on|off | ping NS ADDR | neigh NS
//! expect NS ADDR yes|no | check
//! build PNS PARENT MODE|- UNIT...   batch.build: per UNIT, a namespace with
//!                              macvlan eth0 on PARENT in PNS, lo and eth0 up;
//!                              UNIT is NAME[,ITEM...] with ITEMs ip=CIDR
//!                              (on eth0), gw=GW (default route), up=LINK,
//!                              bridge=NAME, devroute=DEST@LINK,
//!                              vxlan=NAME/ID/REMOTE (on eth0),
//!                              addr=CIDR@LINK
//! spawn ID NS PROG ARG...     start a program (process.start); a statement
//!                              holding U+001F is split there instead of at
//!                              spaces, so arguments may hold spaces
//! wait ID MS | signal ID term|kill|int|hup|usr1|usr2
//! out ID | err ID              print what it wrote since the last read
//! drop ID                      let go of its handle (the program runs on)
//! drain ID MS                  read stdout until it closes or MS pass; print counts
//! size ID                      read stdout once; print only its counts
//! sleep MS | fail MESSAGE
//! try STATEMENT                run it; print `ok` or `error: ...` and go on
//! ```
//!
//! Without `try`, the first failing statement fails the run with its error.

use std::collections::HashMap;

use netwasm_guest::{
    Error, ExitStatus, Link, MacvlanConfig, MacvlanMode, Namespace, Plan, Process, Result, Signal,
    VxlanConfig, check,
};

#[derive(Default)]
struct Kit {
    spaces: HashMap<String, Namespace>,
    programs: HashMap<String, Process>,
}

fn mode(s: &str) -> Result<Option<MacvlanMode>> {
    Ok(Some(match s {
        "-" => return Ok(None),
        "private" => MacvlanMode::Private,
        "vepa" => MacvlanMode::Vepa,
        "bridge" => MacvlanMode::Bridge,
        "passthru" => MacvlanMode::Passthru,
        "source" => MacvlanMode::Source,
        other => return Err(Error::msg(format!("unknown mode {other}"))),
    }))
}

/// A `build` unit: see the module docs.
fn plan(pns: &str, parent: &str, mode: Option<MacvlanMode>, unit: &str) -> Result<Plan> {
    let mut items = unit.split(',');
    let name = items.next().unwrap_or_default();
    let config = MacvlanConfig {
        name: "eth0".into(),
        mode,
        mac: None,
        mtu: None,
    };
    let mut p = Plan::new(name)
        .macvlan_with(pns, parent, config)
        .up("lo")
        .up("eth0");
    for item in items {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| Error::msg(format!("unit item {item:?}: KEY=VALUE")))?;
        p = match key {
            "ip" => p.addr("eth0", value),
            "gw" => p.default_route(value),
            "up" => p.up(value),
            "bridge" => p.bridge(value),
            "vxlan" => {
                let v: Vec<&str> = value.split('/').collect();
                let [name, id, remote] = v[..] else {
                    return Err(Error::msg("vxlan=NAME/ID/REMOTE"));
                };
                let id = id.parse().map_err(|_| Error::msg("bad VNI"))?;
                let config = VxlanConfig {
                    id,
                    local: None,
                    remote: Some(remote.to_string()),
                    group: None,
                    device: Some("eth0".into()),
                    port: None,
                    learning: None,
                    ttl: None,
                };
                p.vxlan(name, config)
            }
            "addr" => {
                let (cidr, link) = value
                    .split_once('@')
                    .ok_or_else(|| Error::msg("addr=CIDR@LINK"))?;
                p.addr(link, cidr)
            }
            "devroute" => {
                let (dest, dev) = value
                    .split_once('@')
                    .ok_or_else(|| Error::msg("devroute=DEST@LINK"))?;
                p.route(dest, None, Some(dev))
            }
            other => return Err(Error::msg(format!("unknown unit item {other:?}"))),
        };
    }
    Ok(p)
}

fn arg<'a>(words: &[&'a str], i: usize) -> Result<&'a str> {
    words.get(i).copied().ok_or_else(|| {
        Error::msg(format!(
            "statement {:?}: missing argument {i}",
            words.join(" ")
        ))
    })
}

impl Kit {
    fn ns(&mut self, name: &str) -> Result<&Namespace> {
        if !self.spaces.contains_key(name) {
            let ns = if name == "/" {
                Namespace::root()?
            } else {
                Namespace::open(name)?
            };
            self.spaces.insert(name.to_string(), ns);
        }
        Ok(&self.spaces[name])
    }

    fn link(&mut self, ns: &str, link: &str) -> Result<Link> {
        self.ns(ns)?.link(link)
    }

    fn route(&mut self, w: &[&str], delete: bool) -> Result<()> {
        let ns = self.ns(arg(w, 1)?)?;
        let mut dev = None;
        let mut via = None;
        let mut metric = None;
        let mut i = 3;
        while i < w.len() {
            match w[i] {
                "via" => via = Some(arg(w, i + 1)?),
                "dev" => dev = Some(ns.link(arg(w, i + 1)?)?),
                "metric" => {
                    metric = Some(
                        arg(w, i + 1)?
                            .parse()
                            .map_err(|_| Error::msg("bad metric"))?,
                    )
                }
                other => return Err(Error::msg(format!("route: unknown word {other}"))),
            }
            i += 2;
        }
        let mut r = ns.route(arg(w, 2)?);
        if let Some(g) = via {
            r = r.via(g);
        }
        if let Some(d) = &dev {
            r = r.dev(d);
        }
        if let Some(m) = metric {
            r = r.metric(m);
        }
        if delete { r.delete() } else { r.add() }
    }

    fn program(&self, id: &str) -> Result<&Process> {
        self.programs
            .get(id)
            .ok_or_else(|| Error::msg(format!("no program {id}")))
    }

    fn exec(&mut self, stmt: &str) -> Result<()> {
        let w: Vec<&str> = if stmt.contains('\u{1f}') {
            stmt.split('\u{1f}').collect()
        } else {
            stmt.split_whitespace().collect()
        };
        match *w.first().unwrap_or(&"") {
            "spawn" => {
                let id = arg(&w, 1)?;
                self.ns(arg(&w, 2)?)?;
                let argv: Vec<&str> = w.get(3..).unwrap_or_default().to_vec();
                let p = self.spaces[arg(&w, 2)?].spawn(&argv).start()?;
                println!("started {id} pid={}", p.pid());
                self.programs.insert(id.to_string(), p);
            }
            "drop" => {
                // Lets go of the handle; the program runs on.
                self.programs
                    .remove(arg(&w, 1)?)
                    .ok_or_else(|| Error::msg("no such program"))?;
            }
            "wait" => {
                let ms = arg(&w, 2)?.parse().map_err(|_| Error::msg("bad timeout"))?;
                match self.program(arg(&w, 1)?)?.wait(ms)? {
                    None => println!("wait {} running", w[1]),
                    Some(ExitStatus::Exited(c)) => println!("wait {} exited={c}", w[1]),
                    Some(ExitStatus::Signaled(s)) => println!("wait {} signaled={s}", w[1]),
                }
            }
            "signal" => {
                let sig = match arg(&w, 2)? {
                    "term" => Signal::Term,
                    "kill" => Signal::Kill,
                    "int" => Signal::Int,
                    "hup" => Signal::Hup,
                    "usr1" => Signal::Usr1,
                    "usr2" => Signal::Usr2,
                    other => return Err(Error::msg(format!("unknown signal {other}"))),
                };
                self.program(arg(&w, 1)?)?.signal(sig)?;
            }
            "out" | "err" => {
                let p = self.program(arg(&w, 1)?)?;
                let o = if w[0] == "out" {
                    p.stdout()
                } else {
                    p.stderr()
                };
                println!(
                    "{} {}: {:?} dropped={} closed={}",
                    w[0],
                    w[1],
                    String::from_utf8_lossy(&o.data),
                    o.dropped,
                    o.closed
                );
            }
            "size" => {
                let o = self.program(arg(&w, 1)?)?.stdout();
                println!(
                    "size {} bytes={} dropped={} closed={}",
                    w[1],
                    o.data.len(),
                    o.dropped,
                    o.closed
                );
            }
            "drain" => {
                let ms: u64 = arg(&w, 2)?.parse().map_err(|_| Error::msg("bad timeout"))?;
                let p = self.program(arg(&w, 1)?)?;
                let (mut bytes, mut dropped, mut closed) = (0usize, 0u64, false);
                let start = std::time::Instant::now();
                while !closed && start.elapsed().as_millis() < u128::from(ms) {
                    let o = p.stdout();
                    bytes += o.data.len();
                    dropped += o.dropped;
                    closed = o.closed;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                println!(
                    "drained {} bytes={bytes} dropped={dropped} closed={closed}",
                    w[1]
                );
            }
            "ns" => {
                let name = arg(&w, 1)?;
                let ns = Namespace::create(name)?;
                self.spaces.insert(name.to_string(), ns);
            }
            "nsall" => {
                let names = &w[1..];
                for (name, ns) in names.iter().zip(Namespace::create_all(names)?) {
                    self.spaces.insert(name.to_string(), ns);
                }
            }
            "open" => {
                self.ns(arg(&w, 1)?)?;
            }
            "build" => {
                let (pns, parent, mode) = (arg(&w, 1)?, arg(&w, 2)?, mode(arg(&w, 3)?)?);
                self.ns(pns)?;
                let plans = w[4..]
                    .iter()
                    .map(|unit| plan(pns, parent, mode, unit))
                    .collect::<Result<Vec<_>>>()?;
                let built = Namespace::build_all(&plans)?;
                for (p, ns) in plans.iter().zip(built) {
                    self.spaces.insert(p.name().to_string(), ns);
                }
                println!("built {}", plans.len());
            }
            "root" => {
                self.ns("/")?;
            }
            "del-ns" => {
                let name = arg(&w, 1)?;
                self.ns(name)?;
                self.spaces.remove(name).expect("opened above").delete()?;
            }
            "list-ns" => println!("namespaces: {}", Namespace::list()?.join(" ")),
            "many" => {
                let n: u32 = arg(&w, 1)?.parse().map_err(|_| Error::msg("bad count"))?;
                let pause: u64 = w
                    .get(3)
                    .map_or(Ok(0), |v| v.parse())
                    .map_err(|_| Error::msg("bad pause"))?;
                for i in 0..n {
                    let name = format!("{}-{i}", arg(&w, 2)?);
                    let ns = Namespace::create(&name)?;
                    if let (Some(pns), Some(parent)) = (w.get(4), w.get(5)) {
                        self.ns(pns)?;
                        self.spaces[*pns]
                            .macvlan_on(parent, "mv0")
                            .mode(MacvlanMode::Bridge)
                            .in_namespace(&ns)
                            .create()?;
                    }
                    self.spaces.insert(name, ns);
                    if pause > 0 {
                        std::thread::sleep(std::time::Duration::from_millis(pause));
                    }
                }
            }
            "bridge" => {
                self.ns(arg(&w, 1)?)?.bridge(arg(&w, 2)?)?;
            }
            "veth" => {
                self.ns(arg(&w, 3)?)?;
                self.ns(arg(&w, 1)?)?;
                let (a, b) = (&self.spaces[arg(&w, 1)?], &self.spaces[arg(&w, 3)?]);
                a.veth(arg(&w, 2)?, b, arg(&w, 4)?)?;
            }
            "macvlan" => {
                if let Some(t) = w.get(5) {
                    self.ns(t)?;
                }
                self.ns(arg(&w, 1)?)?;
                let parent_ns = &self.spaces[arg(&w, 1)?];
                let mut b = parent_ns.macvlan_on(arg(&w, 2)?, arg(&w, 3)?);
                if let Some(m) = mode(w.get(4).copied().unwrap_or("-"))? {
                    b = b.mode(m);
                }
                if let Some(t) = w.get(5) {
                    b = b.in_namespace(&self.spaces[*t]);
                }
                b.create()?;
            }
            "vxlan" => {
                let id = arg(&w, 3)?.parse().map_err(|_| Error::msg("bad VNI"))?;
                let ns = self.ns(arg(&w, 1)?)?;
                let mut b = ns.vxlan(arg(&w, 2)?, id);
                for opt in &w[4..] {
                    let bad = || Error::msg(format!("bad {opt}"));
                    b = match opt.split_once('=') {
                        Some(("remote", v)) => b.remote(v),
                        Some(("group", v)) => b.group(v),
                        Some(("local", v)) => b.local(v),
                        Some(("dev", v)) => b.device(v),
                        Some(("port", v)) => b.port(v.parse().map_err(|_| bad())?),
                        Some(("ttl", v)) => b.ttl(v.parse().map_err(|_| bad())?),
                        None if *opt == "nolearning" => b.learning(false),
                        _ => return Err(Error::msg(format!("unknown vxlan option {opt}"))),
                    };
                }
                b.create()?;
            }
            "vxinfo" => match self.link(arg(&w, 1)?, arg(&w, 2)?)?.vxlan_info()? {
                Some(v) => println!(
                    "vxinfo {} id={} remote={} group={} local={} dev={} port={} learning={} ttl={}",
                    arg(&w, 2)?,
                    v.id,
                    v.remote.unwrap_or_default(),
                    v.group.unwrap_or_default(),
                    v.local.unwrap_or_default(),
                    v.device.unwrap_or_default(),
                    v.port,
                    v.learning,
                    v.ttl
                ),
                None => println!("vxinfo {} none", arg(&w, 2)?),
            },
            "up" => {
                self.link(arg(&w, 1)?, arg(&w, 2)?)?.up()?;
            }
            "down" => {
                self.link(arg(&w, 1)?, arg(&w, 2)?)?.down()?;
            }
            "mtu" => {
                let m = arg(&w, 3)?.parse().map_err(|_| Error::msg("bad mtu"))?;
                self.link(arg(&w, 1)?, arg(&w, 2)?)?.mtu(m)?;
            }
            "mac" => {
                self.link(arg(&w, 1)?, arg(&w, 2)?)?.mac(arg(&w, 3)?)?;
            }
            "master" => {
                let br = self.link(arg(&w, 1)?, arg(&w, 3)?)?;
                self.link(arg(&w, 1)?, arg(&w, 2)?)?.master(&br)?;
            }
            "hairpin" => {
                self.link(arg(&w, 1)?, arg(&w, 2)?)?
                    .hairpin(arg(&w, 3)? == "on")?;
            }
            "move" => {
                self.ns(arg(&w, 3)?)?;
                let l = self.link(arg(&w, 1)?, arg(&w, 2)?)?;
                l.move_to(&self.spaces[arg(&w, 3)?], w.get(4).copied())?;
            }
            "del-link" => self.link(arg(&w, 1)?, arg(&w, 2)?)?.delete()?,
            "info" => {
                let i = self.link(arg(&w, 1)?, arg(&w, 2)?)?.info()?;
                println!(
                    "info {} kind={} mode={:?} parent={}@{} master={} mtu={} up={}",
                    i.name,
                    i.kind.unwrap_or_default(),
                    i.macvlan_mode,
                    i.parent_name.unwrap_or_default(),
                    i.parent_namespace.unwrap_or_default(),
                    i.master.unwrap_or_default(),
                    i.mtu,
                    i.admin_up
                );
            }
            "links" => {
                for l in self.ns(arg(&w, 1)?)?.links()? {
                    println!(
                        "link {} {} kind={} mode={:?} parent={}@{} master={} mtu={} mac={} up={} state={:?} hairpin={:?}",
                        l.index,
                        l.name,
                        l.kind.unwrap_or_default(),
                        l.macvlan_mode,
                        l.parent_name.unwrap_or_default(),
                        l.parent_namespace.unwrap_or_default(),
                        l.master.unwrap_or_default(),
                        l.mtu,
                        l.mac.unwrap_or_default(),
                        l.admin_up,
                        l.state,
                        l.hairpin
                    );
                }
            }
            "addrs" => {
                for a in self.link(arg(&w, 1)?, arg(&w, 2)?)?.addrs()? {
                    println!(
                        "address {}/{} {:?} {}",
                        a.address, a.prefix_len, a.family, a.scope
                    );
                }
            }
            "routes" => {
                for r in self.ns(arg(&w, 1)?)?.routes()? {
                    println!(
                        "route {} via={} dev={} metric={:?} proto={} scope={}",
                        r.destination,
                        r.gateway.unwrap_or_default(),
                        r.dev.unwrap_or_default(),
                        r.metric,
                        r.protocol,
                        r.scope
                    );
                }
            }
            "addr" => {
                self.link(arg(&w, 1)?, arg(&w, 2)?)?.addr(arg(&w, 3)?)?;
            }
            "del-addr" => {
                self.link(arg(&w, 1)?, arg(&w, 2)?)?.del_addr(arg(&w, 3)?)?;
            }
            "route" => self.route(&w, false)?,
            "del-route" => self.route(&w, true)?,
            "forward" => self.ns(arg(&w, 1)?)?.forwarding(arg(&w, 2)? == "on")?,
            "ping" => {
                let r = self.ns(arg(&w, 1)?)?.ping(arg(&w, 2)?, 2, 1000)?;
                println!("ping {} {}/{}", arg(&w, 2)?, r.received, r.sent);
            }
            "neigh" => {
                for n in self.ns(arg(&w, 1)?)?.neighbors()? {
                    println!(
                        "neigh {} {} {:?} {}",
                        n.address,
                        n.mac.unwrap_or_default(),
                        n.state,
                        n.dev
                    );
                }
            }
            "expect" => {
                let ns = self.ns(arg(&w, 1)?)?;
                if arg(&w, 3)? == "yes" {
                    ns.expect_reachable(arg(&w, 2)?, "")?;
                } else {
                    ns.expect_unreachable(arg(&w, 2)?, "")?;
                }
            }
            "check" => {
                let met = check()?.iter().filter(|o| o.expected == o.actual).count();
                println!("checked: {met} met");
            }
            "sleep" => {
                let ms = arg(&w, 1)?
                    .parse()
                    .map_err(|_| Error::msg("bad duration"))?;
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            "fail" => return Err(Error::msg(w[1..].join(" "))),
            "try" => match self.exec(&w[1..].join(" ")) {
                Ok(()) => println!("ok"),
                Err(e) => println!("error: {e}"),
            },
            other => return Err(Error::msg(format!("unknown statement {other:?}"))),
        }
        Ok(())
    }
}

fn run(args: Vec<String>) -> Result<()> {
    let mut kit = Kit::default();
    for stmt in &args {
        kit.exec(stmt)?;
    }
    Ok(())
}

netwasm_guest::main!(run);
