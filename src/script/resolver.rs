//! `import "name"` resolution: the embedded stdlib, or a file beside the
//! script. Nothing else: no `../`, no absolute paths, no other directories.

use super::Sources;
use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;

include!(concat!(env!("OUT_DIR"), "/stdlib.rs"));

/// Names of the embedded stdlib modules.
pub fn stdlib_names() -> Vec<&'static str> {
    STDLIB.iter().map(|(n, _)| *n).collect()
}

/// Source of an embedded stdlib module.
pub fn stdlib_source(name: &str) -> Option<&'static str> {
    STDLIB.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

pub struct Resolver {
    dir: Option<PathBuf>,
    sources: Sources,
    cache: RefCell<HashMap<String, Shared<Module>>>,
}

impl Resolver {
    pub fn new(dir: Option<PathBuf>, sources: Sources) -> Resolver {
        Resolver {
            dir,
            sources,
            cache: RefCell::new(HashMap::new()),
        }
    }
}

fn refuse(path: &str, why: &str, pos: Position) -> Box<EvalAltResult> {
    let mut e = super::err_help(
        format!("cannot import {path:?}: {why}"),
        format!(
            "import a stdlib module ({}) or a .rhai file in the script's own directory, by bare name: import \"mylib\" as m;",
            stdlib_names().join(", ")
        ),
    );
    e.set_position(pos);
    e
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let name = path.strip_suffix(".rhai").unwrap_or(path);
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(refuse(
                path,
                "module names are bare names (letters, digits, _ and -); paths are not followed",
                pos,
            ));
        }
        if let Some(m) = self.cache.borrow().get(name) {
            return Ok(m.clone());
        }
        let (display, text) = if let Some(src) = stdlib_source(name) {
            (format!("stdlib/{name}.rhai"), src.to_string())
        } else {
            let beside = self.dir.as_ref().map(|d| d.join(format!("{name}.rhai")));
            match beside.as_ref().map(std::fs::read_to_string) {
                Some(Ok(t)) => (
                    beside.map(|b| b.display().to_string()).unwrap_or_default(),
                    t,
                ),
                _ => {
                    return Err(refuse(
                        path,
                        "no stdlib module or file beside the script has that name",
                        pos,
                    ));
                }
            }
        };
        self.sources
            .borrow_mut()
            .insert(display.clone(), text.clone());
        let mut ast = engine.compile(&text).map_err(|e| {
            Box::new(EvalAltResult::ErrorInModule(
                display.clone(),
                Box::new(EvalAltResult::ErrorParsing(e.0.as_ref().clone(), e.1)),
                pos,
            ))
        })?;
        ast.set_source(display.as_str());
        let module = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(display.clone(), e, pos)))?;
        let module: Shared<Module> = module.into();
        self.cache
            .borrow_mut()
            .insert(name.to_string(), module.clone());
        Ok(module)
    }
}
