//! The XML writer the domain emitter builds with: quick-xml underneath, every value escaped.

use std::borrow::Cow;

use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};

/// A thin layer over quick-xml's writer: two-space indentation, every value escaped by the
/// writer, and characters XML 1.0 cannot carry replaced (see [`xml_safe`]).
pub(super) struct Xml {
    w: Writer<Vec<u8>>,
}

impl Xml {
    pub(super) fn new() -> Self {
        Self {
            w: Writer::new_with_indent(Vec::new(), b' ', 2),
        }
    }

    pub(super) fn start<'a>(name: &'a str, attrs: &[(&str, &str)]) -> BytesStart<'a> {
        let mut start = BytesStart::new(name);
        for (key, value) in attrs {
            start.push_attribute((*key, xml_safe(value).as_ref()));
        }
        start
    }

    pub(super) fn write(&mut self, event: Event<'_>) {
        // Writing into a Vec cannot fail; an error here would be a bug in the writer.
        self.w
            .write_event(event)
            .expect("writing XML into memory cannot fail");
    }

    /// `<name attrs/>`.
    pub(super) fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.write(Event::Empty(Self::start(name, attrs)));
    }

    /// `<name attrs>text</name>` on one line.
    pub(super) fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.write(Event::Start(Self::start(name, attrs)));
        self.write(Event::Text(BytesText::new(&xml_safe(text))));
        self.write(Event::End(BytesEnd::new(name)));
    }

    /// `<name attrs>` … children written by `body` … `</name>`.
    pub(super) fn open(
        &mut self,
        name: &str,
        attrs: &[(&str, &str)],
        body: impl FnOnce(&mut Self),
    ) {
        self.write(Event::Start(Self::start(name, attrs)));
        body(self);
        self.write(Event::End(BytesEnd::new(name)));
    }

    /// `<!--text-->`; `--` cannot appear inside a comment, so it is broken up.
    pub(super) fn comment(&mut self, text: &str) {
        let mut safe = xml_safe(text).into_owned();
        while safe.contains("--") {
            safe = safe.replace("--", "- -");
        }
        self.write(Event::Comment(BytesText::from_escaped(safe)));
    }

    pub(super) fn finish(self) -> String {
        let mut s = String::from_utf8(self.w.into_inner())
            .expect("the writer only writes the UTF-8 it was given");
        s.push('\n');
        s
    }
}

/// `text` with the characters XML 1.0 cannot represent at all (C0 controls other than tab, LF
/// and CR; U+FFFE, U+FFFF) replaced by U+FFFD. Escaping cannot help with those: even `&#1;` is
/// not well-formed. Paths never hold them (the decoder refuses control characters); SMBIOS
/// values are the free text that could.
pub(super) fn xml_safe(text: &str) -> Cow<'_, str> {
    let bad = |c: char| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}')
    };
    if text.contains(bad) {
        Cow::Owned(text.replace(bad, "\u{fffd}"))
    } else {
        Cow::Borrowed(text)
    }
}
