//! The WebAssembly side of a run: the engine, loading and checking a guest,
//! and calling its `run` inside its limits (or, for a CNI plugin, one of
//! its `add`, `del`, `check`: see [`plugin`]).

pub mod cache;
mod classify;
pub mod imports;
pub mod incremental;
pub mod limiter;
pub mod plugin;

pub mod stdio;
pub mod store_limits;

use std::future::Future;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use wasmtime::component::{Component, Linker, ResourceTable, types::ComponentItem};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::lab::Lab;
use crate::policy::Limits;
use crate::wit::{LabState, LabView, bindings};

use self::cache::Cache;
use self::limiter::Limiter;
use self::stdio::{GuestOutput, Which};
use self::store_limits::StoreLimits;
use crate::error::HostFailure;
use crate::vocab::limit::LimitHit;

/// How often the epoch advances: the granularity of deadlines and of
/// cancelling a guest stuck in a loop.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Deep enough for real programs, and the recursion-bomb guard.
pub(crate) const MAX_WASM_STACK: usize = 1 << 20;

/// A guest the user gave us that cannot be run, and why. Each is the
/// guest's fault, not the host's.
#[derive(Debug)]
pub struct BadGuest(pub String);

impl std::fmt::Display for BadGuest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadGuest {}

/// A guest refused by the sandbox before it starts (a forbidden import).
#[derive(Debug)]
pub struct RefusedGuest(pub String);

impl std::fmt::Display for RefusedGuest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefusedGuest {}

pub struct Runtime {
    engine: Engine,
    /// The linker for lab scripts (world `lab`). Each linker is built on
    /// first use: a process serves one world (`netwasm-cni` only plugins),
    /// and building one costs a third of a millisecond.
    linker: OnceLock<Linker<RunState>>,
    /// The linker for CNI plugins (world `plugin`): WASI, the shared lab
    /// interfaces and `cni`, but not `verify` or `batch`.
    plugin_linker: OnceLock<Linker<RunState>>,
    cache: Option<Cache>,
}

/// A loaded, checked guest.
pub struct Guest {
    pub component: Component,
    pub origin: cache::Origin,
    pub imports: Vec<String>,
    pub pre: bindings::LabPre<RunState>,
}

/// What a component imports and exports.
pub struct Inspected {
    pub component: Component,
    pub origin: cache::Origin,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    /// Whether it exports a function called `run`.
    pub has_run: bool,
    /// Its size in bytes.
    pub size: usize,
}

/// Everything a guest's store holds.
pub struct RunState {
    wasi: WasiCtx,
    table: ResourceTable,
    lab: LabState,
    limiter: Limiter,
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    /// `run` returned `ok`.
    Success,
    /// `run` returned `err` with this message.
    GuestError(String),
    /// The guest called WASI `exit` with this non-zero status (`exit(0)`
    /// is a [`Outcome::Success`]).
    Exited(i32),
    /// The guest hit a hard limit.
    Limit(LimitHit),
    /// The guest trapped (a panic, an invalid handle, ...): the message.
    Trap(String),
    /// The host failed; not the guest's doing.
    HostError(anyhow::Error),
    /// Cancelled from outside (a signal), with its name.
    Cancelled(&'static str),
}

impl Runtime {
    pub fn new(cache: Option<Cache>) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .consume_fuel(true)
            // One memory per core module, as the component model's own
            // toolchains emit: several memories per module only multiply
            // what one instance can take (the memory limit counts them
            // all the same). Shared memories, which wasmtime does not
            // account to the store's limiter, stay off (the default,
            // and the "threads" feature is not built).
            .wasm_multi_memory(false)
            .shared_memory(false)
            .max_wasm_stack(MAX_WASM_STACK);
        if let Some(store) = cache.as_ref().and_then(Cache::incremental) {
            // A guest that differs from one compiled before only in some
            // functions (a Python or JavaScript guest whose script
            // changed) compiles only those.
            config.enable_incremental_compilation(store)?;
        }
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("cannot configure the WebAssembly engine")?;
        if let Some(cache) = &cache {
            cache.bind(&engine);
        }
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("netwasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .context("cannot start the epoch thread")?;
        Ok(Self {
            engine,
            linker: OnceLock::new(),
            plugin_linker: OnceLock::new(),
            cache,
        })
    }

    /// The linker for world `lab`, built on first use.
    fn linker(&self) -> anyhow::Result<&Linker<RunState>> {
        built(&self.linker, || {
            let mut linker = Linker::new(&self.engine);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
            crate::wit::add_to_linker(&mut linker, lab_view)?;
            Ok(linker)
        })
    }

    /// The linker for world `plugin`, built on first use.
    fn plugin_linker(&self) -> anyhow::Result<&Linker<RunState>> {
        built(&self.plugin_linker, || {
            let mut linker = Linker::new(&self.engine);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
            crate::wit::plugin::add_to_linker(&mut linker, lab_view)?;
            Ok(linker)
        })
    }

