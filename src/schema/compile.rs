//! Compiles a schema (a CRD's `openAPIV3Schema`, or a built-in kind's definition with its
//! `$ref`s) once into a flat arena of [`Node`]s that the walker reads without lookups by
//! name: `$ref`s become indices (recursive definitions included), patterns are compiled.

use std::collections::HashMap;

use regex::Regex;
use serde_json::{Map, Value};

/// Index of a node in its [`Arena`].
pub(crate) type Id = usize;

/// Which dialect a schema comes from; they differ only in what an object that declares no
/// fields accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// A CRD's structural schema: undeclared fields are pruned by the API server, so they
    /// are unknown fields unless `x-kubernetes-preserve-unknown-fields` says otherwise.
    Crd,
    /// The built-in kinds (generated from the Kubernetes OpenAPI): an object with no
    /// `properties` and no `additionalProperties` is free-form (`RawExtension`, `FieldsV1`).
    Builtin,
}

/// JSON types a node accepts, as bits.
pub(crate) mod ty {
    pub const OBJECT: u8 = 1;
    pub const ARRAY: u8 = 2;
    pub const STRING: u8 = 4;
    pub const INTEGER: u8 = 8;
    pub const NUMBER: u8 = 16;
    pub const BOOLEAN: u8 = 32;
}

/// What an object accepts besides its declared `properties`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extra {
    /// Nothing: any other field is unknown.
    Closed,
    /// Anything, unchecked.
    Open,
    /// Any field, each value checked against this node.
    Schema(Id),
}

/// How an array's items are identified (`x-kubernetes-list-type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListType {
    /// No constraint (`atomic` or unset).
    Atomic,
    /// Items are unique scalars.
    Set,
    /// Items are objects, unique by these keys.
    Map(Vec<String>),
}

/// One compiled schema node.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Accepted types; 0 accepts any.
    pub types: u8,
    pub nullable: bool,
    pub int_or_string: bool,
    pub preserve_unknown: bool,
    pub embedded: bool,
    /// Declared fields, sorted by name.
    pub properties: Vec<(String, Id)>,
    pub extra: Extra,
    pub items: Option<Id>,
    pub required: Vec<String>,
    pub enumeration: Vec<Value>,
    pub pattern: Option<Regex>,
    pub format: Option<String>,
    pub minimum: Option<(f64, bool)>,
    pub maximum: Option<(f64, bool)>,
    pub multiple_of: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub min_properties: Option<u64>,
    pub max_properties: Option<u64>,
    pub unique_items: bool,
    pub list_type: ListType,
    /// The `default`, needed for list-map keys an item leaves out.
    pub default: Option<Value>,
    pub all_of: Vec<Id>,
    pub any_of: Vec<Id>,
    pub one_of: Vec<Id>,
    pub not: Option<Id>,
}

impl Node {
    fn empty() -> Self {
        Node {
            types: 0,
            nullable: false,
            int_or_string: false,
            preserve_unknown: false,
            embedded: false,
            properties: Vec::new(),
            extra: Extra::Open,
            items: None,
            required: Vec::new(),
            enumeration: Vec::new(),
            pattern: None,
            format: None,
            minimum: None,
            maximum: None,
            multiple_of: None,
            min_length: None,
            max_length: None,
            min_items: None,
            max_items: None,
            min_properties: None,
            max_properties: None,
            unique_items: false,
            list_type: ListType::Atomic,
            default: None,
            all_of: Vec::new(),
            any_of: Vec::new(),
            one_of: Vec::new(),
            not: None,
        }
    }

    /// The declared field `name`.
    pub fn property(&self, name: &str) -> Option<Id> {
        self.properties
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.properties[i].1)
    }
}

/// Compiled nodes of one kind's schema; node 0 is the root.
#[derive(Debug, Default)]
pub(crate) struct Arena {
    pub nodes: Vec<Node>,
    /// The `ObjectMeta` node every object's (and embedded resource's) `metadata` is checked
    /// against, when the built-in definitions are at hand.
    pub object_meta: Option<Id>,
}

/// Built-in definitions by name (the `$defs` of the vendored Kubernetes schemas).
pub(crate) type Defs = Map<String, Value>;

/// Name of the `ObjectMeta` definition.
pub(crate) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// Name of the resource `Quantity` definition.
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// Builds one [`Arena`].
pub(crate) struct Compiler<'a> {
    arena: Arena,
    defs: Option<&'a Defs>,
    by_ref: HashMap<String, Id>,
}

impl<'a> Compiler<'a> {
    /// A compiler resolving `$ref`s (and `metadata`) against `defs`.
    pub fn new(defs: Option<&'a Defs>) -> Self {
        Compiler {
            arena: Arena::default(),
            defs,
            by_ref: HashMap::new(),
        }
    }

    /// Compiles `root` (node 0) and, when definitions are at hand, `ObjectMeta`.
    pub fn compile(mut self, root: &Value, dialect: Dialect) -> Arena {
        self.node(root, dialect);
        if self.defs.is_some_and(|d| d.contains_key(OBJECT_META)) {
            let id = self.reference(OBJECT_META);
            self.arena.object_meta = Some(id);
        }
        self.arena
    }

