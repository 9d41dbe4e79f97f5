//! Programs: start one in a namespace of the lab, read its output, wait
//! for it, signal it; and stop those of a namespace before it is deleted.
//!
//! A program is journaled (with the cgroup that will hold it) before it
//! runs, and its pid and start time right after, before the guest hears
//! of it; see `kernel::process` for how it is confined. Its stdout and
//! stderr are files in the lab's state directory (`programs/NAME.out`,
//! `.err`, named after its cgroup), which the guest reads on from where
//! it stopped.

use std::time::Duration;

use serde_json::json;

use super::gate::Quota;
use super::{Lab, desc_ns};
use crate::error::{Failure, HostResult, OpError};
use crate::kernel::process::{self, Cgroup, Running, Spawn};
use crate::ledger::Entry;
use crate::vocab::Operation;
use crate::vocab::process::{ExitStatus, Signal, command_line};

/// The most stdin a guest may hand a program.
const MAX_STDIN: usize = 1 << 20;
/// The longest argument or environment string (`NAME=value`) a guest may
/// pass: the kernel's own `MAX_ARG_STRLEN` (32 pages), NUL included.
const MAX_ARG: usize = 128 << 10;
/// The most argv and environment may hold in all (each string with its
/// NUL): checked before anything is journaled or forked, where the kernel
/// would refuse it only at exec (`E2BIG`), after the host has copied it.
const MAX_ARGS_TOTAL: usize = 1 << 20;
/// The longest a `wait` may block.
const MAX_WAIT_MS: u32 = 60_000;

/// A program a guest started, by the key its handle holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcKey(u64);

pub(super) struct ProcEntry {
    ns: String,
    cgroup: Cgroup,
    running: Running,
    /// Whether its end is journaled (and its cgroup removed).
    ended: bool,
}

/// Which output stream.
#[derive(Debug, Clone, Copy)]
pub enum Which {
    Stdout,
    Stderr,
}

/// One read of a program's output.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Taken {
    pub data: Vec<u8>,
    /// Always 0: nothing the program wrote to its log is skipped. (What
    /// it wrote past `[quotas] program-log` never reached the log: the
    /// write failed with `EFBIG`, which only the program saw.)
    pub dropped: u64,
    /// The program has ended, nothing is left in its cgroup to write, and
    /// everything was read.
    pub closed: bool,
}

/// What a guest asks to start.
pub struct StartSpec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub stdin: Option<Vec<u8>>,
}

/// Refuses what the kernel could not pass on: NUL in an argument or the
/// environment, a name that is empty or holds `=`, a string or argv and
/// environment in all past `MAX_ARG` and `MAX_ARGS_TOTAL`, too much stdin.
fn check_spec(spec: &StartSpec) -> Result<(), OpError> {
    let Some(program) = spec.argv.first() else {
        return Err(OpError::invalid("start program: argv is empty"));
    };
    let what = format!("start program {:?}", crate::vocab::text::clip(program, 256));
    let sizes = spec
        .argv
        .iter()
        .map(|a| a.len() + 1)
        .chain(spec.env.iter().map(|(k, v)| k.len() + v.len() + 2));
    let mut total = 0usize;
    for (i, size) in sizes.enumerate() {
        if size > MAX_ARG {
            let which = match i.checked_sub(spec.argv.len()) {
                None => format!("argument {i}"),
                Some(e) => format!("environment entry {e}"),
            };
            return Err(OpError::invalid(format!(
                "{what}: {which} is {size} bytes, longer than {MAX_ARG} (128KiB)"
            )));
        }
        total += size;
    }
    if total > MAX_ARGS_TOTAL {
        return Err(OpError::invalid(format!(
            "{what}: argv and environment hold {total} bytes, more than {MAX_ARGS_TOTAL} (1MiB)"
        )));
    }
    if let Some((i, _)) = spec.argv.iter().enumerate().find(|(_, a)| a.contains('\0')) {
        return Err(OpError::invalid(format!("{what}: argument {i} holds NUL")));
    }
    for (k, v) in &spec.env {
        if k.is_empty() || k.contains(['=', '\0']) {
            return Err(OpError::invalid(format!(
                "{what}: environment name {k:?} is empty or holds '=' or NUL"
            )));
        }
        if v.contains('\0') {
            return Err(OpError::invalid(format!(
                "{what}: the value of {k:?} holds NUL"
            )));
        }
    }
    if spec.stdin.as_ref().is_some_and(|s| s.len() > MAX_STDIN) {
        return Err(OpError::invalid(format!(
            "{what}: stdin is longer than 1MiB"
        )));
    }
    Ok(())
}

