//! CRUD, paging, reference and conflict rules, and transaction rollback,
//! on SQLite and Postgres.

mod common;

use common::*;
use store::{EntityKind, Page, Store, StoreError};
use uuid::Uuid;

async fn assets_crud_and_paging(db: TestDb) {
    let s = db.open().await;

    let put = s.put_asset(asset("b-asset")).await.unwrap();
    assert!(put.created);
    let id = put.value.asset_id.expect("asset id assigned");
    let created = put.value.created.expect("created set");
    assert_eq!(s.get_asset("b-asset").await.unwrap(), put.value);

    let mut changed = asset("b-asset");
    changed.description = Some("changed".into());
    changed.asset_id = Some(Uuid::new_v4()); // read-only: ignored
    let again = s.put_asset(changed).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.value.asset_id, Some(id));
    assert_eq!(again.value.created, Some(created));
    assert!(again.value.last_modified >= Some(created));
    assert_eq!(
        s.get_asset("b-asset").await.unwrap().description.as_deref(),
        Some("changed")
    );

    for n in [
        "a-asset", "e-asset", "c-asset", "g-asset", "d-asset", "f-asset",
    ] {
        assert!(s.put_asset(asset(n)).await.unwrap().created);
    }
    let mut names = Vec::new();
    let mut page = Page::first(3);
    let mut pages = 0;
    loop {
        let r = s.list_assets(&page).await.unwrap();
        pages += 1;
        assert!(r.items.len() <= 3);
        names.extend(r.items.iter().map(|a| a.name.clone()));
        match r.next_after {
            Some(after) => page = Page::after(after, 3),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        names,
        [
            "a-asset", "b-asset", "c-asset", "d-asset", "e-asset", "f-asset", "g-asset"
        ]
    );
    // Exactly a full last page: no phantom next page.
    let r = s.list_assets(&Page::after("d-asset", 3)).await.unwrap();
    assert_eq!(r.items.len(), 3);
    assert_eq!(r.next_after, None);
    // Limit 0 is clamped to 1.
    assert_eq!(s.list_assets(&Page::first(0)).await.unwrap().items.len(), 1);

    assert!(s.delete_asset("c-asset").await.unwrap());
    assert!(!s.delete_asset("c-asset").await.unwrap());
    match s.get_asset("c-asset").await {
        Err(StoreError::NotFound {
            kind: EntityKind::Asset,
            name,
        }) => assert_eq!(name, "c-asset"),
        other => panic!("{other:?}"),
    }
    s.close().await;

    // Durable across reopen.
    let s = db.open().await;
    assert_eq!(
        s.list_assets(&Page::default()).await.unwrap().items.len(),
        6
    );
    s.close().await;
}

async fn invalid_entities_name_the_field(db: TestDb) {
    let s = db.open().await;
    match s.put_asset(asset("has space")).await {
        Err(StoreError::Invalid {
            kind: EntityKind::Asset,
            source,
        }) => assert_eq!(source.field, "name"),
        other => panic!("{other:?}"),
    }
    let mut p = open_policy("p");
    p.options.clear();
    match s.put_content_key_policy(p).await {
        Err(StoreError::Invalid { source, .. }) => assert_eq!(source.field, "options"),
        other => panic!("{other:?}"),
    }
    match s.put_content_key(key("zero", kid(1), [0; 16], None)).await {
        Err(StoreError::Invalid { source, .. }) => assert_eq!(source.field, "value"),
        other => panic!("{other:?}"),
    }
    s.close().await;
}

