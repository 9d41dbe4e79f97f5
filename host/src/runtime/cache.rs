//! Compiled guests, cached on disk so a large guest (a Python component is
//! tens of megabytes) is compiled once, not on every run.
//!
//! An entry is named by the SHA-256 of the guest's bytes and a hash of
//! everything that makes compiled code valid (the wasmtime version and the
//! engine's configuration), so a new wasmtime or a changed guest never loads
//! stale code. Each entry ends with the SHA-256 of its contents; an entry
//! that fails it (a torn write, a flipped bit) is ignored and rebuilt,
//! because wasmtime trusts what it deserializes.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

pub struct Cache {
    dir: PathBuf,
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    Cached,
    /// The cache was off, or could not be used.
    Uncached,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Cache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The default location: `$XDG_CACHE_HOME/netwasm`, else
    /// `$HOME/.cache/netwasm`, else `/var/cache/netwasm`.
    pub fn default_dir() -> PathBuf {
        if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(x).join("netwasm");
        }
        if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(h).join(".cache").join("netwasm");
        }
        PathBuf::from("/var/cache/netwasm")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn key(engine: &Engine, wasm: &[u8]) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        format!("{}-{:016x}", hex(&Sha256::digest(wasm)), h.finish())
    }

    /// Loads the compiled form of `wasm`, compiling and storing it on a miss.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> anyhow::Result<(Component, Origin)> {
        let path = self.dir.join(format!("{}.cwasm", Self::key(engine, wasm)));
        if let Some(c) = self.read(engine, &path) {
            return Ok((c, Origin::Cached));
        }
        let component = Component::new(engine, wasm)?;
        match self.write(&path, &component) {
            Ok(()) => Ok((component, Origin::Compiled)),
            // A cache we cannot write costs time, not correctness.
            Err(_) => Ok((component, Origin::Uncached)),
        }
    }

    fn read(&self, engine: &Engine, path: &Path) -> Option<Component> {
        let mut bytes = std::fs::read(path).ok()?;
        if bytes.len() < 32 {
            return None;
        }
        let body_len = bytes.len() - 32;
        if Sha256::digest(&bytes[..body_len]).as_slice() != &bytes[body_len..] {
            let _ = std::fs::remove_file(path);
            return None;
        }
        bytes.truncate(body_len);
        // SAFETY: the bytes are what `Component::serialize` wrote for this
        // exact engine configuration (the key says so) and the checksum
        // proves they are unchanged since.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(c) => Some(c),
            Err(_) => {
                let _ = std::fs::remove_file(path);
                None
            }
        }
    }

    fn write(&self, path: &Path, component: &Component) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cache {}: cannot create", self.dir.display()))?;
        let mut bytes = component.serialize()?;
        let sum = Sha256::digest(&bytes);
        bytes.extend_from_slice(&sum);
        // Write to a private temporary name, then rename: readers see a
        // whole entry or none.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_data()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}