    /// Reads and compiles (or loads from cache) the component at `path`,
    /// and lists what it imports and exports, without judging it.
    pub fn inspect(&self, path: &Path) -> anyhow::Result<Inspected> {
        let shown = path.display();
        let wasm =
            std::fs::read(path).map_err(|e| BadGuest(format!("{shown}: cannot read: {e}")))?;
        self.inspect_bytes(&shown.to_string(), &wasm)
    }

    /// [`Runtime::inspect`] of a component already in memory (a guest
    /// that ships inside netwasm), shown in messages as `shown`.
    pub fn inspect_bytes(&self, shown: &str, wasm: &[u8]) -> anyhow::Result<Inspected> {
        check_header(wasm, shown)?;
        let (component, origin) = match &self.cache {
            Some(cache) => cache.load(&self.engine, wasm),
            None => Component::new(&self.engine, wasm)
                .map(|c| (c, cache::Origin::Uncached))
                .map_err(anyhow::Error::from),
        }
        .map_err(|e| {
            BadGuest(format!(
                "{shown}: not a valid WebAssembly component: {}",
                one_line(&e)
            ))
        })?;
        let ty = component.component_type();
        let imports = ty
            .imports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        let exports = ty
            .exports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        let has_run = matches!(
            ty.get_export(&self.engine, "run").map(|e| e.ty),
            Some(ComponentItem::ComponentFunc(_))
        );
        Ok(Inspected {
            component,
            origin,
            imports,
            exports,
            has_run,
            size: wasm.len(),
        })
    }

    /// Reads, checks and compiles (or loads from cache) the guest at `path`:
    /// refuses it, before anything runs, if it imports what netwasm does not
    /// provide or is not of world netwasm:lab/lab.
    pub fn load(&self, path: &Path) -> anyhow::Result<Guest> {
        let i = self.inspect(path)?;
        self.accept(&path.display().to_string(), i)
    }

    /// [`Runtime::load`]'s checks on a component already inspected (so
    /// that `check`, which shows what it imports first, compiles it once).
    pub fn accept(&self, shown: &str, i: Inspected) -> anyhow::Result<Guest> {
        // First, before the allow-list (which refuses other versions) and
        // the linker (which, for a later patch, names a missing function):
        // a guest for another netwasm says so in one line.
        if let Some(why) = imports::version_mismatch(i.imports.iter().map(String::as_str)) {
            return Err(BadGuest(format!("{shown} cannot run on this netwasm: {why}")).into());
        }
        if let Some(bad) = imports::first_disallowed(i.imports.iter().map(String::as_str)) {
            return Err(RefusedGuest(format!(
                "{shown} imports `{bad}`, which netwasm does not provide to guests (allowed: {})",
                imports::describe()
            ))
            .into());
        }
        if !i.has_run {
            return Err(BadGuest(format!(
                "{shown} is not a netwasm lab: it does not export `run: func(args: list<string>) -> result<_, string>` of world netwasm:lab/lab (its exports: {})",
                if i.exports.is_empty() { "none".to_string() } else { i.exports.join(", ") }
            ))
            .into());
        }
        let pre = self
            .linker()?
            .instantiate_pre(&i.component)
            .and_then(bindings::LabPre::new)
            .map_err(|e| {
                BadGuest(format!(
                    "{shown} does not fit world netwasm:lab/lab: {}",
                    one_line(&e)
                ))
            })?;
        Ok(Guest {
            component: i.component,
            origin: i.origin,
            imports: i.imports,
            pre,
        })
    }

    /// Instantiates `guest` with `lab` and calls its `run`, within `limits`,
    /// until it returns or `cancel` resolves. Returns the lab back for
    /// whatever comes next (commit or rollback).
    pub async fn run(
        &self,
        guest: &Guest,
        lab: Lab,
        args: Vec<String>,
        limits: &Limits,
        output: &GuestOutput,
        cancel: impl Future<Output = &'static str>,
    ) -> (Outcome, Lab) {
        let (mut store, bounds, fuel_set) = self.new_store(lab_state(lab, output), limits, output);
        let call = async {
            fuel_set?;
            let instance = guest
                .pre
                .instantiate_async(&mut store)
                .await
                .map_err(instantiation_error)?;
            match instance.call_run(&mut store, &args).await {
                Ok(Ok(())) => {}
                Ok(Err(msg)) => return Ok(Outcome::GuestError(msg)),
                Err(e) => match e.downcast_ref::<I32Exit>() {
                    Some(I32Exit(0)) => {}
                    Some(I32Exit(status)) => return Ok(Outcome::Exited(*status)),
                    None => return Err(e),
                },
            }
            // Probing what the guest left pending is work done for it: it
            // runs within the deadline, and a signal interrupts it.
            store.data_mut().lab.lab.run_pending().await;
            Ok(Outcome::Success)
        };
        let outcome = race(call, limits, &bounds, output, cancel).await;
        let RunState { lab, .. } = store.into_data();
        (outcome, lab.lab)
    }

