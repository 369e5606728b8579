//! Persisted queries and the production allow-list (`CARTOGRAPH_GRAPHQL_ALLOWLIST`).
//!
//! The list is an Apollo persisted-query manifest (what `@apollo/generate-persisted-query-manifest` writes, or
//! `cartograph graphql-manifest <files>`): `{ "format": "apollo-persisted-query-manifest", "version": 1,
//! "operations": [{ "id": <SHA-256 of body, hex>, "name", "type", "body" }] }`. With a list, the API runs only
//! the operations on it, sent either by id (`"extensions": { "persistedQuery": { "version": 1, "sha256Hash": id
//! } }`, with no query text: smaller requests) or as the exact text. Without one, any query runs, within the
//! depth and complexity limits.

use async_graphql::Request;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The manifest's `format`.
pub const FORMAT: &str = "apollo-persisted-query-manifest";

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub operations: Vec<Operation>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Operation {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub body: String,
}

/// The operations a production API runs, by id.
#[derive(Debug, Default)]
pub struct Allowlist {
    by_id: HashMap<String, String>,
}

/// The SHA-256 of a query's text, in lower-case hex: its id.
pub fn id_of(body: &str) -> String {
    Sha256::digest(body.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Manifest {
    /// A manifest of these operations (`(name, type, body)`), each with its id.
    pub fn of(operations: impl IntoIterator<Item = (String, String, String)>) -> Self {
        let operations =
            operations.into_iter().map(|(name, kind, body)| Operation { id: id_of(&body), name, kind, body }).collect();
        Manifest { format: FORMAT.into(), version: 1, operations }
    }
}

/// A manifest of the operations in these documents (one named operation per document, with any fragments it
/// uses), as `cartograph graphql-manifest` prints it.
pub fn manifest_of(documents: &[(String, String)]) -> Result<Manifest, String> {
    use async_graphql::parser::types::DocumentOperations;
    let mut operations = Vec::new();
    for (file, body) in documents {
        let document = async_graphql::parser::parse_query(body).map_err(|error| format!("{file}: {error}"))?;
        let (name, operation) = match document.operations {
            DocumentOperations::Single(operation) => (None, operation),
            DocumentOperations::Multiple(mut named) if named.len() == 1 => {
                let (name, operation) = named.drain().next().expect("one operation");
                (Some(name), operation)
            }
            DocumentOperations::Multiple(_) => return Err(format!("{file}: one operation per file, please")),
        };
        let name = name.map(|name| name.to_string()).ok_or_else(|| format!("{file}: the operation needs a name"))?;
        operations.push((name, operation.node.ty.to_string(), body.clone()));
    }
    Ok(Manifest::of(operations))
}

impl Allowlist {
    /// Reads a manifest; refuses one whose format is not the manifest's or whose ids do not match their bodies.
    pub fn parse(json: &str) -> Result<Self, String> {
        let manifest: Manifest =
            serde_json::from_str(json).map_err(|error| format!("not a query manifest: {error}"))?;
        if manifest.format != FORMAT || manifest.version != 1 {
            return Err(format!("the format must be {FORMAT} version 1"));
        }
        let mut by_id = HashMap::new();
        for operation in manifest.operations {
            if id_of(&operation.body) != operation.id {
                return Err(format!("the id of {:?} is not the SHA-256 of its body", operation.name));
            }
            by_id.insert(operation.id, operation.body);
        }
        Ok(Allowlist { by_id })
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Fills in a request sent by id, and refuses anything not on the list; the reason if refused.
    pub fn admit(&self, request: &mut Request) -> Result<(), &'static str> {
        match persisted_id(request) {
            Some(id) if request.query.trim().is_empty() => match self.by_id.get(&id) {
                Some(body) => {
                    request.query = body.clone();
                    Ok(())
                }
                None => Err("PersistedQueryNotFound"),
            },
            Some(id) if id != id_of(&request.query) => Err("The query's text does not match its sha256Hash."),
            _ if self.by_id.contains_key(&id_of(&request.query)) => Ok(()),
            _ => Err("This API runs only the queries on its allow-list."),
        }
    }
}

/// `extensions.persistedQuery.sha256Hash`, if the request has one.
fn persisted_id(request: &Request) -> Option<String> {
    let value = serde_json::to_value(request.extensions.get("persistedQuery")?).ok()?;
    Some(value.get("sha256Hash")?.as_str()?.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> Request {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn only_listed_operations_run_by_id_or_by_text() {
        let body = "query Shelf { categories { slug } }";
        let manifest = Manifest::of([("Shelf".into(), "query".into(), body.into())]);
        let list = Allowlist::parse(&serde_json::to_string(&manifest).unwrap()).unwrap();
        assert_eq!(list.len(), 1);
        let id = id_of(body);

        let mut by_id = request(serde_json::json!({
            "query": "", "extensions": { "persistedQuery": { "version": 1, "sha256Hash": id } }
        }));
        list.admit(&mut by_id).unwrap();
        assert_eq!(by_id.query, body);

        list.admit(&mut request(serde_json::json!({ "query": body }))).unwrap();
        let other = list.admit(&mut request(serde_json::json!({ "query": "{ products { totalCount } }" })));
        assert_eq!(other.unwrap_err(), "This API runs only the queries on its allow-list.");
        let unknown = serde_json::json!({ "query": "", "extensions": { "persistedQuery": { "sha256Hash": "00" } } });
        assert_eq!(list.admit(&mut request(unknown)).unwrap_err(), "PersistedQueryNotFound");
        let mismatch = serde_json::json!({
            "query": "{ products { totalCount } }", "extensions": { "persistedQuery": { "sha256Hash": id } }
        });
        assert!(list.admit(&mut request(mismatch)).unwrap_err().contains("does not match"));
    }

    #[test]
    fn a_manifest_is_made_from_named_operations() {
        let documents = [("shelf.graphql".to_string(), "query Shelf { categories { slug } }".to_string())];
        let manifest = manifest_of(&documents).unwrap();
        assert_eq!((manifest.operations[0].name.as_str(), manifest.operations[0].kind.as_str()), ("Shelf", "query"));
        assert_eq!(manifest.operations[0].id, id_of(&documents[0].1));
        let anonymous = [("a.graphql".to_string(), "{ categories { slug } }".to_string())];
        assert!(manifest_of(&anonymous).unwrap_err().contains("needs a name"));
        let broken = [("b.graphql".to_string(), "query {".to_string())];
        assert!(manifest_of(&broken).unwrap_err().starts_with("b.graphql"));
    }

    #[test]
    fn a_manifest_with_a_wrong_id_or_format_is_refused() {
        let mut manifest = Manifest::of([("Shelf".into(), "query".into(), "{ categories { slug } }".into())]);
        manifest.operations[0].id = "0".repeat(64);
        assert!(Allowlist::parse(&serde_json::to_string(&manifest).unwrap()).unwrap_err().contains("SHA-256"));
        manifest.format = "something".into();
        assert!(Allowlist::parse(&serde_json::to_string(&manifest).unwrap()).unwrap_err().contains("format"));
        assert!(Allowlist::parse("[]").is_err());
    }
}
