//! Rendering findings as one miette report over the spec source.

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, NamedSource};

use super::{Diagnostic, Severity};

/// All findings of one run, over one source. Implements [`miette::Diagnostic`] with every
/// finding as a related diagnostic, so miette prints them in one report.
#[derive(Debug)]
pub struct Report {
    source: Arc<NamedSource<String>>,
    items: Vec<Diagnostic>,
    summary: String,
}

impl Report {
    /// A report over `source` (named `name`) holding `items` in display order.
    pub fn new(name: &str, source: &str, items: Vec<Diagnostic>) -> Self {
        let count = |s| items.iter().filter(|d| d.severity == s).count();
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let summary = format!(
            "{}: {}, {}, {}",
            name,
            plural(count(Severity::Error), "error"),
            plural(count(Severity::Warning), "warning"),
            plural(count(Severity::Notice), "notice"),
        );
        Self {
            source: Arc::new(NamedSource::new(name, source.to_owned())),
            items,
            summary,
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}

impl std::error::Error for Report {}

/// A finding bound to the report's source, so each related diagnostic shows its snippet.
#[derive(Debug)]
struct Sourced<'a> {
    inner: &'a Diagnostic,
    source: &'a NamedSource<String>,
}

impl fmt::Display for Sourced<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.inner, f)
    }
}

impl std::error::Error for Sourced<'_> {}

impl miette::Diagnostic for Sourced<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.inner.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        miette::Diagnostic::severity(self.inner)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        miette::Diagnostic::help(self.inner)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.inner.labels()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.inner
            .span
            .map(|_| self.source as &dyn miette::SourceCode)
    }
}

/// Render each finding with its snippet, then the summary line. `color` selects the theme;
/// `width` fixes the wrap width (tests use a fixed width so snapshots are stable).
pub fn render_report(report: &Report, width: usize, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false);
    let mut out = String::new();
    for item in &report.items {
        let sourced = Sourced {
            inner: item,
            source: &report.source,
        };
        // Rendering into a String cannot fail; an error here would be a miette bug, and the
        // finding is still counted in the summary line.
        let _ = handler.render_report(&mut out, &sourced);
        out.push('\n');
    }
    out.push_str(&report.summary);
    out.push('\n');
    out
}