impl Lab {
    fn program(&self, key: ProcKey) -> HostResult<&ProcEntry> {
        self.processes
            .get(&key)
            .ok_or_else(|| Failure::Trap(anyhow::anyhow!("program handle {key:?} has no program")))
    }

    fn program_mut(&mut self, key: ProcKey) -> HostResult<&mut ProcEntry> {
        self.processes
            .get_mut(&key)
            .ok_or_else(|| Failure::Trap(anyhow::anyhow!("program handle {key:?} has no program")))
    }

    pub async fn proc_start(&mut self, ns: &str, spec: StartSpec) -> HostResult<ProcKey> {
        let args = json!({ "ns": ns, "argv": spec.argv, "env": spec.env.len() });
        self.op(Operation::ProcessStart, args, async |lab| {
            check_spec(&spec)?;
            let program = &spec.argv[0];
            let what = format!("start program {program:?} in {}", desc_ns(ns));
            let cmd = lab.policy.check_exec(program)?.clone();
            lab.check_builds_in(ns, &what)?;
            lab.gate.room(Quota::Processes, 1, &what)?;
            let (uid, gid) = lab.policy.exec.user.ids.ok_or_else(|| {
                OpError::denied(format!(
                    "{what}: [exec] user {:?} was not looked up",
                    lab.policy.exec.user.name
                ))
            })?;
            let id = lab.ns_id(ns)?;
            let fd = lab
                .kernel
                .ns_fd(id)
                .map_err(|e| Self::kernel_err(what.clone(), e))?;
            process::cgroup_root().map_err(|e| Self::kernel_err(what.clone(), e))?;
            let (state, lab_name) = lab.program_logs.clone().ok_or_else(|| {
                Failure::Trap(anyhow::anyhow!(
                    "{what}: this session has no state directory to keep the program's output in"
                ))
            })?;
            lab.next_proc += 1;
            let rel = process::cgroup_name(&lab_name, lab.next_proc);
            lab.journal_room(&what, 3)?;
            lab.record(Entry::ProcessStart {
                ns: ns.to_string(),
                cgroup: rel.clone(),
                command: command_line(&spec.argv),
            })?;
            let max_tasks = lab.policy.exec.max_tasks;
            let cgroup = match Cgroup::create(&rel, max_tasks) {
                Ok(c) => c,
                Err(e) => {
                    lab.record(Entry::Abort)?;
                    return Err(Self::kernel_err(format!("{what}: make cgroup {rel}"), e));
                }
            };
            let [stdout, stderr] = match state.create_program_logs(&lab_name, &rel) {
                Ok(files) => files,
                Err(e) => {
                    let _ = cgroup.remove();
                    lab.record(Entry::Abort)?;
                    return Err(Failure::Trap(e.context(format!("{what}: make its logs"))));
                }
            };
            // argv[0] is the name the policy lists, as found, whatever the
            // guest wrote: a multi-call binary (busybox) picks what it runs
            // by argv[0], and the guest naming it by its resolved path
            // (`/bin/busybox` for a listed `wget`) must not pick `sh`.
            let mut argv = spec.argv.clone();
            argv[0] = cmd.found.to_string_lossy().into_owned();
            let run = Spawn {
                program: cmd.path.clone(),
                argv,
                env: spec.env.clone(),
                stdin: spec.stdin.clone(),
                uid,
                gid,
                stdout,
                stderr,
                file_size: lab.policy.quotas.program_log,
                max_tasks,
            };
            let running = match process::spawn(fd, &cgroup, run) {
                Ok(r) => r,
                Err(e) => {
                    // Past the fork something may run (spawn kills it, but
                    // it takes a moment to go): stopped and its cgroup gone
                    // before the journal says it never started. Otherwise
                    // the start stays journaled, for `down` to stop.
                    let stop = [process::Stop {
                        cgroup: cgroup.clone(),
                    }];
                    if let Some(Err(s)) = process::stop_all(&stop).await.pop() {
                        return Err(Failure::Trap(anyhow::anyhow!(
                            "{what}: {e}; and what it started could not be stopped: {s}"
                        )));
                    }
                    let _ = state.remove_program_logs(&lab_name, &rel);
                    lab.record(Entry::Abort)?;
                    return Err(Self::kernel_err(what, e));
                }
            };
            lab.gate.usage.add(Quota::Processes, 1);
            lab.record(Entry::ProcessPid {
                cgroup: rel,
                pid: running.pid,
                start: running.start,
            })?;
            lab.next_proc_key += 1;
            let key = ProcKey(lab.next_proc_key);
            lab.processes.insert(
                key,
                ProcEntry {
                    ns: ns.to_string(),
                    cgroup,
                    running,
                    ended: false,
                },
            );
            Ok(key)
        })
        .await
    }

