//! Reading the index back: `export` (everything stored, in `cluster`'s CSV columns), `query`
//! (the nearest stored articles of a new one, without changing anything) and `stats`.
//!
//! Exported ids are the index's stable ids, not renumbered; rows are ordered by story, dup
//! group, date, id. Reads run in one read transaction, so an export taken while a batch is
//! being added sees the index either before or after that batch, never half of it.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::Path;

use ahash::AHashMap;
use rusqlite::{Connection, OptionalExtension};

use crate::error::Result;
use crate::keyterms::DocTerms;
use crate::minhash;
use crate::report::{safe_cell, CsvOutput, CLUSTER_COLUMNS, STORY_COLUMNS};
use crate::story::{self, GroupInfo, TermVector};

use super::batch::PreparedArticle;
use super::dups;
use super::store::{self, IndexParams};
use super::stories::{self, StoryReader};

/// One stored article found for a query article.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryMatch {
    pub query_id: String,
    /// `duplicate` (estimated Jaccard ≥ the threshold), `story` (a group of the story the
    /// article would join), or `related` (shares key terms, below the story threshold).
    pub kind: &'static str,
    pub id: String,
    pub similarity: f64,
    pub dup: i64,
    pub story: i64,
    pub date: String,
    pub source: String,
    pub title: String,
}

/// The columns of `index query`'s output.
pub const QUERY_COLUMNS: [&str; 9] = [
    "query_id",
    "kind",
    "id",
    "similarity",
    "dup",
    "story",
    "date",
    "source",
    "title",
];

