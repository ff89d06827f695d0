//! The behaviour every [`S3Store`] keeps, run against the SQLite store (and any other backend
//! that calls [`run_all`]).

use super::*;

fn bucket(name: &str, account: &str) -> BucketRow {
    BucketRow {
        id: 0,
        name: name.into(),
        account: account.into(),
        region: "us-east-1".into(),
        created_ms: 1,
        notification: None,
    }
}

fn object(key: &str, blob: &str) -> ObjectRow {
    ObjectRow {
        key: key.into(),
        size: 3,
        etag: format!("etag-{blob}"),
        last_modified_ms: 2,
        blob: blob.into(),
        parts: None,
        headers: ObjectHeaders::default(),
    }
}

/// Every check, on a fresh store from `open`.
pub fn run_all(open: impl Fn() -> Box<dyn S3Store>) {
    bucket_names_are_global(open().as_ref());
    conditional_writes_hold_in_the_transaction(open().as_ref());
    listing_reads_a_byte_ordered_range(open().as_ref());
    uploads_complete_into_objects(open().as_ref());
    notifications_wait_in_the_outbox_with_their_change(open().as_ref());
}

fn entry(destination: &str, body: &str) -> OutboxEntry {
    OutboxEntry { seq: 0, destination: destination.into(), body: body.into(), bucket: "n".into(), owner: "1".into() }
}

