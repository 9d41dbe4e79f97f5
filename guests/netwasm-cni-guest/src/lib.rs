//! Write netwasm CNI plugins in Rust (world `netwasm:lab/plugin`).
//!
//! A plugin exports `add`, `del` and `check`; the host speaks the CNI
//! protocol and hands each call the container's namespace as a handle.
//! The shared interfaces (namespaces, links, addresses, routes) are the
//! very bindings of `netwasm_guest::bindings`, so `netwasm_guest::Link`
//! and `netwasm_guest::Error` work here too:
//!
//! ```no_run
//! use netwasm_cni_guest::{Attachment, CniResult, Netns};
//! use netwasm_guest::Result;
//!
//! fn add(container: &Netns, at: Attachment) -> Result<CniResult> {
//!     let result = netwasm_cni_guest::ipam_add()?;
//!     // ... create `at.ifname` in `container`, address it ...
//!     Ok(result)
//! }
//! fn del(_container: Option<&Netns>, _at: Attachment) -> Result<()> {
//!     netwasm_cni_guest::ipam_del()
//! }
//! fn check(_container: &Netns, _at: Attachment) -> Result<()> {
//!     netwasm_cni_guest::ipam_check()
//! }
//!
//! netwasm_cni_guest::plugin!(add, del, check);
//! ```

/// The raw bindings of world `netwasm:lab/plugin`. Only `cni` is generated
/// here; the shared interfaces are `netwasm_guest::bindings`'.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "netwasm:lab/plugin",
        with: {
            "netwasm:lab/types@0.1.0": netwasm_guest::bindings::netwasm::lab::types,
            "netwasm:lab/namespace@0.1.0": netwasm_guest::bindings::netwasm::lab::namespace,
            "netwasm:lab/link@0.1.0": netwasm_guest::bindings::netwasm::lab::link,
            "netwasm:lab/addr@0.1.0": netwasm_guest::bindings::netwasm::lab::addr,
            "netwasm:lab/route@0.1.0": netwasm_guest::bindings::netwasm::lab::route,
            "netwasm:lab/probe@0.1.0": netwasm_guest::bindings::netwasm::lab::probe,
        },
        pub_export_macro: true,
        export_macro_name: "export_plugin",
        default_bindings_module: "netwasm_cni_guest::bindings",
    });
}

use bindings::netwasm::lab::cni;

pub use cni::{Attachment, CniDns, CniInterface, CniIp, CniResult, CniRoute};
pub use netwasm_guest::bindings::netwasm::lab::namespace::Netns;

use netwasm_guest::Result;

/// IPAM ADD, through the host: what the configured IPAM plugin allocated.
/// The addresses and routes are not configured yet: that is the plugin's
/// job.
pub fn ipam_add() -> Result<CniResult> {
    Ok(cni::ipam_add()?)
}

/// IPAM DEL: releases the allocation (not an error if there is none).
pub fn ipam_del() -> Result<()> {
    Ok(cni::ipam_del()?)
}

/// IPAM CHECK: whether the allocation still holds.
pub fn ipam_check() -> Result<()> {
    Ok(cni::ipam_check()?)
}

impl CniResult {
    /// A result with nothing in it.
    pub fn empty() -> Self {
        Self {
            interfaces: Vec::new(),
            ips: Vec::new(),
            routes: Vec::new(),
            dns: None,
        }
    }

    /// Adds an interface (its `sandbox` left for the host to fill) and
    /// returns its index, for [`CniResult::ip`] and
    /// [`CniResult::assign_ips`].
    pub fn interface(&mut self, name: &str, mac: Option<String>) -> u32 {
        self.interfaces.push(CniInterface {
            name: name.to_string(),
            mac,
            sandbox: None,
        });
        (self.interfaces.len() - 1) as u32
    }

    /// Adds an address (CIDR) on interface `on`.
    pub fn ip(&mut self, address: &str, gateway: Option<&str>, on: Option<u32>) -> &mut Self {
        self.ips.push(CniIp {
            address: address.to_string(),
            gateway: gateway.map(str::to_string),
            interface: on,
        });
        self
    }

    /// Adds a route.
    pub fn route(&mut self, dst: &str, gw: Option<&str>) -> &mut Self {
        self.routes.push(CniRoute {
            dst: dst.to_string(),
            gw: gw.map(str::to_string),
        });
        self
    }

    /// Puts every address that names no interface on interface `on`: what
    /// a plugin does with an IPAM result, whose addresses are not on any
    /// interface yet.
    pub fn assign_ips(&mut self, on: u32) -> &mut Self {
        for ip in self.ips.iter_mut().filter(|ip| ip.interface.is_none()) {
            ip.interface = Some(on);
        }
        self
    }
}

/// Exports `add`, `del` and `check` from three functions whose errors are
/// `Display`: the one line a plugin needs.
///
/// `add: fn(&Netns, Attachment) -> Result<CniResult, E>`,
/// `del: fn(Option<&Netns>, Attachment) -> Result<(), E>`,
/// `check: fn(&Netns, Attachment) -> Result<(), E>`.
#[macro_export]
macro_rules! plugin {
    ($add:path, $del:path, $check:path) => {
        struct __NetwasmPlugin;

        impl $crate::bindings::Guest for __NetwasmPlugin {
            fn add(
                container: &$crate::Netns,
                at: $crate::Attachment,
            ) -> ::std::result::Result<$crate::CniResult, ::std::string::String> {
                $add(container, at).map_err(|e| e.to_string())
            }

            fn del(
                container: ::std::option::Option<&$crate::Netns>,
                at: $crate::Attachment,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $del(container, at).map_err(|e| e.to_string())
            }

            fn check(
                container: &$crate::Netns,
                at: $crate::Attachment,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $check(container, at).map_err(|e| e.to_string())
            }
        }

        $crate::bindings::export_plugin!(__NetwasmPlugin with_types_in $crate::bindings);
    };
}
