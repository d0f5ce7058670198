//! Custom migration layouts: how a project's files map to migrations and in what order, beyond
//! the built-in [`Format`]s. Read from `pgconverge.toml` (`pattern`, `order`, `manifest`,
//! `manifest_key`, `substitutions`) with [`Config::layout`](crate::project::config::Config::layout) and loaded
//! with `MigrationSet::load_layout`.
//!
//! Four shapes are read:
//!
//! - **pattern** (`pattern` set): every `.sql` file under the migrations directory (subdirectories
//!   included; paths relative to it, `/` separators) must match the regex, whose named groups
//!   give the `version`, `name` and `direction` (see `migration/pattern.rs`). Ups and downs pair by
//!   version; duplicates and downs without an up are errors, as in the built-in formats.
//! - **nested version directories** (no `format`, or `plain`; no `.sql` file at the top level;
//!   subdirectories holding `.sql` files and no diesel `up.sql`): each directory is a version
//!   (`v1.2/`, `v1.10/`), its files are migrations in manifest or name order, with version
//!   `<dir>/<sequence>` (`v1.2/001`, unique by construction) and name the file stem. A file
//!   `X.down.sql` is the down side of `X.up.sql` (or `X.sql`) in the same directory.
//! - **a built-in format** otherwise, re-sorted when `order` asks for it.
//!
//! `order` is `numeric` (the default: digit runs compare by value, so `v1.2` < `v1.9` <
//! `v1.10`), `lexical` (plain string order) or `manifest` (`manifest` alone implies it). With
//! `manifest`, a manifest in the migrations directory lists every migration file (paths relative
//! to it) in order; failing that, each directory that holds migrations has its own manifest
//! listing its files, and the directories sort numerically. A migration file the manifest does not
//! list, and a listed file that does not exist, are errors: nothing is skipped silently. Down files
//! may be listed or left out.
//!
//! `substitutions` are literal replacements (longest key first, in one pass, so a replacement is
//! never replaced again) applied to the text of every `.sql` file read while loading — the
//! migrations and, in the project loader, the reference — before pg_query parses
//! it. Statement positions are positions in the substituted text: lines stay right as long as
//! keys and values have the same number of line breaks (a syntax error then gets a note saying
//! lines may be shifted), and columns after a replacement on the same line shift by the length
//! difference.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use regex::Regex;

use super::files::{self, Candidate, Pair};
use super::manifest::{Manifest, DEFAULT_MANIFEST};
use super::pattern::FilePattern;
use super::version::{natural_parts, Part, SortKey};
use super::{Format, Location, Migration, MigrationError, MigrationSet};

/// The project file whose keys set the layout, named in errors about them.
pub const CONFIG_FILE: &str = "pgconverge.toml";

/// How versions sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// Runs of digits compare as numbers (`2` before `10`, `v1.2` before `v1.10`).
    Numeric,
    /// Versions compare as text.
    Lexical,
    /// A manifest file lists the migrations in order.
    Manifest,
}

/// What a migration file that its manifest does not list means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ManifestUnlisted {
    /// The project is wrong: loading fails, naming the file.
    Error,
    /// It is not a migration: left out, and reported.
    Ignore,
}

/// How a project's migration files are laid out (the layout keys of `pgconverge.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The migration format (`None`: detected).
    pub format: Option<Format>,
    /// A file-name regex with named groups `version`, `name` and optionally `direction`.
    pub pattern: Option<String>,
    /// How versions sort (`None`: see [`Layout::effective_order`]).
    pub order: Option<Order>,
    /// The manifest's file name in each directory (with `order = "manifest"`).
    pub manifest: Option<String>,
    /// The key of a JSON manifest that holds the ordered list (`None`: the top-level array).
    pub manifest_key: Option<String>,
    /// What a migration file that its manifest does not list means (`manifest_unlisted`).
    pub manifest_unlisted: Option<ManifestUnlisted>,
    /// Literal text replacements applied to the SQL before it is parsed.
    pub substitutions: BTreeMap<String, String>,
    /// The config file errors about these keys name (default `pgconverge.toml`).
    pub config_file: PathBuf,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            format: None,
            pattern: None,
            order: None,
            manifest: None,
            manifest_key: None,
            manifest_unlisted: None,
            substitutions: BTreeMap::new(),
            config_file: PathBuf::from(CONFIG_FILE),
        }
    }
}

