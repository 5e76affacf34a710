//! Reading the office screens' HTML forms: a small `application/x-www-form-urlencoded`
//! decoder that keeps repeated keys (checkbox grids and multi-selects send the same name many
//! times, which `serde_urlencoded` cannot put in a struct), and the parsers from form fields to
//! the service's inputs. Every parse error names the field in Japanese and English, so the
//! page can say exactly what to fix.

use std::collections::BTreeSet;

use model::{
    ConsentScope, Date, Facility, FacilityCode, FacilityKind, FacilityStatus, LocalPatient,
    PermissionMatrix, Profession, RecordCategory, RegionalId,
};
use service::{ConsentInput, NewUser, ServiceError};

/// Decoded form fields in the order sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormData(Vec<(String, String)>);

/// `%XX` and `+` decoding; malformed escapes stay as they are (a typo should not drop input).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl FormData {
    /// A POST body (`application/x-www-form-urlencoded`).
    pub fn from_body(body: &[u8]) -> FormData {
        FormData::parse(&String::from_utf8_lossy(body))
    }

    /// A request's query string; none is an empty form.
    pub fn from_query(q: Option<&str>) -> FormData {
        FormData::parse(q.unwrap_or(""))
    }

    pub fn parse(s: &str) -> FormData {
        FormData(
            s.split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(kv), String::new()),
                })
                .collect(),
        )
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> FormData {
        FormData(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// The first value of `key`, trimmed; empty when absent.
    pub fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// A checkbox: browsers send it only when ticked.
    pub fn checked(&self, key: &str) -> bool {
        self.0.iter().any(|(k, v)| k == key && v != "off")
    }

    /// Was `value` among the values of `key` (a ticked checkbox of a grid)?
    pub fn has(&self, key: &str, value: &str) -> bool {
        self.0.iter().any(|(k, v)| k == key && v.trim() == value)
    }
}

fn invalid(field_ja: &str, field: &str, why: impl std::fmt::Display) -> ServiceError {
    ServiceError::Invalid(format!("「{field_ja}」({field}): {why}"))
}

fn required<'a>(form: &'a FormData, key: &str, field_ja: &str) -> Result<&'a str, ServiceError> {
    match form.get(key) {
        "" => Err(invalid(field_ja, key, "入力してください (required)")),
        v => Ok(v),
    }
}

pub fn regional_id(field_ja: &str, key: &str, s: &str) -> Result<RegionalId, ServiceError> {
    if s.trim().is_empty() {
        return Err(invalid(field_ja, key, "入力してください (required)"));
    }
    RegionalId::parse(s).map_err(|e| invalid(field_ja, key, e))
}

pub fn facility_code(field_ja: &str, key: &str, s: &str) -> Result<FacilityCode, ServiceError> {
    if s.trim().is_empty() {
        return Err(invalid(field_ja, key, "入力してください (required)"));
    }
    FacilityCode::parse(s.trim()).map_err(|e| invalid(field_ja, key, e))
}

/// Facility codes typed in one box, separated by spaces, commas, 、 or new lines. Duplicates
/// are dropped, the order kept.
pub fn facility_codes(
    field_ja: &str,
    key: &str,
    s: &str,
) -> Result<Vec<FacilityCode>, ServiceError> {
    let mut out: Vec<FacilityCode> = Vec::new();
    for word in s
        .split(|c: char| c.is_whitespace() || c == ',' || c == '、' || c == '，')
        .filter(|w| !w.is_empty())
    {
        let code = FacilityCode::parse(word)
            .map_err(|e| invalid(field_ja, key, format!("{word:?}: {e}")))?;
        if !out.contains(&code) {
            out.push(code);
        }
    }
    Ok(out)
}

