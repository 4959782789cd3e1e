//! passplan: declarative GPU passthrough (VFIO) for KVM/libvirt hosts.
//!
//! The pipeline, one folder a stage: [`spec`] (KDL text → `Spec`), [`host`] (a root directory →
//! `HostFacts`), [`check`] (`Spec` × `HostFacts` → `Checked`, or diagnostics). [`commands`] holds
//! one short orchestration per subcommand; [`cli`] turns arguments into a validated `Config`.

pub mod host;
pub mod model;