impl Layout {
    /// Names `path` (the project's `pgconverge.toml`) in errors about the layout keys.
    pub(crate) fn with_config_file(mut self, path: impl Into<PathBuf>) -> Layout {
        self.config_file = path.into();
        self
    }

    /// The order in effect: `order`, else `manifest` when a manifest name is set, else numeric.
    pub fn effective_order(&self) -> Order {
        self.order.unwrap_or(if self.manifest.is_some() { Order::Manifest } else { Order::Numeric })
    }

    /// The manifest file name (`manifest`, default `manifest.json`).
    pub fn manifest_name(&self) -> &str {
        self.manifest.as_deref().unwrap_or(DEFAULT_MANIFEST)
    }

    /// True when nothing beyond `format` is set: loading is [`MigrationSet::load`].
    pub fn is_builtin(&self) -> bool {
        self.pattern.is_none() && self.order.is_none() && self.manifest.is_none() && self.substitutions.is_empty()
    }

    /// An error about a config key, at the key's line in the config file when it can be found.
    pub(crate) fn config_error(&self, key: &str, message: String) -> MigrationError {
        match config_key_location(&self.config_file, key) {
            Some(location) => MigrationError::Invalid { location, message },
            None => MigrationError::Unrecognized { path: self.config_file.clone(), message },
        }
    }

    fn check(&self) -> Result<Option<FilePattern>, MigrationError> {
        if self.substitutions.contains_key("") {
            return Err(self.config_error("substitutions", "`[substitutions]` has an empty key".into()));
        }
        if self.manifest.is_some() && matches!(self.order, Some(Order::Numeric | Order::Lexical)) {
            let message = "`manifest` is set but `order` is not \"manifest\"; remove one of them".to_string();
            return Err(self.config_error("manifest", message));
        }
        if self.manifest_key.is_some() && self.effective_order() != Order::Manifest {
            return Err(self.config_error("manifest_key", "`manifest_key` needs order = \"manifest\"".into()));
        }
        if self.manifest_unlisted.is_some() && self.effective_order() != Order::Manifest {
            return Err(self.config_error("manifest_unlisted", "`manifest_unlisted` needs order = \"manifest\"".into()));
        }
        self.pattern.as_deref().map(|p| FilePattern::compile(p).map_err(|message| self.config_error("pattern", message))).transpose()
    }

    fn version_key(&self, version: &str) -> SortKey {
        match self.effective_order() {
            Order::Lexical => SortKey::Versioned(vec![Part::Text(version.to_string())]),
            Order::Numeric | Order::Manifest => SortKey::Versioned(natural_parts(version)),
        }
    }

    fn dir_key(&self, name: &str) -> Vec<Part> {
        match self.effective_order() {
            Order::Lexical => vec![Part::Text(name.to_string())],
            Order::Numeric | Order::Manifest => natural_parts(name),
        }
    }

    /// Whether any substitution changes the number of line breaks (positions after it shift).
    fn shifts_lines(&self) -> bool {
        self.substitutions.iter().any(|(k, v)| k.matches('\n').count() != v.matches('\n').count())
    }
}

impl MigrationSet {
    /// Reads the migrations of `dir` as `layout` describes. Without a pattern, an order, a
    /// manifest or substitutions this is [`MigrationSet::load`] (plus nested version directories,
    /// which `load` cannot read).
    pub(crate) fn load_layout(dir: &Path, layout: &Layout) -> Result<MigrationSet, MigrationError> {
        let pattern = layout.check()?;
        let result = with_substitutions(&layout.substitutions, || load_unchecked(dir, layout, pattern.as_ref()));
        // Every file left unlisted: nothing to check is an input error, not a vacuous pass.
        let result = result.and_then(|set| match set.migrations.is_empty() {
            true => Err(MigrationError::Empty { path: dir.to_path_buf(), format: set.format }),
            false => Ok(MigrationSet { near_misses: super::files::near_misses(dir), ..set }),
        });
        result.map_err(|error| match error {
            MigrationError::Syntax { location, message } if layout.shifts_lines() => MigrationError::Syntax {
                location,
                message: format!(
                    "{message} (positions are in the text after [substitutions], which change the line count; lines may be shifted)"
                ),
            },
            other => other,
        })
    }
}

