//! `x-kubernetes-validations`: CEL rules compiled once per schema node and evaluated with
//! `self` (and `oldSelf` on updates) bound as Kubernetes binds them, with the extension
//! functions the Gateway API rules use that the CEL standard library lacks (`isIP`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex};

use cel::common::types::{CelBool, CelString};
use cel::objects::{Key, Map as CelMap};
use cel::{Context, Env, ExecutionError, Program};
use serde_json::Value;

use super::field::Reason;
use super::structural::{Additional, Node};

/// The environment every rule compiles in: the standard library plus the strings
/// extension (`split`, `substring`, ...), as Kubernetes enables them for CRD rules.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    cel::extensions::strings(&mut env).expect("the strings extension registers once");
    cel::add_overload!(env, fn matches: (CelString, CelString) -> Result<CelBool>, id = "matches")
        .expect("matches is registered once (cel's own needs its `regex` feature, off here)");
    cel::add_member_overload!(env, fn matches: (CelString, CelString) -> Result<CelBool>)
        .expect("matches is registered once (cel's own needs its `regex` feature, off here)");
    Arc::new(env)
});

/// Compiled `matches` patterns. cel's own `matches` compiles its pattern on every call, and
/// the Gateway API rules call it for every path, header and hostname of every write: with
/// thousands of routes that compiling was a large share of simkube's time. The patterns
/// come from the CRDs' rules, so the cache stays as small as they are.
static PATTERNS: LazyLock<Mutex<HashMap<String, Result<regex::Regex, String>>>> =
    LazyLock::new(Mutex::default);

/// CEL's `string.matches(string)` (RE2 syntax; the `regex` crate is close enough for the
/// patterns CRD rules use), reporting an invalid pattern as cel's own did.
fn matches(this: &CelString<'_>, pattern: &CelString<'_>) -> Result<CelBool, ExecutionError> {
    let mut cache = PATTERNS.lock().unwrap_or_else(|e| e.into_inner());
    let compiled = cache
        .entry(pattern.inner().to_owned())
        .or_insert_with(|| regex::Regex::new(pattern.inner()).map_err(|e| e.to_string()));
    match compiled {
        Ok(re) => Ok(CelBool::from(re.is_match(this.inner()))),
        Err(err) => Err(ExecutionError::FunctionError {
            function: "matches".to_owned(),
            message: format!("'{}' not a valid regex:\n{err}", pattern.inner()),
        }),
    }
}

/// One compiled rule.
pub struct Rule {
    /// The rule's source, as error messages quote it.
    pub source: String,
    program: Program,
    message: Option<String>,
    message_expression: Option<Program>,
    /// `fieldPath`, relative to the node, without its leading dot.
    pub field_path: Option<String>,
    /// The reason of the error (`FieldValueInvalid` unless the rule says otherwise).
    pub reason: Reason,
    /// Transition rules (those reading `oldSelf`) run only on updates.
    pub uses_old_self: bool,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("source", &self.source)
            .finish()
    }
}

/// What evaluating a rule said.
pub enum Outcome {
    /// The rule holds.
    Holds,
    /// The rule does not hold; the detail of the error.
    Fails(String),
    /// The rule could not be evaluated; upstream reports the evaluation error.
    Error(String),
}

impl Rule {
    /// Compiles one entry of `x-kubernetes-validations`.
    pub fn compile(entry: &Value) -> Result<Rule, String> {
        let text = |k: &str| entry.get(k).and_then(Value::as_str).map(String::from);
        let source = text("rule").ok_or("a validation rule needs `rule`")?;
        let program = ENV
            .compile(&source)
            .map_err(|e| format!("rule {source:?} does not compile: {e}"))?;
        let message_expression = match text("messageExpression") {
            Some(m) => Some(
                ENV.compile(&m)
                    .map_err(|e| format!("messageExpression {m:?} does not compile: {e}"))?,
            ),
            None => None,
        };
        let reason = match text("reason").as_deref() {
            None | Some("FieldValueInvalid") => Reason::Invalid,
            Some("FieldValueForbidden") => Reason::Forbidden,
            Some("FieldValueRequired") => Reason::Required,
            Some("FieldValueDuplicate") => Reason::Duplicate,
            Some(other) => return Err(format!("unsupported reason {other:?}")),
        };
        let uses_old_self = program.references().has_variable("oldSelf");
        Ok(Rule {
            field_path: text("fieldPath").map(|p| p.trim_start_matches('.').to_string()),
            message: text("message").map(|m| m.trim().to_string()),
            message_expression,
            reason,
            uses_old_self,
            program,
            source,
        })
    }

    /// Evaluates the rule on `this` (and `old`, for transition rules).
    pub fn eval(&self, this: &cel::Value, old: Option<&cel::Value>) -> Outcome {
        let ctx = context(this, old);
        match self.program.execute(&ctx) {
            Ok(cel::Value::Bool(true)) => Outcome::Holds,
            Ok(cel::Value::Bool(false)) => Outcome::Fails(self.detail(&ctx)),
            Ok(other) => Outcome::Error(format!(
                "rule {:?} evaluated to {other:?}, not a bool",
                self.source
            )),
            Err(e) => Outcome::Error(format!("{e} evaluating rule: {}", self.error_string())),
        }
    }

    /// The error detail of a failed rule: the message expression's result, else the
    /// message, else `failed rule: <rule>`.
    fn detail(&self, ctx: &Context) -> String {
        if let Some(expr) = &self.message_expression
            && let Ok(cel::Value::String(s)) = expr.execute(ctx)
            && !s.trim().is_empty()
            && !s.contains('\n')
        {
            return s.to_string();
        }
        match &self.message {
            Some(m) if !m.is_empty() => m.clone(),
            _ => format!("failed rule: {}", self.error_string()),
        }
    }

