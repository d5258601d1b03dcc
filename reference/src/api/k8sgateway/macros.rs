//! Declaring protobuf messages and enums the way protobuf JSON reads them.
//!
//! Every field of a protobuf message may be absent, and an absent field differs from a field
//! set to its zero value once options merge (a `false` written by the user overrides; an
//! absent one does not). So each field is an `Option`, decoded when present and written back
//! only when set: a user's object survives a round trip through these types unchanged.

/// A protobuf message: every field optional, JSON names in lowerCamelCase, absent fields not
/// written. Field attributes (doc comments, `schemars` constraints, renames) pass through.
macro_rules! message {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize,
            schemars::JsonSchema,
        )]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $(
                $(#[$field_meta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }
    };
}

/// A protobuf enum. Protobuf JSON accepts a value's name or its number; both decode, and the
/// name is what gets written. Unknown names and numbers are errors that list the known names.
macro_rules! proto_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident = ($json:literal, $number:literal)
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every name, in declaration order.
            pub const NAMES: &[&str] = &[$($json),+];

            /// The name protobuf JSON writes.
            pub fn name(self) -> &'static str {
                match self {
                    $( Self::$variant => $json, )+
                }
            }

            /// The protobuf number.
            pub fn number(self) -> i64 {
                match self {
                    $( Self::$variant => $number, )+
                }
            }
        }

        impl $crate::api::k8sgateway::schema::ProtoEnum for $name {
            fn from_name(name: &str) -> Option<Self> {
                match name {
                    $( $json => Some(Self::$variant), )+
                    _ => None,
                }
            }

            fn from_number(number: i64) -> Option<Self> {
                match number {
                    $( $number => Some(Self::$variant), )+
                    _ => None,
                }
            }

            fn names() -> &'static [&'static str] {
                Self::NAMES
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::api::k8sgateway::schema::deserialize_proto_enum(deserializer)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                $crate::api::k8sgateway::schema::proto_enum_schema(Self::NAMES, &[$($number),+])
            }
        }
    };
}

/// One of the four `gateway.solo.io/v1` option kinds: a spec of `targetRefs` and `options`,
/// and Gateway API's PolicyStatus (`PolicyStatus` must be in scope where it is used).
macro_rules! option_kind {
    (
        $(#[$meta:meta])*
        pub struct $spec:ident for $kind:literal {
            $(#[$target_meta:meta])*
            target_refs: $target:ty,
            options: $options:ty $(,)?
        }
        short_names: [$($short:literal),+],
        crd_doc: $crd_doc:literal $(,)?
    ) => {
        $(#[$meta])*
        #[derive(
            kube::CustomResource, Clone, Debug, Default, PartialEq, serde::Serialize,
            serde::Deserialize, schemars::JsonSchema,
        )]
        #[kube(
            group = "gateway.solo.io",
            version = "v1",
            kind = $kind,
            namespaced,
            status = "PolicyStatus",
            derive = "Default",
            derive = "PartialEq",
            $(shortname = $short,)+
            category = "gloo-gateway",
            doc = $crd_doc
        )]
        #[serde(rename_all = "camelCase")]
        pub struct $spec {
            $(#[$target_meta])*
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(length(max = 16))]
            pub target_refs: Option<Vec<$target>>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub options: Option<$options>,
        }
    };
}