    pub fn proc_pid(&self, key: ProcKey) -> HostResult<u32> {
        Ok(self.program(key)?.running.pid)
    }

    /// Reads what the program wrote to `which` since the last read: at
    /// most `[quotas] process-output` bytes, the rest left for the next.
    pub fn proc_read(&mut self, key: ProcKey, which: Which) -> HostResult<Taken> {
        let max = self.policy.quotas.process_output;
        let p = self.program_mut(key)?;
        let pid = p.running.pid;
        let trap = |e: std::io::Error| {
            Failure::Trap(anyhow::anyhow!("read the output of program {pid}: {e}"))
        };
        // Looked at before reading: whatever is written after the read
        // began is not there yet, and once nothing runs nothing comes.
        let done = p.running.ended().map_err(trap)? && p.cgroup.members().is_empty();
        let log = match which {
            Which::Stdout => &mut p.running.stdout,
            Which::Stderr => &mut p.running.stderr,
        };
        let (data, at_end) = log.read_new(max).map_err(trap)?;
        Ok(Taken {
            data,
            dropped: 0,
            closed: done && at_end,
        })
    }

    pub async fn proc_wait(
        &mut self,
        key: ProcKey,
        timeout_ms: u32,
    ) -> HostResult<Option<ExitStatus>> {
        let pid = self.program(key)?.running.pid;
        let args = json!({ "pid": pid, "timeout_ms": timeout_ms });
        self.op(Operation::ProcessWait, args, async |lab| {
            if timeout_ms > MAX_WAIT_MS {
                return Err(OpError::invalid(format!(
                    "wait for program {pid}: timeout {timeout_ms} ms is longer than {MAX_WAIT_MS} ms"
                ))
                .into());
            }
            let p = lab.program_mut(key)?;
            let status = p
                .running
                .wait(Duration::from_millis(timeout_ms.into()))
                .await
                .map_err(|e| Self::kernel_err(format!("wait for program {pid}"), e))?;
            if status.is_some() {
                lab.note_ended(key)?;
            }
            Ok(status)
        })
        .await
    }

