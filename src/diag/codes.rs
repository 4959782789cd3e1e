//! Diagnostic codes: stable names users can search for and pass to `passplan explain`.
//!
//! Codes of the spec decoder are documented here; each host rule documents its own code in
//! its file under `check/rules/`, and `explain` reads both.

use std::fmt;

/// A stable diagnostic code, `area/name`. Never renamed once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Code(pub &'static str);

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A code with its documentation.
#[derive(Debug, Clone, Copy)]
pub struct CodeInfo {
    /// The code.
    pub code: Code,
    /// Documentation in the `What it does / Why / Example` shape, Markdown.
    pub doc: &'static str,
}

macro_rules! spec_codes {
    ($($name:ident = $code:literal => $doc:literal;)*) => {
        $(
            #[doc = concat!("`", $code, "`")]
            pub const $name: Code = Code($code);
        )*
        /// The spec decoder's codes with their documentation.
        pub const CODES: &[CodeInfo] = &[$(CodeInfo { code: $name, doc: $doc }),*];
    };
}

spec_codes! {
    PARSE = "spec/parse" => "## What it does\nReports text that is not valid KDL 2.\n\n## Why\nThe spec must parse before anything else can be checked.\n\n## Example\n```kdl\nvm \"win10\" {\n    memory \"16GiB\"\n// missing closing brace\n```\nKDL 2 writes booleans as `#true`/`#false`; strings with spaces need quotes.";
    UNKNOWN_NODE = "spec/unknown-node" => "## What it does\nReports a node name the language does not have at that place, with the closest known name.\n\n## Why\nA misspelt node would otherwise be ignored silently, and the setting it carries would never be applied.\n\n## Example\n```kdl\nvm \"win10\" { passtrough \"rtx3080\" }   // did you mean `passthrough`?\n```";
    UNKNOWN_PROPERTY = "spec/unknown-property" => "## What it does\nReports a property the node does not take, with the closest known name.\n\n## Why\nA misspelt property would be ignored silently.\n\n## Example\n```kdl\nmemory \"16GiB\" hugepage=\"dynamic\"   // did you mean `hugepages`?\n```";
    UNEXPECTED_ARGUMENT = "spec/unexpected-argument" => "## What it does\nReports a positional argument where the node takes none, or more arguments than it takes.\n\n## Why\nExtra values are usually a property written without its name.\n\n## Example\n```kdl\niommu \"pt\"   // write: iommu mode=\"pt\"\n```";
    MISSING_VALUE = "spec/missing-value" => "## What it does\nReports a node that lacks a required argument or property.\n\n## Why\nThe value cannot be guessed.\n\n## Example\n```kdl\ngpu \"rtx3080\" { role \"guest\" }   // where is it? add: pci \"0d:00.0\"\n```";
    INVALID_VALUE = "spec/invalid-value" => "## What it does\nReports a value of the wrong type or outside its allowed set: a number where a string is expected, an unknown choice, a malformed PCI address, CPU list or size.\n\n## Why\npassplan turns every value into configuration; a wrong one must stop here, not on the host.\n\n## Example\n```kdl\nmemory \"16 gigs\"   // write \"16GiB\"\n```";
    DUPLICATE_NODE = "spec/duplicate-node" => "## What it does\nReports a node given twice where it may appear once.\n\n## Why\nWhich of the two should win is a guess passplan does not make.\n\n## Example\n```kdl\nvm \"win10\" { memory \"8GiB\"; memory \"16GiB\" }\n```";
    DUPLICATE_NAME = "spec/duplicate-name" => "## What it does\nReports two devices, or two VMs, with the same name.\n\n## Why\nNames become libvirt domain names, hook directories and references.\n\n## Example\n```kdl\nvm \"win10\" { }\nvm \"win10\" { }\n```";
    UNSAFE_NAME = "spec/unsafe-name" => "## What it does\nReports a VM, device or bridge name outside the safe set: ASCII letters, digits, `.`, `_` and `-`, starting with a letter or digit, at most 64 characters.\n\n## Why\nNames become file paths (`/etc/libvirt/hooks/qemu.d/<vm>/`), libvirt domain names and words in shell scripts run as root. A name like `../x` or `$(reboot)` must never get that far.\n\n## Example\n```kdl\nvm \"win 10\" { }   // write \"win10\" or \"win-10\"\n```";
    UNKNOWN_REFERENCE = "spec/unknown-reference" => "## What it does\nReports a reference to a device or bridge that the spec does not declare, with the closest declared name.\n\n## Why\nA VM can only be given what the spec describes (address and identity).\n\n## Example\n```kdl\nvm \"win10\" { passthrough \"rtx3800\" }   // declared: gpu \"rtx3080\"\n```";
    CONFLICT = "spec/conflict" => "## What it does\nReports settings that contradict each other: a host GPU with a bind time or a handoff, two pin forms at once, a device listed twice in one VM, a GPU given as a USB controller.\n\n## Why\nOnly one of them can be applied.\n\n## Example\n```kdl\ngpu \"rx5700\" { pci \"0c:00.0\"; role \"host\"; bind \"boot\" }   // a host GPU is never bound to vfio-pci\n```";
    ACS_OVERRIDE = "spec/acs-override" => "## What it does\nWarns whenever the spec asks for the ACS override.\n\n## Why\n`pcie_acs_override=` only works on kernels carrying an out-of-tree patch, and it tells the kernel to pretend devices are isolated when the hardware does not promise it: a device given to a guest may then reach the memory of devices left with the host by peer-to-peer DMA. Prefer another slot, or passing the whole group.\n\n## Example\n```kdl\nboot { acs-override \"downstream\" \"multifunction\" }\n```";
    HOST_UNREADABLE = "host/unreadable" => "## What it does\nReports a host root that cannot be read at all.\n\n## Why\nEvery rule needs the host's facts.\n\n## Example\n`passplan check host.kdl --root /no/such/dir`";
}

/// The documentation of a spec decoder code.
pub fn lookup(code: &str) -> Option<&'static CodeInfo> {
    CODES.iter().find(|c| c.code.0 == code)
}
