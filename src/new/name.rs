//! The name of a new backend project. It is the directory created, the package name in its
//! language (Cargo, pip, npm) and, with `-` made `_`, the Python module, so it must be valid
//! in all of them and must not shadow what the project itself needs: a Rust keyword or
//! built-in crate, a Python keyword or standard-library module, the SDK.

use super::Lang;

/// The longest name accepted.
pub const MAX_LEN: usize = 64;

/// Names no project may take: the SDK it depends on, and the host.
const TAKEN: &[&str] = &["molecule", "molecule-plugin"];

/// Rust keywords (strict, reserved and edition 2024's `gen`) and the built-in crates, which
/// Cargo refuses as package names.
#[rustfmt::skip]
const RUST: &[&str] = &[
    "abstract", "alloc", "as", "async", "await", "become", "box", "break", "const", "continue",
    "core", "crate", "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for",
    "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut",
    "override", "priv", "proc-macro", "pub", "ref", "return", "self", "static", "std", "struct",
    "super", "test", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Python keywords: a module with such a name cannot be imported.
#[rustfmt::skip]
const PYTHON_KEYWORDS: &[&str] = &[
    "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif",
    "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
    "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

/// The standard library's top-level modules (`sys.stdlib_module_names` of Python 3.11, public
/// lowercase names, one per line): a script named like one would be imported in its place.
const PYTHON_STDLIB: &str = include_str!("python-stdlib.txt");

/// Why a name cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    /// Not made of the allowed characters.
    #[error(
        "{0:?} cannot name a project: use lowercase letters, digits and single hyphens, \
         starting with a letter, at most {MAX_LEN} characters (e.g. weather-agent)"
    )]
    Syntax(String),
    /// Valid, but taken by something the project needs.
    #[error("{name:?} cannot name a {lang} project: it is {why}; choose another name")]
    Reserved {
        /// The name.
        name: String,
        /// The language.
        lang: &'static str,
        /// What it would clash with.
        why: &'static str,
    },
}

/// Checks that `name` can name a project in `lang`.
pub fn check(name: &str, lang: Lang) -> Result<(), NameError> {
    let well_formed = name.len() <= MAX_LEN
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !well_formed {
        return Err(NameError::Syntax(name.to_owned()));
    }
    let reserved = |why| NameError::Reserved {
        name: name.to_owned(),
        lang: lang.label(),
        why,
    };
    if TAKEN.contains(&name) {
        return Err(reserved("the name of the molecule host or its SDK"));
    }
    match lang {
        Lang::Rust if RUST.contains(&name) => Err(reserved(
            "a Rust keyword or built-in crate name, which Cargo refuses",
        )),
        Lang::Python if PYTHON_KEYWORDS.contains(&module(name).as_str()) => {
            Err(reserved("a Python keyword, which cannot be imported"))
        }
        Lang::Python if PYTHON_STDLIB.lines().any(|m| m == module(name)) => Err(reserved(
            "a Python standard-library module, which the script would hide from the SDK",
        )),
        _ => Ok(()),
    }
}

/// The Python module of project `name`.
pub fn module(name: &str) -> String {
    name.replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_words_joined_by_single_hyphens_are_names() {
        for name in ["a", "weather-agent", "agent2", "x-1-y"] {
            for lang in [Lang::Rust, Lang::Python, Lang::Node] {
                assert!(check(name, lang).is_ok(), "{name}");
            }
        }
        let long = "a".repeat(MAX_LEN + 1);
        for name in [
            "", "Agent", "1agent", "-a", "a-", "a--b", "a_b", "a b", "../a", "ä", &long,
        ] {
            assert!(
                matches!(check(name, Lang::Node), Err(NameError::Syntax(_))),
                "{name}"
            );
        }
    }

    #[test]
    fn names_that_would_clash_in_their_language_are_refused() {
        let refused = |name, lang| matches!(check(name, lang), Err(NameError::Reserved { .. }));
        assert!(refused("molecule-plugin", Lang::Node));
        assert!(refused("fn", Lang::Rust) && !refused("fn", Lang::Python));
        assert!(refused("test", Lang::Rust));
        assert!(refused("json", Lang::Python) && !refused("json", Lang::Rust));
        assert!(refused("py-compile", Lang::Python));
        assert!(refused("class", Lang::Python));
        assert!(!refused("weather", Lang::Python));
    }
}