async fn content_keys_and_policies(db: TestDb) {
    let s = db.open().await;

    // A key naming a missing policy.
    match s
        .put_content_key(key("k1", kid(1), [1; 16], Some("nope")))
        .await
    {
        Err(StoreError::InvalidReference {
            field,
            kind: EntityKind::ContentKeyPolicy,
            name,
        }) => {
            assert_eq!((field.as_str(), name.as_str()), ("policyName", "nope"))
        }
        other => panic!("{other:?}"),
    }
    let hmac = b"0123456789abcdef0123456789abcdef";
    let pol = s
        .put_content_key_policy(token_policy("tok", hmac))
        .await
        .unwrap();
    assert!(pol.created);
    let policy_id = pol.value.policy_id.unwrap();
    let option_id = pol.value.options[0].policy_option_id.unwrap();
    let got = s.get_content_key_policy("tok").await.unwrap();
    assert_eq!(got, pol.value);
    // Secrets come back intact (the key delivery path needs them).
    let json = serde_json::to_string(&got).unwrap();
    assert!(
        json.contains("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
        "{json}"
    );
    // Replace keeps server-assigned ids.
    let mut replace = token_policy("tok", hmac);
    replace.description = Some("v2".into());
    replace.options[0].policy_option_id = Some(option_id);
    let r = s.put_content_key_policy(replace).await.unwrap();
    assert!(!r.created);
    assert_eq!(r.value.policy_id, Some(policy_id));
    assert_eq!(r.value.options[0].policy_option_id, Some(option_id));

    let put = s
        .put_content_key(key("k1", kid(1), [1; 16], Some("tok")))
        .await
        .unwrap();
    assert!(put.created);
    assert_eq!(s.get_content_key("k1").await.unwrap(), put.value);
    let with = s.get_content_key_with_value("k1").await.unwrap();
    assert_eq!(with.value.expose(), &[1; 16]);
    let by_kid = s.get_content_key_by_key_id(kid(1)).await.unwrap();
    assert_eq!(by_kid.key.name, "k1");
    assert_eq!(by_kid.value.expose(), &[1; 16]);
    match s.get_content_key_by_key_id(kid(99)).await {
        Err(StoreError::NotFound {
            kind: EntityKind::ContentKey,
            name,
        }) => assert_eq!(name, kid(99).to_string()),
        other => panic!("{other:?}"),
    }

    // A second key may not reuse the KID.
    match s.put_content_key(key("k2", kid(1), [2; 16], None)).await {
        Err(StoreError::Conflict {
            kind: EntityKind::ContentKey,
            name,
            reason,
        }) => {
            assert_eq!(name, "k2");
            assert!(reason.contains("'k1'"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Unreferenced keys may be rotated in place.
    assert!(
        !s.put_content_key(key("k1", kid(1), [3; 16], Some("tok")))
            .await
            .unwrap()
            .created
    );
    assert_eq!(
        s.get_content_key_with_value("k1")
            .await
            .unwrap()
            .value
            .expose(),
        &[3; 16]
    );
    s.put_content_key(key("k2", kid(2), [2; 16], None))
        .await
        .unwrap();
    let listed = s.list_content_keys(&Page::default()).await.unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>(),
        ["k1", "k2"]
    );

    // A policy in use by a key cannot go.
    match s.delete_content_key_policy("tok").await {
        Err(StoreError::Conflict {
            kind: EntityKind::ContentKeyPolicy,
            reason,
            ..
        }) => assert!(reason.contains("content key 'k1'")),
        other => panic!("{other:?}"),
    }
    assert!(s.delete_content_key("k1").await.unwrap());
    assert!(s.delete_content_key_policy("tok").await.unwrap());
    assert!(!s.delete_content_key_policy("tok").await.unwrap());
    s.close().await;
}

async fn streaming_policies_and_predefined(db: TestDb) {
    let s = db.open().await;
    let all = s.list_streaming_policies(&Page::default()).await.unwrap();
    let names: Vec<_> = all.items.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Predefined_ClearKey",
            "Predefined_ClearStreamingOnly",
            "Predefined_MultiDrmCencStreaming",
            "Predefined_MultiDrmStreaming"
        ]
    );
    let mut p = s.get_streaming_policy("Predefined_ClearKey").await.unwrap();
    p.default_content_key_policy_name = None;
    assert!(matches!(
        s.put_streaming_policy(p).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        s.delete_streaming_policy("Predefined_ClearKey").await,
        Err(StoreError::Conflict { .. })
    ));

    match s
        .put_streaming_policy(streaming_policy("sp", Some("missing")))
        .await
    {
        Err(StoreError::InvalidReference { field, name, .. }) => {
            assert_eq!(
                (field.as_str(), name.as_str()),
                ("defaultContentKeyPolicyName", "missing")
            )
        }
        other => panic!("{other:?}"),
    }
    s.put_content_key_policy(open_policy("open")).await.unwrap();
    let put = s
        .put_streaming_policy(streaming_policy("sp", Some("open")))
        .await
        .unwrap();
    assert!(put.created);
    assert!(put.value.created.is_some());
    assert_eq!(s.get_streaming_policy("sp").await.unwrap(), put.value);
    match s.delete_content_key_policy("open").await {
        Err(StoreError::Conflict { reason, .. }) => {
            assert!(reason.contains("streaming policy 'sp'"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // Replacing without the reference releases the policy.
    assert!(
        !s.put_streaming_policy(streaming_policy("sp", None))
            .await
            .unwrap()
            .created
    );
    assert!(s.delete_content_key_policy("open").await.unwrap());
    assert!(s.delete_streaming_policy("sp").await.unwrap());
    s.close().await;
}

/// Asset, policy and two keys, ready for locators.
async fn published(s: &dyn Store) {
    s.put_asset(asset("movie")).await.unwrap();
    s.put_content_key_policy(open_policy("open")).await.unwrap();
    s.put_content_key(key("k1", kid(1), [0x11; 16], Some("open")))
        .await
        .unwrap();
    s.put_content_key(key("k2", kid(2), [0x22; 16], None))
        .await
        .unwrap();
}

async fn locators_and_references(db: TestDb) {
    let s = db.open().await;
    published(s.as_ref()).await;

    match s
        .put_streaming_locator(locator("loc", "no-such-asset", "Predefined_ClearKey", &[]))
        .await
    {
        Err(StoreError::InvalidReference {
            field,
            kind: EntityKind::Asset,
            ..
        }) => assert_eq!(field, "assetName"),
        other => panic!("{other:?}"),
    }
    match s
        .put_streaming_locator(locator("loc", "movie", "no-such-policy", &[]))
        .await
    {
        Err(StoreError::InvalidReference {
            field,
            kind: EntityKind::StreamingPolicy,
            ..
        }) => assert_eq!(field, "streamingPolicyName"),
        other => panic!("{other:?}"),
    }
    let mut l = locator(
        "loc",
        "movie",
        "Predefined_MultiDrmCencStreaming",
        &[kid(1), kid(2)],
    );
    l.default_content_key_policy_name = Some("ghost".into());
    match s.put_streaming_locator(l.clone()).await {
        Err(StoreError::InvalidReference { field, .. }) => {
            assert_eq!(field, "defaultContentKeyPolicyName")
        }
        other => panic!("{other:?}"),
    }
    l.default_content_key_policy_name = Some("open".into());
    l.content_keys[0].value = Some(keys::model::ContentKeyValue::new([9; 16]));
    match s.put_streaming_locator(l.clone()).await {
        Err(StoreError::Invalid { source, .. }) => assert_eq!(source.field, "contentKeys[0].value"),
        other => panic!("{other:?}"),
    }
    l.content_keys[0].value = None;

    let put = s.put_streaming_locator(l.clone()).await.unwrap();
    assert!(put.created);
    let id = put.value.streaming_locator_id.unwrap();
    assert_eq!(id.get_version_num(), 4, "generated ids are random UUIDs");
    assert_eq!(
        put.value.content_keys[0].policy_name.as_deref(),
        Some("open")
    );
    assert_eq!(s.get_streaming_locator("loc").await.unwrap(), put.value);
    assert_eq!(s.get_streaming_locator_by_id(id).await.unwrap().name, "loc");
    assert!(matches!(
        s.get_streaming_locator_by_id(Uuid::new_v4()).await,
        Err(StoreError::NotFound { .. })
    ));

    // Replace keeps the id; a second locator cannot take it.
    let again = s.put_streaming_locator(l.clone()).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.value.streaming_locator_id, Some(id));
    assert_eq!(again.value.created, put.value.created);
    let mut thief = locator("loc2", "movie", "Predefined_ClearKey", &[]);
    thief.streaming_locator_id = Some(id);
    assert!(matches!(
        s.put_streaming_locator(thief).await,
        Err(StoreError::Conflict {
            kind: EntityKind::StreamingLocator,
            ..
        })
    ));

    // Everything the locator uses is pinned.
    let used_by = |r: Result<bool, StoreError>| match r {
        Err(StoreError::Conflict { reason, .. }) => {
            assert!(reason.contains("streaming locator 'loc'"), "{reason}")
        }
        other => panic!("{other:?}"),
    };
    used_by(s.delete_asset("movie").await);
    used_by(s.delete_content_key("k2").await);
    let mut on_user_policy = l.clone();
    on_user_policy.streaming_policy_name = "user-sp".into();
    s.put_streaming_policy(streaming_policy("user-sp", None))
        .await
        .unwrap();
    s.put_streaming_locator(on_user_policy).await.unwrap();
    used_by(s.delete_streaming_policy("user-sp").await);
    // k1 is referenced by the locator and names policy "open".
    match s.delete_content_key_policy("open").await {
        Err(StoreError::Conflict { .. }) => {}
        other => panic!("{other:?}"),
    }
    // A used key may be re-labelled, but not re-keyed.
    let mut relabel = key("k2", kid(2), [0x22; 16], None);
    relabel.key.label = Some("video".into());
    assert!(s.put_content_key(relabel).await.is_ok());
    used_by(
        s.put_content_key(key("k2", kid(2), [0x23; 16], None))
            .await
            .map(|p| p.created),
    );
    used_by(
        s.put_content_key(key("k2", kid(3), [0x22; 16], None))
            .await
            .map(|p| p.created),
    );

    let page = s.list_streaming_locators(&Page::default()).await.unwrap();
    assert_eq!(page.items.len(), 1);

    assert!(s.delete_streaming_locator("loc").await.unwrap());
    assert!(!s.delete_streaming_locator("loc").await.unwrap());
    assert!(s.delete_content_key("k2").await.unwrap());
    assert!(s.delete_asset("movie").await.unwrap());
    s.close().await;
}

async fn failed_write_rolls_back_the_whole_transaction(db: TestDb) {
    let s = db.open().await;
    published(s.as_ref()).await;
    let first = s
        .put_streaming_locator(locator("loc", "movie", "Predefined_ClearKey", &[kid(1)]))
        .await
        .unwrap()
        .value;

    // The replacement's row is written before its second key turns out to be
    // missing: the error must undo the row and the first key's link too.
    let mut bad = locator(
        "loc",
        "movie",
        "Predefined_MultiDrmCencStreaming",
        &[kid(2), kid(77)],
    );
    bad.alternative_media_id = Some("should-not-stick".into());
    match s.put_streaming_locator(bad).await {
        Err(StoreError::InvalidReference {
            field,
            kind: EntityKind::ContentKey,
            name,
        }) => {
            assert_eq!(field, "contentKeys[1].id");
            assert_eq!(name, kid(77).to_string());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.get_streaming_locator("loc").await.unwrap(), first);
    // k2 was linked inside the failed transaction; that link is gone...
    assert!(s.delete_content_key("k2").await.unwrap());
    // ...and k1's link from the committed version is still there.
    assert!(matches!(
        s.delete_content_key("k1").await,
        Err(StoreError::Conflict { .. })
    ));

    // A failed create leaves no row behind.
    assert!(
        s.put_streaming_locator(locator(
            "new",
            "movie",
            "Predefined_ClearKey",
            &[kid(1), kid(78)]
        ))
        .await
        .is_err()
    );
    assert!(matches!(
        s.get_streaming_locator("new").await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.list_streaming_locators(&Page::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    s.close().await;
}

async fn live_events_and_outputs(db: TestDb) {
    use keys::model::{LiveEvent, LiveEventResourceState, LiveOutput};
    let s = db.open().await;
    let event: LiveEvent = serde_json::from_value(serde_json::json!({"name": "stage",
        "input": {"streamingProtocol": "FragmentedMP4", "accessToken": "0123456789abcdef0123"},
        "resourceState": "Running"}))
    .unwrap();
    let put = s.put_live_event(event.clone()).await.unwrap();
    assert!(put.created);
    assert_eq!(
        put.value.resource_state,
        LiveEventResourceState::Stopped,
        "a put never sets the state"
    );
    let running = s
        .set_live_event_state("stage", LiveEventResourceState::Running)
        .await
        .unwrap();
    assert_eq!(running.resource_state, LiveEventResourceState::Running);
    let replaced = s.put_live_event(event).await.unwrap();
    assert!(!replaced.created);
    assert_eq!(
        replaced.value.resource_state,
        LiveEventResourceState::Running,
        "a replace keeps the state"
    );
    assert!(matches!(
        s.set_live_event_state("nosuch", LiveEventResourceState::Running).await,
        Err(StoreError::NotFound { .. })
    ));

    let output = |name: &str, event: &str, asset: &str| -> LiveOutput {
        serde_json::from_value(serde_json::json!({"name": name, "liveEventName": event,
            "assetName": asset, "archiveWindowLength": "PT1H"}))
        .unwrap()
    };
    assert!(matches!(
        s.put_live_output(output("rec", "stage", "movie")).await,
        Err(StoreError::InvalidReference { .. })
    ));
    s.put_asset(asset("movie")).await.unwrap();
    assert!(matches!(
        s.put_live_output(output("rec", "nosuch", "movie")).await,
        Err(StoreError::InvalidReference { .. })
    ));
    assert!(s.put_live_output(output("rec", "stage", "movie")).await.unwrap().created);
    assert_eq!(s.live_outputs_of("stage").await.unwrap().len(), 1);
    assert!(s.live_outputs_of("other").await.unwrap().is_empty());
    // Referenced: neither the event nor the asset can go.
    assert!(matches!(
        s.delete_live_event("stage").await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        s.delete_asset("movie").await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(s.delete_live_output("rec").await.unwrap());
    assert!(s.delete_live_event("stage").await.unwrap());
    assert!(!s.delete_live_event("stage").await.unwrap());
    s.close().await;
}

on_every_backend!(
    live_events_and_outputs,
    assets_crud_and_paging,
    invalid_entities_name_the_field,
    content_keys_and_policies,
    streaming_policies_and_predefined,
    locators_and_references,
    failed_write_rolls_back_the_whole_transaction,
);