/// Nearest stored articles of each prepared article: near-duplicates by similarity, then the
/// canonical articles of story candidates by key-term cosine; at most `top` per article.
pub fn query(
    conn: &Connection,
    path: &Path,
    params: &IndexParams,
    articles: &[PreparedArticle],
    top: usize,
) -> Result<Vec<QueryMatch>> {
    let mut stored = dups::StoredArticles::new(conn, path);
    let groups_counted = groups_counted(conn, path)?;
    let mut found = Vec::new();
    for article in articles {
        let keys = dups::band_keys(&article.signature, params);
        let mut near: Vec<(f64, i64)> = Vec::new();
        for seq in dups::stored_candidates(conn, path, &keys)? {
            if let Some(candidate) = stored.get(seq)? {
                let similarity = minhash::estimate(&article.signature, &candidate.signature);
                if similarity >= params.threshold {
                    near.push((similarity, seq));
                }
            }
        }
        near.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut rows: Vec<(&'static str, f64, i64)> =
            near.iter().map(|&(s, seq)| ("duplicate", s, seq)).collect();
        if let Some(threshold) = params.story_threshold {
            // The article counts as one more group, as if it were added.
            let df = document_frequencies(conn, path, &article.terms)?;
            let mut story_reader = StoryReader::new(conn, path, df.clone(), groups_counted + 1);
            let raw = stories::kept_terms(&article.terms.scores, &df, groups_counted + 1);
            let vector = story_reader.weigh(&raw)?;
            let candidates = story_reader.candidates(&vector, i64::MAX)?;
            let single = stories::NewGroups::one(&vector);
            let joined =
                stories::best_story(&mut story_reader, &single, &candidates.stories, threshold)?
                    .map(|(story, _)| story);
            let mut related: Vec<(&'static str, f64, i64)> = Vec::new();
            for &dup in &candidates.groups {
                let Some((_, story)) = story_reader.live_group(dup)? else {
                    continue;
                };
                let Some(group) = story_reader.story(story)?.group(dup).cloned() else {
                    continue;
                };
                let kind = if Some(story) == joined {
                    "story"
                } else {
                    "related"
                };
                let cosine = stories::cosine(&vector, &group.vector);
                related.push((kind, cosine, group.canonical_seq));
            }
            // Groups of the story it would join first, then by similarity, then oldest.
            related.sort_by(|a, b| {
                (a.0 != "story")
                    .cmp(&(b.0 != "story"))
                    .then(b.1.total_cmp(&a.1))
                    .then(a.2.cmp(&b.2))
            });
            rows.extend(related);
        }
        let mut listed = ahash::AHashSet::new();
        for (kind, similarity, seq) in rows {
            if listed.len() >= top || !listed.insert(seq) {
                continue;
            }
            found.push(describe_match(
                conn,
                path,
                article.meta.id(),
                kind,
                similarity,
                seq,
            )?);
        }
    }
    Ok(found)
}

fn groups_counted(conn: &Connection, path: &Path) -> Result<u64> {
    let value: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'groups-counted'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| store::sql_error(path, e))?;
    Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Stored document frequencies of `terms`, the query article counted as one more group.
fn document_frequencies(
    conn: &Connection,
    path: &Path,
    terms: &DocTerms,
) -> Result<AHashMap<u64, u32>> {
    let mut statement = conn
        .prepare_cached("SELECT df FROM term_df WHERE term = ?1")
        .map_err(|e| store::sql_error(path, e))?;
    let mut df = AHashMap::with_capacity(terms.scores.len());
    for &(term, _) in &terms.scores {
        let stored: Option<i64> = statement
            .query_row([store::to_sql(term)], |row| row.get(0))
            .optional()
            .map_err(|e| store::sql_error(path, e))?;
        df.insert(term, stored.unwrap_or(0) as u32 + 1);
    }
    Ok(df)
}

fn describe_match(
    conn: &Connection,
    path: &Path,
    query_id: &str,
    kind: &'static str,
    similarity: f64,
    seq: i64,
) -> Result<QueryMatch> {
    conn.prepare_cached(
        "SELECT a.id, a.dup, g.story, coalesce(a.date_iso, a.date), a.source, a.title \
         FROM articles a JOIN dup_groups g ON g.dup = a.dup WHERE a.seq = ?1",
    )
    .and_then(|mut s| {
        s.query_row([seq], |row| {
            Ok(QueryMatch {
                query_id: query_id.to_string(),
                kind,
                id: row.get(0)?,
                similarity,
                dup: row.get(1)?,
                story: row.get(2)?,
                date: row.get(3)?,
                source: row.get(4)?,
                title: row.get(5)?,
            })
        })
    })
    .map_err(|e| store::sql_error(path, e))
}

/// Writes `index query` matches as CSV to `out`.
pub fn write_query_matches(matches: &[QueryMatch], out: &mut dyn std::io::Write) -> Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let csv_error = |source| crate::Error::OutputCsv {
        path: "-".into(),
        source,
    };
    writer.write_record(QUERY_COLUMNS).map_err(csv_error)?;
    for m in matches {
        let cells = [
            safe_cell(&m.query_id),
            Cow::Borrowed(m.kind),
            safe_cell(&m.id),
            Cow::Owned(format!("{:.4}", m.similarity)),
            Cow::Owned(m.dup.to_string()),
            Cow::Owned(m.story.to_string()),
            safe_cell(&m.date),
            safe_cell(&m.source),
            safe_cell(&m.title),
        ];
        writer
            .write_record(cells.iter().map(|c| c.as_bytes()))
            .map_err(csv_error)?;
    }
    writer.flush().map_err(|e| crate::Error::OutputCsv {
        path: "-".into(),
        source: e.into(),
    })
}

/// What an export wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExportCounts {
    pub articles: usize,
    pub dup_groups: usize,
    pub stories: usize,
    pub merges: usize,
}

/// A live group as export reads it.
struct ExportGroup {
    dup: i64,
    canonical_seq: i64,
    size: i64,
    vector: TermVector,
}

/// One article row as export reads it.
struct ExportArticle {
    seq: i64,
    id: String,
    date: String,
    date_iso: Option<String>,
    source: String,
    url: String,
    title: String,
    signature: Vec<u32>,
}

