//! `{vault://env/NAME}` references in an AI target's auth values, resolved once when the DP
//! compiles a config, from the DP's own environment — so API keys need not be stored on the CP.
//! Kong's env vault rule: the name as written, else upper-cased with `-` as `_`.

use proto::schema::plugins::ai::Auth;

/// The value of `s`, or `s` itself when it is not a vault reference.
pub fn resolve(s: &str, env: impl Fn(&str) -> Option<String>) -> String {
    let Some(name) = s
        .trim()
        .strip_prefix("{vault://env/")
        .and_then(|r| r.strip_suffix('}'))
    else {
        return s.to_string();
    };
    let upper = name.to_ascii_uppercase().replace('-', "_");
    match env(name).or_else(|| env(&upper)) {
        Some(v) => v,
        None => {
            tracing::warn!(reference = %s, "vault reference not resolved: environment variable unset");
            s.to_string()
        }
    }
}

/// Resolves every referenceable auth value in place.
pub fn resolve_auth(auth: &mut Auth) {
    let env = |n: &str| std::env::var(n).ok();
    for v in [
        &mut auth.header_value,
        &mut auth.param_value,
        &mut auth.aws_access_key_id,
        &mut auth.aws_secret_access_key,
        &mut auth.gcp_service_account_json,
        &mut auth.azure_client_secret,
    ]
    .into_iter()
    .flatten()
    {
        *v = resolve(v, env);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(n: &str) -> Option<String> {
        match n {
            "OPENAI_KEY" => Some("Bearer sk-1".into()),
            "lower" => Some("exact".into()),
            _ => None,
        }
    }

    #[test]
    fn env_references() {
        assert_eq!(resolve("{vault://env/openai-key}", env), "Bearer sk-1");
        assert_eq!(resolve("{vault://env/lower}", env), "exact");
        assert_eq!(resolve("plain", env), "plain");
        assert_eq!(
            resolve("{vault://env/missing}", env),
            "{vault://env/missing}"
        );
    }
}
