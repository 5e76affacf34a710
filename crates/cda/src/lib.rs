//! A CDA R2 document read for a clinician: its title, type, date, author and sections
//! (section titles, paragraphs, lists and tables of the narrative block), as the JAHIS /
//! HL7 Japan conventions for 診療情報提供書 and 退院時サマリー lay them out. Pure: bytes in,
//! structure out.
//!
//! Only the human-readable part is read (the narrative `text` of each section, which CDA
//! requires to carry everything the document attests); coded entries are not interpreted
//! here. A structure this reader does not know degrades to its text, never to an error: a
//! document that is not well-formed XML gives what could be read before the fault, and the
//! fault is reported beside it.

use quick_xml::events::Event;
use quick_xml::Reader;
use serde::Serialize;

/// A document as a clinician reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Document {
    /// `ClinicalDocument/title`.
    pub title: String,
    /// `ClinicalDocument/code` (`57133-1`) and its display name (`診療情報提供書`).
    pub code: String,
    pub code_name: String,
    /// `ClinicalDocument/effectiveTime/@value` as sent (HL7 TS).
    pub effective_time: String,
    /// Names of the authors (`author/assignedAuthor/assignedPerson/name`) with their
    /// organisation.
    pub authors: Vec<String>,
    pub sections: Vec<Section>,
    /// Where the XML stopped being readable, if it did (what came before is kept).
    pub error: Option<String>,
}

/// One section (nested sections follow their parent with a greater depth).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Section {
    pub title: String,
    /// 1 for a top-level section.
    pub depth: usize,
    pub blocks: Vec<Block>,
}

/// A piece of a section's narrative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Block {
    Paragraph(String),
    List(Vec<String>),
    /// Rows of cells; the first row is the header when the table had one.
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
}

/// Whether `bytes` are a CDA document (by content, not by file name): XML whose root
/// element is `ClinicalDocument`, with or without a namespace prefix or a byte-order mark.
pub fn looks_like_cda(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    let head = String::from_utf8_lossy(head);
    let head = head.trim_start_matches('\u{feff}').trim_start();
    if !head.starts_with('<') {
        return false;
    }
    // The first element that is not a declaration, processing instruction or comment.
    let mut rest: &str = head;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("<?") {
            match r.find("?>") {
                Some(i) => rest = &r[i + 2..],
                None => return false,
            }
        } else if let Some(r) = rest.strip_prefix("<!--") {
            match r.find("-->") {
                Some(i) => rest = &r[i + 3..],
                None => return false,
            }
        } else if let Some(r) = rest.strip_prefix('<') {
            let name = r
                .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .next()
                .unwrap_or("");
            return name.rsplit(':').next() == Some("ClinicalDocument");
        } else {
            return false;
        }
    }
}

/// The local name of an element (`v3:section` → `section`).
fn local(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

fn attr(e: &quick_xml::events::BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (local(a.key.as_ref()) == name).then(|| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| String::from_utf8_lossy(&a.value).into_owned())
        })
    })
}

/// What the reader is collecting text for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Into {
    Nothing,
    DocTitle,
    SectionTitle,
    Paragraph,
    Item,
    Cell,
    AuthorName,
}

