//! Set-up shared by the service integration tests: a synthetic region imported into an
//! embedded store, sign-in, facilities, users, and one patient enrolled from the best match
//! candidate.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use model::{
    Facility, FacilityCode, FacilityKind, FacilityStatus, LocalPatient, Profession, RegionalId,
    UnixTime,
};
use service::{Network, NewUser, Principal};
use ssmix2::{Condition, DataKind, StandardName};
use store::Store;

pub const PASSWORD: &str = "Kx7#mPq2vLw9-renkei";

/// A synthetic region (`<dir>/region`) imported into an embedded store (`<dir>/data`), and
/// the network over it; the folder lives as long as this.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub region: PathBuf,
    pub data: PathBuf,
    pub store: Arc<dyn Store>,
    pub net: Network,
}

/// Generate a region of `patients` with `seed` and import every facility's tree.
pub async fn imported_region(patients: usize, seed: u64) -> Fixture {
    let dir = tempfile::tempdir().expect("tmp");
    let region = dir.path().join("region");
    let opts = synth::Options {
        patients,
        seed,
        ..Default::default()
    };
    synth::generate(&opts, &region, &|_| {}).expect("synth");
    let data = dir.path().join("data");
    let store: Arc<dyn Store> = Arc::new(store_sqlite::SqliteStore::open(&data).expect("store"));
    let manifest = synth::Manifest::read(&region.join("manifest.json")).expect("manifest");
    for f in &manifest.facilities {
        let code = FacilityCode::parse(&f.code).expect("code");
        import(&store, &region.join(&f.code), &code).await;
    }
    let net = Network::new(store.clone()).with_test_hashing();
    Fixture {
        dir,
        region,
        data,
        store,
        net,
    }
}

/// Import one facility's standard-storage tree at `root`.
pub async fn import(store: &Arc<dyn Store>, root: &Path, code: &FacilityCode) {
    let id = store.facility(code, true).await.expect("fac").expect("id");
    ingest::import_tree(
        store.clone(),
        id,
        root,
        &Default::default(),
        Arc::new(ingest::NoProgress),
    )
    .await
    .expect("import");
}

/// Sign in with the password and the TOTP code of time step `step` from now (a code is
/// accepted once, so a second sign-in of the same user uses the next step).
pub async fn sign_in(
    net: &Network,
    login: &str,
    facility: Option<&FacilityCode>,
    step: i64,
) -> Principal {
    let at = UnixTime::now().plus_seconds(30 * step);
    let code = net.current_totp_for_tests(login, at).await.expect("totp");
    net.authenticate(login, PASSWORD, Some(&code), facility, None)
        .await
        .expect("sign in")
}

pub async fn add_user(
    net: &Network,
    admin: &Principal,
    login: &str,
    profession: Profession,
    facilities: Vec<FacilityCode>,
) {
    net.add_user(
        admin,
        NewUser {
            login: login.into(),
            display_name: login.into(),
            profession,
            facilities,
            password: PASSWORD.into(),
        },
    )
    .await
    .expect("add user");
}

/// A doctor and a care worker of `facility`, added by `admin` (both), then signed in
/// (both): `(doctor, care worker)`.
pub async fn doctor_and_care_worker(
    net: &Network,
    admin: &Principal,
    facility: &FacilityCode,
    doctor: &str,
    care: &str,
) -> (Principal, Principal) {
    for (login, profession) in [(doctor, Profession::Doctor), (care, Profession::CareWorker)] {
        add_user(net, admin, login, profession, vec![facility.clone()]).await;
    }
    (
        sign_in(net, doctor, None, 0).await,
        sign_in(net, care, None, 0).await,
    )
}

/// Register every facility the store knows (from its imports): participating, disclosing
/// and viewing.
pub async fn register_facilities(net: &Network, admin: &Principal, store: &Arc<dyn Store>) {
    for (_, code) in store.facilities().await.expect("facilities") {
        net.put_facility(
            admin,
            Facility {
                code: code.clone(),
                name: format!("施設{code}"),
                kind: FacilityKind::Hospital,
                area: "仙台".into(),
                status: FacilityStatus::Participating,
                discloses: true,
                views: true,
            },
        )
        .await
        .expect("facility");
    }
}

/// The network after the office's first day: an administrator, registered facilities, the
/// office, and the best candidate pair enrolled under one regional ID.
pub struct Enrolled {
    pub admin: Principal,
    pub office: Principal,
    pub best: mpi::Candidate,
    pub a: LocalPatient,
    pub b: LocalPatient,
    pub id: RegionalId,
}

pub async fn enrolled_pair(net: &Network, store: &Arc<dyn Store>) -> Enrolled {
    net.bootstrap_admin("admin", "管理者", PASSWORD)
        .await
        .expect("bootstrap");
    let admin = sign_in(net, "admin", None, 0).await;
    register_facilities(net, &admin, store).await;
    add_user(net, &admin, "office", Profession::NetworkOperator, vec![]).await;
    let office = sign_in(net, "office", None, 0).await;
    let best = net
        .candidates(&office)
        .await
        .expect("candidates")
        .into_iter()
        .next()
        .expect("at least one candidate pair");
    let (a, b) = (best.a.clone(), best.b.clone());
    let id = net
        .enroll(&office, &[a.clone(), b.clone()])
        .await
        .expect("enroll");
    Enrolled {
        admin,
        office,
        best,
        a,
        b,
        id,
    }
}

/// A fixture of crates/ssmix2 (UTF-8 text, LF line ends).
pub fn fixture_text(kind: &str) -> String {
    let path = format!(
        "{}/../ssmix2/tests/fixtures/{kind}.hl7",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).expect("fixture")
}

/// Write one standard-storage message (UTF-8 text, LF line ends) at `path`, in ISO-2022-JP.
pub fn put(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let bytes = hl7::encode_iso2022jp(&text.replace('\n', "\r")).expect("encode");
    std::fs::write(path, bytes).expect("write");
}

/// Where a standard-storage file of `patient` goes in a facility's tree.
pub fn file_path(
    root: &Path,
    patient: &str,
    date: &str,
    kind: DataKind,
    order: &str,
    ts: &str,
    condition: Condition,
) -> std::path::PathBuf {
    root.join(
        StandardName {
            patient_id: patient.into(),
            date: date.into(),
            kind,
            order_no: order.into(),
            timestamp: ts.into(),
            department: "01".into(),
            condition,
        }
        .relative_path(),
    )
}