fn load_unchecked(dir: &Path, layout: &Layout, pattern: Option<&FilePattern>) -> Result<MigrationSet, MigrationError> {
    let label = layout.format.unwrap_or(Format::Plain);
    if let Some(pattern) = pattern {
        let (migrations, unlisted) = load_pattern(dir, layout, pattern)?;
        return Ok(MigrationSet {
            dir: dir.to_path_buf(),
            format: label,
            migrations,
            unlisted,
            stray: Vec::new(),
            near_misses: Vec::new(),
            in_subdirectories: Vec::new(),
            detected: None,
        });
    }
    if matches!(layout.format, None | Some(Format::Plain)) && is_nested(dir)? {
        let (migrations, unlisted) = load_nested(dir, layout)?;
        let detected = match layout.format {
            Some(_) => None,
            None => first_version_dir(dir)?.map(|file| super::Detection {
                file,
                reason: "holds .sql files, and the migrations directory none: each subdirectory is a version".into(),
            }),
        };
        return Ok(MigrationSet {
            dir: dir.to_path_buf(),
            format: label,
            migrations,
            unlisted,
            stray: Vec::new(),
            near_misses: Vec::new(),
            in_subdirectories: Vec::new(),
            detected,
        });
    }
    let mut set = MigrationSet::load(dir, layout.format)?;
    match layout.effective_order() {
        Order::Numeric => {}
        Order::Lexical => set.migrations.sort_by(|a, b| (a.repeatable, &a.version).cmp(&(b.repeatable, &b.version))),
        Order::Manifest => {
            let listings: Vec<Listing> = set.migrations.iter().map(|m| flat_listing(&set.format, m)).collect();
            let keys = manifest_keys(dir, layout, &listings, false)?;
            set.unlisted = unlisted_files(&listings, &keys);
            set.migrations = sort_by_keys(std::mem::take(&mut set.migrations), keys);
        }
    }
    Ok(set)
}

/// A migration as a manifest may name it: by any of `ids` (the first is its up file, named in
/// errors), and `extras` that may be listed without counting (its down file).
#[derive(Debug, Clone)]
struct Listing {
    ids: Vec<PathBuf>,
    extras: Vec<PathBuf>,
}

fn flat_listing(format: &Format, m: &Migration) -> Listing {
    let mut ids = vec![m.up.path.clone()];
    if *format == Format::Diesel {
        // A diesel migration is its directory: `2023-01-01-000000_users` or `.../up.sql`.
        ids.extend(m.up.path.parent().map(Path::to_path_buf));
    }
    let extras = m.down.iter().map(|d| d.path.clone()).filter(|p| !ids.contains(p)).collect();
    Listing { ids, extras }
}

/// A migration's place: (directory key, position in its manifest); `None` for a file its
/// manifest does not list (only with `manifest_unlisted = "ignore"`).
type ManifestKey = Option<(Vec<Part>, usize)>;

/// The items in key order, without the unlisted ones.
fn sort_by_keys<T>(items: Vec<T>, keys: Vec<ManifestKey>) -> Vec<T> {
    let mut keyed: Vec<_> = keys.into_iter().zip(items).filter_map(|(key, item)| Some((key?, item))).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, item)| item).collect()
}

/// The up files the manifests leave out (and `manifest_unlisted = "ignore"` skips).
fn unlisted_files(listings: &[Listing], keys: &[ManifestKey]) -> Vec<PathBuf> {
    listings.iter().zip(keys).filter(|(_, key)| key.is_none()).map(|(listing, _)| listing.ids[0].clone()).collect()
}

/// Sort keys (directory key, position) from the manifests. A manifest in `dir` covers every
/// listing; otherwise (when `per_dir`) each listing's directory has its own.
fn manifest_keys(dir: &Path, layout: &Layout, listings: &[Listing], per_dir: bool) -> Result<Vec<ManifestKey>, MigrationError> {
    let top = dir.join(layout.manifest_name());
    if top.is_file() || !per_dir {
        if !top.is_file() {
            return Err(missing_manifest(&top, "the migrations directory"));
        }
        let positions = positions_in(dir, &top, layout, listings)?;
        return Ok(positions.into_iter().map(|p| p.map(|p| (Vec::new(), p))).collect());
    }
    let mut groups: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for (i, listing) in listings.iter().enumerate() {
        let parent = listing.ids[0].parent().unwrap_or(dir).to_path_buf();
        groups.entry(parent).or_default().push(i);
    }
    let mut keys: Vec<ManifestKey> = vec![None; listings.len()];
    for (group_dir, members) in groups {
        let manifest = group_dir.join(layout.manifest_name());
        if !manifest.is_file() {
            let which =
                if group_dir == dir { "the migrations directory".into() } else { format!("version directory {}", group_dir.display()) };
            return Err(missing_manifest(&manifest, &which));
        }
        let group: Vec<Listing> = members.iter().map(|&i| listings[i].clone()).collect();
        let positions = positions_in(&group_dir, &manifest, layout, &group)?;
        let dir_key = layout.dir_key(&relative(dir, &group_dir));
        for (&i, position) in members.iter().zip(positions) {
            keys[i] = position.map(|p| (dir_key.clone(), p));
        }
    }
    Ok(keys)
}

