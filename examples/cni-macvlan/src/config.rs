//! The plugin's keys of the network configuration.

use netwasm_guest::{Error, MacvlanMode, Result};
use serde_json::Value;

/// What this plugin reads from the configuration JSON.
pub struct Config {
    pub master: String,
    pub mode: MacvlanMode,
    pub mtu: Option<u32>,
}

impl Config {
    /// Parses `json`; the errors name the key, as CNI users expect.
    pub fn parse(json: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(json)
            .map_err(|e| Error::msg(format!("the network configuration is not JSON: {e}")))?;
        let master = match v.get("master") {
            Some(Value::String(m)) if !m.is_empty() => m.clone(),
            // The reference plugin falls back to the default route's link;
            // a guest cannot see the root's routes, so it must be named.
            None => return Err(Error::msg("`master` is required")),
            Some(_) => return Err(Error::msg("`master` must be a non-empty string")),
        };
        let mode = match v.get("mode") {
            None | Some(Value::Null) => MacvlanMode::Bridge,
            Some(Value::String(m)) => mode(m)?,
            Some(_) => return Err(Error::msg("`mode` must be a string")),
        };
        let mtu = match v.get("mtu") {
            None | Some(Value::Null) => None,
            // 0 means "the master's", as in the reference plugin.
            Some(m) => match m.as_u64().map(u32::try_from) {
                Some(Ok(0)) => None,
                Some(Ok(m)) => Some(m),
                _ => return Err(Error::msg("`mtu` must be a number from 0 to 2^32-1")),
            },
        };
        Ok(Self { master, mode, mtu })
    }
}

fn mode(name: &str) -> Result<MacvlanMode> {
    Ok(match name {
        "" | "bridge" => MacvlanMode::Bridge,
        "private" => MacvlanMode::Private,
        "vepa" => MacvlanMode::Vepa,
        "passthru" => MacvlanMode::Passthru,
        "source" => MacvlanMode::Source,
        other => {
            return Err(Error::msg(format!(
                "unknown macvlan mode `{other}` (bridge, private, vepa, passthru, source)"
            )));
        }
    })
}
