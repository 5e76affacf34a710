//! Set-up shared by the service integration tests: sign-in, facilities, users, and one
//! patient enrolled from the best match candidate.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::sync::Arc;

use model::{
    Facility, FacilityCode, FacilityKind, FacilityStatus, LocalPatient, Profession, RegionalId,
    UnixTime,
};
use service::{Network, NewUser, Principal};
use store::Store;

pub const PASSWORD: &str = "Kx7#mPq2vLw9-renkei";

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
    net.authenticate(login, PASSWORD, Some(&code), facility)
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