/// Writes clusters.csv, stories.csv and merges.csv into `dir` (created if missing).
pub fn export(conn: &Connection, path: &Path, dir: &Path) -> Result<ExportCounts> {
    crate::report::prepare_output_dir(dir)?;
    let sql = |e| store::sql_error(path, e);
    let mut clusters = CsvOutput::create(&dir.join("clusters.csv"), &CLUSTER_COLUMNS)?;
    let mut story_rows = CsvOutput::create(&dir.join("stories.csv"), &STORY_COLUMNS)?;
    let mut counts = ExportCounts::default();
    let mut groups_statement = conn
        .prepare(
            "SELECT story, dup, canonical_seq, size, vector FROM dup_groups \
             WHERE merged_into IS NULL ORDER BY story, dup",
        )
        .map_err(sql)?;
    let mut rows = groups_statement.query([]).map_err(sql)?;
    let mut current: Option<i64> = None;
    let mut groups: Vec<ExportGroup> = Vec::new();
    let mut weights = StoryReader::new(conn, path, AHashMap::new(), groups_counted(conn, path)?);
    while let Some(row) = rows.next().map_err(sql)? {
        let story: i64 = row.get(0).map_err(sql)?;
        if current.is_some_and(|s| s != story) {
            let done = std::mem::take(&mut groups);
            write_story(
                conn,
                path,
                current.unwrap_or_default(),
                &done,
                &mut clusters,
                &mut story_rows,
                &mut counts,
            )?;
        }
        current = Some(story);
        groups.push(ExportGroup {
            dup: row.get(1).map_err(sql)?,
            canonical_seq: row.get(2).map_err(sql)?,
            size: row.get(3).map_err(sql)?,
            vector: weights.weigh(&store::decode_vector(
                &row.get::<_, Vec<u8>>(4).map_err(sql)?,
            ))?,
        });
    }
    if let Some(story) = current {
        write_story(
            conn,
            path,
            story,
            &groups,
            &mut clusters,
            &mut story_rows,
            &mut counts,
        )?;
    }
    clusters.commit()?;
    story_rows.commit()?;
    counts.merges = write_merges(conn, path, &dir.join("merges.csv"))?;
    Ok(counts)
}

/// The rows of one story: its articles in clusters.csv and its line in stories.csv.
fn write_story(
    conn: &Connection,
    path: &Path,
    story: i64,
    groups: &[ExportGroup],
    clusters: &mut CsvOutput,
    story_rows: &mut CsvOutput,
    counts: &mut ExportCounts,
) -> Result<()> {
    let story_size: i64 = groups.iter().map(|g| g.size).sum();
    let mut dates: Vec<String> = Vec::new();
    let mut sources: BTreeSet<String> = BTreeSet::new();
    let mut headline: Option<(i64, i64, String)> = None; // (size, dup, title)
    for group in groups {
        let mut members = group_articles(conn, path, group.dup)?;
        members.sort_by(|a, b| {
            (a.date_iso.is_none(), &a.date_iso, &a.id).cmp(&(
                b.date_iso.is_none(),
                &b.date_iso,
                &b.id,
            ))
        });
        let canonical_signature = members
            .iter()
            .find(|a| a.seq == group.canonical_seq)
            .map(|a| a.signature.clone())
            .unwrap_or_default();
        for article in &members {
            let canonical = article.seq == group.canonical_seq;
            if canonical && !article.title.trim().is_empty() {
                let better = headline
                    .as_ref()
                    .is_none_or(|(size, dup, _)| (group.size, -group.dup) > (*size, -dup));
                if better {
                    headline = Some((group.size, group.dup, article.title.clone()));
                }
            }
            let date = article
                .date_iso
                .clone()
                .unwrap_or_else(|| article.date.clone());
            clusters.row([
                safe_cell(&article.id),
                Cow::Owned(story.to_string()),
                Cow::Owned(group.dup.to_string()),
                Cow::Borrowed(if canonical { "true" } else { "false" }),
                Cow::Owned(format!(
                    "{:.4}",
                    minhash::estimate(&article.signature, &canonical_signature)
                )),
                Cow::Owned(group.size.to_string()),
                Cow::Owned(story_size.to_string()),
                Cow::Owned(safe_cell(&date).into_owned()),
                safe_cell(&article.source),
                safe_cell(&article.url),
                safe_cell(&article.title),
            ])?;
            counts.articles += 1;
            if let Some(iso) = &article.date_iso {
                dates.push(iso.clone());
            }
            if !article.source.is_empty() {
                sources.insert(article.source.clone());
            }
        }
    }
    counts.dup_groups += groups.len();
    counts.stories += 1;
    let sources: Vec<String> = sources.into_iter().collect();
    let keywords = story_keywords(conn, path, groups)?;
    story_rows.row([
        Cow::Owned(story.to_string()),
        Cow::Owned(story_size.to_string()),
        Cow::Owned(groups.len().to_string()),
        Cow::Owned(dates.iter().min().cloned().unwrap_or_default()),
        Cow::Owned(dates.iter().max().cloned().unwrap_or_default()),
        Cow::Owned(safe_cell(&sources.join(";")).into_owned()),
        Cow::Owned(safe_cell(&headline.map(|h| h.2).unwrap_or_default()).into_owned()),
        Cow::Owned(keywords),
    ])
}