fn missing_manifest(path: &Path, which: &str) -> MigrationError {
    MigrationError::Unrecognized {
        path: path.to_path_buf(),
        message: format!(
            "does not exist; order = \"manifest\" needs a manifest (`manifest`, default {DEFAULT_MANIFEST}) in {which} listing its migration files in order"
        ),
    }
}

/// Each listing's position in the manifest at `path`, whose entries are relative to `base`;
/// `None` for an unlisted one when `manifest_unlisted = "ignore"`, an error otherwise.
fn positions_in(base: &Path, path: &Path, layout: &Layout, listings: &[Listing]) -> Result<Vec<Option<usize>>, MigrationError> {
    let manifest = Manifest::read(path, layout.manifest_key.as_deref())?;
    manifest.check_listed_exist(base)?;
    let mut by_path: BTreeMap<PathBuf, (usize, bool)> = BTreeMap::new();
    for (i, listing) in listings.iter().enumerate() {
        for id in &listing.ids {
            by_path.insert(id.clone(), (i, true));
        }
        for extra in &listing.extras {
            by_path.insert(extra.clone(), (i, false));
        }
    }
    let mut positions: Vec<Option<usize>> = vec![None; listings.len()];
    for (k, (entry, location)) in manifest.entries.iter().zip(&manifest.locations).enumerate() {
        let listed = base.join(entry);
        match by_path.get(&listed) {
            Some(&(i, true)) => {
                if positions[i].is_some() {
                    return Err(MigrationError::Invalid {
                        location: location.clone(),
                        message: format!("the manifest lists the migration {} twice", listings[i].ids[0].display()),
                    });
                }
                positions[i] = Some(k);
            }
            Some(&(_, false)) => {}
            None => {
                return Err(MigrationError::Invalid {
                    location: location.clone(),
                    message: format!("the manifest lists {entry}, which is not a migration file"),
                })
            }
        }
    }
    if layout.manifest_unlisted != Some(ManifestUnlisted::Ignore) {
        if let Some((_, listing)) = positions.iter().zip(listings).find(|(position, _)| position.is_none()) {
            return Err(manifest.unlisted(&listing.ids[0]));
        }
    }
    Ok(positions)
}

