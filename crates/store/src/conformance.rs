//! The conformance suite every [`Store`] backend must pass. Each backend's tests call
//! [`run_all`] with a fresh, empty store; a failure panics with the name of the check.

use std::collections::HashSet;

use model::FacilityCode;
use ssmix2::Condition;

use crate::packs::sha256;
use crate::{FileOutcome, ImportTotals, IngestFile, RecordIndex, StorageKind, Store};

fn record_file(path: &str, content: &str) -> IngestFile {
    IngestFile {
        path: path.to_owned(),
        bytes: content.as_bytes().to_vec(),
        sha256: sha256(content.as_bytes()),
        outcome: FileOutcome::Record(RecordIndex {
            storage: StorageKind::Standard,
            patient_id: "1000001".into(),
            date: "20240401".into(),
            kind: "OML-11".into(),
            order_no: "000000000000001".into(),
            written_at: "20240401120000000".into(),
            department: "01".into(),
            condition: Condition::Current,
            message_type: Some("OUL^R22".into()),
            nonconforming_encoding: None,
            cancels: false,
        }),
        notices: vec![],
        demographics: None,
        facts: Vec::new(),
        recorded_at: None,
        accept_unterminated: false,
    }
}

fn bad_file(path: &str, content: &[u8]) -> IngestFile {
    IngestFile {
        path: path.to_owned(),
        bytes: content.to_vec(),
        sha256: sha256(content),
        outcome: FileOutcome::Quarantined {
            reason: "not an HL7 message".into(),
            line: Some(1),
        },
        notices: vec![],
        demographics: None,
        facts: Vec::new(),
        recorded_at: None,
        accept_unterminated: false,
    }
}

/// Run every check on `store`, which must be empty.
pub async fn run_all(store: &dyn Store) {
    let code = FacilityCode::parse("0411111111").expect("valid code");
    assert_eq!(
        store.facility(&code, false).await.expect("lookup"),
        None,
        "unknown facility is None"
    );
    let fac = store
        .facility(&code, true)
        .await
        .expect("create")
        .expect("created");
    assert_eq!(
        store.facility(&code, true).await.expect("again"),
        Some(fac),
        "facility creation is idempotent"
    );

    // Write, then replay the same batch: nothing new.
    let run = store.begin_import(fac, "/src").await.expect("begin");
    let batch = vec![
        record_file("100/000/1000001/20240401/OML-11/a_1", "MSH|one"),
        record_file("100/000/1000001/20240401/OML-11/b_1", "MSH|two"),
        // Same content under another path (an SS-MIX2 rename): one blob, two files.
        record_file("100/000/1000001/20240401/OML-11/a_2", "MSH|one"),
        bad_file("100/000/1000001/junk", b"\xff\xfe"),
    ];
    let out = store
        .write_batch(fac, run, batch.clone())
        .await
        .expect("write");
    assert_eq!(out.versions, 4, "four new versions");
    assert_eq!(out.new_blobs, 3, "identical contents stored once");
    let again = store
        .write_batch(fac, run, batch.clone())
        .await
        .expect("replay");
    assert_eq!(again.versions, 0, "replayed batch adds nothing");
    let digest_once = store.content_digest(fac).await.expect("digest");
    let asked = vec![
        "100/000/1000001/20240401/OML-11/a_1".to_owned(),
        "100/000/1000001/nothing-here".to_owned(),
    ];
    let some = store.current_hashes_of(fac, &asked).await.expect("lookup");
    assert_eq!(some.len(), 1, "only held paths answer");
    assert_eq!(some[&asked[0]], sha256(b"MSH|one"));

    // Read back byte for byte, in the order asked.
    let files = store.current_files(fac).await.expect("files");
    assert_eq!(files.len(), 4);
    let hashes: Vec<_> = files.iter().map(|f| f.sha256).collect();
    let bytes = store.read_blobs(&hashes).await.expect("read");
    for (f, b) in files.iter().zip(&bytes) {
        let original = batch.iter().find(|x| x.path == f.path).expect("known path");
        assert_eq!(b, &original.bytes, "bytes of {}", f.path);
    }
    let q = store.quarantine(fac).await.expect("quarantine");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].reason, "not an HL7 message");
    assert_eq!(q[0].line, Some(1));

    // A changed file is a new version; the old content stays readable.
    let changed = record_file("100/000/1000001/20240401/OML-11/a_1", "MSH|one, corrected");
    let out = store
        .write_batch(fac, run, vec![changed.clone()])
        .await
        .expect("change");
    assert_eq!(out.versions, 1);
    let current = store.current_hashes(fac).await.expect("hashes");
    assert_eq!(current.get(&changed.path), Some(&changed.sha256));
    assert_eq!(
        store.read_blobs(&[batch[0].sha256]).await.expect("old")[0],
        batch[0].bytes,
        "history kept"
    );
    assert_ne!(
        store.content_digest(fac).await.expect("digest"),
        digest_once,
        "digest sees the change"
    );

    // A full scan that no longer sees a path removes it from the current tree only.
    let seen: HashSet<String> = current
        .keys()
        .filter(|p| !p.ends_with("b_1"))
        .cloned()
        .collect();
    let totals = ImportTotals {
        files_seen: 3,
        ..Default::default()
    };
    let removed = store
        .finish_import(fac, run, &totals, Some(&seen))
        .await
        .expect("finish");
    assert_eq!(removed, 1);
    let files = store.current_files(fac).await.expect("files");
    assert_eq!(files.len(), 3);
    assert!(files.iter().all(|f| !f.path.ends_with("b_1")));
    let runs = store.import_runs(Some(fac)).await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].removed, 1);
    assert_eq!(runs[0].totals.as_ref().map(|t| t.files_seen), Some(3));

    let live = store
        .patient_records(fac, "1000001")
        .await
        .expect("patient records");
    let mut live_paths: Vec<&str> = live.iter().map(|r| r.path.as_str()).collect();
    live_paths.sort();
    assert_eq!(
        live_paths,
        [
            "100/000/1000001/20240401/OML-11/a_1",
            "100/000/1000001/20240401/OML-11/a_2"
        ],
        "only live versions; the removed file and the old content are history"
    );
    assert_eq!(
        live.iter()
            .find(|r| r.path.ends_with("a_1"))
            .map(|r| r.sha256),
        Some(changed.sha256)
    );

    let overview = store.facility_overview().await.expect("overview");
    assert_eq!(overview.len(), 1);
    assert_eq!(
        (
            overview[0].files,
            overview[0].records,
            overview[0].quarantined
        ),
        (3, 2, 1)
    );
    assert!(overview[0].last_import.is_some());

    let stats = store.stats().await.expect("stats");
    assert_eq!(stats.facilities, 1);
    assert_eq!(stats.files, 3);
    assert_eq!(stats.file_versions, 6);
    assert_eq!(stats.records, 4);
    assert_eq!(
        stats.current_records, 2,
        "a_1 (new) and a_2; b_1 was removed, old a_1 superseded"
    );
    assert_eq!(stats.quarantined, 1);
    assert_eq!(stats.blobs, 4);
    assert!(stats.packed_bytes > 0);
}

