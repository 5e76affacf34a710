//! Whose document is it? An extended-storage document names its patient in its content as
//! well as in its folder: an HL7 main document in PID-3, a CDA document in
//! `recordTarget/patientRole/id`. A document whose content names another patient than its
//! folder is quarantined, exactly as a standard-storage message is: filed under the folder's
//! patient it would show one person's referral letter in another's record.
//!
//! Pure: the document's bytes in, a finding out. PDFs and images carry no patient ID a
//! network can rely on; they are filed by their folder alone.

/// The OID prefix of a facility's own patient IDs in Japanese CDA documents
/// (`1.2.392.100495.20.3.51.1` + the facility's 10-digit code, HL7 Japan / JAHIS 診療情報提供書
/// and 退院時サマリー conventions). Other `patientRole/id` roots are insurance numbers.
const JP_PATIENT_ID_ROOT: &str = "1.2.392.100495.20.3.51.";

/// What the content says about its patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentPatient {
    /// The content names the folder's patient.
    Matches,
    /// The content names another patient (the ID as sent).
    Other(String),
    /// The content names no patient ID this check can read.
    Unknown,
}

/// The patient IDs of a CDA document's `recordTarget/patientRole`: each `<id>`'s `root` and
/// `extension`, in document order. A small scanner rather than an XML parser: it reads
/// only the first `recordTarget` element and never fails — a document it cannot read gives
/// no IDs.
pub fn cda_patient_ids(xml: &str) -> Vec<(String, String)> {
    let Some(start) = find_tag(xml, "recordTarget") else {
        return Vec::new();
    };
    let rest = &xml[start..];
    let end = find_close(rest, "recordTarget").unwrap_or(rest.len());
    let target = &rest[..end];
    let Some(role) = find_tag(target, "patientRole") else {
        return Vec::new();
    };
    let role = &target[role..];
    // The patientRole's own ids come before its `patient` element (whose ids, if any, are
    // something else).
    let role = &role[..find_tag(role, "patient").unwrap_or(role.len())];
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = find_tag(&role[at..], "id") {
        let tag_start = at + i;
        let Some(tag_len) = role[tag_start..].find('>') else {
            break;
        };
        let tag = &role[tag_start..tag_start + tag_len];
        out.push((
            attribute(tag, "root").unwrap_or_default(),
            attribute(tag, "extension").unwrap_or_default(),
        ));
        at = tag_start + tag_len;
    }
    out
}

/// Whether a CDA document belongs to `patient_id` (the folder's).
pub fn cda_patient(xml: &str, patient_id: &str) -> DocumentPatient {
    let ids: Vec<(String, String)> = cda_patient_ids(xml)
        .into_iter()
        .filter(|(root, ext)| root.starts_with(JP_PATIENT_ID_ROOT) && !ext.is_empty())
        .collect();
    if ids.is_empty() {
        return DocumentPatient::Unknown;
    }
    if ids.iter().any(|(_, ext)| ext.trim() == patient_id) {
        DocumentPatient::Matches
    } else {
        DocumentPatient::Other(ids[0].1.clone())
    }
}

/// Offset of the first `<name` (with or without a namespace prefix) followed by a space,
/// `>` or `/`.
fn find_tag(xml: &str, name: &str) -> Option<usize> {
    let mut at = 0;
    while let Some(i) = xml[at..].find('<') {
        let open = at + i;
        let after = &xml[open + 1..];
        let local = after
            .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .next()
            .unwrap_or("");
        let local = local.rsplit(':').next().unwrap_or(local);
        if local == name && !after.starts_with('/') {
            return Some(open);
        }
        at = open + 1;
    }
    None
}

/// Offset of the first `</name>` (any prefix).
fn find_close(xml: &str, name: &str) -> Option<usize> {
    let mut at = 0;
    while let Some(i) = xml[at..].find("</") {
        let open = at + i;
        let after = &xml[open + 2..];
        let local = after.split('>').next().unwrap_or("").trim();
        if local.rsplit(':').next() == Some(name) {
            return Some(open);
        }
        at = open + 2;
    }
    None
}

/// The value of `name="…"` (or `'…'`) in one start tag, entity references for quotes and
/// ampersands decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut at = 0;
    while let Some(i) = tag[at..].find(name) {
        let pos = at + i;
        let before_ok = pos > 0 && tag[..pos].ends_with(char::is_whitespace);
        let rest = tag[pos + name.len()..].trim_start();
        if before_ok {
            if let Some(rest) = rest.strip_prefix('=') {
                let rest = rest.trim_start();
                let quote = rest.chars().next()?;
                if quote == '"' || quote == '\'' {
                    let value = &rest[1..];
                    let end = value.find(quote)?;
                    return Some(
                        value[..end]
                            .replace("&quot;", "\"")
                            .replace("&apos;", "'")
                            .replace("&amp;", "&"),
                    );
                }
            }
        }
        at = pos + name.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERRAL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <id root="1.2.392.100495.20.3.11.1411111111" extension="R-2024-0001"/>
  <code code="57133-1" codeSystem="2.16.840.1.113883.6.1" displayName="診療情報提供書"/>
  <recordTarget>
    <patientRole>
      <id root="1.2.392.100495.20.3.51.11411111111" extension="9999013"/>
      <id root="1.2.392.100495.20.3.61.1" extension="01234567"/>
      <patient>
        <name use="IDE">患者 太郎</name>
        <administrativeGenderCode code="M"/>
      </patient>
    </patientRole>
  </recordTarget>
  <author><assignedAuthor><id root="1.2.392.100495.20.3.41.11411111111" extension="110"/></assignedAuthor></author>
</ClinicalDocument>"#;

    #[test]
    fn reads_the_patient_role_ids_only() {
        assert_eq!(
            cda_patient_ids(REFERRAL),
            vec![
                (
                    "1.2.392.100495.20.3.51.11411111111".to_owned(),
                    "9999013".to_owned()
                ),
                ("1.2.392.100495.20.3.61.1".to_owned(), "01234567".to_owned()),
            ]
        );
    }

    #[test]
    fn a_document_of_the_folders_patient_matches() {
        assert_eq!(cda_patient(REFERRAL, "9999013"), DocumentPatient::Matches);
    }

    #[test]
    fn a_document_of_another_patient_is_found_out() {
        assert_eq!(
            cda_patient(REFERRAL, "8888001"),
            DocumentPatient::Other("9999013".into())
        );
    }

    #[test]
    fn insurance_numbers_alone_do_not_decide() {
        // Only the insurance card id: not a facility patient ID, so the check cannot say.
        let xml = REFERRAL.replace(
            r#"<id root="1.2.392.100495.20.3.51.11411111111" extension="9999013"/>"#,
            "",
        );
        assert_eq!(cda_patient(&xml, "8888001"), DocumentPatient::Unknown);
    }

    #[test]
    fn prefixed_namespaces_single_quotes_and_broken_documents() {
        let xml =
            "<v3:ClinicalDocument xmlns:v3='urn:hl7-org:v3'><v3:recordTarget><v3:patientRole>\
                   <v3:id extension='42' root='1.2.392.100495.20.3.51.11411111111'/>\
                   </v3:patientRole></v3:recordTarget></v3:ClinicalDocument>";
        assert_eq!(cda_patient(xml, "42"), DocumentPatient::Matches);
        assert_eq!(
            cda_patient("not xml at all", "42"),
            DocumentPatient::Unknown
        );
        assert_eq!(
            cda_patient("<recordTarget><patientRole><id root=", "42"),
            DocumentPatient::Unknown
        );
        assert_eq!(cda_patient("", "42"), DocumentPatient::Unknown);
    }
}