/// `path` relative to `base`, with `/` separators.
fn relative(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// Every `.sql` file under `dir` (hidden entries skipped), sorted by relative path.
fn walk_sql(dir: &Path) -> Result<Vec<(String, PathBuf)>, MigrationError> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in files::list_dir(&current)? {
            if entry.is_dir {
                stack.push(entry.path);
            } else if entry.is_sql_file() {
                found.push((relative(dir, &entry.path), entry.path));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The migrations, and the files the manifests leave out (see [`sort_by_keys`]).
fn load_pattern(dir: &Path, layout: &Layout, pattern: &FilePattern) -> Result<(Vec<Migration>, Vec<PathBuf>), MigrationError> {
    let sql = walk_sql(dir)?;
    if sql.is_empty() {
        return Err(MigrationError::Unrecognized {
            path: dir.to_path_buf(),
            message: format!("no migrations found (no .sql files for `pattern` {})", pattern.as_str()),
        });
    }
    let mut candidates = Vec::new();
    for (rel, path) in sql {
        let matched = pattern.match_path(&rel).ok_or_else(|| MigrationError::Unrecognized {
            path: path.clone(),
            message: format!(
                "{rel} does not match `pattern` {} (in {}); every .sql file must",
                pattern.as_str(),
                layout.config_file.display()
            ),
        })?;
        let matched = matched.map_err(|message| MigrationError::Unrecognized { path: path.clone(), message })?;
        let key = layout.version_key(&matched.version);
        candidates.push(Candidate { key, version: matched.version, name: matched.name, path, role: matched.role });
    }
    let mut pairs = files::pair_candidates(dir, layout.format.unwrap_or(Format::Plain), candidates)?;
    let mut unlisted = Vec::new();
    if layout.effective_order() == Order::Manifest {
        let listings: Vec<Listing> =
            pairs.iter().map(|p| Listing { ids: vec![p.up.clone()], extras: p.down.iter().cloned().collect() }).collect();
        let keys = manifest_keys(dir, layout, &listings, true)?;
        unlisted = unlisted_files(&listings, &keys);
        pairs = sort_by_keys(pairs, keys);
    }
    Ok((files::load_pairs(pairs, |_, _| None)?, unlisted))
}

/// Nested version directories: no `.sql` file at the top level, no diesel migration directory,
/// and at least one subdirectory holding `.sql` files.
pub fn is_nested(dir: &Path) -> Result<bool, MigrationError> {
    let entries = files::list_dir(dir)?;
    if entries.iter().any(|e| e.is_sql_file()) {
        return Ok(false);
    }
    let mut any = false;
    for entry in entries.iter().filter(|e| e.is_dir) {
        let inner = files::list_dir(&entry.path)?;
        if inner.iter().any(|e| !e.is_dir && e.name == "up.sql") {
            return Ok(false);
        }
        any |= inner.iter().any(|e| e.is_sql_file());
    }
    Ok(any)
}

/// The first subdirectory holding `.sql` files (what makes a layout nested).
fn first_version_dir(dir: &Path) -> Result<Option<PathBuf>, MigrationError> {
    for entry in files::list_dir(dir)?.into_iter().filter(|e| e.is_dir) {
        if files::list_dir(&entry.path)?.iter().any(|e| e.is_sql_file()) {
            return Ok(Some(entry.path));
        }
    }
    Ok(None)
}

/// One version directory's migration before it gets its sequence number.
struct NestedFile {
    dir_name: String,
    stem: String,
    up: PathBuf,
    down: Option<PathBuf>,
}

fn load_nested(dir: &Path, layout: &Layout) -> Result<(Vec<Migration>, Vec<PathBuf>), MigrationError> {
    let mut found = Vec::new();
    let mut dirs: Vec<(Vec<Part>, String)> = Vec::new();
    for entry in files::list_dir(dir)?.into_iter().filter(|e| e.is_dir) {
        let files_here = nested_files(&entry.path, &entry.name)?;
        if !files_here.is_empty() {
            dirs.push((layout.dir_key(&entry.name), entry.name.clone()));
            found.extend(files_here);
        }
    }
    // Directories with equal keys (`v1.2` and `v01.2`) would run in an arbitrary order.
    dirs.sort();
    for pair in dirs.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(MigrationError::DuplicateVersion {
                path: dir.join(&pair[1].1),
                other: dir.join(&pair[0].1),
                version: pair[1].1.clone(),
            });
        }
    }
    let mut unlisted = Vec::new();
    let keys: Vec<ManifestKey> = if layout.effective_order() == Order::Manifest {
        let listings: Vec<Listing> =
            found.iter().map(|f| Listing { ids: vec![f.up.clone()], extras: f.down.iter().cloned().collect() }).collect();
        let keys = manifest_keys(dir, layout, &listings, true)?;
        unlisted = unlisted_files(&listings, &keys);
        keys
    } else {
        // Name order inside each directory; `position` is the index in name order.
        let mut keys = Vec::with_capacity(found.len());
        for f in &found {
            let mut same_dir: Vec<&NestedFile> = found.iter().filter(|g| g.dir_name == f.dir_name).collect();
            same_dir.sort_by_key(|g| layout.dir_key(&files::file_name(&g.up)));
            let position = same_dir.iter().position(|g| g.up == f.up).unwrap_or(0);
            keys.push(Some((layout.dir_key(&f.dir_name), position)));
        }
        keys
    };
    let ordered = sort_by_keys(found, keys);
    let mut sequence: BTreeMap<String, usize> = BTreeMap::new();
    let width = ordered.len().max(999).to_string().len();
    let mut pairs = Vec::new();
    for f in ordered {
        let n = sequence.entry(f.dir_name.clone()).or_insert(0);
        *n += 1;
        let version = format!("{}/{:0width$}", f.dir_name, n);
        pairs.push(Pair { version, name: f.stem, up: f.up, down: f.down });
    }
    Ok((files::load_pairs(pairs, |_, _| None)?, unlisted))
}

/// The migrations of one version directory: `X.sql` or `X.up.sql`, with `X.down.sql` as down.
fn nested_files(path: &Path, dir_name: &str) -> Result<Vec<NestedFile>, MigrationError> {
    let entries = files::list_dir(path)?;
    if let Some(deeper) = entries.iter().find(|e| e.is_dir && walk_sql(&e.path).is_ok_and(|f| !f.is_empty())) {
        return Err(MigrationError::Unrecognized {
            path: deeper.path.clone(),
            message: "a version directory inside a version directory; nested version directories are one level deep (set `pattern` for deeper layouts)".into(),
        });
    }
    let mut ups: Vec<NestedFile> = Vec::new();
    let mut downs: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries.iter().filter(|e| e.is_sql_file()) {
        let base = entry.name.strip_suffix(".sql").unwrap_or(&entry.name);
        if let Some(stem) = base.strip_suffix(".down") {
            downs.push((stem.to_string(), entry.path.clone()));
            continue;
        }
        let stem = base.strip_suffix(".up").unwrap_or(base).to_string();
        if let Some(other) = ups.iter().find(|u| u.stem == stem) {
            return Err(MigrationError::DuplicateVersion {
                path: entry.path.clone(),
                other: other.up.clone(),
                version: format!("{dir_name}/{stem}"),
            });
        }
        ups.push(NestedFile { dir_name: dir_name.to_string(), stem, up: entry.path.clone(), down: None });
    }
    for (stem, down) in downs {
        match ups.iter_mut().find(|u| u.stem == stem) {
            Some(up) => up.down = Some(down),
            None => return Err(MigrationError::DownWithoutUp { path: down, version: format!("{dir_name}/{stem}") }),
        }
    }
    Ok(ups)
}

/// The line of `key` in a TOML file (`key = ...` or `[key]`), as a location at its start.
fn config_key_location(path: &Path, key: &str) -> Option<Location> {
    let text = std::fs::read_to_string(path).ok()?;
    let assign = Regex::new(&format!(r"^\s*(?:{k}|\[\s*{k}\s*\])\s*(?:=|$)", k = regex::escape(key))).ok()?;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if assign.is_match(line.trim_end()) {
            let indent = line.len() - line.trim_start().len();
            return Some(super::location_at(path, &text, offset + indent));
        }
        offset += line.len();
    }
    None
}

