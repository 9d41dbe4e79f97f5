//! Views of a lab, for `netwasm show` (a lab as it is in the kernel now)
//! and `netwasm graph` (its topology as a picture).
//!
//! [`view::gather`] asks the kernel what is in the namespaces a lab's
//! ledger holds, changing nothing; [`show`] renders that view as tables or
//! JSON, [`graph`] turns it into a topology and renders DOT or Mermaid, and
//! [`layout`] and [`svg`] draw the topology as a self-contained SVG. The
//! commands themselves (arguments, reading the ledger, printing) live in
//! `cli`.

pub mod committed;
pub mod graph;
pub mod layout;
pub mod show;
pub mod svg;
pub mod view;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod geometry;
#[cfg(test)]
mod snapshots;
