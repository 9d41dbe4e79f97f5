//! Namespaces: making, naming, opening and removing them on their threads
//! (see [`super::netns`]), and their forwarding switches.

use std::io;
use std::sync::atomic::Ordering;

use super::Netlink;
use crate::kernel::netns;
use crate::kernel::{CreateError, RecordFn};
use crate::vocab::{NsId, NsIdent, Removal};

/// `remove_all` starts a removal thread per this many names, up to
/// `MAX_REMOVAL_THREADS`.
const REMOVALS_PER_THREAD: usize = 64;
const MAX_REMOVAL_THREADS: usize = 16;

/// The error of a creation that `settle` stopped.
fn settled_error() -> io::Error {
    io::Error::other("the run is over: no more namespaces are made")
}

impl Netlink {
    /// Runs `job` for every name on that name's namespace thread: one job
    /// per thread, going through its share of the names in order, the
    /// threads working concurrently. A name's jobs thus run in the order
    /// they were sent, whatever call sent them. One result per name.
    async fn on_name_threads<T: Send + 'static>(
        &self,
        names: &[String],
        job: fn(&netns::NsThreadState, &str) -> io::Result<T>,
    ) -> Vec<io::Result<T>> {
        let mut shares: Vec<Vec<(usize, String)>> = vec![Vec::new(); self.pool.len()];
        for (i, name) in names.iter().enumerate() {
            shares[self.pool.index_for(name)].push((i, name.clone()));
        }
        let jobs = shares
            .into_iter()
            .enumerate()
            .filter(|(_, share)| !share.is_empty())
            .map(|(t, share)| {
                let thread = self.pool.thread(t).cloned();
                async move {
                    let indices: Vec<usize> = share.iter().map(|(i, _)| *i).collect();
                    let done = match thread {
                        Ok(thread) => {
                            thread
                                .run(move |t| {
                                    Ok(share
                                        .iter()
                                        .map(|(_, name)| job(t, name))
                                        .collect::<Vec<_>>())
                                })
                                .await
                        }
                        Err(e) => Err(e),
                    };
                    (indices, done)
                }
            });
        let mut results: Vec<Option<io::Result<T>>> = names.iter().map(|_| None).collect();
        for (indices, done) in futures::future::join_all(jobs).await {
            match done {
                Ok(each) => {
                    for (i, r) in indices.into_iter().zip(each) {
                        results[i] = Some(r);
                    }
                }
                Err(e) => {
                    for i in indices {
                        results[i] = Some(Err(io::Error::new(e.kind(), e.to_string())));
                    }
                }
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(io::Error::other("the namespace thread gave no answer")))
            })
            .collect()
    }
}

pub(super) async fn create(
    nl: &Netlink,
    name: &str,
    record: RecordFn,
) -> Result<(NsId, NsIdent), CreateError> {
    let owned = name.to_string();
    let thread = nl.pool.for_name(name).map_err(CreateError::Make)?;
    let settled = nl.settled.clone();
    let made = thread
        .run(move |t| {
            // Checked on the thread, in the thread's order: see `settle`.
            if settled.load(Ordering::SeqCst) {
                return Ok(Err(CreateError::Make(settled_error())));
            }
            let opened = match t.make() {
                Ok(o) => o,
                Err(e) => return Ok(Err(CreateError::Make(e))),
            };
            if let Err(e) = record(opened.ident) {
                return Ok(Err(CreateError::Record(e)));
            }
            // Dropping `opened` on failure releases the nameless
            // namespace: nothing is left of it.
            Ok(match t.mount(&opened.fd, &opened.ident, &owned) {
                Ok(()) => Ok(opened),
                Err(e) => Err(CreateError::Mount(e)),
            })
        })
        .await
        .map_err(CreateError::Make)??;
    Ok(nl.add_space(name, made))
}

pub(super) async fn settle(nl: &Netlink) {
    nl.settled.store(true, Ordering::SeqCst);
    // Each thread runs its jobs in order: once this one has run on every
    // thread, every job sent before the flag was set has finished, and
    // every later one made nothing.
    for i in 0..nl.pool.len() {
        if let Some(thread) = nl.pool.started(i) {
            let _ = thread.run(|_| Ok(())).await;
        }
    }
}

pub(super) async fn make(nl: &Netlink, name: &str) -> io::Result<(NsId, NsIdent)> {
    let settled = nl.settled.clone();
    let opened = nl
        .pool
        .for_name(name)?
        .run(move |t| {
            if settled.load(Ordering::SeqCst) {
                return Err(settled_error());
            }
            t.make()
        })
        .await?;
    Ok(nl.add_space(name, opened))
}

pub(super) async fn make_all(nl: &Netlink, names: &[String]) -> Vec<io::Result<(NsId, NsIdent)>> {
    nl.on_name_threads(names, |t, _| t.make())
        .await
        .into_iter()
        .zip(names)
        .map(|(r, name)| r.map(|opened| nl.add_space(name, opened)))
        .collect()
}

