//! The compiler: `Checked` → [`Desired`], everything passplan wants on the host, computed
//! without I/O.
//!
//! Each target type is an emitter under [`crate::emit`]; this module calls them in a fixed order
//! and validates what they produce (paths absolute and free of `..`, one artifact per path). The
//! contract between the two is [`crate::desired`]. The dependency graph between changes is the
//! planner's.

use std::collections::BTreeSet;

use crate::check::Checked;
use crate::desired::{CompileError, Desired, Input, SpecSource, valid_path};
use crate::emit;

/// Compile a checked spec into everything it wants on the host.
pub fn compile(checked: &Checked, source: &SpecSource) -> Result<Desired, CompileError> {
    compile_with(checked, source, &[])
}

/// [`compile`], removing kernel parameters passplan owned before (`owned_tokens`, from the
/// ownership state) that the spec no longer asks for.
pub fn compile_with(
    checked: &Checked,
    source: &SpecSource,
    owned_tokens: &[String],
) -> Result<Desired, CompileError> {
    let input = Input {
        checked,
        source,
        owned_tokens,
    };
    let mut desired = Desired::default();
    for emit in emit::EMITTERS {
        emit(&input, &mut desired)?;
    }
    let mut seen = BTreeSet::new();
    for a in &desired.artifacts {
        if !valid_path(&a.path) {
            return Err(CompileError::BadPath {
                path: a.path.clone(),
            });
        }
        if !seen.insert(a.path.as_str()) {
            return Err(CompileError::Duplicate {
                path: a.path.clone(),
            });
        }
    }
    desired.artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    desired.domains.sort_by(|a, b| a.name.cmp(&b.name));
    desired
        .steps
        .sort_by(|a, b| (a.trigger, &a.argv).cmp(&(b.trigger, &b.argv)));
    desired.steps.dedup();
    Ok(desired)
}
