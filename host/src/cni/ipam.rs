//! IPAM delegation, as the spec's "delegated plugins" section and the
//! reference plugins do it: the plugin named by `ipam.type` is looked up in
//! `CNI_PATH` and run with the same environment (but for `CNI_COMMAND`) and
//! the same configuration bytes on stdin; its result or error comes back.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rscni_types::types::{CNI_COMMAND, CNIResult};
use tokio::io::AsyncWriteExt;

use super::error::{CniError, code};
use super::protocol::{Command, Invocation};

/// How long an IPAM plugin may take. host-local answers in milliseconds;
/// a DHCP one may wait on a lease, which the reference daemon bounds well
/// under this.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Finds the executable for plugin `name` in the `CNI_PATH` directories,
/// first match wins (as in the reference `FindInPath`).
pub fn find_plugin(name: &str, path: &[PathBuf]) -> Result<PathBuf, CniError> {
    // A plain file name only: `ipam.type` comes from a configuration file,
    // and must not reach outside the directories the runtime named.
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(CniError::config(format!(
            "ipam type {name:?}: not a plain plugin name"
        )));
    }
    for dir in path {
        let candidate = dir.join(name);
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
            return Ok(candidate);
        }
    }
    let dirs: Vec<String> = path.iter().map(|p| p.display().to_string()).collect();
    Err(CniError::config(format!(
        "ipam plugin {name}: no executable file in CNI_PATH ({})",
        dirs.join(":")
    )))
}

/// Runs the configuration's IPAM plugin for `command` (ADD, DEL, CHECK; GC
/// and STATUS too, which spec 1.1 asks plugins to pass on). `Ok(Some)` is
/// ADD's result; the other commands succeed with `Ok(None)`. A plugin's
/// error object comes back as it printed it, code, msg and details.
pub async fn delegate(
    inv: &Invocation,
    command: Command,
    timeout: Duration,
) -> Result<Option<CNIResult>, CniError> {
    let ipam = inv
        .config
        .as_ref()
        .and_then(|c| c.ipam())
        .ok_or_else(|| CniError::config("network configuration: ipam is missing"))?;
    if command == Command::Version {
        return Err(CniError::new(
            code::INVALID_ENVIRONMENT,
            "ipam: VERSION is not delegated",
        ));
    }
    let plugin = find_plugin(&ipam.r#type, &inv.path)?;
    let name = &ipam.r#type;
    let out = run(&plugin, inv, command, timeout)
        .await
        .map_err(|e| match e {
            Run::Timeout => CniError::new(
                code::TRY_AGAIN_LATER,
                format!("ipam plugin {name}: no answer within {timeout:?}"),
            ),
            Run::Io(e) => CniError::io(format!("ipam plugin {}: {e}", plugin.display())),
        })?;
    if !out.status.success() {
        return Err(plugin_error(name, &out));
    }
    if command != Command::Add {
        return Ok(None);
    }
    // The layouts of 0.4.0 and 1.x differ only by fields the 1.x type
    // ignores on reading (`ips[].version`), so one parse serves both.
    serde_json::from_slice::<CNIResult>(&out.stdout)
        .map(Some)
        .map_err(|e| CniError::decode(format!("ipam plugin {name}: result: {e}")))
}

enum Run {
    Timeout,
    Io(std::io::Error),
}

async fn run(
    plugin: &Path,
    inv: &Invocation,
    command: Command,
    timeout: Duration,
) -> Result<std::process::Output, Run> {
    let mut cmd = tokio::process::Command::new(plugin);
    // Exactly the runtime's environment: the plugin reads CNI_* from it and
    // nothing of netwasm's own process state leaks in.
    cmd.env_clear()
        .envs(&inv.env)
        .env(CNI_COMMAND, <&str>::from(command))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A plugin past its timeout is killed, not left behind.
        .kill_on_drop(true);
    let mut child = spawn(&mut cmd).await.map_err(Run::Io)?;
    let mut stdin = child.stdin.take().expect("stdin was piped");
    let config = inv.raw_config.clone();
    let io = async move {
        // A plugin that exits without reading stdin closes the pipe: that
        // is its business, its exit status tells.
        let _ = stdin.write_all(&config).await;
        drop(stdin);
        child.wait_with_output().await
    };
    match tokio::time::timeout(timeout, io).await {
        Ok(r) => r.map_err(Run::Io),
        Err(_) => Err(Run::Timeout),
    }
}

/// Spawns, retrying a few times on ETXTBSY: a plugin file just written
/// (installed a moment ago; a test's fake plugin) can still be open for
/// writing in a child another thread is forking, which Linux refuses to
/// execute until that child has exec'd.
async fn spawn(cmd: &mut tokio::process::Command) -> std::io::Result<tokio::process::Child> {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 5 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(10 * tries)).await;
            }
            r => return r,
        }
    }
}

/// A failed plugin's error: the object it printed, else its exit status and
/// the first line of stderr.
fn plugin_error(name: &str, out: &std::process::Output) -> CniError {
    if let Ok(e) = serde_json::from_slice::<CniError>(&out.stdout) {
        return e;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or("").trim();
    let mut msg = format!("ipam plugin {name}: {}", out.status);
    if !first.is_empty() {
        msg.push_str(": ");
        msg.push_str(first);
    }
    CniError::io(msg)
}
