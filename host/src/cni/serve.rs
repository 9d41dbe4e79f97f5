//! Serving one CNI invocation: the guest run in the container namespace it
//! was handed, as a transaction recorded in the attachment's lab.
//!
//! - ADD opens the attachment's lab (fresh), holds the container namespace,
//!   runs the guest's `add` through the same session as `netwasm run`, and
//!   answers its result; a failed ADD is rolled back, IPAM included.
//! - DEL runs the guest's `del` (attached to the lab), then undoes what the
//!   lab's journal still holds, releases IPAM and forgets the lab. It
//!   succeeds again and again, and after the container namespace is gone.
//! - CHECK is the lab's drift check, then the guest's `check`.
//! - GC does DEL for every lab of this network whose attachment is not in
//!   `cni.dev/valid-attachments`; STATUS says whether the guest can run.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::attachment::{ALIAS_PREFIX, Attachment, container_ns_name};
use super::error::{CniError, code};
use super::ipam;
use super::output::{self, AttachResult, Output};
use super::protocol::{Command, Invocation};
use crate::error::OpError;
use crate::kernel::Kernel;
use crate::kernel::netlink::Netlink;
use crate::kernel::netns;
use crate::ledger::replay::replay;
use crate::ledger::{StateDir, drift, undo};
use crate::policy::{Policy, file};
use crate::runtime::cache::Cache;
use crate::runtime::plugin::{PluginCall, PluginGuest, PluginRequest};
use crate::runtime::stdio::GuestOutput;
use crate::runtime::{Outcome, Runtime};
use crate::session::{Closed, End, Notices, OpenError, Opening, Session};
use crate::vocab::cni as v;
use crate::wit::plugin::IpamDelegate;

/// Where attachment labs live unless `NETWASM_STATE_DIR` says otherwise.
const STATE_DIR: &str = "/run/netwasm";

/// Answers one invocation: the bytes for stdout and the exit code.
pub async fn serve(inv: Invocation) -> Output {
    let version = inv.version.to_string();
    match serve_command(&inv).await {
        Ok(out) => out,
        Err(e) => output::error(&version, &e),
    }
}

async fn serve_command(inv: &Invocation) -> Result<Output, CniError> {
    match inv.command {
        Command::Version => Ok(output::version_reply(inv.version)),
        Command::Add => add(inv).await,
        Command::Del => del(inv).await.map(|()| Output::empty()),
        Command::Check => check(inv).await.map(|()| Output::empty()),
        Command::Gc => gc(inv).await.map(|()| Output::empty()),
        Command::Status => status(inv).map(|()| Output::empty()),
    }
}

/// What every command but VERSION needs.
struct Context<'a> {
    inv: &'a Invocation,
    attachment: Attachment,
    state: StateDir,
    kernel: Arc<dyn Kernel>,
    notices: Notices,
    /// Names this call gave the container's namespace (see
    /// [`ALIAS_PREFIX`]), removed when the call ends.
    aliases: Mutex<Vec<(String, crate::vocab::NsIdent)>>,
}

impl Drop for Context<'_> {
    fn drop(&mut self) {
        let aliases = std::mem::take(&mut *self.aliases.lock().unwrap_or_else(|e| e.into_inner()));
        if aliases.is_empty() {
            return;
        }
        let Ok(home) = netns::home() else { return };
        for (name, id) in aliases {
            if let Err(e) = netns::remove(&name, Some(&id), &home) {
                (self.notices)(format!("warning: cannot remove the name {name}: {e}"));
            }
        }
    }
}