/// Local patients, one a line: `facility-code local-id` (a space, tab, comma or colon between).
pub fn local_patients(key: &str, s: &str) -> Result<Vec<LocalPatient>, ServiceError> {
    let mut out: Vec<LocalPatient> = Vec::new();
    for (n, line) in s.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((code, local)) =
            line.split_once(|c: char| c.is_whitespace() || c == ',' || c == ':' || c == '\t')
        else {
            return Err(invalid(
                "施設コードと患者ID",
                key,
                format!(
                    "{}行目: 「施設コード 患者ID」の形で入力してください (line {}: write 'facility-code local-id')",
                    n + 1,
                    n + 1
                ),
            ));
        };
        let facility = FacilityCode::parse(code.trim()).map_err(|e| {
            invalid(
                "施設コードと患者ID",
                key,
                format!("{}行目 (line {}): {e}", n + 1, n + 1),
            )
        })?;
        let lp = LocalPatient {
            facility,
            local_id: local.trim().to_owned(),
        };
        if lp.local_id.is_empty() {
            return Err(invalid(
                "施設コードと患者ID",
                key,
                format!(
                    "{}行目: 患者IDがありません (line {}: no local ID)",
                    n + 1,
                    n + 1
                ),
            ));
        }
        if !out.contains(&lp) {
            out.push(lp);
        }
    }
    if out.is_empty() {
        return Err(invalid(
            "施設コードと患者ID",
            key,
            "1件以上入力してください (at least one local patient)",
        ));
    }
    Ok(out)
}

/// One local patient from two fields.
pub fn local_patient(
    form: &FormData,
    facility_key: &str,
    local_key: &str,
) -> Result<LocalPatient, ServiceError> {
    Ok(LocalPatient {
        facility: facility_code("施設コード", facility_key, form.get(facility_key))?,
        local_id: required(form, local_key, "施設の患者ID")?.to_owned(),
    })
}

pub fn date(field_ja: &str, key: &str, s: &str) -> Result<Date, ServiceError> {
    Date::parse(s.trim()).ok_or_else(|| {
        invalid(
            field_ja,
            key,
            format!("{s:?} は日付ではありません: YYYY-MM-DD (not a date)"),
        )
    })
}

pub fn optional_date(field_ja: &str, key: &str, s: &str) -> Result<Option<Date>, ServiceError> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        date(field_ja, key, s).map(Some)
    }
}

/// The facility add/edit form.
pub fn facility(code: &str, form: &FormData) -> Result<Facility, ServiceError> {
    let code = facility_code("施設コード", "code", code)?;
    let name = required(form, "name", "施設名")?.to_owned();
    let kind = FacilityKind::parse(form.get("kind")).ok_or_else(|| {
        invalid(
            "施設種別",
            "kind",
            format!(
                "{:?} は施設種別ではありません (not a facility kind)",
                form.get("kind")
            ),
        )
    })?;
    let status = match form.get("status") {
        "" => FacilityStatus::Participating,
        s => FacilityStatus::parse(s).ok_or_else(|| {
            invalid(
                "参加状況",
                "status",
                format!("{s:?}: participating, suspended, left"),
            )
        })?,
    };
    Ok(Facility {
        code,
        name,
        kind,
        area: form.get("area").to_owned(),
        status,
        discloses: form.checked("discloses"),
        views: form.checked("views"),
    })
}

/// A facility as the edit form's initial values.
pub fn facility_form(f: &Facility) -> FormData {
    let mut pairs = vec![
        ("code", f.code.to_string()),
        ("name", f.name.clone()),
        ("kind", f.kind.as_str().to_owned()),
        ("area", f.area.clone()),
        ("status", f.status.as_str().to_owned()),
    ];
    if f.discloses {
        pairs.push(("discloses", "on".into()));
    }
    if f.views {
        pairs.push(("views", "on".into()));
    }
    FormData::from_pairs(pairs)
}

