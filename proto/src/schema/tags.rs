//! Kong's `typedefs.tags` rule, checked with every entity's fields: each tag is non-empty and
//! printable ASCII except `,` and `/` (they separate tags in `?tags=` filters), or UTF-8 beyond
//! ASCII. An error sits at the tag's position (`tags[1]`).

use super::error::FieldError;

/// Every tag in `tags` that Kong would refuse.
pub fn check(tags: &Option<Vec<String>>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, tag) in tags.iter().flatten().enumerate() {
        let at = format!("tags[{i}]");
        if tag.is_empty() {
            errs.push(FieldError::new(at, "length must be at least 1"));
        } else if !tag.chars().all(allowed) {
            errs.push(FieldError::new(
                at,
                format!("invalid tag '{tag}': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"),
            ));
        }
    }
    errs
}

/// Kong's `^[ \033-\043\045\046\048-\126\128-\244]+$`, by character.
fn allowed(c: char) -> bool {
    !c.is_ascii() || (c == ' ' || c.is_ascii_graphic()) && c != ',' && c != '/'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_slashes_controls_and_empty_tags_are_refused() {
        let tags = Some(
            [
                "ok tag",
                "a,b",
                "",
                "x/y",
                "tab\there",
                "ünïcode",
                "~!@#$%^&*()_+-=.:;",
            ]
            .map(String::from)
            .to_vec(),
        );
        let errs = check(&tags);
        let at: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(at, ["tags[1]", "tags[2]", "tags[3]", "tags[4]"], "{errs:?}");
        assert_eq!(
            errs[0].message,
            "invalid tag 'a,b': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"
        );
        assert_eq!(errs[1].message, "length must be at least 1");
        assert!(check(&None).is_empty());
    }
}