fn group_articles(conn: &Connection, path: &Path, dup: i64) -> Result<Vec<ExportArticle>> {
    let mut statement = conn
        .prepare_cached(
            "SELECT seq, id, date, date_iso, source, url, title, signature FROM articles \
             WHERE dup = ?1",
        )
        .map_err(|e| store::sql_error(path, e))?;
    let rows = statement
        .query_map([dup], |row| {
            Ok(ExportArticle {
                seq: row.get(0)?,
                id: row.get(1)?,
                date: row.get(2)?,
                date_iso: row.get(3)?,
                source: row.get(4)?,
                url: row.get(5)?,
                title: row.get(6)?,
                signature: store::decode_signature(&row.get::<_, Vec<u8>>(7)?),
            })
        })
        .map_err(|e| store::sql_error(path, e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| store::sql_error(path, e))
}

/// The story's keywords, chosen as `cluster` chooses them, with labels from `term_labels`.
fn story_keywords(conn: &Connection, path: &Path, groups: &[ExportGroup]) -> Result<String> {
    let mut weights: AHashMap<u64, f32> = AHashMap::new();
    for group in groups {
        for &(term, w) in &group.vector {
            *weights.entry(term).or_default() += w;
        }
    }
    let mut ranked: Vec<(u64, f32)> = weights.into_iter().collect();
    ranked.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(40);
    let mut statement = conn
        .prepare_cached("SELECT label FROM term_labels WHERE term = ?1")
        .map_err(|e| store::sql_error(path, e))?;
    let mut labels: Vec<(u64, String)> = Vec::new();
    for &(term, _) in &ranked {
        let label: Option<String> = statement
            .query_row([store::to_sql(term)], |row| row.get(0))
            .optional()
            .map_err(|e| store::sql_error(path, e))?;
        if let Some(label) = label {
            labels.push((term, label));
        }
    }
    labels.sort_unstable();
    let info = GroupInfo {
        terms: DocTerms {
            scores: Vec::new(),
            labels,
        },
        day: None,
        order: 0,
    };
    let vector: TermVector = {
        let mut v = ranked;
        v.sort_unstable_by_key(|&(t, _)| t);
        v
    };
    Ok(story::keywords(&[&info], &[&vector], 8))
}

fn write_merges(conn: &Connection, path: &Path, target: &Path) -> Result<usize> {
    let mut out = CsvOutput::create(target, &["kind", "old", "new", "batch"])?;
    let mut statement = conn
        .prepare("SELECT kind, old, new, batch FROM merges ORDER BY rowid")
        .map_err(|e| store::sql_error(path, e))?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
            ))
        })
        .map_err(|e| store::sql_error(path, e))?;
    let mut count = 0;
    for row in rows {
        let (kind, old, new, batch) = row.map_err(|e| store::sql_error(path, e))?;
        out.row([kind, old.to_string(), new.to_string(), batch.to_string()])?;
        count += 1;
    }
    out.commit()?;
    Ok(count)
}

/// What `index stats` prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IndexStats {
    pub articles: i64,
    pub dup_groups: i64,
    pub groups_with_copies: i64,
    pub largest_group: i64,
    pub stories: i64,
    pub batches: i64,
    pub dup_merges: i64,
    pub story_merges: i64,
    pub last_batch_at: Option<String>,
    pub file_bytes: u64,
    pub parameters: Vec<(String, String)>,
}