/// The add-user form. The password is checked by the service's password policy.
pub fn new_user(form: &FormData) -> Result<NewUser, ServiceError> {
    let login = required(form, "login", "ログインID")?.to_owned();
    let display_name = required(form, "display_name", "氏名")?.to_owned();
    let profession = Profession::parse(form.get("profession")).ok_or_else(|| {
        invalid(
            "職種",
            "profession",
            format!(
                "{:?} は職種ではありません (not a profession)",
                form.get("profession")
            ),
        )
    })?;
    let facilities = facility_codes("所属施設", "facilities", form.get("facilities"))?;
    // The password is not trimmed: spaces may be part of it.
    let password = form
        .0
        .iter()
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if password.is_empty() {
        return Err(invalid(
            "初期パスワード",
            "password",
            "入力してください (required)",
        ));
    }
    let confirm = form
        .0
        .iter()
        .find(|(k, _)| k == "password_confirm")
        .map(|(_, v)| v.as_str());
    if confirm.is_some_and(|c| c != password) {
        return Err(invalid(
            "パスワード(確認)",
            "password_confirm",
            "パスワードが一致しません (the two passwords differ)",
        ));
    }
    Ok(NewUser {
        login,
        display_name,
        profession,
        facilities,
        password,
    })
}

/// The record-consent form: scope (一括 / 施設選択 / 医師単位), dates, paper form, implied.
pub fn consent(id: &RegionalId, form: &FormData) -> Result<ConsentInput, ServiceError> {
    let scope = match form.get("mode") {
        "all_facilities" => ConsentScope::AllFacilities,
        "selected_facilities" => {
            let disclosing: BTreeSet<FacilityCode> =
                facility_codes("開示する施設", "disclosing", form.get("disclosing"))?
                    .into_iter()
                    .collect();
            let viewing: BTreeSet<FacilityCode> =
                facility_codes("閲覧する施設", "viewing", form.get("viewing"))?
                    .into_iter()
                    .collect();
            if disclosing.is_empty() && viewing.is_empty() {
                return Err(invalid(
                    "開示する施設・閲覧する施設",
                    "disclosing/viewing",
                    "施設選択では施設コードを1つ以上入力してください (name at least one facility)",
                ));
            }
            ConsentScope::SelectedFacilities {
                disclosing,
                viewing,
            }
        }
        "selected_doctors" => {
            let doctors: BTreeSet<String> = form
                .get("doctors")
                .split(|c: char| c.is_whitespace() || c == ',' || c == '、')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect();
            if doctors.is_empty() {
                return Err(invalid(
                    "医師のログインID",
                    "doctors",
                    "医師単位では医師を1人以上入力してください (name at least one doctor)",
                ));
            }
            ConsentScope::SelectedDoctors { doctors }
        }
        other => {
            return Err(invalid(
                "同意の範囲",
                "mode",
                format!("{other:?}: 一括・施設選択・医師単位から選んでください (choose a scope)"),
            ))
        }
    };
    Ok(ConsentInput {
        regional_id: id.clone(),
        scope,
        valid_from: date(
            "開始日",
            "valid_from",
            required(form, "valid_from", "開始日")?,
        )?,
        valid_until: optional_date("終了日", "valid_until", form.get("valid_until"))?,
        paper_form: form.get("paper_form").to_owned(),
        implied: form.checked("implied"),
    })
}

/// The cells of the permission grid that differ from `current`. The grid form sends one
/// `allow` value `profession:category` per ticked box.
pub fn matrix_changes(
    current: &PermissionMatrix,
    form: &FormData,
) -> Vec<(Profession, RecordCategory, bool)> {
    let mut out = Vec::new();
    for p in Profession::ALL {
        for c in RecordCategory::ALL {
            let wanted = form.has("allow", &format!("{}:{}", p.as_str(), c.as_str()));
            if wanted != current.allows(*p, *c) {
                out.push((*p, *c, wanted));
            }
        }
    }
    out
}