    fn reference(&mut self, name: &str) -> Id {
        if let Some(&id) = self.by_ref.get(name) {
            return id;
        }
        let id = self.arena.nodes.len();
        // Reserve the slot first: definitions may refer to themselves (JSONSchemaProps).
        self.arena.nodes.push(Node::empty());
        self.by_ref.insert(name.to_owned(), id);
        let empty = Value::Object(Map::new());
        let defs = self.defs;
        let schema = defs.and_then(|d| d.get(name)).unwrap_or(&empty);
        let mut node = self.build(schema, Dialect::Builtin);
        // The OpenAPI only says "string or number"; apimachinery accepts far fewer strings.
        if name == QUANTITY {
            node.format = Some("quantity".into());
        }
        self.arena.nodes[id] = node;
        id
    }

    fn node(&mut self, schema: &Value, dialect: Dialect) -> Id {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap_or(r).to_owned();
            return self.reference(&name);
        }
        let id = self.arena.nodes.len();
        self.arena.nodes.push(Node::empty());
        let node = self.build(schema, dialect);
        self.arena.nodes[id] = node;
        id
    }

    fn build(&mut self, s: &Value, dialect: Dialect) -> Node {
        let mut n = Node::empty();
        let Some(m) = s.as_object() else {
            return n;
        };
        let flag = |k: &str| m.get(k).and_then(Value::as_bool).unwrap_or(false);
        let uint = |k: &str| m.get(k).and_then(Value::as_u64);
        n.nullable = flag("nullable");
        n.int_or_string = flag("x-kubernetes-int-or-string");
        n.preserve_unknown = flag("x-kubernetes-preserve-unknown-fields");
        n.embedded = flag("x-kubernetes-embedded-resource");
        n.unique_items = flag("uniqueItems");
        match m.get("type") {
            Some(Value::String(t)) => n.types = type_bit(t),
            Some(Value::Array(ts)) => {
                for t in ts.iter().filter_map(Value::as_str) {
                    if t == "null" {
                        n.nullable = true;
                    } else {
                        n.types |= type_bit(t);
                    }
                }
            }
            _ => {}
        }
        if let Some(props) = m.get("properties").and_then(Value::as_object) {
            let mut v: Vec<(String, Id)> = props
                .iter()
                .map(|(k, p)| (k.clone(), self.node(p, dialect)))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            n.properties = v;
        }
        n.extra = match m.get("additionalProperties") {
            Some(Value::Bool(false)) => Extra::Closed,
            Some(Value::Bool(true)) => Extra::Open,
            Some(p @ Value::Object(_)) => Extra::Schema(self.node(p, dialect)),
            _ if n.preserve_unknown => Extra::Open,
            _ if dialect == Dialect::Crd => Extra::Closed,
            _ if m.contains_key("properties") => Extra::Closed,
            _ => Extra::Open,
        };
        if let Some(items) = m.get("items") {
            n.items = Some(self.node(items, dialect));
        }
        n.required = strings(m.get("required"));
        n.enumeration = m
            .get("enum")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // Go's RE2 syntax is what upstream patterns use; the few it has that this engine
        // lacks are not enforced rather than guessed.
        n.pattern = m
            .get("pattern")
            .and_then(Value::as_str)
            .and_then(|p| Regex::new(p).ok());
        n.format = m.get("format").and_then(Value::as_str).map(str::to_owned);
        let bound = |k: &str, ex: &str| m.get(k).and_then(Value::as_f64).map(|v| (v, flag(ex)));
        n.minimum = bound("minimum", "exclusiveMinimum");
        n.maximum = bound("maximum", "exclusiveMaximum");
        n.multiple_of = m.get("multipleOf").and_then(Value::as_f64);
        n.min_length = uint("minLength");
        n.max_length = uint("maxLength");
        n.min_items = uint("minItems");
        n.max_items = uint("maxItems");
        n.min_properties = uint("minProperties");
        n.max_properties = uint("maxProperties");
        // Built-in kinds mark lists for server-side apply; uniqueness there is enforced by
        // each kind's hand-written validation, not generically, so only CRDs enforce it.
        if dialect == Dialect::Crd {
            n.list_type = match m.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => ListType::Set,
                Some("map") => ListType::Map(strings(m.get("x-kubernetes-list-map-keys"))),
                _ => ListType::Atomic,
            };
        }
        n.default = m.get("default").cloned();
        let list = |c: &mut Self, k: &str| -> Vec<Id> {
            m.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|s| c.node(s, dialect)).collect())
                .unwrap_or_default()
        };
        n.all_of = list(self, "allOf");
        n.any_of = list(self, "anyOf");
        n.one_of = list(self, "oneOf");
        n.not = m.get("not").map(|s| self.node(s, dialect));
        // `IntOrString` and `Quantity` are written as a oneOf of bare types: a type union.
        if !n.one_of.is_empty()
            && n.types == 0
            && m["oneOf"].as_array().is_some_and(|a| {
                a.iter()
                    .all(|b| b.as_object().is_some_and(|o| o.keys().all(|k| k == "type")))
            })
        {
            for id in std::mem::take(&mut n.one_of) {
                let b = &self.arena.nodes[id];
                n.types |= b.types;
                n.nullable |= b.nullable;
            }
        }
        n
    }
}

fn type_bit(t: &str) -> u8 {
    match t {
        "object" => ty::OBJECT,
        "array" => ty::ARRAY,
        "string" => ty::STRING,
        "integer" => ty::INTEGER,
        "number" => ty::NUMBER | ty::INTEGER,
        "boolean" => ty::BOOLEAN,
        _ => 0,
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
