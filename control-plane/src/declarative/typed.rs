//! The last step of flattening one entity: its JSON becomes the typed entity, Kong's field
//! rules run, defaults are filled, and it joins the config.

use proto::schema::{from_value, Config, FieldError};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::kinds::Kind;

/// Parses `value` as an entity of `kind` and adds it to `cfg`, or returns every problem found.
pub fn push_typed(cfg: &mut Config, kind: Kind, value: Value) -> Result<(), Vec<FieldError>> {
    match kind {
        Kind::Service => cfg
            .services
            .push(checked(&value, |s: &proto::schema::Service| s.validate())?),
        Kind::Route => cfg
            .routes
            .push(checked(&value, |r: &proto::schema::Route| r.validate())?),
        Kind::Consumer => cfg
            .consumers
            .push(checked(&value, |c: &proto::schema::Consumer| c.validate())?),
        Kind::KeyAuth => cfg
            .keyauth_credentials
            .push(checked(&value, |k: &proto::schema::KeyAuthCredential| {
                k.validate()
            })?),
        Kind::Plugin => cfg
            .plugins
            .push(parse::<proto::schema::Plugin>(&value)?.validated()?),
        Kind::Certificate => cfg
            .certificates
            .push(checked(&value, |c: &proto::schema::Certificate| {
                c.validate()
            })?),
        Kind::CaCertificate => cfg
            .ca_certificates
            .push(checked(&value, |c: &proto::schema::CaCertificate| {
                c.validate()
            })?),
        Kind::Vault => cfg
            .vaults
            .push(checked(&value, |v: &proto::schema::Vault| v.validate())?),
        Kind::Sni => cfg
            .snis
            .push(checked(&value, |s: &proto::schema::Sni| s.validate())?),
        Kind::Upstream => {
            let mut u: proto::schema::Upstream = parse(&value)?;
            ok(u.normalize_and_validate())?;
            cfg.upstreams.push(u);
        }
        Kind::Target => {
            let mut t: proto::schema::Target = parse(&value)?;
            ok(t.normalize_and_validate())?;
            cfg.targets.push(t);
        }
        Kind::BasicAuth => cfg.basicauth_credentials.push(parse(&value)?),
        Kind::HmacAuth => cfg.hmacauth_credentials.push(parse(&value)?),
        Kind::Jwt => cfg
            .jwt_secrets
            .push(checked(&value, |j: &proto::schema::JwtSecret| {
                j.validate()
            })?),
        Kind::Acl => cfg.acls.push(parse(&value)?),
        Kind::Oauth2 => cfg
            .oauth2_credentials
            .push(checked(&value, |o: &proto::schema::Oauth2Credential| {
                o.validate()
            })?),
        Kind::Mtls => cfg.mtls_auth_credentials.push(parse(&value)?),
    }
    Ok(())
}

fn parse<T: DeserializeOwned>(value: &Value) -> Result<T, Vec<FieldError>> {
    from_value(value).map_err(|e| vec![e])
}

fn checked<T: DeserializeOwned>(
    value: &Value,
    validate: impl Fn(&T) -> Vec<FieldError>,
) -> Result<T, Vec<FieldError>> {
    let t = parse(value)?;
    ok(validate(&t))?;
    Ok(t)
}

fn ok(errs: Vec<FieldError>) -> Result<(), Vec<FieldError>> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}
