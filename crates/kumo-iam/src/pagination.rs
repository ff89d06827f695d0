//! IAM's paging: `MaxItems` (1–1,000, default 100) items per page, `IsTruncated`, and an
//! opaque `Marker` naming where the next page starts.

use base64::Engine;
use kumo_core::AwsError;

use crate::error;
use crate::types::Page;

/// Default page size.
const DEFAULT_MAX_ITEMS: i64 = 100;
/// Largest page.
const MAX_MAX_ITEMS: i64 = 1000;

/// One page of `items` (already in order) with the marker of the next, if any; `key` gives
/// an item's position in the order.
pub fn paginate<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    page: &Page,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let max_items = page.max_items.unwrap_or(DEFAULT_MAX_ITEMS);
    if !(1..=MAX_MAX_ITEMS).contains(&max_items) {
        return Err(error::out_of_range("maxItems", max_items, 1, MAX_MAX_ITEMS));
    }
    let start = match &page.marker {
        Some(marker) => {
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(marker)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| error::invalid_input("Invalid Marker."))?;
            items.iter().position(|item| key(item) >= decoded).unwrap_or(items.len())
        }
        None => 0,
    };
    let max_items = usize::try_from(max_items).unwrap_or(usize::MAX);
    let mut rest = items.into_iter().skip(start);
    let taken: Vec<T> = rest.by_ref().take(max_items).collect();
    let marker = rest.next().map(|next| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key(&next)));
    Ok((taken, marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_through_everything_once() {
        let items: Vec<String> = (0..7).map(|i| format!("item{i}")).collect();
        let mut page = Page { marker: None, max_items: Some(3) };
        let mut seen = Vec::new();
        loop {
            let (taken, marker) = paginate(items.clone(), String::clone, &page).unwrap();
            seen.extend(taken);
            match marker {
                Some(marker) => page.marker = Some(marker),
                None => break,
            }
        }
        assert_eq!(seen, items);
        let error = paginate(items, String::clone, &Page { marker: None, max_items: Some(0) }).unwrap_err();
        assert_eq!(error.code, "ValidationError");
    }
}
