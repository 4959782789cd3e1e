//! The user's own hook scripts (`hook "prepare/begin" script="hooks/notify.sh"`).
//!
//! Compiling is pure, so passplan cannot read or copy the user's file: it emits a wrapper
//! `…/<phase>/50-user-<name>.sh` that `exec`s the script where it lives, with libvirt's
//! arguments and the XML on stdin. An absolute path is used as written; a relative one is
//! joined to the directory of the spec's path as given ([`SpecSource::name`]) and normalised
//! as text (`.` dropped, `..` removes the previous component; symlinks are not resolved). A
//! relative result — a relative script in a spec named by a relative path — is refused: the
//! hook runs from libvirt's working directory, not the user's. User scripts run after
//! passplan's (`50` sorts after `10`–`40`), several in one phase in name order.

use std::collections::BTreeSet;

use crate::desired::{CompileError, SpecSource, valid_path};
use crate::emit::origin;
use crate::spec::Vm;

use super::{Placed, header, invalid, vm_dir};

/// The wrappers of the VM's hooks.
pub(super) fn scripts(source: &SpecSource, vm: &Vm) -> Result<Vec<Placed>, CompileError> {
    let mut out = Vec::new();
    let mut taken = BTreeSet::new();
    for hook in &vm.hooks {
        let phase = hook.phase.value;
        let target = resolve(source, &hook.script).ok_or_else(|| {
            invalid(
                &format!("{}/{}", vm_dir(&vm.name), phase.as_path()),
                &format!(
                    "the hook script `{}` of {} does not resolve to an absolute path: name the \
                     spec by an absolute path, or write the script's absolute path",
                    hook.script.escape_debug(),
                    source.locate(&hook.script)
                ),
            )
        })?;
        // Two scripts with the same name in one phase: number the later ones.
        let stem = file_stem(&target);
        let mut file = format!("user-{stem}.sh");
        let mut n = 2;
        while !taken.insert((phase, file.clone())) {
            file = format!("user-{stem}-{n}.sh");
            n += 1;
        }
        let from = origin::child(
            &origin::node("vm", &vm.name.value),
            &format!("hook \"{}\"", phase.as_path()),
        );
        out.push(Placed {
            phase,
            order: 50,
            file,
            content: script(&from, &vm.name, phase.as_path(), &target),
            reason: format!(
                "VM {} runs your script {target} at {} ({from})",
                vm.name.value,
                phase.as_path()
            ),
        });
    }
    Ok(out)
}

/// The absolute, normalised path of `script` written in the spec `source`: relative to the
/// spec's directory ([`SpecSource::dir`], else the directory of its name); `None` when it stays
/// relative or contains what no path may (control characters).
fn resolve(source: &SpecSource, script: &str) -> Option<String> {
    let joined = if script.starts_with('/') {
        script.to_owned()
    } else if let Some(dir) = &source.dir {
        format!("{dir}/{script}")
    } else {
        let name = &source.name;
        let dir = name.rfind('/').map_or("", |i| &name[..=i]);
        format!("{dir}{script}")
    };
    if !joined.starts_with('/') || joined.chars().any(char::is_control) {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let path = format!("/{}", parts.join("/"));
    valid_path(&path).then_some(path)
}

/// The wrapper's name part: the script's file name without `.sh`, every character outside
/// `[A-Za-z0-9._-]` made `_`, so the tree's file names stay plain.
fn file_stem(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    let name = name.strip_suffix(".sh").unwrap_or(name);
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = stem.trim_start_matches('.');
    if stem.is_empty() {
        "script".to_owned()
    } else {
        stem.to_owned()
    }
}

/// The wrapper.
fn script(from: &str, vm: &str, phase: &str, target: &str) -> String {
    let mut s = header(
        from,
        &format!("your {phase} hook for VM {vm}"),
        &[
            "Runs your script with libvirt's arguments and the domain XML on stdin. passplan does",
            "not copy it: edit the script itself, not this wrapper.",
        ],
    );
    s.push_str(&super::assign("vm", vm));
    s.push_str(&super::assign("script", target));
    s.push_str(BODY);
    s
}

/// Everything after the values.
const BODY: &str = r#"
if [[ ! -f $script || ! -x $script ]]; then
    echo "passplan: the hook script $script of VM $vm is missing or not executable" >&2
    exit 1
fi
exec "$script" "$@"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// A spec named `name`, in directory `dir` when known.
    fn spec(name: &str, dir: Option<&str>) -> SpecSource {
        SpecSource {
            name: name.to_owned(),
            text: String::new(),
            dir: dir.map(str::to_owned),
        }
    }

    #[test]
    fn relative_scripts_resolve_against_the_spec_directory() {
        let named = |n: &str| spec(n, None);
        assert_eq!(
            resolve(&named("/home/u/vfio/host.kdl"), "hooks/x.sh").as_deref(),
            Some("/home/u/vfio/hooks/x.sh")
        );
        assert_eq!(
            resolve(&named("/home/u/vfio/host.kdl"), "./../shared/./y.sh").as_deref(),
            Some("/home/u/shared/y.sh")
        );
        assert_eq!(
            resolve(&named("whatever.kdl"), "/opt/my hooks/it's.sh").as_deref(),
            Some("/opt/my hooks/it's.sh")
        );
        assert_eq!(
            resolve(&named("/etc/h.kdl"), "/../../x").as_deref(),
            Some("/x")
        );
        assert_eq!(
            resolve(&named("host.kdl"), "hooks/x.sh"),
            None,
            "stays relative"
        );
        assert_eq!(resolve(&named("/a/h.kdl"), "x\ny"), None);
        assert_eq!(resolve(&named("/a/h.kdl"), "/"), None, "not a file");
    }

    #[test]
    fn a_known_directory_wins_over_how_the_spec_was_named() {
        // `passplan plan host.kdl` run in /home/u/vfio, and `plan ../vfio/host.kdl` from a
        // sibling directory: the same script either way.
        for name in ["host.kdl", "../vfio/host.kdl", "/home/u/vfio/host.kdl"] {
            assert_eq!(
                resolve(&spec(name, Some("/home/u/vfio")), "hooks/x.sh").as_deref(),
                Some("/home/u/vfio/hooks/x.sh"),
                "{name}"
            );
        }
    }

    #[test]
    fn wrapper_names_are_plain() {
        assert_eq!(file_stem("/opt/my hooks/it's.sh"), "it_s");
        assert_eq!(file_stem("/x/.hidden"), "hidden");
        assert_eq!(file_stem("/x/naïve$(x).py"), "na_ve__x_.py");
    }

    #[test]
    fn the_wrapper_execs_the_quoted_path() {
        let s = script("s:2", "w", "prepare/begin", "/opt/my hooks/it's.sh");
        assert!(s.contains(r"script='/opt/my hooks/it'\''s.sh'"));
        assert!(s.contains("exec \"$script\" \"$@\""));
    }
}
