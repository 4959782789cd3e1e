//! One file per target type. Each has an `emit(&Input, &mut Desired)` that adds the artifacts,
//! domains, steps and kernel tokens it is responsible for. Emitters are pure: everything they
//! know about the host comes from `Checked` (including the current text of files they edit).

pub mod domain;

use crate::compile::{CompileError, Desired, Input};

/// An emitter.
pub(crate) type Emit = fn(&Input<'_>, &mut Desired) -> Result<(), CompileError>;

/// Every emitter, in the order they run. Kernel tokens come first: the loader editors need them.
pub(crate) const EMITTERS: &[Emit] = &[domain::emit];
