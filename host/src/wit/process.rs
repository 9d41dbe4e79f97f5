//! `netwasm:lab/process`.

use wasmtime::component::Resource;

use super::bindings::netwasm::lab::process::{
    Command, ExitStatus as WitExit, Host, HostProcess, Output, Signal as WitSignal,
};
use super::{LabView, NsHandle, ProcHandle};
use crate::error::{Failure, HostResult};
use crate::lab::{StartSpec, Which};
use crate::vocab::process::{ExitStatus, Signal};

impl From<ExitStatus> for WitExit {
    fn from(s: ExitStatus) -> Self {
        match s {
            ExitStatus::Exited(c) => WitExit::Exited(c),
            ExitStatus::Signaled(n) => WitExit::Signaled(n),
        }
    }
}

impl From<WitSignal> for Signal {
    fn from(s: WitSignal) -> Self {
        match s {
            WitSignal::Term => Signal::Term,
            WitSignal::Kill => Signal::Kill,
            WitSignal::Int => Signal::Int,
            WitSignal::Hup => Signal::Hup,
            WitSignal::Usr1 => Signal::Usr1,
            WitSignal::Usr2 => Signal::Usr2,
        }
    }
}

impl LabView<'_> {
    fn proc_key(&self, r: &Resource<ProcHandle>) -> HostResult<crate::lab::ProcKey> {
        Ok(self.table.get(r).map_err(|e| Failure::Trap(e.into()))?.key)
    }

    fn read(&mut self, r: &Resource<ProcHandle>, which: Which) -> wasmtime::Result<Output> {
        let key = self.proc_key(r).map_err(as_trap)?;
        let t = self.lab().proc_read(key, which).map_err(as_trap)?;
        Ok(Output {
            data: t.data,
            dropped: t.dropped,
            closed: t.closed,
        })
    }
}

/// A lab failure in a call that returns no `error`: the host's.
fn as_trap(e: Failure) -> wasmtime::Error {
    match e {
        Failure::Trap(e) => wasmtime::Error::new(crate::error::HostFailure(e)),
        Failure::Op(e) => wasmtime::Error::new(crate::error::HostFailure(e.into())),
    }
}

impl HostProcess for LabView<'_> {
    async fn pid(&mut self, p: Resource<ProcHandle>) -> wasmtime::Result<u32> {
        let key = self.proc_key(&p).map_err(as_trap)?;
        self.lab().proc_pid(key).map_err(as_trap)
    }

    async fn read_stdout(&mut self, p: Resource<ProcHandle>) -> wasmtime::Result<Output> {
        self.read(&p, Which::Stdout)
    }

    async fn read_stderr(&mut self, p: Resource<ProcHandle>) -> wasmtime::Result<Output> {
        self.read(&p, Which::Stderr)
    }

    async fn wait(
        &mut self,
        p: Resource<ProcHandle>,
        timeout_ms: u32,
    ) -> HostResult<Option<WitExit>> {
        let key = self.proc_key(&p)?;
        Ok(self.lab().proc_wait(key, timeout_ms).await?.map(Into::into))
    }

    async fn signal(&mut self, p: Resource<ProcHandle>, sig: WitSignal) -> HostResult<()> {
        let key = self.proc_key(&p)?;
        self.lab().proc_signal(key, sig.into()).await
    }

    async fn drop(&mut self, p: Resource<ProcHandle>) -> wasmtime::Result<()> {
        if let Ok(h) = self.table.get(&p) {
            let key = h.key;
            self.lab().proc_forget(key);
        }
        self.drop_handle(p)
    }
}

impl Host for LabView<'_> {
    async fn start(
        &mut self,
        ns: Resource<NsHandle>,
        cmd: Command,
    ) -> HostResult<Resource<ProcHandle>> {
        let ns = self.ns_name(&ns)?;
        let spec = StartSpec {
            argv: cmd.argv,
            env: cmd.env,
            stdin: cmd.stdin,
        };
        // A guest that could not hold the handle is stopped before the
        // program starts, as `push_ns` stops it for a namespace after.
        self.check_handle_room(1)?;
        let key = self.lab().proc_start(&ns, spec).await?;
        self.count_handle()?;
        let pushed = self.table.push(ProcHandle { key });
        pushed.map_err(|e| self.table_full(e))
    }
}