/// Registry checks: facilities, regional IDs and links (with merge/unmerge), consent,
/// users and sessions, settings, and the audit chain. `store` must be empty.
pub async fn run_registry(store: &dyn Store) {
    use model::{
        Consent, ConsentScope, Date, Facility, FacilityKind, FacilityStatus, LocalPatient,
        Profession, UnixTime, User,
    };

    let t = UnixTime(1_764_000_000);
    let a = FacilityCode::parse("0411111111").expect("code");
    let b = FacilityCode::parse("0412222222").expect("code");
    for (code, name) in [(&a, "仙台中央病院"), (&b, "青葉内科クリニック")] {
        store
            .put_facility(&Facility {
                code: code.clone(),
                name: name.into(),
                kind: FacilityKind::Hospital,
                area: "仙台".into(),
                status: FacilityStatus::Participating,
                discloses: true,
                views: true,
            })
            .await
            .expect("put facility");
    }
    let fa = store
        .facility_details(&a)
        .await
        .expect("details")
        .expect("present");
    assert_eq!(fa.name, "仙台中央病院");
    assert_eq!(store.list_facilities().await.expect("list").len(), 2);

    // Enrol, link two facilities' local IDs, unlink, relink.
    let r1 = store.enroll("office", t).await.expect("enroll");
    let r2 = store.enroll("office", t).await.expect("enroll");
    assert_ne!(r1, r2);
    // Unpredictable: IDs issued one after another are not neighbours (walking them from a
    // known one finds nobody), and each one is known to the store.
    let mut numbers = Vec::new();
    for _ in 0..20 {
        let id = store.enroll("office", t).await.expect("enroll");
        assert!(store.regional_id_exists(&id).await.expect("exists"));
        numbers.push(id.as_str()[..15].parse::<u64>().expect("digits"));
    }
    let neighbours = numbers
        .windows(2)
        .filter(|w| w[0].abs_diff(w[1]) < 1000)
        .count();
    assert!(
        neighbours < 3,
        "regional IDs issued in sequence: {numbers:?}"
    );
    let pa = LocalPatient {
        facility: a.clone(),
        local_id: "100001".into(),
    };
    let pb = LocalPatient {
        facility: b.clone(),
        local_id: "9001".into(),
    };
    store.link(&r1, &pa, "office", t).await.expect("link a");
    store.link(&r1, &pb, "office", t).await.expect("link b");
    assert!(
        store.link(&r2, &pa, "office", t).await.is_err(),
        "a local ID has one active link"
    );
    assert_eq!(
        store.regional_id_of(&pa).await.expect("of"),
        Some(r1.clone())
    );
    let ended = store
        .unlink(&pb, "office", t.plus_seconds(10))
        .await
        .expect("unlink")
        .expect("was linked");
    assert_eq!(ended.ended_at, Some(t.plus_seconds(10)));
    assert_eq!(store.regional_id_of(&pb).await.expect("of"), None);
    let links = store.links_of(&r1).await.expect("links");
    assert_eq!(links.len(), 2, "history keeps the ended link");
    assert_eq!(links.iter().filter(|l| l.is_active()).count(), 1);

    // Merge r2 into r1 and back.
    store
        .link(&r2, &pb, "office", t.plus_seconds(20))
        .await
        .expect("link b to r2");
    let m = store
        .merge(&r2, &r1, "office", t.plus_seconds(30))
        .await
        .expect("merge");
    assert_eq!(
        store.regional_id_of(&pb).await.expect("of"),
        Some(r1.clone())
    );
    assert!(
        store.link(&r2, &pa, "office", t).await.is_err(),
        "a merged ID takes no new links"
    );
    store
        .unmerge(m.id, "office", t.plus_seconds(40))
        .await
        .expect("unmerge");
    assert_eq!(
        store.regional_id_of(&pb).await.expect("of"),
        Some(r2.clone())
    );
    assert_eq!(
        store.regional_id_of(&pa).await.expect("of"),
        Some(r1.clone())
    );
    assert!(
        store.unmerge(m.id, "office", t).await.is_err(),
        "a merge is undone once"
    );

    // Consent with history and withdrawal.
    let consent = Consent {
        id: 0,
        regional_id: r1.clone(),
        scope: ConsentScope::SelectedFacilities {
            disclosing: [a.clone()].into_iter().collect(),
            viewing: [a.clone(), b.clone()].into_iter().collect(),
        },
        valid_from: Date::parse("2025-01-01").expect("date"),
        valid_until: None,
        withdrawn_at: None,
        paper_form: "同意書 2025-0001".into(),
        implied: false,
        recorded_by: "office".into(),
        recorded_at: t,
        replaces: None,
    };
    let id = store.record_consent(&consent).await.expect("consent");
    let all = store.consents_of(&r1).await.expect("consents");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].scope, consent.scope);
    let w = store
        .withdraw_consent(id, "office", t.plus_seconds(50))
        .await
        .expect("withdraw");
    assert_eq!(w.withdrawn_at, Some(t.plus_seconds(50)));
    assert!(store.withdraw_consent(id, "office", t).await.is_err());

    // Users and sessions.
    let user = User {
        login: "dr.sato".into(),
        display_name: "佐藤 一郎".into(),
        profession: Profession::Doctor,
        facilities: vec![a.clone()],
        active: true,
    };
    let creds = crate::Credentials {
        password_phc: "$argon2id$x".into(),
        totp_secret: None,
        login_state: "{}".into(),
    };
    store.put_user(&user, Some(&creds)).await.expect("user");
    let (u, c) = store.user("dr.sato").await.expect("get").expect("present");
    assert_eq!((u, c), (user.clone(), creds));
    let token = [7u8; 32];
    let session = crate::Session {
        login: "dr.sato".into(),
        acting_facility: Some(a.clone()),
        created_at: t,
        last_seen: t,
        ended_at: None,
    };
    store
        .create_session(&token, &session)
        .await
        .expect("session");
    store
        .end_session(&token, t.plus_seconds(5))
        .await
        .expect("end");
    assert_eq!(
        store
            .session(&token)
            .await
            .expect("s")
            .expect("present")
            .ended_at,
        Some(t.plus_seconds(5))
    );

    store
        .put_setting("policy", "{\"implied_consent\":false}")
        .await
        .expect("setting");
    assert_eq!(
        store.setting("policy").await.expect("get").as_deref(),
        Some("{\"implied_consent\":false}")
    );

    // Audit: append, verify, query, anchor.
    let mut events = Vec::new();
    for i in 0..5 {
        let mut e = audit::Event::new(t.plus_seconds(i), "dr.sato", audit::Action::View);
        e.patient = Some(r1.clone());
        e.flagged = i == 3;
        events.push(e);
    }
    store.append_audit(events).await.expect("append");
    store
        .append_audit(vec![audit::Event::new(t, "office", audit::Action::Link)])
        .await
        .expect("append");
    let all = store.audit_range(1, 0).await.expect("range");
    assert_eq!(audit::verify(&all), Ok(6));
    let head = store.audit_head().await.expect("head");
    assert_eq!(head, store.audit_anchor().await.expect("anchor"));
    assert_eq!(head.map(|h| h.0), Some(6));
    let about = store
        .audit_query(&crate::AuditFilter {
            patient: Some(r1.clone()),
            ..Default::default()
        })
        .await
        .expect("query");
    assert_eq!(about.len(), 5);
    let flagged = store
        .audit_query(&crate::AuditFilter {
            flagged_only: true,
            ..Default::default()
        })
        .await
        .expect("q");
    assert_eq!(flagged.len(), 1);
}

fn fact_file(
    path: &str,
    kind: &str,
    order_no: &str,
    written_at: &str,
    condition: Condition,
    facts: Vec<crate::Fact>,
) -> IngestFile {
    let content = format!("MSH|{path}");
    IngestFile {
        path: path.to_owned(),
        bytes: content.as_bytes().to_vec(),
        sha256: sha256(content.as_bytes()),
        outcome: FileOutcome::Record(RecordIndex {
            storage: StorageKind::Standard,
            patient_id: "2000001".into(),
            date: "20240401".into(),
            kind: kind.into(),
            order_no: order_no.into(),
            written_at: written_at.into(),
            department: "01".into(),
            condition,
            message_type: None,
            nonconforming_encoding: None,
            cancels: false,
        }),
        notices: vec![],
        demographics: None,
        facts: facts
            .into_iter()
            .enumerate()
            .map(|(i, fact)| crate::ClinicalFact {
                line: i as u32,
                fact,
            })
            .collect(),
        recorded_at: None,
        accept_unterminated: false,
    }
}

fn lab_fact(code: &str, value: &str, at: &str) -> crate::Fact {
    crate::Fact::Lab(crate::LabFact {
        code: code.into(),
        code_system: "JC10".into(),
        name: format!("test {code}"),
        value: value.into(),
        observed_at: at.into(),
        ..Default::default()
    })
}

fn med_fact(hot: &str, start: &str, end: &str) -> crate::Fact {
    crate::Fact::Medication(crate::MedicationFact {
        rp: "1".into(),
        hot_code: hot.into(),
        drug_name: format!("drug {hot}"),
        start_date: start.into(),
        end_date: end.into(),
        days: Some(14),
        ..Default::default()
    })
}

