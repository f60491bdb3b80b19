//! The cloud-wide facts `instance_selection=tagged` needs: which images
//! carry the tag, and whether any flavor does. Read once per step that has
//! Nova work, never on a quiet step.

use std::collections::BTreeSet;

use openstack::{Compute, Glance, GlanceOptions};
use umha_common::Deadline;

use crate::selection::{TagIndex, truthy};

pub fn index(
    compute: &Compute,
    tag: &str,
    deadline: Deadline,
) -> Result<TagIndex, openstack::Error> {
    let any_flavor = compute
        .flavors(deadline)?
        .iter()
        .any(|f| f.extra_specs.get(tag).is_some_and(|v| truthy(v)));
    let glance = Glance::connect(compute.shared_session(), GlanceOptions::default(), deadline)?;
    let images: BTreeSet<String> = glance
        .flagged_image_ids(tag, deadline)?
        .into_iter()
        .collect();
    Ok(TagIndex { images, any_flavor })
}