pub(super) async fn mount(nl: &Netlink, ns: NsId) -> io::Result<()> {
    let space = nl.space(ns)?;
    let fd = space.fd.try_clone()?;
    let (name, ident) = (space.name.clone(), space.ident);
    nl.pool
        .for_name(&space.name)?
        .run(move |t| t.mount(&fd, &ident, &name))
        .await
}

pub(super) async fn mount_all(nl: &Netlink, ns: &[NsId]) -> Vec<io::Result<()>> {
    // Each on its name's thread, the threads working concurrently.
    let jobs = ns.iter().map(|id| mount(nl, *id));
    futures::future::join_all(jobs).await
}

pub(super) async fn open(nl: &Netlink, name: &str) -> io::Result<(NsId, NsIdent)> {
    let path = netns::ns_path(name);
    let opened = nl.pool.first()?.run(move |t| t.open(&path)).await?;
    Ok(nl.add_space(name, opened))
}

pub(super) async fn open_root(nl: &Netlink) -> io::Result<(NsId, NsIdent)> {
    let path = std::path::PathBuf::from("/proc/self/ns/net");
    let opened = nl.pool.first()?.run(move |t| t.open(&path)).await?;
    Ok(nl.add_space(crate::vocab::ROOT_NS, opened))
}

pub(super) async fn delete(nl: &Netlink, ns: NsId) -> io::Result<Removal> {
    let space = nl.space(ns)?;
    let removal = remove(nl, &space.name, Some(space.ident)).await?;
    close(nl, ns);
    Ok(removal)
}

pub(super) async fn remove(
    nl: &Netlink,
    name: &str,
    expect: Option<NsIdent>,
) -> io::Result<Removal> {
    let home = nl.home()?;
    match nl.pool.started_for_name(name) {
        // On the namespace thread, so it runs after any naming of the
        // same name still in flight there (a run cancelled mid-create).
        Some(thread) => {
            let name = name.to_string();
            thread
                .run(move |_| netns::remove(&name, expect.as_ref(), &home))
                .await
        }
        // That thread never had a job, so nothing about this name is in
        // flight: unmount it here (it is not a namespace switch) and
        // spare the hop. `netwasm down` removes every name this way.
        None => netns::remove(name, expect.as_ref(), &home),
    }
}

pub(super) async fn remove_all(
    nl: &Netlink,
    names: &[(String, Option<NsIdent>)],
) -> Vec<io::Result<Removal>> {
    let home = match nl.home() {
        Ok(h) => h,
        Err(e) => {
            return names
                .iter()
                .map(|_| Err(io::Error::new(e.kind(), e.to_string())))
                .collect();
        }
    };
    if names
        .iter()
        .any(|(n, _)| nl.pool.started_for_name(n).is_some())
    {
        // Their namespace threads have started, so a naming of one of
        // them may still be in flight there (a rollback in `run`): each
        // removal queues behind it on the name's own thread.
        let jobs = names.iter().map(|(n, id)| remove(nl, n, *id));
        return futures::future::join_all(jobs).await;
    }
    // Nothing about these names is in flight here (`netwasm down`).
    // Unmount waits overlap on several threads; `netwasm down` of 1000
    // namespaces, medians of 5 and of 7 interleaved runs: 220 and 355 ms
    // on 1 thread, 142 and 338 on 4, 112 and 158 on 16. Below a few
    // dozen names a thread costs more than it saves.
    let width = (names.len() / REMOVALS_PER_THREAD).min(MAX_REMOVAL_THREADS);
    if width <= 1 {
        return names
            .iter()
            .map(|(n, id)| netns::remove(n, id.as_ref(), &home))
            .collect();
    }
    let owned = names.to_vec();
    tokio::task::spawn_blocking(move || netns::remove_many(&owned, width, &home))
        .await
        .unwrap_or_else(|e| {
            names
                .iter()
                .map(|_| Err(io::Error::other(format!("removal stopped: {e}"))))
                .collect()
        })
}

pub(super) fn close(nl: &Netlink, ns: NsId) {
    nl.spaces.lock().unwrap().remove(&ns);
    nl.nsids
        .lock()
        .unwrap()
        .retain(|(from, _), to| *from != ns && *to != ns);
}

pub(super) async fn set_forwarding(nl: &Netlink, ns: NsId, on: bool) -> io::Result<()> {
    let fd = nl.space(ns)?.fd.try_clone()?;
    let value = if on { "1" } else { "0" };
    nl.pool
        .first()?
        .run(move |t| {
            t.sysctl_in(&fd, "/proc/sys/net/ipv4/ip_forward", value)?;
            t.sysctl_in(&fd, "/proc/sys/net/ipv6/conf/all/forwarding", value)
        })
        .await
}
