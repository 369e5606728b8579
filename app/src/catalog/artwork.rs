//! Generated product artwork: a schematic SVG per product, and URL slugs from names.

/// `"Ridgeline 2 Tent"` → `"ridgeline-2-tent"`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for ch in name.chars() {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

/// A schematic product picture: a colour field from the name, and a motif for the category.
pub fn product_svg(name: &str, category_slug: &str) -> String {
    let hash = name.bytes().fold(2166136261u32, |h, b| (h ^ u32::from(b)).wrapping_mul(16777619));
    let hue = hash % 360;
    let accent = (hue + 40) % 360;
    let motif = match category_slug {
        "trail-camp" => {
            r##"<path d="M40 140 L110 50 L180 140 Z" fill="#fff" opacity=".9"/><path d="M110 50 L125 140 L95 140 Z" fill="#000" opacity=".15"/>"##
        }
        "kitchen" => {
            r##"<circle cx="100" cy="100" r="42" fill="#fff" opacity=".9"/><rect x="140" y="94" width="50" height="12" rx="6" fill="#fff" opacity=".9"/>"##
        }
        "home" => {
            r##"<path d="M55 100 L110 55 L165 100 V145 H55 Z" fill="#fff" opacity=".9"/><rect x="98" y="110" width="24" height="35" fill="#000" opacity=".15"/>"##
        }
        "audio" => {
            r##"<path d="M70 110 A40 40 0 0 1 150 110" stroke="#fff" stroke-width="10" fill="none"/><rect x="58" y="105" width="22" height="38" rx="8" fill="#fff"/><rect x="140" y="105" width="22" height="38" rx="8" fill="#fff"/>"##
        }
        "stationery" => {
            r##"<rect x="70" y="45" width="80" height="105" rx="6" fill="#fff" opacity=".9"/><path d="M85 70 H135 M85 88 H135 M85 106 H120" stroke="#000" stroke-opacity=".2" stroke-width="5"/>"##
        }
        _ => {
            r##"<path d="M75 55 L95 45 Q110 58 125 45 L145 55 L160 80 L142 88 V150 H78 V88 L60 80 Z" fill="#fff" opacity=".9"/>"##
        }
    };
    let label = crate::escape_html(name);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 180" role="img" aria-label="{label}"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl({hue},55%,62%)"/><stop offset="1" stop-color="hsl({accent},60%,42%)"/></linearGradient></defs><rect width="240" height="180" fill="url(#g)"/><g transform="translate(10,0)">{motif}</g><text x="12" y="170" font-family="system-ui,sans-serif" font-size="12" fill="#fff" opacity=".85">{label}</text></svg>"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slugify("Trail & Camp"), "trail-camp");
        assert_eq!(slugify("Chef's Knife 20 cm"), "chef-s-knife-20-cm");
    }

    #[test]
    fn images_are_well_formed_svg_with_escaped_names() {
        let svg = product_svg("Salt & <Pepper>", "kitchen");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("Salt &amp; &lt;Pepper&gt;"));
    }
}