/// Clinical facts: written with their record, idempotent, live exactly while their file
/// version is current (an SS-MIX2 update or cancellation hides them), history per order.
pub async fn run_facts(store: &dyn Store) {
    use crate::{Fact, LabFilter};
    let code = FacilityCode::parse("0422222222").expect("valid code");
    let fac = store
        .facility(&code, true)
        .await
        .expect("create")
        .expect("created");
    let dir = "100/000/2000001/20240401";
    let order = "000000000000077";
    let med_v1 = format!("{dir}/OMP-01/2000001_20240401_OMP-01_{order}_20240401090000000_01_1");
    let batch = vec![
        fact_file(
            &format!("{dir}/OML-11/lab_1"),
            "OML-11",
            "000000000000011",
            "20240410120000000",
            Condition::Current,
            vec![
                lab_fact("3A010000002327101", "7.0", "20240401"),
                lab_fact("3D010000001926101", "110", "20240410"),
            ],
        ),
        fact_file(
            &med_v1,
            "OMP-01",
            order,
            "20240401090000000",
            Condition::Current,
            vec![med_fact("108665201", "20240401", "20240414")],
        ),
        fact_file(
            &format!("{dir}/PPR-01/ppr_1"),
            "PPR-01",
            "999999999999999",
            "20240401090000000",
            Condition::Current,
            vec![Fact::Diagnosis(crate::DiagnosisFact {
                name: "高血圧症".into(),
                icd10: "I10".into(),
                main: true,
                start_date: "20230101".into(),
                ..Default::default()
            })],
        ),
        fact_file(
            &format!("{dir}/ADT-61/allergy_1"),
            "ADT-61",
            "999999999999999",
            "20240401090000000",
            Condition::Current,
            vec![Fact::Allergy(crate::AllergyFact {
                allergen_name: "ソバ".into(),
                ..Default::default()
            })],
        ),
        fact_file(
            &format!("{dir}/ADT-22/admit_1"),
            "ADT-22",
            "999999999999999",
            "20240401090000000",
            Condition::Current,
            vec![Fact::Encounter(crate::EncounterFact {
                event: "A01".into(),
                admitted_at: "20240401090000".into(),
                ward: "3W".into(),
                ..Default::default()
            })],
        ),
    ];
    let run = store.begin_import(fac, "/src").await.expect("begin");
    store
        .write_batch(fac, run, batch.clone())
        .await
        .expect("write");
    // A replayed batch writes nothing, facts included.
    store
        .write_batch(fac, run, batch.clone())
        .await
        .expect("replay");
    let mut seen: HashSet<String> = batch.iter().map(|f| f.path.clone()).collect();
    store
        .finish_import(fac, run, &ImportTotals::default(), Some(&seen))
        .await
        .expect("finish");

    let all = store
        .lab_results(fac, "2000001", &LabFilter::default())
        .await
        .expect("labs");
    assert_eq!(all.len(), 2, "facts written once despite the replay");
    assert_eq!(all[0].fact.value, "110", "newest first");
    assert_eq!(
        (all[0].kind.as_str(), all[0].date.as_str()),
        ("OML-11", "20240401")
    );
    assert_eq!(all[0].line, 1);
    assert_eq!(all[0].version_id, all[1].version_id);
    let one = store
        .lab_results(
            fac,
            "2000001",
            &LabFilter {
                codes: vec!["3A010000002327101".into()],
                ..Default::default()
            },
        )
        .await
        .expect("by code");
    assert_eq!(one.len(), 1, "code filter");
    assert_eq!(one[0].fact.value, "7.0");
    let range = store
        .lab_results(
            fac,
            "2000001",
            &LabFilter {
                from: Some("20240402".into()),
                to: Some("20240410".into()),
                ..Default::default()
            },
        )
        .await
        .expect("by date");
    assert_eq!(range.len(), 1, "date range, `to` inclusive");
    // Two results of one code: only the newest comes back with latest_per_test.
    let run = store.begin_import(fac, "/src").await.expect("begin");
    let later = fact_file(
        &format!("{dir}/OML-11/lab2_1"),
        "OML-11",
        "000000000000012",
        "20240420120000000",
        Condition::Current,
        vec![lab_fact("3A010000002327101", "7.4", "20240420")],
    );
    store
        .write_batch(fac, run, vec![later.clone()])
        .await
        .expect("write");
    seen.insert(later.path.clone());
    store
        .finish_import(fac, run, &ImportTotals::default(), Some(&seen))
        .await
        .expect("finish");
    let latest = store
        .lab_results(
            fac,
            "2000001",
            &LabFilter {
                latest_per_test: true,
                ..Default::default()
            },
        )
        .await
        .expect("latest");
    let mut got: Vec<(&str, &str)> = latest
        .iter()
        .map(|l| (l.fact.code.as_str(), l.fact.value.as_str()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [("3A010000002327101", "7.4"), ("3D010000001926101", "110")],
        "newest result of each test"
    );
    assert!(store
        .lab_results(fac, "other", &LabFilter::default())
        .await
        .expect("other patient")
        .is_empty());

    let meds = store.medications(fac, "2000001", None).await.expect("meds");
    assert_eq!(meds.len(), 1);
    assert_eq!(meds[0].order_no, order);
    assert_eq!(meds[0].fact.days, Some(14));
    let active = |day: &'static str| async move {
        store
            .medications(fac, "2000001", Some(day))
            .await
            .expect("active")
            .len()
    };
    assert_eq!(active("20240414").await, 1, "active on its last day");
    assert_eq!(active("20240415").await, 0, "ended");
    assert_eq!(active("20240331").await, 0, "not started");
    let d = store.diagnoses(fac, "2000001").await.expect("diagnoses");
    assert_eq!((d.len(), d[0].fact.icd10.as_str()), (1, "I10"));
    assert_eq!(d[0].kind, "PPR-01");
    let a = store.allergies(fac, "2000001").await.expect("allergies");
    assert_eq!(a[0].fact.allergen_name, "ソバ");
    let e = store.encounters(fac, "2000001").await.expect("encounters");
    assert_eq!(
        (e[0].fact.event.as_str(), e[0].kind.as_str()),
        ("A01", "ADT-22")
    );

    // SS-MIX2 update: the `_1` file becomes `_2` (no facts: history) and the new version is
    // a new `_1` file; the old path leaves the tree.
    let med_v1_old = med_v1.replace("_1", "_2");
    let med_v2 = format!("{dir}/OMP-01/2000001_20240401_OMP-01_{order}_20240403090000000_01_1");
    let run = store.begin_import(fac, "/src").await.expect("begin");
    let update = vec![
        fact_file(
            &med_v1_old,
            "OMP-01",
            order,
            "20240401090000000",
            Condition::Superseded,
            vec![],
        ),
        fact_file(
            &med_v2,
            "OMP-01",
            order,
            "20240403090000000",
            Condition::Current,
            vec![med_fact("108665201", "20240403", "20240409")],
        ),
    ];
    store
        .write_batch(fac, run, update.clone())
        .await
        .expect("update");
    seen.remove(&med_v1);
    seen.extend(update.iter().map(|f| f.path.clone()));
    store
        .finish_import(fac, run, &ImportTotals::default(), Some(&seen))
        .await
        .expect("finish");
    let meds = store.medications(fac, "2000001", None).await.expect("meds");
    assert_eq!(meds.len(), 1, "only the update's line is live");
    assert_eq!(meds[0].fact.start_date, "20240403");
    let history = store
        .order_fact_history(fac, "2000001", "OMP-01", order)
        .await
        .expect("history");
    let h: Vec<(&str, bool)> = history
        .iter()
        .map(|h| match &h.row.fact {
            Fact::Medication(m) => (m.start_date.as_str(), h.live),
            other => panic!("not a medication: {other:?}"),
        })
        .collect();
    assert_eq!(
        h,
        [("20240401", false), ("20240403", true)],
        "history keeps the replaced line"
    );

    // Cancellation: the `_1` file becomes `_0` and the delete message is another `_0`.
    let run = store.begin_import(fac, "/src").await.expect("begin");
    let cancel = vec![
        fact_file(
            &med_v2.replace("_01_1", "_01_0"),
            "OMP-01",
            order,
            "20240403090000000",
            Condition::Deleted,
            vec![],
        ),
        fact_file(
            &format!("{dir}/OMP-01/2000001_20240401_OMP-01_{order}_20240404090000000_01_0"),
            "OMP-01",
            order,
            "20240404090000000",
            Condition::Deleted,
            vec![],
        ),
    ];
    store
        .write_batch(fac, run, cancel.clone())
        .await
        .expect("cancel");
    seen.remove(&med_v2);
    seen.extend(cancel.iter().map(|f| f.path.clone()));
    store
        .finish_import(fac, run, &ImportTotals::default(), Some(&seen))
        .await
        .expect("finish");
    assert!(
        store
            .medications(fac, "2000001", None)
            .await
            .expect("meds")
            .is_empty(),
        "a cancelled order has no live lines"
    );
    let history = store
        .order_fact_history(fac, "2000001", "OMP-01", order)
        .await
        .expect("history");
    assert_eq!(history.len(), 2);
    assert!(
        history.iter().all(|h| !h.live),
        "history stays, nothing live"
    );
    assert_eq!(
        store
            .lab_results(fac, "2000001", &LabFilter::default())
            .await
            .expect("labs")
            .len(),
        3,
        "other orders untouched"
    );
}