pub fn stats(conn: &Connection, path: &Path, params: &IndexParams) -> Result<IndexStats> {
    let count = |sql: &str| -> Result<i64> {
        conn.query_row(sql, [], |row| row.get(0))
            .map_err(|e| store::sql_error(path, e))
    };
    let last_batch_at: Option<String> = conn
        .query_row(
            "SELECT added_at FROM batches ORDER BY batch DESC LIMIT 1",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| store::sql_error(path, e))?;
    Ok(IndexStats {
        articles: count("SELECT count(*) FROM articles")?,
        dup_groups: count("SELECT count(*) FROM dup_groups WHERE merged_into IS NULL")?,
        groups_with_copies: count(
            "SELECT count(*) FROM dup_groups WHERE merged_into IS NULL AND size > 1",
        )?,
        largest_group: count(
            "SELECT coalesce(max(size), 0) FROM dup_groups WHERE merged_into IS NULL",
        )?,
        stories: count("SELECT count(*) FROM stories WHERE merged_into IS NULL")?,
        batches: count("SELECT count(*) FROM batches")?,
        dup_merges: count("SELECT count(*) FROM merges WHERE kind = 'dup'")?,
        story_merges: count("SELECT count(*) FROM merges WHERE kind = 'story'")?,
        last_batch_at,
        file_bytes: store::file_size(path),
        parameters: params.display_entries(),
    })
}

/// The columns `index add`'s clusters.csv has after `cluster`'s: what each article matched.
pub const MATCH_COLUMNS: [&str; 3] = ["matched_id", "matched_similarity", "matched_kind"];

/// Writes `index add`'s outputs into `dir`: clusters.csv (the batch's articles, in input
/// order), and rejects.csv and skipped.csv when there are any (stale ones are removed).
pub fn write_added(report: &super::AddReport, dir: &Path) -> Result<()> {
    let columns: Vec<&str> = CLUSTER_COLUMNS
        .iter()
        .chain(&MATCH_COLUMNS)
        .copied()
        .collect();
    let mut out = CsvOutput::create(&dir.join("clusters.csv"), &columns)?;
    for a in &report.added {
        let (matched_id, matched_similarity, matched_kind) = match &a.matched {
            Some(m) => (
                safe_cell(&m.id),
                format!("{:.4}", m.similarity),
                m.kind.as_str(),
            ),
            None => (Cow::Borrowed(""), String::new(), ""),
        };
        out.row([
            safe_cell(&a.id),
            Cow::Owned(a.story.to_string()),
            Cow::Owned(a.dup.to_string()),
            Cow::Borrowed(if a.canonical { "true" } else { "false" }),
            Cow::Owned(format!("{:.4}", a.similarity)),
            Cow::Owned(a.dup_size.to_string()),
            Cow::Owned(a.story_size.to_string()),
            safe_cell(&a.date),
            safe_cell(&a.source),
            safe_cell(&a.url),
            safe_cell(&a.title),
            matched_id,
            Cow::Owned(matched_similarity),
            Cow::Borrowed(matched_kind),
        ])?;
    }
    out.commit()?;
    let rejects = dir.join("rejects.csv");
    remove_stale(&rejects)?;
    if !report.rejects.is_empty() {
        let mut out = CsvOutput::create(&rejects, &crate::report::REJECT_COLUMNS)?;
        for r in &report.rejects {
            out.row([
                safe_cell(&r.file),
                Cow::Owned(r.line.to_string()),
                safe_cell(&r.id),
                Cow::Owned(safe_cell(&r.reason.to_string()).into_owned()),
            ])?;
        }
        out.commit()?;
    }
    let skipped = dir.join("skipped.csv");
    remove_stale(&skipped)?;
    if !report.skipped.is_empty() {
        let mut out = CsvOutput::create(&skipped, &["file", "line", "id", "first_batch"])?;
        for s in &report.skipped {
            out.row([
                safe_cell(&s.file),
                Cow::Owned(s.line.to_string()),
                safe_cell(&s.id),
                Cow::Owned(s.batch.to_string()),
            ])?;
        }
        out.commit()?;
    }
    Ok(())
}

fn remove_stale(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(crate::Error::Output {
            path: path.to_path_buf(),
            source: err,
        }),
        _ => Ok(()),
    }
}