fn notifications_wait_in_the_outbox_with_their_change(store: &dyn S3Store) {
    store.create_bucket(&bucket("n", "111111111111")).unwrap();
    let id = store.bucket("n").unwrap().unwrap().id;
    store.set_notification(id, Some("{}"), &[entry("arn:q", "test")]).unwrap();
    assert_eq!(store.bucket("n").unwrap().unwrap().notification.as_deref(), Some("{}"));
    store.put_object(id, &object("k", "f1"), &WriteCondition::default(), &[entry("arn:f", "put")]).unwrap().unwrap();
    // A write whose condition fails reports nothing.
    let absent = WriteCondition { absent: true, etag: None };
    let refused = store.put_object(id, &object("k", "f2"), &absent, &[entry("arn:f", "refused")]).unwrap();
    assert_eq!(refused, Err(ConditionFailure::Failed));
    store.delete_objects(id, &["k".into()], &[entry("arn:f", "delete")]).unwrap();
    let queued = store.outbox_after(0, 10).unwrap();
    let bodies: Vec<&str> = queued.iter().map(|entry| entry.body.as_str()).collect();
    assert_eq!(bodies, ["test", "put", "delete"]);
    assert!(queued.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    assert_eq!(store.outbox_after(queued[0].seq, 1).unwrap()[0].body, "put");
    store.remove_outbox(&[queued[0].seq, queued[1].seq]).unwrap();
    assert_eq!(store.outbox_after(0, 10).unwrap().len(), 1);
    store.set_notification(id, None, &[]).unwrap();
    assert_eq!(store.bucket("n").unwrap().unwrap().notification, None);
}

fn bucket_names_are_global(store: &dyn S3Store) {
    assert_eq!(store.create_bucket(&bucket("b1", "111111111111")).unwrap(), CreateBucket::Created);
    let CreateBucket::Exists(existing) = store.create_bucket(&bucket("b1", "222222222222")).unwrap() else {
        panic!("a taken name was created again");
    };
    assert_eq!(existing.account, "111111111111");
    assert!(store.buckets_of("222222222222").unwrap().is_empty());
    let id = store.bucket("b1").unwrap().unwrap().id;
    store.put_object(id, &object("k", "f1"), &WriteCondition::default(), &[]).unwrap().unwrap();
    assert_eq!(store.delete_bucket(id).unwrap(), DeleteBucket::NotEmpty);
    assert_eq!(store.delete_objects(id, &["k".into(), "missing".into()], &[]).unwrap(), ["f1"]);
    assert_eq!(store.delete_bucket(id).unwrap(), DeleteBucket::Deleted(Vec::new()));
    assert!(store.bucket("b1").unwrap().is_none());
}

fn conditional_writes_hold_in_the_transaction(store: &dyn S3Store) {
    store.create_bucket(&bucket("b2", "111111111111")).unwrap();
    let id = store.bucket("b2").unwrap().unwrap().id;
    let absent = WriteCondition { absent: true, etag: None };
    assert_eq!(store.put_object(id, &object("k", "f1"), &absent, &[]).unwrap(), Ok(None));
    assert_eq!(store.put_object(id, &object("k", "f2"), &absent, &[]).unwrap(), Err(ConditionFailure::Failed));
    let wrong = WriteCondition { absent: false, etag: Some("other".into()) };
    assert_eq!(store.put_object(id, &object("k", "f2"), &wrong, &[]).unwrap(), Err(ConditionFailure::Failed));
    let missing = WriteCondition { absent: false, etag: Some("etag-f1".into()) };
    assert_eq!(store.put_object(id, &object("j", "f2"), &missing, &[]).unwrap(), Err(ConditionFailure::Missing));
    assert_eq!(store.put_object(id, &object("k", "f2"), &missing, &[]).unwrap(), Ok(Some("f1".into())));
    assert_eq!(store.object(id, "k").unwrap().unwrap().blob, "f2");
    let mut headers = ObjectHeaders::default();
    headers.tags.insert("t".into(), "v".into());
    assert!(!store.set_headers(id, "k", "etag-f1", &headers).unwrap(), "a replaced object keeps its headers");
    assert!(store.set_headers(id, "k", "etag-f2", &headers).unwrap());
    assert_eq!(store.object(id, "k").unwrap().unwrap().headers, headers);
}

fn listing_reads_a_byte_ordered_range(store: &dyn S3Store) {
    store.create_bucket(&bucket("b3", "111111111111")).unwrap();
    let id = store.bucket("b3").unwrap().unwrap().id;
    for key in ["a/1", "a/2", "b", "é", "Z"] {
        store.put_object(id, &object(key, key), &WriteCondition::default(), &[]).unwrap().unwrap();
    }
    let keys = |from: &[u8], below: Option<&[u8]>, limit| {
        store.objects_from(id, from, below, limit).unwrap().into_iter().map(|row| row.key).collect::<Vec<_>>()
    };
    assert_eq!(keys(b"", None, 10), ["Z", "a/1", "a/2", "b", "é"]);
    assert_eq!(keys(b"a/", prefix_end(b"a/").as_deref(), 10), ["a/1", "a/2"]);
    assert_eq!(keys(b"a/2", None, 2), ["a/2", "b"]);
}

fn uploads_complete_into_objects(store: &dyn S3Store) {
    store.create_bucket(&bucket("b4", "111111111111")).unwrap();
    let id = store.bucket("b4").unwrap().unwrap().id;
    let upload = UploadRow {
        upload_id: "u1".into(),
        bucket_id: id,
        key: "k".into(),
        initiated_ms: 1,
        headers: Default::default(),
    };
    store.create_upload(&upload).unwrap();
    let part = |number, blob: &str| PartRow {
        part_number: number,
        size: 1,
        etag: "e".into(),
        last_modified_ms: 1,
        blob: blob.into(),
    };
    let mut replaced = None;
    assert!(store.put_part("u1", &part(2, "p2"), &mut replaced).unwrap());
    assert!(store.put_part("u1", &part(1, "p1"), &mut replaced).unwrap());
    assert!(store.put_part("u1", &part(1, "p1b"), &mut replaced).unwrap());
    assert_eq!(replaced.as_deref(), Some("p1"));
    assert!(!store.put_part("nope", &part(1, "x"), &mut replaced).unwrap());
    let numbers: Vec<u32> = store.parts("u1", 0, 10).unwrap().iter().map(|part| part.part_number).collect();
    assert_eq!(numbers, [1, 2]);
    assert_eq!(store.uploads(id, "", None, 10).unwrap().len(), 1);
    assert_eq!(store.uploads(id, "x", None, 10).unwrap().len(), 0);
    assert_eq!(
        store.complete_upload(&upload, &object("k", "whole"), &WriteCondition::default(), &[]).unwrap(),
        Ok(None)
    );
    assert!(store.upload(id, "u1").unwrap().is_none());
    assert!(store.parts("u1", 0, 10).unwrap().is_empty());
    assert_eq!(store.remove_upload("u1").unwrap(), None);
    assert_eq!(store.referenced_blobs().unwrap(), ["whole"]);
}

#[test]
fn the_sqlite_store_keeps_the_contract() {
    let dirs = std::cell::RefCell::new(Vec::new());
    run_all(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteS3Store::open(dir.path()).unwrap();
        dirs.borrow_mut().push(dir);
        Box::new(store)
    });
}