    /// Journals the end of a program that ended with nothing left in its
    /// cgroup, and removes the cgroup: it is no longer the lab's to stop.
    /// One that left something running stays recorded.
    fn note_ended(&mut self, key: ProcKey) -> HostResult<()> {
        let p = self.program_mut(key)?;
        if p.ended || !p.cgroup.members().is_empty() || p.cgroup.remove().is_err() {
            return Ok(());
        }
        p.ended = true;
        let cgroup = p.cgroup.rel.clone();
        self.record(Entry::ProcessEnd { cgroup })
    }

    pub async fn proc_signal(&mut self, key: ProcKey, sig: Signal) -> HostResult<()> {
        let pid = self.program(key)?.running.pid;
        let args = json!({ "pid": pid, "signal": sig.as_str() });
        self.op(Operation::ProcessSignal, args, async |lab| {
            let p = lab.program_mut(key)?;
            p.running.signal(sig.number()).map_err(|e| {
                if e.raw_os_error() == Some(libc::ESRCH) {
                    OpError::not_found(format!(
                        "send SIG{} to program {pid}: it has ended",
                        sig.as_str()
                    ))
                    .into()
                } else {
                    Self::kernel_err(format!("send SIG{} to program {pid}", sig.as_str()), e)
                }
            })
        })
        .await
    }

    /// The guest let go of its handle: the program runs on, writing to its
    /// logs. Its entry stays (unreachable by the guest) unless its end is
    /// journaled: `stop_programs_in` must still find it, or the namespace
    /// would be deleted under it and kept alive by it until `down`.
    pub fn proc_forget(&mut self, key: ProcKey) {
        if self.processes.get(&key).is_some_and(|p| p.ended) {
            self.processes.remove(&key);
        }
    }

    /// Stops every program the lab started in `ns` (with all it started),
    /// before the namespace is deleted: they hold it alive, name or not.
    pub(super) async fn stop_programs_in(&mut self, ns: &str) -> HostResult<()> {
        let keys: Vec<ProcKey> = self
            .processes
            .iter()
            .filter(|(_, p)| p.ns == ns && !p.ended)
            .map(|(k, _)| *k)
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        let stops: Vec<process::Stop> = keys
            .iter()
            .map(|k| {
                let p = &self.processes[k];
                process::Stop {
                    cgroup: p.cgroup.clone(),
                }
            })
            .collect();
        let results = process::stop_all(&stops).await;
        for (key, r) in keys.into_iter().zip(results) {
            if let Err(e) = r {
                return Err(Failure::Trap(anyhow::anyhow!(
                    "could not stop the programs of {} before deleting it: {e}",
                    desc_ns(ns)
                )));
            }
            let p = self.program_mut(key)?;
            p.ended = true;
            // Reaped now, or by tokio's orphan reaper once the entry goes.
            let _ = p.running.wait(Duration::ZERO).await;
            let cgroup = p.cgroup.rel.clone();
            self.record(Entry::ProcessEnd { cgroup })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn spec(argv: Vec<String>, env: Vec<(String, String)>) -> StartSpec {
        StartSpec {
            argv,
            env,
            stdin: None,
        }
    }

    #[test]
    fn argv_and_environment_are_bounded_before_anything_is_built() {
        let ok = spec(vec!["echo".into(), "x".repeat(MAX_ARG - 1)], vec![]);
        assert!(check_spec(&ok).is_ok());
        let long_arg = spec(vec!["echo".into(), "x".repeat(MAX_ARG)], vec![]);
        let e = check_spec(&long_arg).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(
            e.message.contains("argument 1") && e.message.contains("128KiB"),
            "{}",
            e.message
        );
        let long_env = spec(vec!["echo".into()], vec![("A".into(), "x".repeat(MAX_ARG))]);
        let e = check_spec(&long_env).unwrap_err();
        assert!(e.message.contains("environment entry 0"), "{}", e.message);
        let many = spec(
            vec!["echo".into(); 9],
            vec![("A".into(), "x".repeat(MAX_ARG - 3)); 8],
        );
        let e = check_spec(&many).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(e.message.contains("1MiB"), "{}", e.message);
    }
}