/// ADT facts (issue 14): AL1 allergies of the demographics (ADT-00), stay events of every
/// stay kind and the cancel messages stored as current files of their own, with their
/// detail (JSON) read back as written; an update of ADT-00 and a `_0` cancel of a transfer
/// take their facts out of the live reads. `store` may hold other facilities.
pub async fn run_adt_facts(store: &dyn Store) {
    use crate::{AllergyDetail, AllergyFact, EncounterDetail, EncounterFact, Fact};
    let code = FacilityCode::parse("0466666666").expect("valid code");
    let fac = store
        .facility(&code, true)
        .await
        .expect("create")
        .expect("created");
    let file = |path: &str, kind: &str, at: &str, condition: Condition, facts: Vec<Fact>| {
        let mut f = fact_file(path, kind, "999999999999999", at, condition, facts);
        if let FileOutcome::Record(r) = &mut f.outcome {
            r.date = if kind == "ADT-00" {
                "-".into()
            } else {
                "20240401".into()
            };
        }
        f
    };
    let dir = "100/000/2000001";
    let adt00 = format!("{dir}/-/ADT-00/2000001_-_ADT-00_999999999999999_20240401080000000_01_1");
    let transfer = format!(
        "{dir}/20240401/ADT-42/2000001_20240401_ADT-42_999999999999999_20240401150000000_01_1"
    );
    let al1 = AllergyFact {
        allergen_type_code: "DA".into(),
        allergen_code: "620004422".into(),
        allergen_system: "HOT9".into(),
        allergen_name: "ロキソニン錠60mg".into(),
        detail: AllergyDetail {
            segment: "AL1".into(),
            severity_code: "SV".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let admission = EncounterFact {
        event: "A01".into(),
        admitted_at: "20240401100000+0900".into(),
        ward: "3W".into(),
        room: "301".into(),
        department: "01".into(),
        detail: EncounterDetail {
            bed: "2".into(),
            department_label: "01 内科".into(),
            attending: vec!["110 医師\u{3000}一郎".into()],
            visit_number: "V0001".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let cancel = EncounterFact {
        event: "A11".into(),
        admitted_at: "20240401100000+0900".into(),
        detail: EncounterDetail {
            cancels: "A01".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let moved = EncounterFact {
        event: "A02".into(),
        detail: EncounterDetail {
            occurred_at: "20240401150000".into(),
            prior_ward: "3W".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let batch = vec![
        file(&adt00, "ADT-00", "20240401080000000", Condition::Current, vec![Fact::Allergy(al1.clone())]),
        file(
            &format!("{dir}/20240401/ADT-22/2000001_20240401_ADT-22_999999999999999_20240401100000000_01_1"),
            "ADT-22",
            "20240401100000000",
            Condition::Current,
            vec![Fact::Encounter(admission.clone())],
        ),
        file(
            &format!("{dir}/20240401/ADT-22/2000001_20240401_ADT-22_999999999999999_20240401120000000_01_1"),
            "ADT-22",
            "20240401120000000",
            Condition::Current,
            vec![Fact::Encounter(cancel.clone())],
        ),
        file(&transfer, "ADT-42", "20240401150000000", Condition::Current, vec![Fact::Encounter(moved.clone())]),
    ];
    let run = store.begin_import(fac, "/src").await.expect("begin");
    store
        .write_batch(fac, run, batch.clone())
        .await
        .expect("write");
    let mut seen: HashSet<String> = batch.iter().map(|f| f.path.clone()).collect();
    store
        .finish_import(fac, run, &ImportTotals::default(), Some(&seen))
        .await
        .expect("finish");

    let a = store.allergies(fac, "2000001").await.expect("allergies");
    assert_eq!(a.len(), 1);
    assert_eq!(
        (a[0].kind.as_str(), &a[0].fact),
        ("ADT-00", &al1),
        "AL1 with its detail"
    );
    let mut e = store.encounters(fac, "2000001").await.expect("encounters");
    e.sort_by_key(|r| r.written_at.clone());
    let got: Vec<(&str, &EncounterFact)> = e.iter().map(|r| (r.kind.as_str(), &r.fact)).collect();
    assert_eq!(
        got,
        [
            ("ADT-22", &admission),
            ("ADT-22", &cancel),
            ("ADT-42", &moved)
        ],
        "every stay event, the cancel message with what it cancels"
    );
    assert!(e
        .iter()
        .all(|r| r.date == "20240401" && r.order_no == "999999999999999"));

    // The demographics are updated (`_1` → `_2`, a new `_1` without AL1) and the transfer
    // is cancelled by condition flag (`_1` → `_0`): neither old fact stays live.
    let run = store.begin_import(fac, "/src").await.expect("begin");
    let adt00_new = adt00.replace("20240401080000000_01_1", "20240402080000000_01_1");
    let update = vec![
        file(
            &adt00.replace("_01_1", "_01_2"),
            "ADT-00",
            "20240401080000000",
            Condition::Superseded,
            vec![],
        ),
        file(
            &adt00_new,
            "ADT-00",
            "20240402080000000",
            Condition::Current,
            vec![],
        ),
        file(
            &transfer.replace("_01_1", "_01_0"),
            "ADT-42",
            "20240401150000000",
            Condition::Deleted,
            vec![],
        ),
    ];
    store
        .write_batch(fac, run, update.clone())
        .await
        .expect("update");
    seen.remove(&adt00);
    seen.remove(&transfer);
    seen.extend(update.iter().map(|f| f.path.clone()));
    store
        .finish_import(fac, run, &ImportTotals::default(), Some(&seen))
        .await
        .expect("finish");
    assert!(store
        .allergies(fac, "2000001")
        .await
        .expect("allergies")
        .is_empty());
    let e = store.encounters(fac, "2000001").await.expect("encounters");
    assert_eq!(e.len(), 2, "the transfer cancelled by its flag is gone");
    assert!(e.iter().all(|r| r.kind == "ADT-22"));
}

#[allow(clippy::too_many_arguments)]
fn indexed_file(
    path: &str,
    patient: &str,
    date: &str,
    kind: &str,
    order_no: &str,
    written_at: &str,
    condition: Condition,
    demographics: Option<model::Demographics>,
) -> IngestFile {
    let content = format!("MSH|{path}");
    IngestFile {
        path: path.to_owned(),
        bytes: content.as_bytes().to_vec(),
        sha256: sha256(content.as_bytes()),
        outcome: FileOutcome::Record(RecordIndex {
            storage: StorageKind::Standard,
            patient_id: patient.into(),
            date: date.into(),
            kind: kind.into(),
            order_no: order_no.into(),
            written_at: written_at.into(),
            department: "01".into(),
            condition,
            message_type: None,
            nonconforming_encoding: None,
            cancels: false,
        }),
        notices: vec![],
        demographics,
        facts: Vec::new(),
        recorded_at: None,
        accept_unterminated: false,
    }
}

fn adt00(patient: &str, kanji: &str, kana: &str, birth: &str, sex: &str, at: &str) -> IngestFile {
    indexed_file(
        &format!("100/000/{patient}/-/ADT-00/{patient}_-_ADT-00_999999999999999_{at}_01_1"),
        patient,
        "-",
        "ADT-00",
        "999999999999999",
        at,
        Condition::Current,
        Some(model::Demographics {
            name_kanji: kanji.into(),
            name_kana: kana.into(),
            birth_date: birth.into(),
            sex: sex.into(),
            ..Default::default()
        }),
    )
}

/// Patient search on the normalised keys, and the viewer's paged record reads. `store` must
/// be empty.
pub async fn run_viewer(store: &dyn Store) {
    use crate::{NameQuery, PatientSearch, RecordCursor, RecordFilter};
    use model::{LocalPatient, UnixTime};

    // --- Search -----------------------------------------------------------------------
    let a = FacilityCode::parse("0433333333").expect("code");
    let b = FacilityCode::parse("0434444444").expect("code");
    let fa = store.facility(&a, true).await.expect("a").expect("a");
    let fb = store.facility(&b, true).await.expect("b").expect("b");
    let at = "20240101090000000";
    let run = store.begin_import(fa, "/a").await.expect("run");
    store
        .write_batch(
            fa,
            run,
            vec![
                adt00("A1", "高橋 花子", "タカハシ ハナコ", "19500101", "F", at),
                adt00("A2", "髙橋 太郎", "ﾀｶﾊｼ ﾀﾛｳ", "19600202", "M", at),
            ],
        )
        .await
        .expect("write a");
    let run = store.begin_import(fb, "/b").await.expect("run");
    store
        .write_batch(
            fb,
            run,
            vec![
                adt00("B1", "高橋 一郎", "たかはし いちろう", "19500101", "M", at),
                adt00("B2", "佐藤 次郎", "サトウ ジロウ", "19700303", "M", at),
            ],
        )
        .await
        .expect("write b");
    let lp = |f: &FacilityCode, id: &str| LocalPatient {
        facility: f.clone(),
        local_id: id.into(),
    };
    let t = UnixTime(1_764_000_000);
    let r1 = store.enroll("office", t).await.expect("enroll");
    store
        .link(&r1, &lp(&a, "A1"), "office", t)
        .await
        .expect("link");
    store
        .link(&r1, &lp(&b, "B1"), "office", t)
        .await
        .expect("link");

    let ids = |hits: &[crate::LocalPatientHit]| -> Vec<String> {
        hits.iter().map(|h| h.patient.local_id.clone()).collect()
    };
    let by_name = |name: &str| PatientSearch {
        name: NameQuery::parse(name),
        ..Default::default()
    };
    let hits = store
        .search_local_patients(&by_name("たかはし"))
        .await
        .expect("search");
    let mut found = ids(&hits);
    found.sort();
    assert_eq!(
        found,
        ["A1", "A2", "B1"],
        "a hiragana query finds full-width, half-width and hiragana entries"
    );
    let hits = store
        .search_local_patients(&by_name("ﾀｶﾊｼ ﾊ"))
        .await
        .expect("search");
    assert_eq!(ids(&hits), ["A1"], "prefix of the full kana name");
    let hits = store
        .search_local_patients(&by_name("髙橋"))
        .await
        .expect("search");
    assert_eq!(hits.len(), 3, "髙橋 finds 高橋 and 髙橋");
    let hits = store
        .search_local_patients(&by_name("高橋　花"))
        .await
        .expect("search");
    assert_eq!(ids(&hits), ["A1"], "family + given name prefix");
    assert_eq!(hits[0].demographics.name_kanji, "高橋 花子");
    assert_eq!(hits[0].regional_id.as_ref(), Some(&r1));

    let mut s = by_name("タカハシ");
    s.birth_date = Some("19500101".into());
    let mut found = ids(&store.search_local_patients(&s).await.expect("search"));
    found.sort();
    assert_eq!(found, ["A1", "B1"], "birth date narrows");
    s.sex = Some("F".into());
    assert_eq!(
        ids(&store.search_local_patients(&s).await.expect("search")),
        ["A1"],
        "sex narrows"
    );
    let birth_only = PatientSearch {
        birth_date: Some("19700303".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(&store
            .search_local_patients(&birth_only)
            .await
            .expect("search")),
        ["B2"]
    );
    let mut limited = by_name("タカハシ");
    limited.limit = 2;
    assert_eq!(
        store
            .search_local_patients(&limited)
            .await
            .expect("search")
            .len(),
        2,
        "limit honoured"
    );
    let mut linked = by_name("タカハシ");
    linked.linked_only = true;
    let hits = store.search_local_patients(&linked).await.expect("search");
    let mut found = ids(&hits);
    found.sort();
    assert_eq!(found, ["A1", "B1"], "only linked patients");
    assert!(hits.iter().all(|h| h.regional_id.as_ref() == Some(&r1)));
    let one = PatientSearch {
        patient: Some(lp(&b, "B2")),
        ..Default::default()
    };
    let hits = store.search_local_patients(&one).await.expect("search");
    assert_eq!(ids(&hits), ["B2"]);
    assert_eq!(hits[0].regional_id, None);
    // A newer ADT-00 renames the patient: the keys follow.
    let run = store.begin_import(fb, "/b").await.expect("run");
    store
        .write_batch(
            fb,
            run,
            vec![adt00(
                "B2",
                "齋藤 次郎",
                "サイトウ ジロウ",
                "19700303",
                "M",
                "20250101090000000",
            )],
        )
        .await
        .expect("rename");
    assert_eq!(
        ids(&store
            .search_local_patients(&by_name("さいとう"))
            .await
            .expect("search")),
        ["B2"]
    );
    assert!(store
        .search_local_patients(&by_name("さとう"))
        .await
        .expect("search")
        .is_empty());

    // --- Timeline pages, versions, orders ------------------------------------------------
    let c = FacilityCode::parse("0435555555").expect("code");
    let fc = store.facility(&c, true).await.expect("c").expect("c");
    let p = "C1";
    let f = |date: &str, kind: &str, order: &str, written: &str, cond: Condition| {
        let flag = cond.flag();
        indexed_file(
            &format!("100/000/{p}/{date}/{kind}/{p}_{date}_{kind}_{order}_{written}_01_{flag}"),
            p,
            date,
            kind,
            order,
            written,
            cond,
            None,
        )
    };
    let run = store.begin_import(fc, "/c").await.expect("run");
    let files = vec![
        f(
            "20240101",
            "OML-11",
            "000000000000001",
            "20240101100000000",
            Condition::Current,
        ),
        f(
            "20240101",
            "OML-11",
            "000000000000002",
            "20240101110000000",
            Condition::Current,
        ),
        f(
            "20240201",
            "OMP-01",
            "000000000000007",
            "20240201090000000",
            Condition::Superseded,
        ),
        f(
            "20240201",
            "OMP-01",
            "000000000000007",
            "20240202090000000",
            Condition::Current,
        ),
        f(
            "20240301",
            "OMP-01",
            "000000000000008",
            "20240301090000000",
            Condition::Deleted,
        ),
        f(
            "20240401",
            "OML-11",
            "000000000000003",
            "20240401100000000",
            Condition::Current,
        ),
        f(
            "-",
            "ADT-00",
            "999999999999999",
            "20240101090000000",
            Condition::Current,
        ),
    ];
    store.write_batch(fc, run, files).await.expect("timeline");
    let all = RecordFilter::default();
    let full = store.patient_records_page(fc, p, &all).await.expect("page");
    let order: Vec<(String, String)> = full
        .iter()
        .map(|r| (r.record.date.clone(), r.record.kind.clone()))
        .collect();
    assert_eq!(
        full.len(),
        6,
        "the superseded version is history: {order:?}"
    );
    assert!(
        full.windows(2)
            .all(|w| RecordCursor::of(&w[0].record) > RecordCursor::of(&w[1].record)),
        "newest first: {order:?}"
    );
    assert_eq!(full[0].record.date, "20240401");
    assert_eq!(full[5].record.date, "-", "undated last");
    let updated = full
        .iter()
        .find(|r| r.record.order_no == "000000000000007")
        .expect("updated order");
    assert_eq!(updated.versions, 2, "the update has a history");
    assert_eq!(updated.record.condition, Condition::Current);
    assert!(full
        .iter()
        .filter(|r| r.record.kind == "OML-11")
        .all(|r| r.versions == 1));

    // Paging with a cursor: every record exactly once, in order.
    let mut paged = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .patient_records_page(
                fc,
                p,
                &RecordFilter {
                    before: before.clone(),
                    limit: 2,
                    ..Default::default()
                },
            )
            .await
            .expect("page");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        before = Some(RecordCursor::of(&last.record));
        paged.extend(page.into_iter().map(|r| r.record.version_id));
    }
    assert_eq!(
        paged,
        full.iter().map(|r| r.record.version_id).collect::<Vec<_>>(),
        "pages add up to the whole timeline"
    );

    let with_history = store
        .patient_records_page(
            fc,
            p,
            &RecordFilter {
                include_superseded: true,
                ..Default::default()
            },
        )
        .await
        .expect("page");
    assert_eq!(with_history.len(), 7);
    let labs = store
        .patient_records_page(
            fc,
            p,
            &RecordFilter {
                kinds: Some(vec!["OML-11".into()]),
                ..Default::default()
            },
        )
        .await
        .expect("page");
    assert_eq!(labs.len(), 3, "kind filter");
    let ranged = store
        .patient_records_page(
            fc,
            p,
            &RecordFilter {
                from: Some("20240201".into()),
                to: Some("20240301".into()),
                ..Default::default()
            },
        )
        .await
        .expect("page");
    assert_eq!(
        ranged
            .iter()
            .map(|r| r.record.date.as_str())
            .collect::<Vec<_>>(),
        ["20240301", "20240201"],
        "date range, inclusive, without undated records"
    );
    let none = store
        .patient_records_page(
            fc,
            p,
            &RecordFilter {
                kinds: Some(vec![]),
                ..Default::default()
            },
        )
        .await
        .expect("page");
    assert!(none.is_empty(), "no kind allowed, nothing read");

    // One version, and the order's versions.
    let v = store
        .record_version(updated.record.version_id)
        .await
        .expect("version")
        .expect("exists");
    assert_eq!((v.facility, v.local_id.as_str(), v.live), (fc, p, true));
    assert_eq!(v.record, updated.record);
    assert!(store
        .record_version(i64::MAX)
        .await
        .expect("none")
        .is_none());
    let versions = store
        .order_versions(fc, p, "OMP-01", "000000000000007")
        .await
        .expect("versions");
    assert_eq!(
        versions
            .iter()
            .map(|v| v.record.condition)
            .collect::<Vec<_>>(),
        [Condition::Superseded, Condition::Current],
        "oldest first"
    );
    // A full scan without the superseded file: it is not live any more, still history.
    let seen: HashSet<String> = store
        .current_files(fc)
        .await
        .expect("files")
        .into_iter()
        .map(|f| f.path)
        .filter(|path| !path.ends_with("_2"))
        .collect();
    store
        .finish_import(fc, run, &ImportTotals::default(), Some(&seen))
        .await
        .expect("finish");
    let versions = store
        .order_versions(fc, p, "OMP-01", "000000000000007")
        .await
        .expect("versions");
    assert_eq!(versions.len(), 2);
    assert!(!versions[0].live && versions[1].live);
}

/// Replication streams, point-in-time reads and blob checks. `primary` and `replica` must be
/// fresh, empty stores of the backend.
pub async fn run_replication(primary: &dyn Store, replica: &dyn Store) {
    use crate::{FeedCursor, NodeRole, SiteState};
    let code = FacilityCode::parse("0422222222").expect("valid code");
    let fac = primary
        .facility(&code, true)
        .await
        .expect("create")
        .expect("id");
    let at = |mut f: IngestFile, t: &str| {
        f.recorded_at = Some(t.to_owned());
        f
    };
    let (a, b) = (
        "100/000/1000001/20240401/OML-11/a_1",
        "100/000/1000001/20240401/OML-11/b_1",
    );
    let run = primary.begin_import(fac, "/src").await.expect("begin");
    primary
        .write_batch(
            fac,
            run,
            vec![
                at(record_file(a, "MSH|a1"), "2026-01-01T00:00:00Z"),
                at(record_file(b, "MSH|b1"), "2026-01-01T00:00:00Z"),
            ],
        )
        .await
        .expect("write");
    primary
        .write_batch(
            fac,
            run,
            vec![IngestFile {
                // Imported with `--accept-unterminated`: the option travels with the version.
                accept_unterminated: true,
                ..at(record_file(a, "MSH|a2"), "2026-02-01T00:00:00Z")
            }],
        )
        .await
        .expect("update");
    let seen: HashSet<String> = [a.to_owned()].into();
    primary
        .finish_import(fac, run, &ImportTotals::default(), Some(&seen))
        .await
        .expect("finish with b removed");
    primary
        .append_audit(vec![
            audit::Event::new(model::UnixTime(10), "x", audit::Action::Login),
            audit::Event::new(model::UnixTime(11), "x", audit::Action::Logout),
        ])
        .await
        .expect("audit");

    // The three streams.
    let feed = primary
        .feed(&FeedCursor::default(), 100)
        .await
        .expect("feed");
    assert!(
        feed.registry.iter().any(|c| c.table == "facilities"
            && c.row.get("code").and_then(|v| v.as_str()) == Some(code.as_str())),
        "the facility's registration is journaled: {:?}",
        feed.registry
    );
    assert_eq!(feed.audit.len(), 2, "audit stream");
    let kinds: Vec<(&str, bool, &str)> = feed
        .versions
        .iter()
        .map(|v| (v.path.as_str(), v.sha256.is_some(), v.recorded_at.as_str()))
        .collect();
    assert_eq!(kinds.len(), 4, "versions: {kinds:?}");
    assert_eq!(
        &kinds[..3],
        &[
            (a, true, "2026-01-01T00:00:00Z"),
            (b, true, "2026-01-01T00:00:00Z"),
            (a, true, "2026-02-01T00:00:00Z")
        ],
        "recorded_at kept"
    );
    assert_eq!(
        (kinds[3].0, kinds[3].1),
        (b, false),
        "the removal is a version"
    );
    assert_eq!(
        feed.versions
            .iter()
            .map(|v| v.accept_unterminated)
            .collect::<Vec<_>>(),
        [false, false, true, false],
        "each version's import option"
    );
    assert!(
        feed.versions
            .iter()
            .all(|v| v.sha256.is_some() == v.location.is_some()),
        "contents have a location"
    );
    assert!(
        feed.versions.windows(2).all(|w| w[0].id < w[1].id),
        "in id order"
    );
    assert_eq!(feed.next.version, feed.versions[3].id);
    assert!(
        primary
            .feed(&feed.next, 100)
            .await
            .expect("feed")
            .is_empty(),
        "nothing after next"
    );
    let short = primary.feed(&FeedCursor::default(), 1).await.expect("feed");
    assert!(
        short.versions.is_empty(),
        "no versions before the registry has caught up"
    );
    let backlog = primary
        .backlog(&FeedCursor::default())
        .await
        .expect("backlog");
    assert_eq!((backlog.versions, backlog.audit), (4, 2));
    assert_eq!(
        backlog.oldest_version_at.as_deref(),
        Some("2026-01-01T00:00:00Z")
    );
    assert!(primary
        .backlog(&feed.next)
        .await
        .expect("backlog")
        .is_empty());

    // Point in time.
    let then = primary
        .files_as_of(fac, Some("2026-01-15T00:00:00Z"))
        .await
        .expect("as of");
    assert_eq!(
        then.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        vec![a, b]
    );
    assert_eq!(then[0].sha256, sha256(b"MSH|a1"));
    let now = primary.files_as_of(fac, None).await.expect("now");
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].sha256, sha256(b"MSH|a2"));
    assert!(primary
        .files_as_of(fac, Some("2025-12-31T00:00:00Z"))
        .await
        .expect("before")
        .is_empty());
    assert_eq!(
        primary
            .oldest_version_at()
            .await
            .expect("oldest")
            .as_deref(),
        Some("2026-01-01T00:00:00Z")
    );

    // Sites and roles.
    assert_eq!(primary.node_role().await.expect("role"), NodeRole::Primary);
    let state = SiteState {
        name: "s3".into(),
        cursor: feed.next,
        shipped_versions: 4,
        ..SiteState::default()
    };
    primary.put_site_state(&state).await.expect("put");
    assert_eq!(primary.site_state("s3").await.expect("get"), state);
    assert_eq!(
        primary.site_state("other").await.expect("get").cursor,
        FeedCursor::default()
    );

    // A replica applies the registry and the audit chain as they are.
    let role = NodeRole::Replica {
        applied: FeedCursor::default(),
        applied_at: None,
    };
    replica.set_node_role(&role).await.expect("set role");
    assert_eq!(replica.node_role().await.expect("role"), role);
    // Every change carries the time it was journaled (what `restore --network --as-of`
    // compares with) …
    for c in &feed.registry {
        let at = c.at.as_deref().unwrap_or_else(|| panic!("no time: {c:?}"));
        assert!(model::UnixTime::parse_rfc3339(at).is_some(), "{at}");
    }
    let mut dated = feed.registry.clone();
    for c in &mut dated {
        c.at = Some("2020-01-02T03:04:05Z".into());
    }
    replica.apply_registry(&dated).await.expect("registry");
    // … and a copy journals an applied change with the primary's time, not its own.
    let copied = replica
        .feed(&FeedCursor::default(), 10_000)
        .await
        .expect("replica feed");
    assert!(!copied.registry.is_empty());
    assert!(
        copied
            .registry
            .iter()
            .all(|c| c.at.as_deref() == Some("2020-01-02T03:04:05Z")),
        "{:?}",
        copied.registry.iter().map(|c| &c.at).collect::<Vec<_>>()
    );
    replica
        .apply_registry(&feed.registry)
        .await
        .expect("registry again");
    assert!(
        replica
            .facility(&code, false)
            .await
            .expect("lookup")
            .is_some(),
        "facility replicated"
    );
    // A deletion never reaches a copy: renkei does not delete registry rows.
    let mut deletion = feed.registry[0].clone();
    deletion.op = crate::RowOp::Delete;
    assert!(
        replica.apply_registry(&[deletion]).await.is_err(),
        "deletions are refused"
    );
    assert!(
        replica
            .facility(&code, false)
            .await
            .expect("lookup")
            .is_some(),
        "the row stays"
    );
    replica.apply_audit(&feed.audit).await.expect("audit");
    replica
        .apply_audit(&feed.audit)
        .await
        .expect("audit again is a no-op");
    assert_eq!(
        replica.audit_head().await.expect("head"),
        primary.audit_head().await.expect("head")
    );
    let mut forged = feed.audit[1].clone();
    forged.seq = 3;
    assert!(
        replica.apply_audit(&[forged]).await.is_err(),
        "an entry that does not chain is refused"
    );

    // Blobs: clean, readable packs, repair input checked.
    let report = primary.verify_blobs().await.expect("verify");
    assert!(
        report.problems.is_empty() && report.packs_checked >= 1,
        "{report:?}"
    );
    let loc = feed.versions[0].location.clone().expect("location");
    let pack = primary
        .read_pack(&loc.pack)
        .await
        .expect("read")
        .expect("pack exists");
    assert_eq!(crate::packs::hex(&sha256(&pack).0), loc.pack);
    assert!(
        primary.restore_pack(&loc.pack, b"not it").await.is_err(),
        "a wrong copy is refused"
    );
    assert!(
        primary
            .repack_contents(vec![(sha256(b"x"), b"y".to_vec())])
            .await
            .is_err(),
        "hash checked"
    );
    let n = primary
        .repack_contents(vec![(sha256(b"MSH|a1"), b"MSH|a1".to_vec())])
        .await
        .expect("repack");
    assert_eq!(n, 1);
    assert_eq!(
        primary
            .read_blobs(&[sha256(b"MSH|a1")])
            .await
            .expect("read"),
        vec![b"MSH|a1".to_vec()]
    );
}

/// Sign-in state: changes of one user's login state and of one failure counter are atomic
/// (parallel changes all land, none is lost), counters are forgotten after their time, a
/// TOTP secret is replaced only if unchanged meanwhile, a login is added only once, and a
/// session touch neither revives an ended session nor moves `last_seen` back. `store` must
/// have no user `conf.signin`.
pub async fn run_sign_in_state(store: &dyn Store) {
    use model::{Profession, UnixTime, User};

    let t = UnixTime(1_764_000_000);
    let login = "conf.signin";
    let user = User {
        login: login.into(),
        display_name: "署名 試験".into(),
        profession: Profession::Nurse,
        facilities: vec![],
        active: true,
    };
    let creds = crate::Credentials {
        password_phc: "$argon2id$x".into(),
        totp_secret: Some("A".into()),
        login_state: "0".into(),
    };
    store.put_user(&user, Some(&creds)).await.expect("user");
    assert!(
        matches!(
            store.put_user(&user, Some(&creds)).await,
            Err(crate::StoreError::Conflict(_))
        ),
        "adding a login twice is a conflict, not an overwrite"
    );
    store.put_user(&user, None).await.expect("update details");

    // Forty parallel increments of the user's state: every one lands, each saw a distinct
    // state before it.
    let bump = |s: &str| (s.parse::<u64>().unwrap_or(999) + 1).to_string();
    let results =
        futures::future::join_all((0..40).map(|_| store.update_login_state(login, Box::new(bump))))
            .await;
    let mut befores = HashSet::new();
    for r in results {
        let (before, after) = r.expect("update").expect("user exists");
        assert_eq!(after, bump(&before));
        assert!(
            befores.insert(before),
            "two updates saw the same state: one was lost"
        );
    }
    let (_, c) = store.user(login).await.expect("get").expect("present");
    assert_eq!(
        c.login_state, "40",
        "parallel login-state updates lost none"
    );
    assert_eq!(
        c.totp_secret.as_deref(),
        Some("A"),
        "only the state changed"
    );
    assert_eq!(
        store
            .update_login_state("nobody", Box::new(bump))
            .await
            .expect("update"),
        None
    );

    // The same for a counter that is not a user's.
    let key = "ip:192.0.2.1";
    let keep = t.plus_seconds(60);
    let count = move |s: Option<&str>| {
        let n = s.map_or(0, |s| s.parse::<u64>().unwrap_or(999));
        ((n + 1).to_string(), keep)
    };
    let results = futures::future::join_all(
        (0..40).map(|_| store.update_login_counter(key, t, Box::new(count))),
    )
    .await;
    let mut befores = HashSet::new();
    for r in results {
        let (before, _) = r.expect("counter");
        assert!(
            befores.insert(before),
            "two counter updates saw the same state"
        );
    }
    assert!(befores.contains(&None), "the first update saw no counter");
    let (before, after) = store
        .update_login_counter(key, t.plus_seconds(59), Box::new(count))
        .await
        .expect("counter");
    assert_eq!((before.as_deref(), after.as_str()), (Some("40"), "41"));
    // Past its keep-until time a counter is forgotten: its own key reads as none, and
    // others are swept on the way.
    let (before, after) = store
        .update_login_counter(key, keep, Box::new(count))
        .await
        .expect("counter");
    assert_eq!((before, after.as_str()), (None, "1"));
    let short = move |_: Option<&str>| ("x".to_owned(), t.plus_seconds(10));
    store
        .update_login_counter("login:ghost", t, Box::new(short))
        .await
        .expect("counter");
    store
        .update_login_counter("ip:198.51.100.9", t.plus_seconds(20), Box::new(count))
        .await
        .expect("counter");
    let (before, _) = store
        .update_login_counter("login:ghost", t.plus_seconds(20), Box::new(short))
        .await
        .expect("counter");
    assert_eq!(before, None);

    // TOTP secret: compare-and-swap.
    assert!(!store
        .replace_totp_secret(login, "B", "C")
        .await
        .expect("cas"));
    assert!(store
        .replace_totp_secret(login, "A", "C")
        .await
        .expect("cas"));
    let (_, c) = store.user(login).await.expect("get").expect("present");
    assert_eq!(
        (c.totp_secret.as_deref(), c.login_state.as_str()),
        (Some("C"), "40")
    );
    assert!(!store
        .replace_totp_secret("nobody", "A", "C")
        .await
        .expect("cas"));

    // Sessions: touches out of order keep the newest; an ended session stays ended.
    let token = [9u8; 32];
    let session = crate::Session {
        login: login.into(),
        acting_facility: None,
        created_at: t,
        last_seen: t,
        ended_at: None,
    };
    store
        .create_session(&token, &session)
        .await
        .expect("session");
    store
        .touch_session(&token, t.plus_seconds(10), None)
        .await
        .expect("touch");
    store
        .touch_session(&token, t.plus_seconds(5), None)
        .await
        .expect("touch");
    let s = store.session(&token).await.expect("s").expect("present");
    assert_eq!(
        s.last_seen,
        t.plus_seconds(10),
        "last_seen never moves back"
    );
    store
        .end_session(&token, t.plus_seconds(11))
        .await
        .expect("end");
    let code = FacilityCode::parse("0411111111").expect("code");
    store
        .touch_session(&token, t.plus_seconds(20), Some(&code))
        .await
        .expect("touch");
    let s = store.session(&token).await.expect("s").expect("present");
    assert_eq!(
        (s.last_seen, s.ended_at, s.acting_facility),
        (t.plus_seconds(10), Some(t.plus_seconds(11)), None),
        "an ended session is not touched"
    );
}

/// A newer fact extractor re-derives the stored facts: [`Store::facts_rederive`] opens the
/// backfill over every live record once, and each re-derived batch replaces (never doubles)
/// the facts of its versions, `detail` included.
pub async fn run_facts_rederive(store: &dyn Store) {
    use crate::{BackfilledFacts, ClinicalFact, Fact, LabFilter};
    let code = FacilityCode::parse("0433333333").expect("valid code");
    let fac = store
        .facility(&code, true)
        .await
        .expect("create")
        .expect("created");
    let batch = vec![fact_file(
        "100/000/2000001/20240401/OML-11/rederive_1",
        "OML-11",
        "000000000000099",
        "20240410120000000",
        Condition::Current,
        vec![lab_fact("3A010000002327101", "7.0", "20240401")],
    )];
    let run = store.begin_import(fac, "/src").await.expect("begin");
    store.write_batch(fac, run, batch).await.expect("write");
    let seen: HashSet<String> = ["100/000/2000001/20240401/OML-11/rederive_1".to_owned()].into();
    store
        .finish_import(fac, run, &ImportTotals::default(), Some(&seen))
        .await
        .expect("finish");
    // Whatever an earlier backfill left: close it, as the ingest does.
    while !store
        .facts_backfill_next(100, &["OML-11"], &[])
        .await
        .expect("next")
        .is_empty()
    {
        store
            .facts_backfill_put(Vec::new(), i64::MAX - 1)
            .await
            .expect("close");
    }

    assert!(
        store.facts_rederive(1_000).await.expect("rederive"),
        "an older extractor's facts are re-derived"
    );
    assert!(
        !store.facts_rederive(1_000).await.expect("again"),
        "once per extractor version"
    );
    assert!(!store.facts_rederive(999).await.expect("older"));
    assert!(
        store
            .facts_backfill_next(100, &["PPR-01"], &[])
            .await
            .expect("other kinds")
            .iter()
            .all(|i| i.path.contains("PPR-01")),
        "only the kinds asked for"
    );
    let items = store
        .facts_backfill_next(100, &["OML-11"], &[])
        .await
        .expect("next");
    let item = items
        .iter()
        .find(|i| i.facility == fac)
        .expect("the live record is handed out again");
    let mut fact = lab_fact("3A010000002327101", "7.1", "20240401");
    if let Fact::Lab(l) = &mut fact {
        l.unit = "%".into();
    }
    let last = items.last().map(|i| i.version_id).expect("one");
    store
        .facts_backfill_put(
            vec![BackfilledFacts {
                facility: fac,
                version_id: item.version_id,
                patient_id: item.patient_id.clone(),
                facts: vec![ClinicalFact { line: 0, fact }],
                cancels: true,
            }],
            last,
        )
        .await
        .expect("put");
    let labs = store
        .lab_results(fac, "2000001", &LabFilter::default())
        .await
        .expect("labs");
    assert_eq!(labs.len(), 1, "replaced, not doubled");
    assert_eq!(
        (labs[0].fact.value.as_str(), labs[0].fact.unit.as_str()),
        ("7.1", "%")
    );
    assert_eq!(labs[0].fact.detail, crate::LabDetail::default());
    assert_eq!(
        store
            .order_cancels(fac, "2000001")
            .await
            .expect("cancels")
            .iter()
            .map(|c| c.version_id)
            .collect::<Vec<_>>(),
        vec![item.version_id],
        "a re-derived cancel message is flagged on its index entry"
    );
    assert!(
        store
            .facts_backfill_next(100, &["OML-11"], &[])
            .await
            .expect("next")
            .iter()
            .all(|i| i.version_id > last),
        "the cursor moved past the batch"
    );
}

/// [`Store::order_cancels`]: the live files of a patient that cancel an order, oldest first;
/// not another patient's, not a cancel whose path moved on to other content, and the order
/// files themselves stay live (the service decides what a cancel hides).
pub async fn run_order_cancels(store: &dyn Store) {
    let code = FacilityCode::parse("0455555555").expect("valid code");
    let fac = store
        .facility(&code, true)
        .await
        .expect("create")
        .expect("created");
    let file = |patient: &str, name: &str, written_at: &str, cancels: bool, body: &str| {
        let path = format!("100/000/{patient}/20240401/OMP-01/{name}");
        let content = format!("MSH|{path}|{body}");
        let mut f = fact_file(
            &path,
            "OMP-01",
            "000000000000007",
            written_at,
            Condition::Current,
            vec![],
        );
        f.bytes = content.as_bytes().to_vec();
        f.sha256 = sha256(content.as_bytes());
        if let FileOutcome::Record(r) = &mut f.outcome {
            r.patient_id = patient.into();
            r.cancels = cancels;
        }
        f
    };
    let run = store.begin_import(fac, "/src").await.expect("begin");
    store
        .write_batch(
            fac,
            run,
            vec![
                file("2000001", "order_1", "20240401100000000", false, "order"),
                file("2000001", "cancel_1", "20240402100000000", true, "cancel"),
                file("2000001", "cancel2_1", "20240403100000000", true, "cancel"),
                file("3000001", "cancel_1", "20240402100000000", true, "cancel"),
            ],
        )
        .await
        .expect("write");
    let cancels = store.order_cancels(fac, "2000001").await.expect("cancels");
    assert_eq!(
        cancels
            .iter()
            .map(|c| (c.kind.as_str(), c.order_no.as_str(), c.written_at.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("OMP-01", "000000000000007", "20240402100000000"),
            ("OMP-01", "000000000000007", "20240403100000000"),
        ],
        "this patient's cancels, oldest first"
    );
    assert!(cancels[0].cancels("OMP-01", "000000000000007", "20240401100000000", 1));
    assert!(!cancels[0].cancels("OMP-01", "000000000000007", "20240405100000000", 1));
    assert!(!cancels[0].cancels("OMP-01", "000000000000008", "20240401100000000", 1));
    assert!(!cancels[0].cancels(
        "OMP-01",
        "000000000000007",
        "20240402100000000",
        cancels[0].version_id
    ));
    assert_eq!(
        store
            .order_cancels(fac, "3000001")
            .await
            .expect("other")
            .len(),
        1
    );
    assert!(store
        .order_cancels(fac, "9999999")
        .await
        .expect("none")
        .is_empty());
    // The second cancel's path gets other content: only the first stays.
    store
        .write_batch(
            fac,
            run,
            vec![file(
                "2000001",
                "cancel2_1",
                "20240403100000000",
                false,
                "replaced",
            )],
        )
        .await
        .expect("replace");
    let cancels = store.order_cancels(fac, "2000001").await.expect("cancels");
    assert_eq!(
        cancels.len(),
        1,
        "a cancel that is no longer current cancels nothing"
    );
    let records = store
        .patient_records(fac, "2000001")
        .await
        .expect("records");
    assert_eq!(records.len(), 3, "the order stays live in the index");
}

/// [`Store::unreadable_count`]: a patient's quarantined files that are still current count,
/// until a readable version replaces them; other patients' never do.
pub async fn run_unreadable(store: &dyn Store) {
    let code = FacilityCode::parse("0444444444").expect("valid code");
    let fac = store
        .facility(&code, true)
        .await
        .expect("create")
        .expect("created");
    let bad = |path: &str, content: &str| {
        let mut f = fact_file(
            path,
            "ADT-61",
            "999999999999999",
            "20240401090000000",
            Condition::Current,
            vec![],
        );
        f.bytes = content.as_bytes().to_vec();
        f.sha256 = sha256(content.as_bytes());
        f.outcome = FileOutcome::Quarantined {
            reason: "not a valid HL7 message".into(),
            line: Some(1),
        };
        f
    };
    let allergy = "200/000/2000001/20240401/ADT-61/2000001_20240401_ADT-61_999999999999999_20240401090000000_01_1";
    let other = "300/000/3000001/20240401/ADT-61/3000001_20240401_ADT-61_999999999999999_20240401090000000_01_1";
    // 2000001's folder is `200/000/2000001/`; a patient whose ID shares a prefix does not
    // count (`20000011` lives in `200/000/20000011/`).
    let prefix_twin = "200/000/20000011/20240401/ADT-61/20000011_20240401_ADT-61_999999999999999_20240401090000000_01_1";
    let run = store.begin_import(fac, "/src").await.expect("begin");
    store
        .write_batch(
            fac,
            run,
            vec![
                bad(allergy, "garbage 1"),
                bad(other, "garbage 2"),
                bad(prefix_twin, "garbage 3"),
            ],
        )
        .await
        .expect("write");
    let seen: HashSet<String> = [allergy, other, prefix_twin]
        .iter()
        .map(|p| p.to_string())
        .collect();
    store
        .finish_import(fac, run, &ImportTotals::default(), Some(&seen))
        .await
        .expect("finish");
    assert_eq!(
        store.unreadable_count(fac, "2000001").await.expect("count"),
        1
    );
    assert_eq!(
        store.unreadable_count(fac, "3000001").await.expect("count"),
        1
    );
    assert_eq!(
        store.unreadable_count(fac, "4000001").await.expect("count"),
        0
    );

    // The facility sends the file again, readable: nothing unreadable is left.
    let run = store.begin_import(fac, "/src").await.expect("begin");
    let mut good = fact_file(
        allergy,
        "ADT-61",
        "999999999999999",
        "20240401090000000",
        Condition::Current,
        vec![],
    );
    if let FileOutcome::Record(r) = &mut good.outcome {
        r.patient_id = "2000001".into();
    }
    store
        .write_batch(fac, run, vec![good])
        .await
        .expect("write");
    store
        .finish_import(fac, run, &ImportTotals::default(), Some(&seen))
        .await
        .expect("finish");
    assert_eq!(
        store.unreadable_count(fac, "2000001").await.expect("count"),
        0,
        "a readable version settles it"
    );
    assert_eq!(
        store.unreadable_count(fac, "3000001").await.expect("count"),
        1
    );
}

/// Observations of extended-storage documents (vitals, issue 14) share the lab table but
/// never the lab reads: [`crate::LabFilter::extended`] chooses one or the other, also when
/// a code is in both, and the backfill hands out extended-storage HL7 documents by their
/// message code.
pub async fn run_extended_observations(store: &dyn Store) {
    use crate::{LabFilter, LAB_RESULT_KIND};
    let code = FacilityCode::parse("0455555555").expect("valid code");
    let fac = store
        .facility(&code, true)
        .await
        .expect("create")
        .expect("created");
    let lab_path = "100/000/2000001/20240401/OML-11/vitals_lab_1";
    let folder = "L-OBSERVATIONS^OBSERVATIONS^99ZL01";
    let vital_path = format!(
        "100/000/2000001/20240402/{folder}/2000001_20240402_{folder}_V1_20240402090000000_01_1/main_document.hl7"
    );
    let lab = fact_file(
        lab_path,
        LAB_RESULT_KIND,
        "000000000000077",
        "20240401120000000",
        Condition::Current,
        vec![lab_fact("9N006000000000001", "60.0", "20240401")],
    );
    let mut vital = fact_file(
        &vital_path,
        folder,
        "V1",
        "20240402090000000",
        Condition::Current,
        vec![
            lab_fact("9N006000000000001", "61.0", "202404020900"),
            lab_fact("8310-5", "36.8", "202404020900"),
        ],
    );
    if let FileOutcome::Record(r) = &mut vital.outcome {
        r.storage = StorageKind::Extended;
        r.date = "20240402".into();
        r.message_type = Some("ORU^R30".into());
    }
    let run = store.begin_import(fac, "/src").await.expect("begin");
    store
        .write_batch(fac, run, vec![lab, vital])
        .await
        .expect("write");
    let seen: HashSet<String> = [lab_path.to_owned(), vital_path.clone()].into();
    store
        .finish_import(fac, run, &ImportTotals::default(), Some(&seen))
        .await
        .expect("finish");

    let read = |filter: LabFilter| async move {
        store
            .lab_results(fac, "2000001", &filter)
            .await
            .expect("read")
            .into_iter()
            .map(|r| (r.kind, r.fact.code, r.fact.value))
            .collect::<Vec<_>>()
    };
    let lab_row = (
        LAB_RESULT_KIND.to_owned(),
        "9N006000000000001".to_owned(),
        "60.0".to_owned(),
    );
    assert_eq!(
        read(LabFilter::default()).await,
        vec![lab_row.clone()],
        "lab reads never see vitals"
    );
    assert_eq!(
        read(LabFilter {
            latest_per_test: true,
            ..Default::default()
        })
        .await,
        vec![lab_row],
        "the newest result per test is a lab result, though a vital of the same code is newer"
    );
    assert_eq!(
        read(LabFilter {
            extended: true,
            ..Default::default()
        })
        .await,
        vec![
            (
                folder.to_owned(),
                "9N006000000000001".to_owned(),
                "61.0".to_owned()
            ),
            (folder.to_owned(), "8310-5".to_owned(), "36.8".to_owned()),
        ],
        "the vitals, with their kind folder"
    );
    assert_eq!(
        read(LabFilter {
            extended: true,
            codes: vec!["8310-5".into()],
            from: Some("20240402".into()),
            to: Some("20240402".into()),
            ..Default::default()
        })
        .await
        .len(),
        1
    );

    // The backfill: the extended document by its message code, the lab by its kind.
    while !store
        .facts_backfill_next(100, &["OML-11"], &["ORU"])
        .await
        .expect("next")
        .is_empty()
    {
        store
            .facts_backfill_put(Vec::new(), i64::MAX - 1)
            .await
            .expect("close");
    }
    assert!(store.facts_rederive(2_000).await.expect("rederive"));
    let paths = |items: Vec<crate::BackfillItem>| {
        items
            .into_iter()
            .filter(|i| i.facility == fac)
            .map(|i| i.path)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        paths(
            store
                .facts_backfill_next(100, &["OML-11"], &["ORU"])
                .await
                .expect("both")
        ),
        vec![lab_path.to_owned(), vital_path.clone()]
    );
    assert_eq!(
        paths(
            store
                .facts_backfill_next(100, &["OML-11"], &[])
                .await
                .expect("standard")
        ),
        vec![lab_path.to_owned()]
    );
    assert_eq!(
        paths(
            store
                .facts_backfill_next(100, &[], &["ORU"])
                .await
                .expect("extended")
        ),
        vec![vital_path.clone()]
    );
    assert!(paths(
        store
            .facts_backfill_next(100, &[], &["MDM"])
            .await
            .expect("other messages")
    )
    .is_empty());
}

/// Issue 14: two current (`_1`) files of one order (patient, data kind, order number) get an
/// import notice on the later one naming the other — within one run (one batch or two), and
/// against a file stored by an earlier run, on a full and on a partial (agent) import. An
/// update (the old file renamed `_2`, its `_1` path gone from the tree) is no duplicate; nor
/// are other kinds, other patients, deleted (`_0`) files or the extended storage.
pub async fn run_order_notices(store: &dyn Store) {
    let code = FacilityCode::parse("0455555555").expect("valid code");
    let fac = store
        .facility(&code, true)
        .await
        .expect("create")
        .expect("created");
    let name = |kind: &str, order: &str, ts: &str, flag: char| {
        format!("200/000/2000001/20240401/{kind}/2000001_20240401_{kind}_{order}_{ts}_01_{flag}")
    };
    let file = |kind: &str, order: &str, ts: &str, flag: char| {
        let condition = match flag {
            '0' => Condition::Deleted,
            '2' => Condition::Superseded,
            _ => Condition::Current,
        };
        fact_file(
            &name(kind, order, ts, flag),
            kind,
            order,
            ts,
            condition,
            vec![],
        )
    };
    let t = |n: u32| format!("2024040112{n:02}00000");

    // --- Run 1, a full import: two batches. -------------------------------------------------
    let a = file("OMP-01", "000000000000001", &t(1), '1');
    let b = file("OMP-01", "000000000000001", &t(2), '1');
    let other_kind = file("OML-11", "000000000000001", &t(3), '1');
    let single = file("OMP-01", "000000000000002", &t(4), '1');
    let e = file("OMP-01", "000000000000003", &t(5), '1');
    let f = file("OMP-01", "000000000000003", &t(6), '1');
    let g = file("OMP-01", "000000000000004", &t(7), '1');
    let j = file("OMP-01", "000000000000005", &t(8), '1');
    let undated = file("ADT-00", "999999999999999", &t(9), '1');
    let mut undated_twin = file("ADT-00", "999999999999999", &t(10), '1');
    undated_twin.path = format!("{}x", undated_twin.path);
    // Another patient's file with the same order number: not the same order.
    let mut other_patient = file("OMP-01", "000000000000001", &t(11), '1');
    other_patient.path = other_patient
        .path
        .replace("200/000/2000001", "300/000/3000001");
    if let FileOutcome::Record(r) = &mut other_patient.outcome {
        r.patient_id = "3000001".into();
    }
    let batch1 = vec![
        a.clone(),
        b.clone(),
        other_kind.clone(),
        single.clone(),
        e.clone(),
        undated.clone(),
        undated_twin.clone(),
        other_patient.clone(),
    ];
    // Event kinds have one current file per order and date (an injection given on two days);
    // orders have one whatever the date.
    let on_day = |mut f: IngestFile, date: &str| {
        f.path = f
            .path
            .replace("/20240401/", &format!("/{date}/"))
            .replace("_20240401_", &format!("_{date}_"));
        if let FileOutcome::Record(r) = &mut f.outcome {
            r.date = date.into();
        }
        f
    };
    let given1 = file("OMP-12", "000000000000006", &t(16), '1');
    let given2 = on_day(file("OMP-12", "000000000000006", &t(17), '1'), "20240402");
    let given2_again = on_day(file("OMP-12", "000000000000006", &t(18), '1'), "20240402");
    let order7 = file("OMP-01", "000000000000007", &t(19), '1');
    let order7_redated = on_day(file("OMP-01", "000000000000007", &t(20), '1'), "20240403");
    let batch2 = vec![
        f.clone(),
        g.clone(),
        j.clone(),
        given1.clone(),
        given2.clone(),
        given2_again.clone(),
        order7.clone(),
        order7_redated.clone(),
    ];
    let mut seen: HashSet<String> = batch1
        .iter()
        .chain(&batch2)
        .map(|f| f.path.clone())
        .collect();
    let run1 = store.begin_import(fac, "/src").await.expect("begin");
    store.write_batch(fac, run1, batch1).await.expect("write 1");
    store.write_batch(fac, run1, batch2).await.expect("write 2");
    let totals = ImportTotals {
        files_seen: 11,
        notices: 1,
        ..Default::default()
    };
    store
        .finish_import(fac, run1, &totals, Some(&seen))
        .await
        .expect("finish 1");
    let notices = store.import_notices(run1).await.expect("notices 1");
    let on: Vec<&str> = notices.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        on,
        vec![
            b.path.as_str(),
            f.path.as_str(),
            given2_again.path.as_str(),
            order7_redated.path.as_str()
        ],
        "one notice on the later file of each duplicated order: {notices:?}"
    );
    assert!(notices[0].1.contains(&a.path), "{}", notices[0].1);
    assert!(notices[0].1.contains("OMP-01") && notices[0].1.contains("000000000000001"));
    assert!(notices[1].1.contains(&e.path), "{}", notices[1].1);
    assert!(notices[2].1.contains(&given2.path), "{}", notices[2].1);
    assert!(
        !notices[2].1.contains(&given1.path),
        "another day's administration"
    );
    assert!(notices[3].1.contains(&order7.path), "{}", notices[3].1);
    let runs = store.import_runs(Some(fac)).await.expect("runs");
    assert_eq!(
        runs[0].totals.as_ref().map(|t| t.notices),
        Some(5),
        "the run's totals count the store's notices with the importer's"
    );

    // --- Run 2, full: an update of order 4 (G renamed `_2`, H the new `_1`) and a replay. --
    let g2 = file("OMP-01", "000000000000004", &t(7), '2');
    let h = file("OMP-01", "000000000000004", &t(12), '1');
    seen.remove(&g.path);
    seen.insert(g2.path.clone());
    seen.insert(h.path.clone());
    let run2 = store.begin_import(fac, "/src").await.expect("begin");
    store
        .write_batch(fac, run2, vec![g2.clone(), h.clone(), a.clone(), b.clone()])
        .await
        .expect("write");
    store
        .finish_import(fac, run2, &ImportTotals::default(), Some(&seen))
        .await
        .expect("finish 2");
    assert_eq!(
        store.import_notices(run2).await.expect("notices 2"),
        vec![],
        "an update is no duplicate, and a replay adds nothing"
    );

    // --- Run 3, partial (an agent's): the other file was stored by run 1. --------------------
    let k = file("OMP-01", "000000000000005", &t(13), '1');
    let deleted = file("OMP-01", "000000000000002", &t(14), '0');
    let mut extended = file("OMP-01", "000000000000002", &t(15), '1');
    extended.path = format!("{}.xml", extended.path);
    if let FileOutcome::Record(r) = &mut extended.outcome {
        r.storage = StorageKind::Extended;
    }
    // An order cancel stored as `_1` beside its order (ORC-1 `CA`): its own notice, no
    // duplicate.
    let mut cancel = file("OMP-01", "000000000000002", &t(21), '1');
    if let FileOutcome::Record(r) = &mut cancel.outcome {
        r.cancels = true;
    }
    let run3 = store.begin_import(fac, "agent").await.expect("begin");
    store
        .write_batch(fac, run3, vec![k.clone(), deleted, extended, cancel])
        .await
        .expect("write");
    store
        .finish_import(fac, run3, &ImportTotals::default(), None)
        .await
        .expect("finish 3");
    let notices = store.import_notices(run3).await.expect("notices 3");
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].0, k.path);
    assert!(notices[0].1.contains(&j.path), "{}", notices[0].1);
    // The earlier run's notices stay its own.
    assert_eq!(store.import_notices(run1).await.expect("again").len(), 4);
}

/// Issue 14: a first import (begun on an empty facility) finds its duplicate orders when it
/// finishes, other runs file by file as they write; the two kinds of run interleaved (an agent
/// sending while the first full import is under way) still put one notice on the later file
/// of each duplicated order, in the run that wrote it.
pub async fn run_order_notices_interleaved(store: &dyn Store) {
    let code = FacilityCode::parse("0455555556").expect("valid code");
    let fac = store
        .facility(&code, true)
        .await
        .expect("create")
        .expect("created");
    let file = |order: &str, n: u32| {
        let ts = format!("2024040112{n:02}00000");
        fact_file(
            &format!("200/000/2000001/20240401/OMP-01/2000001_20240401_OMP-01_{order}_{ts}_01_1"),
            "OMP-01",
            order,
            &ts,
            Condition::Current,
            vec![],
        )
    };
    let (a1, b1, b2, a2, single) = (
        file("000000000000001", 1),
        file("000000000000001", 2),
        file("000000000000002", 3),
        file("000000000000002", 4),
        file("000000000000003", 5),
    );
    let first = store.begin_import(fac, "/src").await.expect("begin first");
    store
        .write_batch(fac, first, vec![a1.clone()])
        .await
        .expect("first, batch 1");
    let agent = store.begin_import(fac, "agent").await.expect("begin agent");
    store
        .write_batch(fac, agent, vec![b1.clone(), b2.clone()])
        .await
        .expect("agent");
    store
        .write_batch(fac, first, vec![a2.clone(), single])
        .await
        .expect("first, batch 2");
    store
        .finish_import(fac, agent, &ImportTotals::default(), None)
        .await
        .expect("finish agent");
    store
        .finish_import(fac, first, &ImportTotals::default(), None)
        .await
        .expect("finish first");
    let agent_notices = store.import_notices(agent).await.expect("agent notices");
    assert_eq!(agent_notices.len(), 1, "{agent_notices:?}");
    assert_eq!(agent_notices[0].0, b1.path);
    assert!(agent_notices[0].1.contains(&a1.path), "{agent_notices:?}");
    let first_notices = store.import_notices(first).await.expect("first notices");
    assert_eq!(first_notices.len(), 1, "{first_notices:?}");
    assert_eq!(first_notices[0].0, a2.path);
    assert!(first_notices[0].1.contains(&b2.path), "{first_notices:?}");
    let runs = store.import_runs(Some(fac)).await.expect("runs");
    assert!(
        runs.iter()
            .all(|r| r.totals.as_ref().map(|t| t.notices) == Some(1)),
        "each run counts its own notice: {runs:?}"
    );
}
