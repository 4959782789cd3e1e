//! Diagnostics: every problem passplan finds, collected instead of stopping at the first, and
//! rendered as one miette report over the spec's source.
//!
//! A [`Diagnostic`] carries a stable [`Code`], a severity, a label on the spec span it is about,
//! the host fact that makes it a problem, and help that names the fix. All wording lives with
//! the code that finds the problem; rendering lives here.

pub mod codes;
pub mod json;
mod render;
mod suggest;

use std::fmt;

use miette::SourceSpan;

pub use codes::{CODES, Code, CodeInfo, lookup};
pub use render::{Report, render_report};
pub use suggest::did_you_mean;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails `check`: the spec cannot be applied to this host as written.
    Error,
    /// Worth fixing; does not fail `check`.
    Warning,
    /// Information: something waits on another step (a reboot, the IOMMU).
    Notice,
}

/// One finding.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Diagnostic {
    /// Stable code, e.g. `iommu/group-incomplete`.
    pub code: Code,
    /// Severity.
    pub severity: Severity,
    /// What is wrong, one sentence.
    pub message: String,
    /// The spec span it is about, when it is about the spec.
    #[serde(skip)]
    pub span: Option<SourceSpan>,
    /// Text of the label on `span`.
    pub label: String,
    /// The host fact behind the finding, as read from the host.
    pub host_fact: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A new error for `code`.
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, message)
    }

    /// A new warning for `code`.
    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, message)
    }

    /// A new notice for `code`.
    pub fn notice(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Notice, message)
    }

    fn new(code: Code, severity: Severity, message: impl Into<String>) -> Self {
        Self {
            code,
            severity,
            message: message.into(),
            span: None,
            label: String::new(),
            host_fact: None,
            help: None,
        }
    }

    /// Point at a spec span with a label.
    #[must_use]
    pub fn at(mut self, span: SourceSpan, label: impl Into<String>) -> Self {
        self.span = Some(span);
        self.label = label.into();
        self
    }

    /// State the host fact.
    #[must_use]
    pub fn host(mut self, fact: impl Into<String>) -> Self {
        self.host_fact = Some(fact.into());
        self
    }

    /// Name the fix.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(fact) = &self.host_fact {
            write!(f, "\n  host: {fact}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code.0))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Notice => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = self.span?;
        let label = (!self.label.is_empty()).then(|| self.label.clone());
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(label, span),
        )))
    }
}

/// A collector of findings. Stages push into it and keep going.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a finding.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// The findings in the order they should be shown: by position in the spec, then code.
    pub fn sorted(&self) -> Vec<Diagnostic> {
        let mut items = self.items.clone();
        items.sort_by_key(|d| {
            (
                d.span.map_or(usize::MAX, |s| s.offset()),
                d.severity,
                d.code.0,
                d.message.clone(),
            )
        });
        items
    }

    /// Whether there are no findings.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// All findings, in the order pushed.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Append another collector's findings.
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }
}