impl<'a> Context<'a> {
    fn new(inv: &'a Invocation) -> Result<Self, CniError> {
        let config = inv
            .config
            .as_ref()
            .ok_or_else(|| CniError::config("no network configuration"))?;
        let attachment = Attachment {
            network: config.net.name.clone(),
            container_id: inv.container_id.clone().unwrap_or_default(),
            ifname: inv.ifname.clone().unwrap_or_default(),
        };
        // The configuration's `stateDir` first: a runtime may run DEL from
        // another process with another environment (podman's cleanup runs
        // from conmon), and a DEL must find what its ADD recorded.
        let state = dir_key(config, "stateDir")?
            .or_else(|| env_dir(inv, "NETWASM_STATE_DIR"))
            .unwrap_or_else(|| PathBuf::from(STATE_DIR));
        Ok(Self {
            inv,
            attachment,
            state: StateDir::new(&state),
            kernel: Arc::new(Netlink::new()),
            // stdout is the runtime's: what netwasm has to say goes to stderr.
            notices: Arc::new(|m| eprintln!("netwasm-cni: {m}")),
            aliases: Mutex::new(Vec::new()),
        })
    }

    /// The same call, about another attachment (GC's).
    fn about(mut self, attachment: Attachment) -> Self {
        self.attachment = attachment;
        self
    }

    fn config(&self) -> &super::protocol::Config {
        self.inv.config.as_ref().expect("checked in Context::new")
    }

    /// The container namespace's name, checked to exist (code 3 if not).
    /// A namespace given by a path outside `/run/netns` is named for the
    /// length of this call.
    fn container(&self) -> Result<String, CniError> {
        let path = self
            .inv
            .netns
            .as_deref()
            .ok_or_else(|| CniError::env("CNI_NETNS is missing"))?;
        let unknown = || {
            CniError::new(
                code::UNKNOWN_CONTAINER,
                format!("CNI_NETNS {}: no such network namespace", path.display()),
            )
        };
        let name = match container_ns_name(path).map_err(CniError::env)? {
            Some(name) => name,
            None => self.alias(path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => unknown(),
                std::io::ErrorKind::InvalidInput => {
                    CniError::env(format!("CNI_NETNS {}: {e}", path.display()))
                }
                _ => CniError::io(format!("CNI_NETNS {}: {e}", path.display())),
            })?,
        };
        if !self.kernel.ns_exists(&name) {
            return Err(unknown());
        }
        Ok(name)
    }

    fn alias(&self, path: &Path) -> std::io::Result<String> {
        let mut aliases = self.aliases.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((name, _)) = aliases.first() {
            return Ok(name.clone());
        }
        let (name, id) = netns::alias(path, ALIAS_PREFIX)?;
        aliases.push((name.clone(), id));
        Ok(name)
    }

    /// The policy confining the guest: the configuration's file, or the
    /// CNI default; the container namespace granted on top either way.
    fn policy(&self, container: &str) -> Result<Policy, CniError> {
        let config = self.config();
        match &config.policy {
            Some(path) => {
                let mut p = file::load(path)
                    .map_err(|e| CniError::config(format!("policy {}: {e:#}", path.display())))?;
                p.grant_container(container, &self.attachment.ifname);
                Ok(p)
            }
            None => Ok(Policy::for_cni(
                container,
                &self.attachment.ifname,
                config.master.as_deref(),
            )),
        }
    }

    fn cache_dir(&self) -> Result<PathBuf, CniError> {
        Ok(dir_key(self.config(), "cacheDir")?
            .or_else(|| env_dir(self.inv, "NETWASM_CACHE_DIR"))
            .unwrap_or_else(Cache::default_dir))
    }

    /// The engine and the guest, loaded (compiled on a cache miss) off the
    /// async thread: a large guest compiles for seconds, and an IPAM
    /// plugin started early must meanwhile be waited for as usual — a
    /// runtime blocked that long would find its timeout expired before it
    /// saw the plugin's answer.
    async fn load(&self) -> Result<(Runtime, PluginGuest), CniError> {
        let cache = self.cache_dir()?;
        let path = self.config().guest.clone();
        tokio::task::spawn_blocking(move || {
            let runtime = Runtime::new(Some(Cache::new(cache)))
                .map_err(|e| CniError::io(format!("{e:#}")))?;
            let guest = load_guest(&runtime, &path)?;
            Ok((runtime, guest))
        })
        .await
        .map_err(|e| CniError::io(format!("loading the guest: {e}")))?
    }

    fn plugin_attachment(&self) -> v::Attachment {
        v::Attachment {
            container_id: self.attachment.container_id.clone(),
            ifname: self.attachment.ifname.clone(),
            network: self.attachment.network.clone(),
            config: String::from_utf8_lossy(&self.inv.raw_config).into_owned(),
            args: self.inv.args.clone(),
            prev_result: self
                .config()
                .prev_result()
                .cloned()
                .map(|r| from_attach(AttachResult::from(r))),
        }
    }

    fn ipam(&self) -> Option<Arc<Ipam>> {
        self.config().ipam().map(|_| {
            Arc::new(Ipam {
                inv: self.inv.clone(),
                early: Mutex::new(None),
                added: Mutex::new(false),
                released: Mutex::new(false),
            })
        })
    }
}

