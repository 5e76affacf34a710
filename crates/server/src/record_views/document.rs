//! An extended-storage CDA document (診療情報提供書, 退院時サマリー …) as readable text: its
//! title, type, date and authors, then each section with its paragraphs, lists and tables.
//! The original bytes stay available as sent; a document that is not well-formed says where
//! it stopped being readable.

use askama::Template;

use super::view;
use service::ServiceError;

#[derive(Template)]
#[template(path = "records/document.html")]
struct DocumentView<'a> {
    d: &'a cda::Document,
    date: String,
}

/// The view of a CDA document.
pub fn document(d: &cda::Document) -> Result<Option<String>, ServiceError> {
    view(&DocumentView {
        d,
        date: super::when(Some(d.effective_time.as_str())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_shows_its_sections_lists_and_tables_escaped() {
        let xml = r#"<ClinicalDocument xmlns="urn:hl7-org:v3"><code code="18842-5" displayName="退院時サマリー"/>
          <title>退院時サマリー</title><effectiveTime value="20240405101500+0900"/>
          <component><structuredBody>
          <component><section><title>経過</title><text><paragraph>&lt;script&gt;alert(1)&lt;/script&gt; 軽快</paragraph></text></section></component>
          <component><section><title>処方</title><text><list><item>アモキシシリン</item></list>
            <table><thead><tr><th>項目</th></tr></thead><tbody><tr><td>CRP 0.3</td></tr></tbody></table></text></section></component>
          </structuredBody></component></ClinicalDocument>"#;
        let html = document(&cda::read(xml.as_bytes()))
            .expect("renders")
            .expect("view");
        assert!(html.contains("退院時サマリー"), "{html}");
        assert!(html.contains("18842-5"));
        assert!(html.contains("2024-04-05 10:15"), "{html}");
        assert!(html.contains("<h3") && html.contains("経過"));
        assert!(html.contains("alert(1)"), "{html}");
        assert!(!html.contains("<script>"), "text is escaped: {html}");
        assert!(html.contains("<li>アモキシシリン</li>"));
        assert!(html.contains("<th>項目</th>") && html.contains("<td>CRP 0.3</td>"));
    }

    #[test]
    fn a_broken_document_says_so() {
        let d = cda::read(
            "<ClinicalDocument><title>紹介状</title><component><section><title>目的".as_bytes(),
        );
        let html = document(&d).expect("renders").expect("view");
        assert!(html.contains("紹介状"));
        assert!(html.contains("document-error"), "{html}");
    }
}