pub fn policy_settings(form: &FormData) -> Result<policy::Settings, ServiceError> {
    let minutes = required(form, "break_glass_minutes", "緊急時閲覧の時間(分)")?;
    let break_glass_minutes = minutes.parse::<i64>().map_err(|_| {
        invalid(
            "緊急時閲覧の時間(分)",
            "break_glass_minutes",
            format!("{minutes:?} は数ではありません (not a number)"),
        )
    })?;
    Ok(policy::Settings {
        implied_consent: form.checked("implied_consent"),
        break_glass_minutes,
    })
}

pub fn match_settings(form: &FormData) -> Result<mpi::MatchSettings, ServiceError> {
    let number = |key: &str, field_ja: &str| -> Result<u32, ServiceError> {
        let v = required(form, key, field_ja)?;
        v.parse::<u32>().map_err(|_| {
            invalid(
                field_ja,
                key,
                format!("{v:?}: 0〜100の整数 (a whole number 0–100)"),
            )
        })
    };
    let candidate_min = number("candidate_min", "候補とする点数")?;
    let auto_link_min = if form.checked("never_auto_link") {
        None
    } else {
        Some(number("auto_link_min", "自動連携する点数")?)
    };
    Ok(mpi::MatchSettings {
        auto_link_min,
        candidate_min,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_repeated_keys_plus_and_percent() {
        let f = FormData::parse("a=1&allow=doctor%3Alab_results&allow=nurse%3Aimages&n=%E5%B1%B1+%E7%94%B0&flag=on&bad=%zz");
        assert_eq!(f.get("a"), "1");
        assert!(f.has("allow", "doctor:lab_results"));
        assert_eq!(
            f.get("allow"),
            "doctor:lab_results",
            "get is the first value"
        );
        assert_eq!(f.get("n"), "山 田");
        assert!(f.checked("flag"));
        assert!(!f.checked("missing"));
        assert_eq!(f.get("bad"), "%zz", "malformed escapes are kept");
        assert!(f.has("allow", "nurse:images"));
    }

    #[test]
    fn facility_codes_accept_spaces_commas_and_japanese_commas() {
        let codes = facility_codes("x", "x", "0412345678, 0412345679、0412345678\n").unwrap();
        assert_eq!(codes.len(), 2);
        let err = facility_codes("開示する施設", "disclosing", "0412345678 12")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("開示する施設") && err.contains("disclosing"),
            "{err}"
        );
    }

    #[test]
    fn local_patients_one_a_line_and_errors_name_the_line() {
        let lps = local_patients("locals", "0412345678 P001\n\n0412345679:P-2\n").unwrap();
        assert_eq!(lps.len(), 2);
        assert_eq!(lps[1].local_id, "P-2");
        let err = local_patients("locals", "0412345678 P001\nP002")
            .unwrap_err()
            .to_string();
        assert!(err.contains("2行目") && err.contains("line 2"), "{err}");
        assert!(local_patients("locals", "  \n").is_err());
    }

    #[test]
    fn facility_form_round_trips() {
        let form = FormData::parse(
            "name=%E4%BB%99%E5%8F%B0%E7%97%85%E9%99%A2&kind=hospital&area=%E4%BB%99%E5%8F%B0&status=suspended&views=on",
        );
        let f = facility("0412345678", &form).unwrap();
        assert_eq!(f.name, "仙台病院");
        assert_eq!(f.status, FacilityStatus::Suspended);
        assert!(f.views && !f.discloses);
        assert_eq!(facility("0412345678", &facility_form(&f)).unwrap(), f);
        let err = facility("0412345678", &FormData::parse("kind=hospital"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("施設名") && err.contains("name"), "{err}");
        let err = facility("0412345678", &FormData::parse("name=x&kind=castle"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("kind"), "{err}");
    }

    #[test]
    fn new_user_checks_profession_and_confirmation() {
        let ok = new_user(&FormData::parse(
            "login=dr2&display_name=Dr&profession=doctor&facilities=0412345678&password=a+b&password_confirm=a+b",
        ))
        .unwrap();
        assert_eq!(ok.password, "a b");
        assert_eq!(ok.facilities.len(), 1);
        let err = new_user(&FormData::parse(
            "login=dr2&display_name=Dr&profession=wizard&password=x",
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("profession"), "{err}");
        let err = new_user(&FormData::parse(
            "login=dr2&display_name=Dr&profession=doctor&password=x&password_confirm=y",
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("password_confirm"), "{err}");
    }

    #[test]
    fn consent_scopes_and_dates() {
        let id = RegionalId::issue(1, 42);
        let c = consent(
            &id,
            &FormData::parse("mode=all_facilities&valid_from=2026-04-01&paper_form=F-1"),
        )
        .unwrap();
        assert_eq!(c.scope, ConsentScope::AllFacilities);
        assert!(c.valid_until.is_none() && !c.implied);
        let c = consent(
            &id,
            &FormData::parse(
                "mode=selected_facilities&disclosing=0412345678&viewing=0412345679+0412345678&valid_from=2026-04-01&valid_until=2027-03-31&implied=on",
            ),
        )
        .unwrap();
        match c.scope {
            ConsentScope::SelectedFacilities {
                disclosing,
                viewing,
            } => assert_eq!((disclosing.len(), viewing.len()), (1, 2)),
            other => panic!("{other:?}"),
        }
        assert!(c.implied && c.valid_until.is_some());
        let c = consent(
            &id,
            &FormData::parse("mode=selected_doctors&doctors=dr1+dr2&valid_from=2026-04-01"),
        )
        .unwrap();
        assert_eq!(c.scope.mode(), "selected_doctors");
        for (body, field) in [
            ("mode=selected_doctors&valid_from=2026-04-01", "doctors"),
            ("mode=all_facilities&valid_from=2026-13-01", "valid_from"),
            ("mode=all_facilities", "valid_from"),
            (
                "mode=all_facilities&valid_from=2026-04-01&valid_until=x",
                "valid_until",
            ),
            ("valid_from=2026-04-01", "mode"),
            (
                "mode=selected_facilities&valid_from=2026-04-01",
                "disclosing",
            ),
        ] {
            let err = consent(&id, &FormData::parse(body))
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{body}: {err}");
        }
    }

    #[test]
    fn matrix_changes_only_the_differing_cells() {
        let m = PermissionMatrix::default();
        // Tick exactly what the defaults allow, minus doctor:images, plus care_worker:lab_results.
        let mut pairs = Vec::new();
        for p in Profession::ALL {
            for c in RecordCategory::ALL {
                let on = m.allows(*p, *c);
                let flip = (*p == Profession::Doctor && *c == RecordCategory::Images)
                    || (*p == Profession::CareWorker && *c == RecordCategory::LabResults);
                if on != flip {
                    pairs.push(("allow", format!("{}:{}", p.as_str(), c.as_str())));
                }
            }
        }
        let changes = matrix_changes(&m, &FormData::from_pairs(pairs));
        assert_eq!(
            changes,
            vec![
                (Profession::Doctor, RecordCategory::Images, false),
                (Profession::CareWorker, RecordCategory::LabResults, true),
            ]
        );
    }

    #[test]
    fn settings_forms() {
        let p = policy_settings(&FormData::parse(
            "break_glass_minutes=30&implied_consent=on",
        ))
        .unwrap();
        assert!(p.implied_consent && p.break_glass_minutes == 30);
        assert!(policy_settings(&FormData::parse("break_glass_minutes=abc"))
            .unwrap_err()
            .to_string()
            .contains("break_glass_minutes"));
        let m = match_settings(&FormData::parse("candidate_min=60&auto_link_min=95")).unwrap();
        assert_eq!(m.auto_link_min, Some(95));
        let m = match_settings(&FormData::parse(
            "candidate_min=60&auto_link_min=&never_auto_link=on",
        ))
        .unwrap();
        assert_eq!(m.auto_link_min, None);
        assert!(
            match_settings(&FormData::parse("candidate_min=-1&auto_link_min=9"))
                .unwrap_err()
                .to_string()
                .contains("candidate_min")
        );
    }
}
