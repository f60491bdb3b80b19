//! Glance v2 image listing, for "evacuable" images.
//!
//! The convention umha shares with the `fence_evacuate`/`NovaEvacuate`
//! tooling: an instance is evacuable when its flavor has the extra spec
//! `evacuable=true` or its image has the tag `evacuable` or the property
//! `evacuable=true`. Nova's server view carries the flavor's extra specs
//! (2.47+) but only the image id, so the image side needs Glance.
//!
//! We list every image and filter here rather than ask Glance to filter by
//! property: Glance compares property values as exact strings, and
//! operators write `True` as often as `true`. Hidden images (`os_hidden`,
//! Glance 2.7+) are left out of a default listing, yet instances booted from
//! them still exist (operators hide superseded images), so they are listed
//! too.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::Value;
use umha_common::Deadline;

use crate::error::{Error, Result, bounded};
use crate::session::{Call, Retry, Session, attempts_note, parse_url};

/// The tag and property name the evacuable-image convention uses.
pub const EVACUABLE: &str = "evacuable";

/// Paging knobs.
#[derive(Debug, Clone)]
pub struct GlanceOptions {
    /// `limit` per page (Glance caps it at `api_limit_max`, 1000 by default).
    pub page_size: u32,
    /// A listing that needs more pages than this is refused (see
    /// [`crate::ComputeOptions::max_pages`]).
    pub max_pages: u32,
}

impl Default for GlanceOptions {
    fn default() -> Self {
        Self {
            page_size: 1000,
            max_pages: 200,
        }
    }
}

/// One image of `GET /v2/images`. Glance puts custom properties at the top
/// level of the image, beside the standard fields; they are gathered in
/// `properties`, values as strings (a non-string kept as its JSON text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlanceImage {
    pub id: String,
    pub name: Option<String>,
    pub status: Option<String>,
    pub visibility: Option<String>,
    pub hidden: bool,
    pub tags: Vec<String>,
    pub properties: BTreeMap<String, String>,
}

/// Standard fields of the image schema: never taken for custom properties.
const STANDARD: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "os_hidden",
    "tags",
    "protected",
    "checksum",
    "owner",
    "size",
    "virtual_size",
    "min_ram",
    "min_disk",
    "disk_format",
    "container_format",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "direct_url",
    "locations",
    "os_hash_algo",
    "os_hash_value",
    "stores",
];

impl GlanceImage {
    /// Tag `key` present (ASCII case ignored).
    pub fn has_tag(&self, key: &str) -> bool {
        self.tags.iter().any(|t| t.trim().eq_ignore_ascii_case(key))
    }

    /// Property `key` is "true" (case and surrounding blanks ignored), the
    /// only truthy spelling `fence_evacuate` accepts.
    pub fn property_is_true(&self, key: &str) -> bool {
        self.properties
            .get(key)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// Tagged `key` or with the property `key=true`.
    pub fn is_flagged(&self, key: &str) -> bool {
        self.has_tag(key) || self.property_is_true(key)
    }

    fn from_value(v: Value) -> Result<Self> {
        const WHAT: &str = "image list";
        let Value::Object(map) = v else {
            return Err(Error::malformed(WHAT, "an image that is not an object"));
        };
        let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
        let id = text("id")
            .filter(|i| !i.is_empty())
            .ok_or_else(|| Error::malformed(WHAT, "an image without id"))?;
        let tags = match map.get("tags") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let hidden = match map.get("os_hidden") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
            _ => false,
        };
        let properties = map
            .iter()
            .filter(|(k, _)| !STANDARD.contains(&k.as_str()))
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect();
        Ok(Self {
            name: text("name"),
            status: text("status"),
            visibility: text("visibility"),
            id,
            hidden,
            tags,
            properties,
        })
    }
}

#[derive(Deserialize)]
struct ImagesPage {
    images: Vec<Value>,
    #[serde(default)]
    next: Option<Value>,
}

/// Parse one page of `GET /v2/images`: the images and whether a `next`
/// link follows.
pub fn parse_images_page(body: &[u8]) -> Result<(Vec<GlanceImage>, bool)> {
    let page: ImagesPage =
        serde_json::from_slice(body).map_err(|e| Error::json("image list", &e))?;
    let next = page
        .next
        .as_ref()
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let images = page
        .images
        .into_iter()
        .map(GlanceImage::from_value)
        .collect::<Result<Vec<_>>>()?;
    Ok((images, next))
}

/// A Glance client bound to one image endpoint.
#[derive(Debug)]
pub struct Glance {
    session: Arc<Session>,
    /// `<endpoint>/v2`.
    base: Url,
    options: GlanceOptions,
}

impl Glance {
    /// The `image` endpoint from the catalog (interface and region as the
    /// cloud is configured).
    pub fn connect(
        session: Arc<Session>,
        options: GlanceOptions,
        deadline: Deadline,
    ) -> Result<Self> {
        let endpoint = session.endpoint("image", deadline)?;
        Self::connect_to(session, &endpoint, options)
    }