    /// A store for one guest, within `limits`: its WASI context (stdout and
    /// stderr to `output`, no network), memory and count limits, and the
    /// epoch deadline. The third value is whether setting the fuel worked,
    /// to be raised inside the call so that it is classified like the rest.
    fn new_store(
        &self,
        lab: LabState,
        limits: &Limits,
        output: &GuestOutput,
    ) -> (Store<RunState>, StoreLimits, wasmtime::Result<()>) {
        let wasi = WasiCtxBuilder::new()
            .stdout(output.stream(Which::Stdout))
            .stderr(output.stream(Which::Stderr))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            // The host allocates the bytes before the guest's memory takes
            // them: no more than the guest could hold.
            .max_random_size(limits.memory)
            .build();
        let bounds = StoreLimits::for_limits(limits);
        let state = RunState {
            wasi,
            table: bounds.table(),
            lab,
            limiter: Limiter::new(limits.memory),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        bounds.apply(&mut store);
        // Fuel is enabled on the engine: failing to set it is ours.
        let fuel_set = store
            .set_fuel(limits.fuel)
            .map_err(|e| wasmtime::Error::new(HostFailure(e.into())));
        // Yield to tokio at every epoch tick, so deadlines and signals are
        // honoured even while the guest spins.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        (store, bounds, fuel_set)
    }
}

/// The WIT host's view of a store.
fn lab_view(s: &mut RunState) -> LabView<'_> {
    LabView {
        table: &mut s.table,
        state: &mut s.lab,
    }
}

/// The store's lab state for `lab`, whose reachability matrix goes to
/// `output`: the guest decides how long the matrix is, so it is charged to
/// its output budget; one line says how many rows did not fit.
fn lab_state(lab: Lab, output: &GuestOutput) -> LabState {
    let output = output.clone();
    LabState::new(
        lab.on_checked(move |checked| output.report(&crate::lab::matrix_lines(checked), 2, "rows")),
    )
}

/// Runs a guest's `call` until it ends, the deadline passes or `cancel`
/// resolves, and says how it ended.
async fn race(
    call: impl Future<Output = wasmtime::Result<Outcome>>,
    limits: &Limits,
    bounds: &StoreLimits,
    output: &GuestOutput,
    cancel: impl Future<Output = &'static str>,
) -> Outcome {
    let deadline = tokio::time::sleep(limits.deadline);
    let outcome = tokio::select! {
        r = call => match r {
            Ok(outcome) => outcome,
            Err(e) => classify::classify(e, limits, bounds, output),
        },
        () = deadline => Outcome::Limit(LimitHit {
            limit: "deadline",
            value: format!("{:?}", limits.deadline),
            detail: "the run did not finish in time".into(),
        }),
        sig = cancel => Outcome::Cancelled(sig),
    };
    output.flush();
    outcome
}

/// What stopped the guest's instantiation, as [`classify`] should see it:
/// a count cap it hit is a limit; the system refusing the engine what it
/// needs to set the guest up (a memory image, a mapping: an OS error) is
/// netwasm's failure, not the guest's, whose memory the limiter has
/// already bounded; anything else (a trap in its start function, a data
/// segment out of bounds) is the guest's.
fn instantiation_error(e: wasmtime::Error) -> wasmtime::Error {
    if let Some(hit) = limiter::count_limit(&e) {
        return hit.into();
    }
    if e.downcast_ref::<LimitHit>().is_none() && e.is::<std::io::Error>() {
        let failure = anyhow::Error::from(e).context("cannot set the guest up");
        return wasmtime::Error::new(HostFailure(failure));
    }
    e
}

/// The first line of an error chain: traps carry multi-line backtraces.
pub fn one_line(e: &dyn std::fmt::Display) -> String {
    let full = format!("{e:#}");
    full.lines().next().unwrap_or_default().trim().to_string()
}

/// Checks the 8-byte header: wasm at all, and a component, not a module.
fn check_header(wasm: &[u8], shown: &str) -> Result<(), BadGuest> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err(BadGuest(format!(
            "{shown}: not a WebAssembly file (it does not start with the \\0asm header)"
        )));
    }
    // Bytes 6..8 are the layer: 0 for a core module, 1 for a component.
    if wasm[6..8] == [0, 0] {
        return Err(BadGuest(format!(
            "{shown}: a core WebAssembly module, not a component; build for wasm32-wasip2, or wrap it with `wasm-tools component new`"
        )));
    }
    Ok(())
}

/// What `cell` holds, built by `build` if it holds nothing yet.
/// (`OnceLock::get_or_try_init` is not stable.)
fn built<T>(cell: &OnceLock<T>, build: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<&T> {
    if let Some(v) = cell.get() {
        return Ok(v);
    }
    let v = build().context("cannot set up the guest's imports")?;
    Ok(cell.get_or_init(|| v))
}
