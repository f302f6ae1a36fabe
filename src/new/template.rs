//! The project templates, embedded from `src/new/templates/<language>/`, and their filling:
//! each `{{key}}` is replaced by its value. The files are what a project needs to build, pass
//! `molecule backend-check` and be read: the manifest, the backend, a README, a `.gitignore`.

use super::Lang;

/// One file of a template.
#[derive(Clone, Copy, Debug)]
pub struct File {
    /// Where it goes in the project (may contain `{{module}}`).
    pub path: &'static str,
    /// Its text, with `{{key}}` placeholders.
    pub text: &'static str,
    /// Whether it is a script to mark executable.
    pub executable: bool,
}

const fn file(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        executable: false,
    }
}

const fn script(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        executable: true,
    }
}

// Cargo.toml is stored as Cargo.toml.tmpl: a file named Cargo.toml here would make Cargo take
// the directory for a package of its own.
const RUST: &[File] = &[
    file("Cargo.toml", include_str!("templates/rust/Cargo.toml.tmpl")),
    file("src/main.rs", include_str!("templates/rust/main.rs")),
    file("README.md", include_str!("templates/rust/README.md")),
    file(".gitignore", include_str!("templates/rust/gitignore")),
];

const PYTHON: &[File] = &[
    file(
        "pyproject.toml",
        include_str!("templates/python/pyproject.toml"),
    ),
    script("{{module}}.py", include_str!("templates/python/agent.py")),
    file("README.md", include_str!("templates/python/README.md")),
    file(".gitignore", include_str!("templates/python/gitignore")),
];

const NODE: &[File] = &[
    file("package.json", include_str!("templates/node/package.json")),
    script("index.js", include_str!("templates/node/index.js")),
    file("README.md", include_str!("templates/node/README.md")),
    file(".gitignore", include_str!("templates/node/gitignore")),
];

/// What to do after creating a project, printed by `molecule new backend`.
const RUST_NEXT: &str = "  cd {{name}}
  cargo build && cargo test
  molecule backend-check -- target/debug/{{name}}
  molecule dev --backend-cmd target/debug/{{name}}";

const PYTHON_NEXT: &str = "  cd {{name}}
  python3 -m venv .venv && .venv/bin/pip install <molecule clone>/plugins/sdk/python
  molecule backend-check -- .venv/bin/python {{module}}.py
  molecule dev --backend-cmd '.venv/bin/python {{module}}.py'";

const NODE_NEXT: &str = "  cd {{name}}
  npm install <molecule clone>/plugins/sdk/node
  molecule backend-check -- node index.js
  molecule dev --backend-cmd 'node index.js'";

/// The files of `lang`'s template.
pub fn files(lang: Lang) -> &'static [File] {
    match lang {
        Lang::Rust => RUST,
        Lang::Python => PYTHON,
        Lang::Node => NODE,
    }
}

/// The next steps for `lang`, with placeholders.
pub fn next_steps(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => RUST_NEXT,
        Lang::Python => PYTHON_NEXT,
        Lang::Node => NODE_NEXT,
    }
}

/// The file holding the backend's handler, where the TODO is.
pub fn handler(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "src/main.rs",
        Lang::Python => "{{module}}.py",
        Lang::Node => "index.js",
    }
}

/// `text` with every `{{key}}` of `vars` replaced by its value.
pub fn fill(text: &str, vars: &[(&str, &str)]) -> String {
    vars.iter().fold(text.to_owned(), |text, (key, value)| {
        text.replace(&format!("{{{{{key}}}}}"), value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys every template may use.
    const KEYS: [&str; 5] = [
        "name",
        "module",
        "sdk_version",
        "sdk_dependency",
        "sdk_source",
    ];

    #[test]
    fn every_placeholder_has_a_value() {
        let vars: Vec<(&str, &str)> = KEYS.iter().map(|k| (*k, "x")).collect();
        for lang in [Lang::Rust, Lang::Python, Lang::Node] {
            let texts = files(lang)
                .iter()
                .flat_map(|f| [f.path, f.text])
                .chain([next_steps(lang), handler(lang)]);
            for text in texts {
                let filled = fill(text, &vars);
                assert!(!filled.contains("{{"), "{lang:?}: {filled}");
            }
        }
    }

    #[test]
    fn each_handler_is_a_file_of_its_template_with_a_todo() {
        for lang in [Lang::Rust, Lang::Python, Lang::Node] {
            let handler = files(lang)
                .iter()
                .find(|f| f.path == handler(lang))
                .expect("the handler's file");
            assert!(handler.text.contains("TODO: your agent's logic goes here"));
        }
    }
}
