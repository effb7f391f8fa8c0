//! Listing what a registry holds: `/v2/_catalog` and tags, for `search`
//! and `--list-tags`, following `Link` pagination.

use ureq::http::Method;

use super::auth::repository_scope;
use super::client::{header, read_body, resolve_location, Client, Req};
use super::error::{Error, Result};

/// Enough pages for any registry we would search, and a bound for a hostile one.
const MAX_PAGES: usize = 1000;

impl Client {
    /// Every repository name in the registry's catalog.
    pub fn catalog(&self, registry: &str) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            repositories: Option<Vec<String>>,
        }
        self.paginate(
            registry,
            "",
            "/v2/_catalog?n=1000".into(),
            vec!["registry:catalog:*".into()],
            |bytes| {
                serde_json::from_slice::<Page>(bytes)
                    .map(|p| p.repositories.unwrap_or_default())
                    .map_err(|e| e.to_string())
            },
        )
    }

    /// Every tag of `repository`.
    pub fn list_tags(&self, registry: &str, repository: &str) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        self.paginate(
            registry,
            repository,
            format!("/v2/{repository}/tags/list"),
            vec![repository_scope(repository, "pull")],
            |bytes| {
                serde_json::from_slice::<Page>(bytes)
                    .map(|p| p.tags.unwrap_or_default())
                    .map_err(|e| e.to_string())
            },
        )
    }

    fn paginate(
        &self,
        registry: &str,
        repository: &str,
        first: String,
        scopes: Vec<String>,
        parse: impl Fn(&[u8]) -> Result<Vec<String>, String>,
    ) -> Result<Vec<String>> {
        let image = if repository.is_empty() {
            registry.to_string()
        } else {
            format!("{registry}/{repository}")
        };
        let mut out = Vec::new();
        let mut target = Some(first);
        let mut pages = 0;
        while let Some(t) = target.take() {
            pages += 1;
            if pages > MAX_PAGES {
                break;
            }
            let mut req = Req::new(Method::GET, registry, repository, &image);
            req.target = t;
            req.scopes = scopes.clone();
            let (mut resp, url) = self.send(req)?;
            target = header(&resp, "link")
                .and_then(|l| next_link(&l))
                .map(|next| resolve_location(&url, &next));
            let body = read_body(&mut resp, 32 << 20, registry)?;
            out.extend(parse(&body).map_err(|reason| Error::InvalidResponse {
                image: image.clone(),
                reason,
            })?);
        }
        Ok(out)
    }
}

/// The target of `<...>; rel="next"` in a `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_link_header() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://r/x?p=1>; rel="prev", <https://r/x?p=3>; rel="next""#).as_deref(),
            Some("https://r/x?p=3")
        );
        assert_eq!(next_link("garbage"), None);
    }
}
