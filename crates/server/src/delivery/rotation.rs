//! The stored keys of a rotated locator's later key periods.
//!
//! The origin derives a period's keys from the locator's own
//! (`media::rotation`, [`cenc::ContentKey::for_period`]), but key delivery
//! is asked by KID, and a KID cannot be traced back to its base key: so
//! before a manifest of a rotated locator goes out, the keys of every
//! period its asset reaches into are in the store, sealed like every
//! content key, named `period-<kid>`, of the base key's type and under the
//! content key policy that authorises the base key. A license request for
//! a period's KID is then authorised and answered like any other, and a
//! license carries that period's key only. CPIX export lists them by
//! period.
//!
//! Writes happen once per period (a key that exists is left alone) and
//! the count done is kept with the cached resolution, so a manifest
//! request costs one atomic load once the keys are there; a live asset
//! growing into a new period stores that period's keys on the next
//! manifest request.

use super::error::DeliveryError;
use super::origin::open_asset;
use super::resolve::{self, ResolvedLocator, Variant};
use crate::AppState;
use keys::model::{ContentKey, ContentKeyValue, ContentKeyWithValue, PERIOD_KEY_PREFIX};
use media::rotation::{KeyRotation, period_count};
use media::setup::Protection;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use uuid::Uuid;

/// How many key periods `resolved`'s asset reaches into under `rotation`.
pub(crate) async fn period_total(
    s: &AppState,
    resolved: &Arc<ResolvedLocator>,
    rotation: KeyRotation,
) -> Result<u32, DeliveryError> {
    let asset = open_asset(s, resolved).await?;
    Ok(period_count(&asset.index, rotation.period_len(&asset.index)))
}

/// The KIDs of period 0 (the locator's own keys) of every rotated variant.
pub(crate) fn base_kids(resolved: &ResolvedLocator) -> Vec<Uuid> {
    let mut kids = Vec::new();
    for v in Variant::ALL {
        let Some(plan) = resolved.variant(v).filter(|p| p.rotation.is_some()) else {
            continue;
        };
        let of_variant: Vec<[u8; 16]> = match &plan.protection {
            Protection::Clear => Vec::new(),
            Protection::Common(c) => c.keys.all().map(|k| k.kid.0).collect(),
            Protection::Aes128 { keys } => keys.all().map(|k| k.key.kid.0).collect(),
        };
        for kid in of_variant.into_iter().map(Uuid::from_bytes) {
            if !kids.contains(&kid) {
                kids.push(kid);
            }
        }
    }
    kids
}

/// The content key of period `period` of `base`, as stored: named by its
/// KID, of `base`'s type and label, under `policy`.
pub(crate) fn period_key(base: &ContentKeyWithValue, policy: Option<String>, period: u32) -> ContentKeyWithValue {
    let derived = cenc::ContentKey {
        kid: cenc::KeyId(*base.key.key_id.as_bytes()),
        key: cenc::Key::new(*base.value.expose()),
    }
    .for_period(period);
    let kid = Uuid::from_bytes(derived.kid.0);
    ContentKeyWithValue {
        key: ContentKey {
            name: format!("{PERIOD_KEY_PREFIX}{kid}"),
            key_id: kid,
            key_type: base.key.key_type,
            label: base.key.label.clone(),
            policy_name: policy,
            created: None,
            last_modified: None,
        },
        value: ContentKeyValue::new(*derived.key.as_bytes()),
    }
}

/// Stores the keys of every period of `resolved`'s asset that are not
/// stored yet (see the module docs).
pub(crate) async fn ensure_period_keys(
    s: &AppState,
    resolved: &Arc<ResolvedLocator>,
    rotation: KeyRotation,
) -> Result<(), DeliveryError> {
    let total = period_total(s, resolved, rotation).await?;
    if resolved.periods_stored.load(Ordering::Acquire) >= total {
        return Ok(());
    }
    let (d, store) = (s.delivery(), s.store());
    let from = resolved.periods_stored.load(Ordering::Acquire).max(1);
    for kid in base_kids(resolved) {
        let base = resolve::delivery_key(d, store, kid).await?;
        for period in from..total {
            let key = period_key(&base.key, base.policy_name.clone(), period);
            match store.get_content_key_by_key_id(key.key.key_id).await {
                Ok(_) => continue,
                Err(store::StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            store.put_content_key(key).await?;
        }
    }
    resolved.periods_stored.fetch_max(total, Ordering::AcqRel);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keys::model::ContentKeyType;

    #[test]
    fn period_keys_keep_type_label_and_policy() {
        let base = ContentKeyWithValue {
            key: ContentKey {
                name: "k".into(),
                key_id: Uuid::from_u128(5),
                key_type: ContentKeyType::EnvelopeEncryption,
                label: Some("hd".into()),
                policy_name: None,
                created: None,
                last_modified: None,
            },
            value: ContentKeyValue::new([3; 16]),
        };
        let k = period_key(&base, Some("P".into()), 2);
        assert_eq!(k.key.name, format!("period-{}", k.key.key_id));
        assert_ne!(k.key.key_id, base.key.key_id);
        assert_eq!(k.key.key_type, ContentKeyType::EnvelopeEncryption);
        assert_eq!(k.key.label.as_deref(), Some("hd"));
        assert_eq!(k.key.policy_name.as_deref(), Some("P"));
        assert_ne!(k.value.expose(), base.value.expose());
        let again = period_key(&base, None, 2);
        assert_eq!(again.key.key_id, k.key.key_id);
        assert_eq!(again.value.expose(), k.value.expose());
    }
}