fn load_guest(runtime: &Runtime, guest: &Path) -> Result<PluginGuest, CniError> {
    runtime.load_plugin(guest).map_err(|e| {
        CniError::config(format!("guest {}: {e:#}", guest.display())).with_details(format!("{e:#}"))
    })
}

/// An absolute directory named by the configuration's key `key`.
fn dir_key(config: &super::protocol::Config, key: &str) -> Result<Option<PathBuf>, CniError> {
    match config.net.custom.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if Path::new(s).is_absolute() => {
            Ok(Some(PathBuf::from(s)))
        }
        Some(v) => Err(CniError::config(format!(
            "network configuration: \"{key}\" {v}: expected an absolute directory path"
        ))),
    }
}

fn env_dir(inv: &Invocation, var: &str) -> Option<PathBuf> {
    inv.env
        .get(var)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

/// The guest's own output goes to stderr: stdout carries the CNI answer.
fn guest_output(policy: &Policy) -> GuestOutput {
    GuestOutput::new(policy.limits.output, false).all_to_stderr()
}

/// One call of the guest's export as a session on the attachment's lab:
/// opened as `opening` says, the container namespace held (a DEL whose
/// container is gone calls with none), the guest run, the run closed.
/// Returns how it closed and what an ADD returned.
async fn call_guest(
    cx: &Context<'_>,
    call: PluginCall,
    opening: Opening,
    container: Option<&str>,
    policy: Arc<Policy>,
    ipam: Option<Arc<Ipam>>,
) -> Result<(Closed, Option<v::CniResult>), CniError> {
    let (runtime, guest) = cx.load().await?;
    let session = Session::open(
        cx.kernel.clone(),
        policy.clone(),
        cx.state.clone(),
        &cx.attachment.lab_name(),
        opening,
        cx.config().guest.display().to_string(),
        &cx.attachment.begin_args(call.name()),
        cx.notices.clone(),
    )
    .await
    .map_err(|e| open_error(&cx.attachment, e))?
    .without_snapshot();
    let output = guest_output(&policy);
    let result: Mutex<Option<v::CniResult>> = Mutex::new(None);
    let closed = session
        .run_with(false, async |mut lab| {
            let held = match container {
                Some(c) => match lab.hold_given(c).await {
                    Ok(()) => Some(c.to_string()),
                    // Gone since: DEL goes on without it.
                    Err(_) if call == PluginCall::Del => None,
                    Err(e) => {
                        let e = anyhow::anyhow!("{}", failure_text(e));
                        return (Outcome::HostError(e), lab);
                    }
                },
                None => None,
            };
            let request = PluginRequest {
                call,
                container_ns: held,
                attachment: cx.plugin_attachment(),
                ipam: ipam.map(|i| i as Arc<dyn IpamDelegate>),
            };
            let (done, lab) = runtime
                .run_plugin(
                    &guest,
                    lab,
                    request,
                    &policy.limits,
                    &output,
                    std::future::pending(),
                )
                .await;
            *result.lock().unwrap_or_else(|e| e.into_inner()) = done.result;
            (done.outcome, lab)
        })
        .await
        .map_err(|e| CniError::io(format!("{e:#}")))?;
    let result = result.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok((closed, result))
}

async fn add(inv: &Invocation) -> Result<Output, CniError> {
    let cx = Context::new(inv)?;
    let container = cx.container()?;
    let policy = Arc::new(cx.policy(&container)?);
    let ipam = cx.ipam();
    if let Some(ipam) = &ipam {
        ipam.start_early(Command::Add).await;
    }
    let answer = attach(&cx, &container, policy, ipam.clone()).await;
    if let Some(ipam) = &ipam {
        match &answer {
            // What the guest built is rolled back; what IPAM gave is given back.
            Err(_) => ipam.release_if_added().await,
            // An allocation started early that the guest never asked for.
            Ok(_) => ipam.release_unclaimed().await,
        }
    }
    answer
}

/// ADD's guest run and its answer.
async fn attach(
    cx: &Context<'_>,
    container: &str,
    policy: Arc<Policy>,
    ipam: Option<Arc<Ipam>>,
) -> Result<Output, CniError> {
    let (closed, result) = call_guest(
        cx,
        PluginCall::Add,
        Opening::Fresh,
        Some(container),
        policy,
        ipam,
    )
    .await?;
    let committed = matches!(closed.end, Ok(End::Committed(_)));
    if !committed || !matches!(closed.outcome, Outcome::Success) {
        return Err(outcome_error(&closed.outcome, &closed.end));
    }
    let mut result = result.unwrap_or_default();
    let sandbox = cx.inv.netns.as_ref().map(|p| p.display().to_string());
    // The attachment's interface is in the container; others a chain
    // passes on (an earlier plugin's host-side bridge and veth) are not.
    for i in &mut result.interfaces {
        if i.sandbox.is_none() && i.name == cx.attachment.ifname {
            i.sandbox = sandbox.clone();
        }
    }
    let result = to_attach(result)?;
    Ok(output::add_success(cx.inv.version, result))
}

async fn del(inv: &Invocation) -> Result<(), CniError> {
    let cx = Context::new(inv)?;
    let ipam = cx.ipam();
    if let Some(ipam) = &ipam {
        ipam.start_early(Command::Del).await;
    }
    let detached = detach(&cx, ipam.clone()).await;
    // IPAM DEL unless the guest's `del` did it, whatever became of the
    // rest (an IPAM DEL started early is never left behind). It is
    // idempotent, so a DEL of an ADD that never reached IPAM, or a second
    // DEL, releases nothing; the reference plugins release first, too.
    let released = match &ipam {
        Some(ipam) => ipam.release().await,
        None => Ok(()),
    };
    detached.and(released)
}

/// DEL's guest run and the teardown of what the attachment's lab holds.
async fn detach(cx: &Context<'_>, ipam: Option<Arc<Ipam>>) -> Result<(), CniError> {
    let lab = cx.attachment.lab_name();
    // The guest's `del` first, when there is a lab and a guest to run;
    // whatever it does or fails to do, the journal says what to undo.
    if cx.state.exists(&lab) && cx.config().guest.exists() {
        let container = cx.container().ok();
        let policy = Arc::new(match &container {
            Some(c) => cx.policy(c)?,
            None => Policy::for_cni("-", "", None),
        });
        let _ = call_guest(
            cx,
            PluginCall::Del,
            Opening::Attach,
            container.as_deref(),
            policy,
            ipam,
        )
        .await;
    }
    // Then whatever the journal still holds, exactly, whatever the guest did.
    teardown(cx, &lab).await
}

/// Undoes everything lab `lab` records and forgets it (nothing if there
/// is no such lab).
async fn teardown(cx: &Context<'_>, lab: &str) -> Result<(), CniError> {
    if !cx.state.exists(lab) {
        return Ok(());
    }
    let busy = |e: anyhow::Error| CniError::new(code::TRY_AGAIN_LATER, format!("{e:#}"));
    let _lock = cx.state.lock(lab).map_err(busy)?;
    let journal = cx.state.read(lab).map_err(busy)?;
    let objects = replay(&journal.entries);
    let report = undo::undo(cx.kernel.as_ref(), &objects, false).await;
    // A name an earlier call of this attachment gave the container's
    // namespace and could not take back (it was killed) goes with the
    // call, as this call's own do.
    let mut aliases = cx.aliases.lock().unwrap_or_else(|e| e.into_inner());
    for e in &journal.entries {
        if let crate::ledger::Entry::NsOpen { ns, id } = e
            && ns.starts_with(ALIAS_PREFIX)
            && !aliases.iter().any(|(n, _)| n == ns)
        {
            aliases.push((ns.clone(), *id));
        }
    }
    drop(aliases);
    if !report.is_complete() {
        return Err(CniError::new(
            code::TRY_AGAIN_LATER,
            format!(
                "attachment {}: {}",
                describe(&cx.attachment),
                report.summary()
            ),
        ));
    }
    cx.state
        .remove(lab)
        .map_err(|e| CniError::io(format!("attachment {}: {e}", describe(&cx.attachment))))
}

async fn check(inv: &Invocation) -> Result<(), CniError> {
    let cx = Context::new(inv)?;
    let container = cx.container()?;
    let lab = cx.attachment.lab_name();
    // What the journal holds must still be there. (A chained plugin that
    // only changed an earlier plugin's interface made nothing to record:
    // its own `check` is the whole check.)
    let journal = cx
        .state
        .read(&lab)
        .map_err(|e| CniError::io(format!("{e:#}")))?;
    let drifted = drift::check(cx.kernel.as_ref(), &replay(&journal.entries)).await;
    if !drifted.is_empty() {
        return Err(CniError::new(
            code::GUEST_FAILED,
            format!(
                "attachment {}: {}",
                describe(&cx.attachment),
                drifted.join("; ")
            ),
        ));
    }
    let policy = Arc::new(cx.policy(&container)?);
    let (closed, _) = call_guest(
        &cx,
        PluginCall::Check,
        Opening::Attach,
        Some(&container),
        policy,
        cx.ipam(),
    )
    .await?;
    match closed.outcome {
        Outcome::Success => Ok(()),
        other => Err(outcome_error(&other, &closed.end)),
    }
}

async fn gc(inv: &Invocation) -> Result<(), CniError> {
    let cx = Context::new(inv)?;
    let valid: Vec<(String, String)> = cx
        .config()
        .valid_attachments()
        .iter()
        .map(|a| (a.container_id.clone(), a.ifname.clone()))
        .collect();
    let labs = cx
        .state
        .labs()
        .map_err(|e| CniError::io(format!("{e:#}")))?;
    for lab in labs.iter().filter(|l| l.starts_with("cni-")) {
        let Ok(journal) = cx.state.read(lab) else {
            continue;
        };
        let Some(at) = journal.entries.iter().find_map(|e| match e {
            crate::ledger::Entry::Begin { args, .. } => Attachment::from_begin_args(args),
            _ => None,
        }) else {
            continue;
        };
        if at.network != cx.attachment.network
            || valid.contains(&(at.container_id.clone(), at.ifname.clone()))
        {
            continue;
        }
        let gone = Context::new(inv)?.about(at.clone());
        teardown(&gone, lab).await?;
        // Its lease goes with it: IPAM DEL as that attachment's DEL would
        // (plugins before spec 1.1 know no GC of their own).
        if cx.config().ipam().is_some() {
            let mut del = inv.clone();
            del.container_id = Some(at.container_id.clone());
            del.ifname = Some(at.ifname.clone());
            del.netns = None;
            del.env
                .insert("CNI_CONTAINERID".into(), at.container_id.clone());
            del.env.insert("CNI_IFNAME".into(), at.ifname.clone());
            del.env.remove("CNI_NETNS");
            match ipam::delegate(&del, Command::Del, ipam::DEFAULT_TIMEOUT).await {
                // An IPAM plugin older than GC (spec 1.1) refuses the GC's
                // 1.1.0 configuration: its DEL gets the same one as 1.0.0.
                Err(e) if e.code == code::INCOMPATIBLE_VERSION => {
                    del.raw_config = as_version(&del.raw_config, "1.0.0");
                    ipam::delegate(&del, Command::Del, ipam::DEFAULT_TIMEOUT).await?;
                }
                other => {
                    other?;
                }
            }
        }
    }
    Ok(())
}

fn status(inv: &Invocation) -> Result<(), CniError> {
    let cx = Context::new(inv)?;
    let unavailable = |msg: String| CniError::new(code::PLUGIN_NOT_AVAILABLE, msg);
    let runtime = Runtime::new(Some(Cache::new(cx.cache_dir()?)))
        .map_err(|e| unavailable(format!("{e:#}")))?;
    load_guest(&runtime, &cx.config().guest).map_err(|e| unavailable(e.msg))?;
    if let Some(ipam) = cx.config().ipam() {
        ipam::find_plugin(&ipam.r#type, &inv.path).map_err(|e| unavailable(e.msg))?;
    }
    Ok(())
}

/// IPAM behind `cni.ipam-*`: the configured plugin, run with the CNI
/// call's environment and configuration. It remembers an allocation so
/// that a failed ADD gives it back.
///
/// An allocator that only keeps books (`host-local`, `static`) is started
/// as soon as the call is read, in parallel with loading the guest, and
/// the guest's `ipam-add` (or `ipam-del`) gets its answer: its few
/// milliseconds are then no longer added to the guest's. Others (`dhcp`
/// needs the container's interface to exist) run when the guest asks.
struct Ipam {
    inv: Invocation,
    early: Mutex<Option<Early>>,
    added: Mutex<bool>,
    /// IPAM DEL succeeded in this call.
    released: Mutex<bool>,
}

/// IPAM plugins that allocate from their own books and touch no interface:
/// safe to run before the guest has made anything.
const BOOKKEEPING_IPAM: [&str; 2] = ["host-local", "static"];

/// An IPAM call started before the guest asked for it.
struct Early {
    command: Command,
    task: tokio::task::JoinHandle<Result<Option<rscni_types::types::CNIResult>, CniError>>,
}

type IpamAnswer = Result<Option<rscni_types::types::CNIResult>, CniError>;

fn flag(m: &Mutex<bool>) -> std::sync::MutexGuard<'_, bool> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Ipam {
    /// Starts IPAM `command` now if the configured plugin only keeps books.
    async fn start_early(&self, command: Command) {
        let bookkeeping = self
            .inv
            .config
            .as_ref()
            .and_then(|c| c.ipam())
            .is_some_and(|i| BOOKKEEPING_IPAM.contains(&i.r#type.as_str()));
        if !bookkeeping {
            return;
        }
        let inv = self.inv.clone();
        let task =
            tokio::spawn(async move { ipam::delegate(&inv, command, ipam::DEFAULT_TIMEOUT).await });
        *self.early.lock().unwrap_or_else(|e| e.into_inner()) = Some(Early { command, task });
        // Let the task spawn the plugin and hand it its configuration
        // before this thread turns to loading the guest.
        tokio::task::yield_now().await;
    }

    /// Runs IPAM `command`: the early call's answer if it was that
    /// command; otherwise an early call of another command is waited for
    /// first (its effect noted), then `command` runs.
    async fn call(&self, command: Command) -> IpamAnswer {
        let early = self.early.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(early) = early {
            let answer = join(early.task).await;
            self.note(early.command, &answer);
            if early.command == command {
                return answer;
            }
        }
        let answer = ipam::delegate(&self.inv, command, ipam::DEFAULT_TIMEOUT).await;
        self.note(command, &answer);
        answer
    }

    fn note(&self, command: Command, answer: &IpamAnswer) {
        match (command, answer) {
            (Command::Add, Ok(_)) => *flag(&self.added) = true,
            (Command::Del, Ok(_)) => {
                *flag(&self.added) = false;
                *flag(&self.released) = true;
            }
            _ => {}
        }
    }

    /// After a failed ADD: gives back whatever was allocated, early or not.
    async fn release_if_added(&self) {
        let early = self.early.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(early) = early {
            let answer = join(early.task).await;
            self.note(early.command, &answer);
        }
        if std::mem::take(&mut *flag(&self.added)) {
            let _ = ipam::delegate(&self.inv, Command::Del, ipam::DEFAULT_TIMEOUT).await;
        }
    }

    /// After a successful ADD: an early allocation the guest never asked
    /// for is given back; one it took stays.
    async fn release_unclaimed(&self) {
        let early = self.early.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(early) = early
            && join(early.task).await.is_ok()
            && early.command == Command::Add
        {
            let _ = ipam::delegate(&self.inv, Command::Del, ipam::DEFAULT_TIMEOUT).await;
        }
    }

    /// DEL's last step: IPAM DEL, unless this call already did it (the
    /// guest's `ipam-del`, or the early one). IPAM DEL is idempotent, so a
    /// DEL of an ADD that never reached IPAM, or a second DEL, releases
    /// nothing.
    async fn release(&self) -> Result<(), CniError> {
        if *flag(&self.released) {
            return Ok(());
        }
        self.call(Command::Del).await.map(|_| ())
    }
}

/// The answer of an early IPAM task (a task that panicked is a host bug,
/// reported as an I/O failure rather than unwinding here).
async fn join(task: tokio::task::JoinHandle<IpamAnswer>) -> IpamAnswer {
    task.await
        .unwrap_or_else(|e| Err(CniError::io(format!("ipam: {e}"))))
}

fn ipam_error(e: CniError) -> OpError {
    OpError::new(
        crate::error::ErrorKind::Kernel,
        format!("IPAM: {} (CNI error {})", e.msg, e.code),
    )
}

#[async_trait]
impl IpamDelegate for Ipam {
    async fn add(&self) -> Result<v::CniResult, OpError> {
        let r = self.call(Command::Add).await.map_err(ipam_error)?;
        Ok(r.map(|r| from_attach(AttachResult::from(r)))
            .unwrap_or_default())
    }

    async fn del(&self) -> Result<(), OpError> {
        self.call(Command::Del)
            .await
            .map(|_| ())
            .map_err(ipam_error)
    }

    async fn check(&self) -> Result<(), OpError> {
        self.call(Command::Check)
            .await
            .map(|_| ())
            .map_err(ipam_error)
    }
}

/// `config` with another `cniVersion` (and no GC-only keys).
fn as_version(config: &[u8], version: &str) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(config) else {
        return config.to_vec();
    };
    if let Some(o) = v.as_object_mut() {
        o.insert("cniVersion".into(), version.into());
        o.remove("cni.dev/valid-attachments");
    }
    serde_json::to_vec(&v).unwrap_or_else(|_| config.to_vec())
}

fn describe(a: &Attachment) -> String {
    format!("{}/{}/{}", a.network, a.container_id, a.ifname)
}

fn open_error(a: &Attachment, e: OpenError) -> CniError {
    match e {
        OpenError::LabUp(holds) => CniError::new(
            code::ATTACHMENT_EXISTS,
            format!("attachment {} exists ({holds}); DEL it first", describe(a)),
        ),
        OpenError::ReplaceIncomplete => CniError::new(
            code::TRY_AGAIN_LATER,
            format!(
                "attachment {}: its old state could not be removed",
                describe(a)
            ),
        ),
        OpenError::Other(e) => CniError::new(code::TRY_AGAIN_LATER, format!("{e:#}")),
    }
}

fn failure_text(f: crate::error::Failure) -> String {
    match f {
        crate::error::Failure::Op(e) => e.message,
        crate::error::Failure::Trap(e) => format!("{e:#}"),
    }
}

/// The CNI error for a guest run that did not succeed.
fn outcome_error(outcome: &Outcome, end: &anyhow::Result<End>) -> CniError {
    let rolled = match end {
        Ok(End::RolledBack(r)) if !r.is_complete() => {
            format!("; rollback incomplete: {}", r.summary())
        }
        Err(e) => format!("; closing the run failed: {e:#}"),
        _ => String::new(),
    };
    let (code, msg) = match outcome {
        Outcome::Success => (
            code::GUEST_FAILED,
            "the run could not be closed".to_string(),
        ),
        Outcome::GuestError(m) => (code::GUEST_FAILED, format!("the guest failed: {m}")),
        Outcome::Exited(s) => (
            code::GUEST_FAILED,
            format!("the guest exited with status {s}"),
        ),
        Outcome::Limit(hit) => (code::GUEST_FAILED, hit.to_string()),
        Outcome::Trap(m) => (code::GUEST_FAILED, m.clone()),
        Outcome::HostError(e) => (code::IO_FAILURE, format!("{e:#}")),
        Outcome::Cancelled(sig) => (code::TRY_AGAIN_LATER, format!("interrupted by {sig}")),
    };
    CniError::new(code, format!("{msg}{rolled}"))
}

fn from_attach(r: AttachResult) -> v::CniResult {
    v::CniResult {
        interfaces: r
            .interfaces
            .into_iter()
            .map(|i| v::CniInterface {
                name: i.name,
                mac: i.mac,
                sandbox: i.sandbox.map(|p| p.display().to_string()),
            })
            .collect(),
        ips: r
            .ips
            .into_iter()
            .map(|ip| v::CniIp {
                address: ip.address.to_string(),
                gateway: ip.gateway.map(|g| g.to_string()),
                interface: ip.interface,
            })
            .collect(),
        routes: r
            .routes
            .into_iter()
            .map(|rt| v::CniRoute {
                dst: rt.dst.to_string(),
                gw: rt.gw.map(|g| g.to_string()),
            })
            .collect(),
        dns: Some(v::CniDns {
            nameservers: r.dns.nameservers,
            domain: r.dns.domain,
            search: r.dns.search,
            options: r.dns.options,
        })
        .filter(|d| {
            !(d.nameservers.is_empty()
                && d.domain.is_none()
                && d.search.is_empty()
                && d.options.is_empty())
        }),
    }
}

/// The guest's result as the protocol layer writes it; what the guest
/// wrote that does not parse is its error (code 100), not ours.
fn to_attach(r: v::CniResult) -> Result<AttachResult, CniError> {
    let bad = |what: &str, v: &str| {
        CniError::new(
            code::GUEST_FAILED,
            format!("the guest's result: {what} {v:?} does not parse"),
        )
    };
    let mut out = AttachResult::default();
    for i in r.interfaces {
        out.interfaces.push(output::ResultInterface {
            name: i.name,
            mac: i.mac,
            sandbox: i.sandbox.map(PathBuf::from),
            mtu: None,
        });
    }
    for ip in r.ips {
        out.ips.push(output::ResultIp {
            address: ip
                .address
                .parse()
                .map_err(|_| bad("address", &ip.address))?,
            gateway: match &ip.gateway {
                Some(g) => Some(g.parse().map_err(|_| bad("gateway", g))?),
                None => None,
            },
            interface: ip.interface,
        });
    }
    for rt in r.routes {
        out.routes.push(output::ResultRoute {
            dst: rt.dst.parse().map_err(|_| bad("route", &rt.dst))?,
            gw: match &rt.gw {
                Some(g) => Some(g.parse().map_err(|_| bad("gateway", g))?),
                None => None,
            },
        });
    }
    if let Some(d) = r.dns {
        out.dns = output::ResultDns {
            nameservers: d.nameservers,
            domain: d.domain,
            search: d.search,
            options: d.options,
        };
    }
    Ok(out)
}