/// Read a CDA document. Text in Shift_JIS or another declared encoding other than UTF-8 is
/// read as UTF-8 with replacement characters (Japanese CDA is UTF-8 by convention).
pub fn read(bytes: &[u8]) -> Document {
    let text = String::from_utf8_lossy(bytes);
    let mut reader = Reader::from_str(&text);
    reader.config_mut().trim_text(false);
    let mut doc = Document::default();
    // Element path (local names) from the root.
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut section_depth = 0usize;
    let mut into = Into::Nothing;
    let mut buf = String::new();
    let mut list: Option<Vec<String>> = None;
    let mut table: Option<(Vec<String>, Vec<Vec<String>>, bool)> = None;
    let mut row: Vec<String> = Vec::new();
    let mut in_text = 0usize; // depth inside a section's narrative <text>
    loop {
        let ev = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => {
                doc.error = Some(format!(
                    "XML is not well-formed at byte {}: {e}",
                    reader.error_position()
                ));
                break;
            }
        };
        match ev {
            Event::Start(e) => {
                let name = local(e.name().as_ref()).to_vec();
                let parent = path.last().map(|p| p.as_slice());
                match name.as_slice() {
                    b"section" => {
                        section_depth += 1;
                        doc.sections.push(Section {
                            depth: section_depth,
                            ..Section::default()
                        });
                    }
                    b"title" if parent == Some(b"ClinicalDocument") => {
                        into = Into::DocTitle;
                        buf.clear();
                    }
                    b"title" if parent == Some(b"section") => {
                        into = Into::SectionTitle;
                        buf.clear();
                    }
                    b"text" if parent == Some(b"section") => in_text = 1,
                    b"name"
                        if path.iter().any(|p| p == b"author")
                            && path.iter().any(|p| {
                                p == b"assignedPerson" || p == b"representedOrganization"
                            }) =>
                    {
                        into = Into::AuthorName;
                        buf.clear();
                    }
                    b"paragraph" if in_text > 0 => {
                        into = Into::Paragraph;
                        buf.clear();
                    }
                    b"list" if in_text > 0 => list = Some(Vec::new()),
                    b"item" if list.is_some() => {
                        into = Into::Item;
                        buf.clear();
                    }
                    b"table" if in_text > 0 => table = Some((Vec::new(), Vec::new(), false)),
                    b"thead" => {
                        if let Some(t) = table.as_mut() {
                            t.2 = true;
                        }
                    }
                    b"tbody" => {
                        if let Some(t) = table.as_mut() {
                            t.2 = false;
                        }
                    }
                    b"tr" if table.is_some() => row.clear(),
                    b"td" | b"th" if table.is_some() => {
                        into = Into::Cell;
                        buf.clear();
                    }
                    b"br" => buf.push('\n'),
                    _ => {}
                }
                if in_text > 0 && name.as_slice() != b"text" {
                    in_text += 1;
                }
                path.push(name);
            }
            Event::Empty(e) => {
                let qname = e.name();
                let name = local(qname.as_ref());
                let parent = path.last().map(|p| p.as_slice());
                match name {
                    b"code" if parent == Some(b"ClinicalDocument") => {
                        doc.code = attr(&e, b"code").unwrap_or_default();
                        doc.code_name = attr(&e, b"displayName").unwrap_or_default();
                    }
                    b"effectiveTime" if parent == Some(b"ClinicalDocument") => {
                        doc.effective_time = attr(&e, b"value").unwrap_or_default();
                    }
                    b"br" => buf.push('\n'),
                    _ => {}
                }
            }
            Event::Text(t) => {
                let s = t
                    .decode()
                    .map(|c| c.into_owned())
                    .unwrap_or_else(|_| String::from_utf8_lossy(t.as_ref()).into_owned());
                collect(&mut buf, &s, into, in_text);
            }
            Event::CData(t) => {
                let s = String::from_utf8_lossy(t.as_ref()).into_owned();
                collect(&mut buf, &s, into, in_text);
            }
            Event::GeneralRef(r) => {
                let s = match r.as_ref() {
                    b"amp" => "&".to_owned(),
                    b"lt" => "<".to_owned(),
                    b"gt" => ">".to_owned(),
                    b"quot" => "\"".to_owned(),
                    b"apos" => "'".to_owned(),
                    other => match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => format!("&{};", String::from_utf8_lossy(other)),
                    },
                };
                collect(&mut buf, &s, into, in_text);
            }
            Event::End(e) => {
                let name = local(e.name().as_ref()).to_vec();
                path.pop();
                if in_text > 1 {
                    in_text -= 1;
                }
                match name.as_slice() {
                    b"section" => section_depth = section_depth.saturating_sub(1),
                    b"title" if into == Into::DocTitle => {
                        doc.title = clean(&buf);
                        buf.clear();
                        into = Into::Nothing;
                    }
                    b"title" if into == Into::SectionTitle => {
                        if let Some(s) = doc.sections.last_mut() {
                            s.title = clean(&buf);
                        }
                        buf.clear();
                        into = Into::Nothing;
                    }
                    b"name" if into == Into::AuthorName => {
                        let n = clean(&buf);
                        if !n.is_empty() && !doc.authors.contains(&n) {
                            doc.authors.push(n);
                        }
                        buf.clear();
                        into = Into::Nothing;
                    }
                    b"paragraph" if into == Into::Paragraph => {
                        push_block(&mut doc, Block::Paragraph(clean(&buf)));
                        buf.clear();
                        into = Into::Nothing;
                    }
                    b"item" if into == Into::Item => {
                        if let Some(l) = list.as_mut() {
                            l.push(clean(&buf));
                        }
                        buf.clear();
                        into = Into::Nothing;
                    }
                    b"list" => {
                        if let Some(l) = list.take() {
                            push_block(&mut doc, Block::List(l));
                        }
                    }
                    b"td" | b"th" if into == Into::Cell => {
                        row.push(clean(&buf));
                        buf.clear();
                        into = Into::Nothing;
                    }
                    b"tr" => {
                        if let Some(t) = table.as_mut() {
                            let r = std::mem::take(&mut row);
                            if t.2 && t.0.is_empty() {
                                t.0 = r;
                            } else {
                                t.1.push(r);
                            }
                        }
                    }
                    b"table" => {
                        if let Some((header, rows, _)) = table.take() {
                            push_block(&mut doc, Block::Table { header, rows });
                        }
                    }
                    b"text" if in_text == 1 => {
                        // Narrative text outside paragraphs, lists and tables.
                        let rest = clean(&buf);
                        if !rest.is_empty() {
                            push_block(&mut doc, Block::Paragraph(rest));
                        }
                        buf.clear();
                        in_text = 0;
                    }
                    _ => {}
                }
            }
            Event::Eof => {
                if let Some(open) = path.last() {
                    doc.error = Some(format!(
                        "the document ends inside <{}> (cut off?)",
                        String::from_utf8_lossy(open)
                    ));
                }
                break;
            }
            _ => {}
        }
    }
    doc.sections
        .retain(|s| !s.title.is_empty() || !s.blocks.is_empty());
    doc
}

