//! The behaviour every [`IamStore`] implementation must have, written against the trait:
//! `suite(open)` runs it for an implementation opened on a path (the same path again to check
//! that what was written survives a restart). Run here for SQLite; a PostgreSQL implementation
//! runs the same function. IAM writes through, one statement per change: it has no
//! group-committed writes to order.

use std::path::Path;

use super::{IamStore, Kind};

/// Runs every check on stores `open` makes.
pub(crate) fn suite<S: IamStore + 'static>(open: impl Fn(&Path) -> S) {
    keeps_documents_until_deleted_or_expired(&open);
    kinds_are_apart_and_listed_by_key(&open);
}

fn keeps_documents_until_deleted_or_expired<S: IamStore + 'static>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.sqlite3");
    {
        let store: &dyn IamStore = &open(&path);
        store.put(Kind::Role, "000000000000/a", &"first", None).unwrap();
        store.put(Kind::Role, "000000000000/a", &"replaced", None).unwrap();
        store.put(Kind::Role, "000000000000/b", &"second", None).unwrap();
        store.put(Kind::Session, "ASIA1", &"old", Some(1_000)).unwrap();
        store.put(Kind::Session, "ASIA2", &"new", Some(5_000)).unwrap();
        store.delete(Kind::Role, "000000000000/b").unwrap();
        store.delete(Kind::Role, "000000000000/missing").unwrap();
        assert_eq!(store.purge_expired(2_000).unwrap(), 1);
    }
    let reopened = open(&path);
    let store: &dyn IamStore = &reopened;
    let roles: Vec<(String, String)> = store.load(Kind::Role).unwrap();
    assert_eq!(roles, vec![("000000000000/a".to_string(), "replaced".to_string())]);
    let sessions: Vec<(String, String)> = store.load(Kind::Session).unwrap();
    assert_eq!(sessions, vec![("ASIA2".to_string(), "new".to_string())]);
}

fn kinds_are_apart_and_listed_by_key<S: IamStore + 'static>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("iam.sqlite3"));
    for key in ["c", "a", "b"] {
        store.put_document(Kind::Policy, key, &format!("\"policy {key}\""), None).unwrap();
    }
    store.put_document(Kind::Role, "a", "\"role a\"", None).unwrap();
    let policies = store.load_documents(Kind::Policy).unwrap();
    assert_eq!(policies.iter().map(|(key, _)| key.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(store.load_documents(Kind::Role).unwrap(), [("a".to_string(), "\"role a\"".to_string())]);
    // Documents without an expiry are never purged.
    assert_eq!(store.purge_expired(u64::MAX).unwrap(), 0);
    store.delete(Kind::Policy, "a").unwrap();
    assert_eq!(store.load_documents(Kind::Policy).unwrap().len(), 2);
    assert!(store.load_documents(Kind::Session).unwrap().is_empty());
}

#[test]
fn sqlite_iam_store_passes_the_suite() {
    suite(|path| super::SqliteIamStore::open(path).unwrap());
}
