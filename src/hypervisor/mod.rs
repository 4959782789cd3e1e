//! The hypervisor edge: the few libvirt calls passplan makes, behind [`Hypervisor`], and the
//! pure logic that decides what to define ([`merge`], [`tree`], [`gates`]).
//!
//! Plan and apply talk to libvirt only through the trait, so the same code runs against the
//! real daemon ([`LibvirtHypervisor`], behind the `libvirt` cargo feature), libvirt's in-process
//! test driver (`test:///default`, same implementation), and [`FakeHypervisor`], an in-memory
//! stand-in for unit tests of plan and apply.

pub mod gates;
#[cfg(feature = "libvirt")]
mod libvirt;
pub mod merge;
pub mod tree;

use std::collections::BTreeMap;

#[cfg(feature = "libvirt")]
pub use libvirt::LibvirtHypervisor;

/// A libvirt library version, `(major, minor, micro)`.
pub type Version = (u32, u32, u32);

/// Why a hypervisor call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HypervisorError {
    /// The connection could not be opened.
    #[error(
        "cannot connect to libvirt at {uri}: {message}\n  help: is the libvirt daemon running? Start it (`systemctl start libvirtd`, or `virtqemud.socket` on hosts with modular daemons) or pass --connect with another URI; an offline --root without --connect needs no daemon"
    )]
    Connect {
        /// The URI.
        uri: String,
        /// libvirt's message.
        message: String,
    },
    /// This build has no libvirt support.
    #[error(
        "this passplan was built without libvirt, so it cannot connect to {uri}; rebuild with the default features (`cargo build`), or plan for a directory with --root DIR"
    )]
    NotBuiltIn {
        /// The URI asked for.
        uri: String,
    },
    /// A call on a domain failed.
    #[error("libvirt: {what} `{domain}`: {message}")]
    Call {
        /// What was being done (`define`, `undefine`, `read`).
        what: &'static str,
        /// The domain.
        domain: String,
        /// libvirt's message.
        message: String,
    },
}

/// What passplan needs from libvirt. Implementations hold an open connection.
pub trait Hypervisor {
    /// The URI of the connection, as given.
    fn uri(&self) -> &str;
    /// The library version of the connection's daemon, for version gates.
    fn version(&self) -> Version;
    /// The persistent (inactive) definition of a domain, or `None` when none is defined.
    fn inactive_xml(&self, name: &str) -> Result<Option<String>, HypervisorError>;
    /// Define (or redefine) a domain, validating the XML against libvirt's schema.
    fn define(&mut self, xml: &str) -> Result<(), HypervisorError>;
    /// Undefine a domain; `keep_nvram` keeps its UEFI variable store, otherwise it is deleted.
    fn undefine(&mut self, name: &str, keep_nvram: bool) -> Result<(), HypervisorError>;
    /// Whether the domain is running.
    fn is_active(&self, name: &str) -> Result<bool, HypervisorError>;
    /// The names of every persistent domain, sorted.
    fn list(&self) -> Result<Vec<String>, HypervisorError>;
}

/// Open a connection to `uri`. Without the `libvirt` feature this fails with a message that
/// names the rebuild.
pub fn connect(uri: &str) -> Result<Box<dyn Hypervisor>, HypervisorError> {
    #[cfg(feature = "libvirt")]
    {
        Ok(Box::new(LibvirtHypervisor::open(uri)?))
    }
    #[cfg(not(feature = "libvirt"))]
    {
        Err(HypervisorError::NotBuiltIn {
            uri: uri.to_owned(),
        })
    }
}

/// An in-memory hypervisor for tests: defines store the XML as given after a simple
/// libvirt-like fix-up (a uuid when absent), so merge behaviour can be tested without a daemon.
#[derive(Debug, Clone)]
pub struct FakeHypervisor {
    /// Version reported.
    pub version: Version,
    /// Defined domains: name → XML.
    pub domains: BTreeMap<String, String>,
    /// Running domains.
    pub active: Vec<String>,
    /// Undefine calls made: (name, `keep_nvram`).
    pub undefined: Vec<(String, bool)>,
    /// Define calls made, in order.
    pub defines: usize,
}

impl Default for FakeHypervisor {
    fn default() -> Self {
        Self {
            version: (9, 0, 0),
            domains: BTreeMap::new(),
            active: Vec::new(),
            undefined: Vec::new(),
            defines: 0,
        }
    }
}

impl Hypervisor for FakeHypervisor {
    fn uri(&self) -> &'static str {
        "fake:///"
    }

    fn version(&self) -> Version {
        self.version
    }

    fn inactive_xml(&self, name: &str) -> Result<Option<String>, HypervisorError> {
        Ok(self.domains.get(name).cloned())
    }

    fn define(&mut self, xml: &str) -> Result<(), HypervisorError> {
        let call = |message: String| HypervisorError::Call {
            what: "define",
            domain: String::new(),
            message,
        };
        let mut el = tree::Element::parse(xml).map_err(|e| call(e.to_string()))?;
        let name = el
            .child("name")
            .map(|n| n.text.clone())
            .ok_or_else(|| call("no name".into()))?;
        if el.child("uuid").is_none() {
            // Like libvirt: a generated uuid, fixed for the life of the definition.
            let mut uuid = tree::Element::new("uuid");
            uuid.text = format!("00000000-0000-4000-8000-{:012x}", self.domains.len() + 1);
            el.children.insert(1, uuid);
        }
        self.domains.insert(name, el.to_xml());
        self.defines += 1;
        Ok(())
    }

    fn undefine(&mut self, name: &str, keep_nvram: bool) -> Result<(), HypervisorError> {
        self.undefined.push((name.to_owned(), keep_nvram));
        self.domains
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| HypervisorError::Call {
                what: "undefine",
                domain: name.to_owned(),
                message: "no such domain".into(),
            })
    }

    fn is_active(&self, name: &str) -> Result<bool, HypervisorError> {
        Ok(self.active.iter().any(|a| a == name))
    }

    fn list(&self) -> Result<Vec<String>, HypervisorError> {
        Ok(self.domains.keys().cloned().collect())
    }
}