/// Add text to what is being collected: inside a named element, or loose in a section's
/// narrative.
fn collect(buf: &mut String, s: &str, into: Into, in_text: usize) {
    if into != Into::Nothing || in_text > 0 {
        buf.push_str(s);
    }
}

fn push_block(doc: &mut Document, b: Block) {
    let empty = match &b {
        Block::Paragraph(p) => p.is_empty(),
        Block::List(l) => l.is_empty(),
        Block::Table { header, rows } => header.is_empty() && rows.is_empty(),
    };
    if empty {
        return;
    }
    match doc.sections.last_mut() {
        Some(s) => s.blocks.push(b),
        None => doc.sections.push(Section {
            depth: 1,
            blocks: vec![b],
            ..Section::default()
        }),
    }
}

/// Whitespace of XML indentation folded; line breaks (`<br/>`) kept.
fn clean(s: &str) -> String {
    s.split('\n')
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <code code="18842-5" codeSystem="2.16.840.1.113883.6.1" displayName="退院時サマリー"/>
  <title>退院時サマリー</title>
  <effectiveTime value="20240405101500+0900"/>
  <recordTarget><patientRole><id extension="9999013" root="1.2.392.100495.20.3.51.11411111111"/>
    <patient><name>患者 太郎</name></patient></patientRole></recordTarget>
  <author><assignedAuthor><id extension="110"/><assignedPerson><name>医師 一郎</name></assignedPerson>
    <representedOrganization><name>みやぎ中央病院</name></representedOrganization></assignedAuthor></author>
  <component><structuredBody>
    <component><section><title>入院期間</title><text>2024-03-20 から 2024-04-05 まで（17日間）</text></section></component>
    <component><section><title>主病名</title><text><paragraph>肺炎（ICD-10: J189）</paragraph><paragraph>副病名: 糖尿病</paragraph></text></section></component>
    <component><section><title>退院時処方</title><text>
      <list><item>アモキシシリン 250mg 3錠 分3 &amp; 7日分</item><item>メトホルミン 500mg 2錠 分2</item></list>
    </text></section></component>
    <component><section><title>検査</title><text>
      <table><thead><tr><th>項目</th><th>値</th></tr></thead>
      <tbody><tr><td>CRP</td><td>0.3 mg/dL</td></tr><tr><td>WBC</td><td>6800 /μL</td></tr></tbody></table>
    </text>
      <component><section><title>画像</title><text>胸部X線: 浸潤影消失<br/>CT: 異常なし</text></section></component>
    </section></component>
  </structuredBody></component>
</ClinicalDocument>"#;

    #[test]
    fn a_discharge_summary_reads_as_sections() {
        let d = read(SUMMARY.as_bytes());
        assert_eq!(d.error, None);
        assert_eq!(d.title, "退院時サマリー");
        assert_eq!(
            (d.code.as_str(), d.code_name.as_str()),
            ("18842-5", "退院時サマリー")
        );
        assert_eq!(d.effective_time, "20240405101500+0900");
        assert_eq!(d.authors, vec!["医師 一郎", "みやぎ中央病院"]);
        let titles: Vec<(&str, usize)> = d
            .sections
            .iter()
            .map(|s| (s.title.as_str(), s.depth))
            .collect();
        assert_eq!(
            titles,
            vec![
                ("入院期間", 1),
                ("主病名", 1),
                ("退院時処方", 1),
                ("検査", 1),
                ("画像", 2)
            ]
        );
        assert_eq!(
            d.sections[0].blocks,
            vec![Block::Paragraph(
                "2024-03-20 から 2024-04-05 まで（17日間）".into()
            )]
        );
        assert_eq!(
            d.sections[1].blocks,
            vec![
                Block::Paragraph("肺炎（ICD-10: J189）".into()),
                Block::Paragraph("副病名: 糖尿病".into())
            ]
        );
        assert_eq!(
            d.sections[2].blocks,
            vec![Block::List(vec![
                "アモキシシリン 250mg 3錠 分3 & 7日分".into(),
                "メトホルミン 500mg 2錠 分2".into()
            ])]
        );
        assert_eq!(
            d.sections[3].blocks,
            vec![Block::Table {
                header: vec!["項目".into(), "値".into()],
                rows: vec![
                    vec!["CRP".into(), "0.3 mg/dL".into()],
                    vec!["WBC".into(), "6800 /μL".into()]
                ]
            }]
        );
        assert_eq!(
            d.sections[4].blocks,
            vec![Block::Paragraph("胸部X線: 浸潤影消失\nCT: 異常なし".into())]
        );
    }

    #[test]
    fn cda_is_recognised_by_its_root_element() {
        assert!(looks_like_cda(SUMMARY.as_bytes()));
        assert!(looks_like_cda(
            b"\xEF\xBB\xBF<?xml version='1.0'?><!-- x --><v3:ClinicalDocument>"
        ));
        assert!(!looks_like_cda(b"<?xml version='1.0'?><html/>"));
        assert!(!looks_like_cda(b"%PDF-1.4"));
        assert!(!looks_like_cda(b"MSH|^~\\&|"));
        assert!(!looks_like_cda(b""));
    }

    #[test]
    fn a_broken_document_keeps_what_was_read_and_says_where_it_broke() {
        let cut = &SUMMARY[..SUMMARY.find("<table>").expect("table")];
        let broken = format!("{cut}<table><tr><td>CRP</td></tbody></table>");
        let d = read(broken.as_bytes());
        assert!(d.error.is_some(), "{d:?}");
        assert_eq!(d.title, "退院時サマリー");
        assert_eq!(d.sections[0].title, "入院期間");
        let cut = read(&SUMMARY.as_bytes()[..SUMMARY.find("<list>").expect("list")]);
        assert!(
            cut.error.as_deref().unwrap_or("").contains("ends inside"),
            "{cut:?}"
        );
        assert_eq!(cut.sections.len(), 3);
        let d = read(b"not xml at all");
        assert!(d.sections.len() <= 1);
        let d = read(b"");
        assert_eq!(d, Document::default());
    }

    #[test]
    fn prefixed_elements_and_unknown_structures_degrade_to_text() {
        let xml = "<v3:ClinicalDocument xmlns:v3='urn:hl7-org:v3'><v3:title>紹介状</v3:title>\
                   <v3:component><v3:structuredBody><v3:component><v3:section><v3:title>紹介目的</v3:title>\
                   <v3:text><v3:content styleCode='Bold'>精査</v3:content>をお願いします<v3:footnote>注</v3:footnote></v3:text>\
                   </v3:section></v3:component></v3:structuredBody></v3:component></v3:ClinicalDocument>";
        let d = read(xml.as_bytes());
        assert_eq!(d.title, "紹介状");
        assert_eq!(d.sections[0].title, "紹介目的");
        assert_eq!(
            d.sections[0].blocks,
            vec![Block::Paragraph("精査をお願いします注".into())]
        );
    }
}
