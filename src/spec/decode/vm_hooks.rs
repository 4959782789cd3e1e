//! Decoding of a VM's `hook` nodes: the user's own scripts, by hook phase.

use super::{At, Decoder};
use crate::diag;
use crate::spec::{HookPhase, UserHook};

impl Decoder {
    pub(super) fn hook(&mut self, at: &At<'_>) -> Option<UserHook> {
        let phases: Vec<(&str, HookPhase)> =
            HookPhase::ALL.iter().map(|p| (p.as_path(), *p)).collect();
        let phase = at
            .arg(0)
            .and_then(|e| self.choice(e, "hook phase", &phases))?;
        let Some(script) = at.prop("script") else {
            self.error(
                diag::codes::MISSING_VALUE,
                at.span(),
                "`hook` needs a script",
                "script missing",
                "write: hook \"prepare/begin\" script=\"hooks/notify.sh\"",
            );
            return None;
        };
        let script = self.path(script, "script path")?;
        Some(UserHook { phase, script })
    }
}