/// Literal text replacements, applied in one pass with the longest key first at each position.
#[derive(Debug, Clone)]
pub(crate) struct Substitutions {
    regex: Option<Regex>,
    map: BTreeMap<String, String>,
}

impl Substitutions {
    pub(crate) fn new(map: &BTreeMap<String, String>) -> Substitutions {
        let mut keys: Vec<&String> = map.keys().filter(|k| !k.is_empty()).collect();
        keys.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        let regex = (!keys.is_empty()).then(|| {
            let alternation = keys.iter().map(|k| regex::escape(k)).collect::<Vec<_>>().join("|");
            Regex::new(&alternation).expect("escaped literals form a valid regex")
        });
        Substitutions { regex, map: map.clone() }
    }

    pub(crate) fn apply(&self, text: &str) -> String {
        match &self.regex {
            Some(regex) => regex.replace_all(text, |caps: &regex::Captures<'_>| self.map[&caps[0]].clone()).into_owned(),
            None => text.to_string(),
        }
    }
}

/// `text` with every key of `map` replaced by its value (see [`Substitutions`]).
pub(crate) fn substitute(text: &str, map: &BTreeMap<String, String>) -> String {
    Substitutions::new(map).apply(text)
}

thread_local! {
    static ACTIVE: RefCell<Option<Rc<Substitutions>>> = const { RefCell::new(None) };
}

/// Runs `f` with `map` applied to every `.sql` file [`super::read_text`] reads on this thread
/// (so every [`super::Script::read`], and the reference through `read_reference`). Nested calls
/// replace the outer map for their duration.
pub(crate) fn with_substitutions<T>(map: &BTreeMap<String, String>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Rc<Substitutions>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            ACTIVE.with(|active| *active.borrow_mut() = previous);
        }
    }
    let next = (!map.is_empty()).then(|| Rc::new(Substitutions::new(map)));
    let _restore = Restore(ACTIVE.with(|active| active.replace(next)));
    f()
}

