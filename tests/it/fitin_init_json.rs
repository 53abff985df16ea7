//! `hapki init --json`: the run's summary as JSON, with the same counts the text report gives,
//! on a fresh tree, on a complete one (nothing to do) and on a repair.

use crate::support::fixture::Fixture;
use serde_json::Value;

const AT: &str = "2026-12-01T00:00:00Z";

fn tree() -> Fixture {
    Fixture::shipped_ecdsa().at(AT).bare()
}

fn init_json(fx: &Fixture) -> Value {
    let (stdout, _) = fx.ok(&["init", "--json"]);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn org<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no org {name} in {v}"))
}

#[test]
fn fresh_tree_reports_every_org_and_what_it_got() {
    let fx = tree();
    let out = &fx.out;
    let v = init_json(&fx);
    assert_eq!(v["out"], out.display().to_string());
    assert_eq!(v["nothing_to_do"], false);
    let names: Vec<&str> = (v["orgs"].as_array().unwrap().iter())
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["domain", "participant1", "participant2"]);
    // Three two-tier CAs; the default profile's leaves; a JWKS and tokens for the two
    // participants (participant_admin, alice, navigator; participant_admin, bob, bank, george).
    assert_eq!(v["written"]["ca_certs"], 6);
    assert_eq!(v["written"]["jwks"], 2);
    assert_eq!(v["written"]["truststores"], 3);
    assert_eq!(v["written"]["tokens"], 7);
    assert_eq!(v["written"]["leaves_repaired"], 0);
    let p1 = org(&v, "participant1");
    assert_eq!(p1["ca"]["status"], "new");
    assert_eq!(p1["ca"]["tier"], 2);
    assert_eq!(p1["ca"]["certs_written"], 2);
    // participant1, participant1b, auth, db, json; admin-api, participant1; lb-participant1.
    assert_eq!(p1["leaves_written"]["server"], 5);
    assert_eq!(p1["leaves_written"]["client"], 2);
    assert_eq!(p1["leaves_written"]["proxy_backend"], 1);
    assert_eq!(p1["leaves_written"]["jwt_signing"], 1);
    assert_eq!(p1["jwks_written"], true);
    assert_eq!(p1["truststore_written"], true);
    assert_eq!(p1["tokens_written"], 3);
    let domain = org(&v, "domain");
    assert_eq!(domain["jwks_written"], false);
    assert_eq!(domain["tokens_written"], 0);
    let sum: u64 = (v["orgs"].as_array().unwrap().iter())
        .flat_map(|o| o["leaves_written"].as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(v["written"]["leaf_certs"], sum);
    assert!(v["seconds"].as_f64().unwrap() >= 0.0);
}

#[test]
fn second_run_has_nothing_to_do_and_a_repair_names_its_org() {
    let fx = tree();
    let out = &fx.out;
    init_json(&fx);
    let v = init_json(&fx);
    assert_eq!(v["nothing_to_do"], true, "{v}");
    for o in v["orgs"].as_array().unwrap() {
        assert_eq!(o["changed"], false, "{o}");
        assert_eq!(o["ca"]["status"], "kept");
    }
    std::fs::remove_file(out.join("participant2/client/admin-api.customer2.com.key.der")).unwrap();
    let v = init_json(&fx);
    assert_eq!(v["nothing_to_do"], false);
    assert_eq!(v["written"]["leaf_certs"], 0);
    assert_eq!(v["written"]["leaves_repaired"], 1);
    assert_eq!(org(&v, "participant2")["leaves_repaired"], 1);
    assert_eq!(org(&v, "participant2")["changed"], true);
    assert_eq!(org(&v, "participant1")["changed"], false);
    assert!(out
        .join("participant2/client/admin-api.customer2.com.key.der")
        .exists());
}