    /// As [`Glance::connect`], with the endpoint given. Catalogs list
    /// Glance without a version (`http://h:9292`), some with `/v2`, and
    /// devstack under a path (`http://h/image`): all three work.
    pub fn connect_to(
        session: Arc<Session>,
        endpoint: &str,
        options: GlanceOptions,
    ) -> Result<Self> {
        let trimmed = endpoint.trim_end_matches('/');
        let mut base = parse_url(trimmed, "image endpoint")?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "image endpoint {:?} is not an http(s) URL",
                bounded(base.as_str(), 120)
            )));
        }
        base.set_fragment(None);
        base.set_query(None);
        let versioned = base
            .path_segments()
            .and_then(|mut s| s.next_back())
            .is_some_and(|last| last == "v2");
        if !versioned {
            base.path_segments_mut()
                .map_err(|()| Error::Config("image endpoint cannot take a path".to_owned()))?
                .pop_if_empty()
                .push("v2");
        }
        Ok(Self {
            session,
            base,
            options,
        })
    }

    /// `<endpoint>/v2/`.
    pub fn endpoint(&self) -> &str {
        self.base.as_str()
    }

    fn images_url(&self, query: &[(&str, &str)]) -> Result<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Config("image endpoint cannot take a path".to_owned()))?
            .push("images");
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Every image of one listing (`query` adds filters), every page, with
    /// the same guards as Nova's paging: a repeated id, a marker that does
    /// not move, or too many pages is an error, never a silent truncation.
    fn list(&self, query: &[(&str, &str)], deadline: Deadline) -> Result<Vec<GlanceImage>> {
        let what = "list images";
        let limit = self.options.page_size.max(1).to_string();
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut marker: Option<String> = None;
        for _ in 0..self.options.max_pages.max(1) {
            let mut q: Vec<(&str, &str)> = query.to_vec();
            q.push(("limit", &limit));
            if let Some(m) = &marker {
                q.push(("marker", m));
            }
            let call = Call {
                method: Method::GET,
                url: self.images_url(&q)?,
                body: None,
                headers: &[],
                retry: Retry::Idempotent,
                what,
            };
            let answer = self.session.call(&call, deadline)?;
            if !answer.is_success() {
                let message =
                    self.session.quote(&answer.body, None) + &attempts_note(answer.attempts());
                return Err(Error::from_status(what, answer.status, message));
            }
            let (images, next) = parse_images_page(&answer.body)?;
            let count = images.len();
            for image in images {
                if !seen.insert(image.id.clone()) {
                    return Err(Error::malformed(
                        what,
                        format!(
                            "image {} listed twice: the API's paging does not advance",
                            bounded(&image.id, 60)
                        ),
                    ));
                }
                marker = Some(image.id.clone());
                out.push(image);
            }
            if !next || count == 0 {
                return Ok(out);
            }
        }
        Err(Error::malformed(
            what,
            format!(
                "more than {} pages of {}: refusing to go on",
                self.options.max_pages, self.options.page_size
            ),
        ))
    }

    /// Every image the credentials can see, hidden ones included. A Glance
    /// older than 2.7 refuses the `os_hidden` filter with a 400; it has no
    /// hidden images either, so that refusal is not an error.
    pub fn images(&self, deadline: Deadline) -> Result<Vec<GlanceImage>> {
        let mut all = self.list(&[], deadline)?;
        match self.list(&[("os_hidden", "true")], deadline) {
            Ok(hidden) => {
                let known: HashSet<String> = all.iter().map(|i| i.id.clone()).collect();
                all.extend(hidden.into_iter().filter(|i| !known.contains(&i.id)));
            }
            Err(Error::BadRequest { .. }) => {}
            Err(e) => return Err(e),
        }
        Ok(all)
    }

    /// Ids of the images tagged `key` or with the property `key=true`.
    pub fn flagged_image_ids(&self, key: &str, deadline: Deadline) -> Result<Vec<String>> {
        Ok(self
            .images(deadline)?
            .into_iter()
            .filter(|i| i.is_flagged(key))
            .map(|i| i.id)
            .collect())
    }

    /// Ids of the images marked [`EVACUABLE`] (tag, or property `true`).
    pub fn evacuable_image_ids(&self, deadline: Deadline) -> Result<Vec<String>> {
        self.flagged_image_ids(EVACUABLE, deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PAGE: &str = r#"{"images": [
        {"id": "i1", "name": "cirros", "status": "active", "visibility": "public", "tags": ["evacuable"],
         "os_hidden": false, "size": 1024, "container_format": "bare", "disk_format": "raw",
         "self": "/v2/images/i1", "hw_disk_bus": "scsi"},
        {"id": "i2", "name": "prop", "tags": [], "evacuable": " True "},
        {"id": "i3", "name": "no", "tags": ["other"], "evacuable": "false", "os_hidden": true},
        {"id": "i4", "tags": null, "evacuable": true, "min_ram": 0}
    ], "first": "/v2/images", "schema": "/v2/schemas/images", "next": "/v2/images?marker=i4"}"#;

    #[test]
    fn properties_tags_and_paging() {
        let (images, next) = parse_images_page(PAGE.as_bytes()).unwrap_or_default();
        assert!(next);
        assert_eq!(images.len(), 4);
        assert!(images[0].has_tag(EVACUABLE) && images[0].is_flagged(EVACUABLE));
        assert_eq!(
            images[0].properties.get("hw_disk_bus").map(String::as_str),
            Some("scsi")
        );
        assert!(!images[0].properties.contains_key("size"));
        assert!(images[1].property_is_true(EVACUABLE));
        assert!(!images[2].is_flagged(EVACUABLE) && images[2].hidden);
        // A JSON true is kept as its text, "true": flagged.
        assert!(images[3].is_flagged(EVACUABLE) && images[3].tags.is_empty());
        let (_, next) = parse_images_page(br#"{"images": []}"#).unwrap_or_default();
        assert!(!next);
    }

    #[test]
    fn malformed_pages() {
        for bad in [
            &b"{}"[..],
            b"[]",
            br#"{"images": [{"name": "no id"}]}"#,
            br#"{"images": [{"id": ""}]}"#,
            br#"{"images": [3]}"#,
            br#"{"images": {}}"#,
        ] {
            assert!(
                parse_images_page(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_images_page(&body);
        }
    }
}