/// Applies the active substitutions (if any) to the text of a `.sql` file.
pub(crate) fn substitute_active(path: &Path, text: String) -> String {
    if !path.extension().is_some_and(|e| e.eq_ignore_ascii_case("sql")) {
        return text;
    }
    ACTIVE.with(|active| match active.borrow().as_ref() {
        Some(subs) => subs.apply(&text),
        None => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::files::testutil::layout;

    fn ids(set: &MigrationSet) -> Vec<String> {
        set.migrations.iter().map(Migration::id).collect()
    }

    fn with(f: impl FnOnce(&mut Layout)) -> Layout {
        let mut l = Layout::default();
        f(&mut l);
        l
    }

    const P: &str = r"^V(?P<version>\d+)\.(?P<name>[^.]+)\.(?P<direction>up|down)\.sql$";

    #[test]
    fn builtin_layout_is_load() {
        let dir = layout(&[("10_b.sql", "SELECT 1;"), ("9_a.sql", "SELECT 1;")]);
        let a = MigrationSet::load_layout(dir.path(), &Layout::default()).unwrap();
        assert_eq!(a, MigrationSet::load(dir.path(), None).unwrap());
        assert!(Layout::default().is_builtin());
    }

    #[test]
    fn pattern_pairs_and_orders() {
        let dir = layout(&[
            ("V0010.Add_Index.up.sql", "SELECT 10;"),
            ("V0002.Users.up.sql", "SELECT 2;"),
            ("V0002.Users.down.sql", "SELECT -2;"),
            ("README.md", "not sql"),
        ]);
        let set = MigrationSet::load_layout(dir.path(), &with(|l| l.pattern = Some(P.into()))).unwrap();
        assert_eq!(ids(&set), vec!["0002_Users", "0010_Add_Index"]);
        assert!(set.migrations[0].down.is_some() && set.migrations[1].down.is_none());
        assert_eq!(set.format, Format::Plain);
    }

    #[test]
    fn lexical_order_is_string_order() {
        let dir = layout(&[("v1.10_b.sql", "SELECT 1;"), ("v1.9_a.sql", "SELECT 1;")]);
        let p = r"^(?P<version>v[\d.]+)_(?P<name>\w+)\.sql$";
        let numeric = MigrationSet::load_layout(dir.path(), &with(|l| l.pattern = Some(p.into()))).unwrap();
        assert_eq!(ids(&numeric), vec!["v1.9_a", "v1.10_b"]);
        let lexical = with(|l| {
            l.pattern = Some(p.into());
            l.order = Some(Order::Lexical);
        });
        assert_eq!(ids(&MigrationSet::load_layout(dir.path(), &lexical).unwrap()), vec!["v1.10_b", "v1.9_a"]);
        let flat = MigrationSet::load_layout(dir.path(), &with(|l| l.order = Some(Order::Lexical))).unwrap();
        assert_eq!(ids(&flat), vec!["v1.10_b", "v1.9_a"]);
    }

    #[test]
    fn nested_directories_with_and_without_manifests() {
        let dir = layout(&[
            ("v1.10/b.sql", "SELECT 1;"),
            ("v1.10/a.sql", "SELECT 1;"),
            ("v1.2/x.up.sql", "SELECT 1;"),
            ("v1.2/x.down.sql", "SELECT 1;"),
            ("v1.10/manifest.txt", "b.sql\na.sql\n"),
            ("v1.2/manifest.txt", "x.up.sql\n"),
        ]);
        let set = MigrationSet::load_layout(dir.path(), &Layout::default()).unwrap();
        assert_eq!(ids(&set), vec!["v1.2/001_x", "v1.10/001_a", "v1.10/002_b"]);
        assert!(set.migrations[0].down.is_some());
        let manifest = with(|l| l.manifest = Some("manifest.txt".into()));
        let set = MigrationSet::load_layout(dir.path(), &manifest).unwrap();
        assert_eq!(ids(&set), vec!["v1.2/001_x", "v1.10/001_b", "v1.10/002_a"]);
    }

    #[test]
    fn flat_manifest_reorders_a_builtin_format() {
        let dir = layout(&[
            ("1_a/up.sql", "SELECT 1;"),
            ("2_b/up.sql", "SELECT 1;"),
            ("2_b/down.sql", "SELECT 1;"),
            ("manifest.json", r#"["2_b", "1_a/up.sql"]"#),
        ]);
        let set = MigrationSet::load_layout(dir.path(), &with(|l| l.order = Some(Order::Manifest))).unwrap();
        assert_eq!((set.format, ids(&set)), (Format::Diesel, vec!["2_b".to_string(), "1_a".to_string()]));
    }

    /// A version whose manifest lists only a combined file, and one whose manifest lists
    /// nothing: an error by default, left out and reported with `manifest_unlisted = "ignore"`.
    #[test]
    fn unlisted_files_are_an_error_or_deliberately_left_out() {
        let dir = layout(&[
            ("v1/a.sql", "SELECT 1;"),
            ("v1/b.sql", "SELECT 1;"),
            ("v1/combined.sql", "SELECT 1;"),
            ("v1/manifest.json", r#"["combined.sql"]"#),
            ("v2/c.sql", "SELECT 1;"),
            ("v2/manifest.json", "[]"),
            ("v3/d.sql", "SELECT 1;"),
            ("v3/manifest.json", r#"["d.sql"]"#),
        ]);
        let strict = with(|l| l.order = Some(Order::Manifest));
        let err = MigrationSet::load_layout(dir.path(), &strict).unwrap_err().to_string();
        assert!(err.contains("a.sql: not listed in the manifest") && err.contains("manifest_unlisted = \"ignore\""), "{err}");
        let ignore = with(|l| {
            l.order = Some(Order::Manifest);
            l.manifest_unlisted = Some(ManifestUnlisted::Ignore);
        });
        let set = MigrationSet::load_layout(dir.path(), &ignore).unwrap();
        assert_eq!(ids(&set), vec!["v1/001_combined", "v3/001_d"]);
        let unlisted: Vec<String> = set.unlisted.iter().map(|p| relative(dir.path(), p)).collect();
        assert_eq!(unlisted, vec!["v1/a.sql", "v1/b.sql", "v2/c.sql"]);
        let nothing = layout(&[("v1/a.sql", "SELECT 1;"), ("v1/manifest.json", "[]")]);
        let err = MigrationSet::load_layout(nothing.path(), &ignore).unwrap_err();
        assert!(matches!(err, MigrationError::Empty { .. }), "{err}");
        let misplaced = with(|l| l.manifest_unlisted = Some(ManifestUnlisted::Ignore));
        assert!(MigrationSet::load_layout(dir.path(), &misplaced).unwrap_err().to_string().contains("needs order"));
    }

    #[test]
    fn substitutions_apply_while_loading_only() {
        let dir = layout(&[("1_a.sql", "CREATE SCHEMA {{ ns }};\nCREATE TABLE {{ ns }}.t (id int);\n")]);
        let subs = BTreeMap::from([("{{ ns }}".to_string(), "myapp".to_string())]);
        let set = MigrationSet::load_layout(dir.path(), &with(|l| l.substitutions = subs.clone())).unwrap();
        let statements = &set.migrations[0].up.statements;
        assert_eq!(statements[1].sql, "CREATE TABLE myapp.t (id int)");
        assert_eq!(statements[1].line, 2);
        assert!(MigrationSet::load(dir.path(), None).is_err(), "outside the scope nothing is replaced");
    }

    #[test]
    fn substitution_is_one_pass_longest_first() {
        let map = BTreeMap::from([
            ("{{a}}".to_string(), "{{ab}}".to_string()),
            ("{{ab}}".to_string(), "x".to_string()),
            ("b".to_string(), "c".to_string()),
        ]);
        assert_eq!(substitute("{{a}} {{ab}} b", &map), "{{ab}} x c");
    }

    #[test]
    fn line_changing_substitutions_say_so() {
        let dir = layout(&[("1_a.sql", "SELECT {{x}};\nSELEC 2;\n")]);
        let subs = BTreeMap::from([("{{x}}".to_string(), "1;\nSELECT 3".to_string())]);
        let err = MigrationSet::load_layout(dir.path(), &with(|l| l.substitutions = subs)).unwrap_err().to_string();
        assert!(err.contains("1_a.sql:3:") && err.contains("lines may be shifted"), "{err}");
    }

    #[test]
    fn config_errors_name_the_key_line() {
        let dir = layout(&[("pgconverge.toml", "format = \"plain\"\npattern = \"(\"\n"), ("m/1.sql", "SELECT 1;")]);
        let l = with(|l| {
            l.pattern = Some("(".into());
            l.config_file = dir.path().join("pgconverge.toml");
        });
        let err = MigrationSet::load_layout(&dir.path().join("m"), &l).unwrap_err().to_string();
        assert!(err.contains("pgconverge.toml:2:1: `pattern` is not a valid regex"), "{err}");
        let l = with(|l| {
            l.manifest = Some("m.json".into());
            l.order = Some(Order::Lexical);
        });
        let err = MigrationSet::load_layout(&dir.path().join("m"), &l).unwrap_err().to_string();
        assert!(err.starts_with("pgconverge.toml: `manifest` is set"), "{err}");
    }
}