    fn error_string(&self) -> String {
        match &self.message {
            Some(m) if !m.is_empty() => m.clone(),
            _ => self.source.trim().to_string(),
        }
    }
}

fn context(this: &cel::Value, old: Option<&cel::Value>) -> Context<'static, 'static> {
    let mut ctx = Context::with_env(ENV.clone());
    ctx.add_function("isIP", |s: Arc<String>| is_ip(&s))
        .expect("isIP is not a standard function");
    ctx.add_variable_from_value("self", this.clone());
    if let Some(old) = old {
        ctx.add_variable_from_value("oldSelf", old.clone());
    }
    ctx
}

/// Kubernetes' `isIP`: an IPv4 or IPv6 address, without zones or leading zeros.
fn is_ip(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
}

/// Words CEL reserves; properties named so are read as `__<word>__`.
const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// A declared property's name as CEL expressions spell it.
fn escape(name: &str) -> String {
    if RESERVED.contains(&name) {
        return format!("__{name}__");
    }
    name.replace("__", "__underscores__")
        .replace('.', "__dot__")
        .replace('-', "__dash__")
        .replace('/', "__slash__")
}

/// A JSON value as CEL sees it under `node`: declared properties escaped, map keys as
/// they are.
pub fn to_cel(v: &Value, node: Option<&Node>) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => cel::Value::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => {
            let item = node.and_then(|n| n.items.as_deref());
            cel::Value::List(Arc::new(items.iter().map(|i| to_cel(i, item)).collect()))
        }
        Value::Object(map) => {
            let mut out = HashMap::with_capacity(map.len());
            for (k, val) in map {
                let (key, sub) = match node {
                    Some(n) if !n.properties.is_empty() => match n.property(k) {
                        Some(sub) => (escape(k), Some(sub)),
                        None => (k.clone(), None),
                    },
                    Some(n) => match &n.additional {
                        Additional::Schema(sub) => (k.clone(), Some(sub.as_ref())),
                        _ => (k.clone(), None),
                    },
                    None => (k.clone(), None),
                };
                out.insert(Key::String(Arc::new(key)), to_cel(val, sub));
            }
            cel::Value::Map(CelMap { map: Arc::new(out) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(r: &str) -> Rule {
        Rule::compile(&json!({"rule": r})).unwrap()
    }

    fn holds(r: &Rule, v: Value) -> bool {
        matches!(r.eval(&to_cel(&v, None), None), Outcome::Holds)
    }

    #[test]
    fn kubernetes_functions_and_macros_evaluate() {
        assert!(holds(
            &rule("self.all(h, !isIP(h))"),
            json!(["a.example", "b"])
        ));
        assert!(!holds(&rule("self.all(h, !isIP(h))"), json!(["10.0.0.1"])));
        assert!(!holds(&rule("self.all(h, !isIP(h))"), json!(["::1"])));
        assert!(holds(
            &rule(
                "self.all(h, h.contains('*') ? h.startsWith('*.') && h.substring(2).matches('^[a-z.]+$') : true)"
            ),
            json!(["*.example.com"])
        ));
        assert!(!holds(
            &rule("self.all(l1, self.exists_one(l2, l1.name == l2.name))"),
            json!([{"name": "a"}, {"name": "a"}])
        ));
        assert!(holds(
            &rule("duration(self) <= duration('1h')"),
            json!("59m")
        ));
    }

    /// simkube's own `matches` (member and global forms, cached per pattern) behaves as
    /// cel's did: the same answer on every call, an invalid pattern an evaluation error.
    #[test]
    fn matches_answers_alike_on_every_call_and_reports_bad_patterns() {
        let member = rule("self.matches('^/[a-z]+$')");
        let global = rule("matches(self, '^/[a-z]+$')");
        for _ in 0..3 {
            assert!(holds(&member, json!("/abc")));
            assert!(!holds(&member, json!("/ABC")));
            assert!(holds(&global, json!("/abc")));
            assert!(!holds(&global, json!("abc")));
        }
        match rule("self.matches('(')").eval(&to_cel(&json!("x"), None), None) {
            Outcome::Error(e) => assert!(e.contains("not a valid regex"), "{e}"),
            _ => panic!("an invalid pattern is an evaluation error"),
        }
    }

    #[test]
    fn reserved_property_names_are_escaped_and_messages_chosen() {
        let node = Node::parse(&json!({"type": "object", "properties": {
            "namespace": {"type": "string"}, "name": {"type": "string"}}}))
        .unwrap();
        let v = to_cel(&json!({"namespace": "ns", "name": "n"}), Some(&node));
        let r = rule("has(self.__namespace__) && self.__namespace__ == 'ns'");
        assert!(matches!(r.eval(&v, None), Outcome::Holds));
        let m = Rule::compile(&json!({"rule": "false", "messageExpression": "'bad ' + self.name"}))
            .unwrap();
        match m.eval(&v, None) {
            Outcome::Fails(d) => assert_eq!(d, "bad n"),
            _ => panic!("a false rule fails"),
        }
        let plain = rule("self.name == 'x'");
        match plain.eval(&v, None) {
            Outcome::Fails(d) => assert_eq!(d, "failed rule: self.name == 'x'"),
            _ => panic!("the rule fails"),
        }
        assert!(rule("self == oldSelf").uses_old_self);
    }
}
