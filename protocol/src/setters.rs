//! The `with_*` setters of the wire structs.
//!
//! The structs that may gain members are `#[non_exhaustive]`, so other crates build them with
//! a constructor (the required members) and these setters (the optional ones) rather than a
//! struct literal: a member added in a later minor release then breaks no caller. Writing each
//! setter by hand would be a few hundred lines of the same five.

/// Writes `with_*` setters for `$ty`. Each member is one of: `text`, an `Option<String>` set
/// from anything that converts to a `String`; `opt`, an `Option<T>` set to `Some(value)`;
/// `val`, set to the value as given.
macro_rules! setters {
    ($ty:ident { $($setter:ident => $field:ident: $kind:ident $t:ty),* $(,)? }) => {
        impl $ty {
            $( setters!(@one $ty $setter $field $kind $t); )*
        }
    };
    (@one $ty:ident $setter:ident $field:ident text $t:ty) => {
        #[doc = concat!("Sets [`", stringify!($ty), "::", stringify!($field), "`].")]
        #[must_use]
        pub fn $setter(mut self, value: impl Into<$t>) -> Self {
            self.$field = Some(value.into());
            self
        }
    };
    (@one $ty:ident $setter:ident $field:ident opt $t:ty) => {
        #[doc = concat!("Sets [`", stringify!($ty), "::", stringify!($field), "`].")]
        #[must_use]
        pub fn $setter(mut self, value: $t) -> Self {
            self.$field = Some(value);
            self
        }
    };
    (@one $ty:ident $setter:ident $field:ident val $t:ty) => {
        #[doc = concat!("Sets [`", stringify!($ty), "::", stringify!($field), "`].")]
        #[must_use]
        pub fn $setter(mut self, value: $t) -> Self {
            self.$field = value;
            self
        }
    };
}
