//! Adding one prepared batch to the index, inside one write transaction: skip ids already
//! stored, find near-duplicate edges, turn them into dup groups (new, grown or merged), update
//! term statistics, place every new or grown group in a story, and describe each new article
//! in `cluster`'s columns.
//!
//! Ids are issued in increasing order and never renumbered: when a batch joins two stored
//! groups (or stories), the older id survives and `merges` records old → new.

use std::borrow::Cow;
use std::path::Path;

use ahash::AHashMap;
use rayon::prelude::*;
use rusqlite::{params, Connection, OptionalExtension};

use crate::cluster::{canonical_order, RankKey, UnionFind};
use crate::error::Result;
use crate::input::{DateKey, Reject};
use crate::keyterms::DocTerms;
use crate::minhash;
use crate::story::{self, TermVector};

use super::batch::PreparedArticle;
use super::dups::{self, DupEdge, Earlier, StoredArticles};
use super::store::{self, IndexParams};
use super::stories::{self, GroupVector, RawTerms, StoryReader};

/// One added article, in `cluster`'s columns plus what it matched.
#[derive(Debug, Clone, PartialEq)]
pub struct AddedArticle {
    pub id: String,
    pub story: i64,
    pub dup: i64,
    pub canonical: bool,
    pub similarity: f64,
    pub dup_size: i64,
    pub story_size: i64,
    pub date: String,
    pub source: String,
    pub url: String,
    pub title: String,
    /// The earlier article it duplicates (`duplicate`) or whose story it continues (`story`).
    pub matched: Option<Match>,
}

/// An earlier article an added article was matched to.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub id: String,
    /// Estimated Jaccard for a duplicate; key-term cosine for a story continuation.
    pub similarity: f64,
    pub kind: MatchKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Duplicate,
    Story,
}

impl MatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Duplicate => "duplicate",
            MatchKind::Story => "story",
        }
    }
}

/// An article not added because its id is already in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub id: String,
    pub file: String,
    pub line: u64,
    /// The batch that added it first.
    pub batch: i64,
}

/// What one `add` did.
#[derive(Debug, Default)]
pub struct AddReport {
    pub batch: i64,
    pub added: Vec<AddedArticle>,
    pub skipped: Vec<Skipped>,
    pub rejects: Vec<Reject>,
    pub new_dup_groups: usize,
    pub grown_dup_groups: usize,
    pub dup_merges: usize,
    /// Stories this batch started (and that are still stories after merges).
    pub new_stories: usize,
    /// New dup groups of this batch that joined a story stored by an earlier batch.
    pub continued_stories: usize,
    pub story_merges: usize,
    /// Parts of this batch split off stored stories by the in-story refinement.
    pub story_splits: usize,
}

/// The dup group a component of new articles becomes.
struct GroupPlan {
    /// New articles (batch indices), in input order.
    members: Vec<usize>,
    /// Stored groups joined by this component, ascending; the first survives.
    stored: Vec<i64>,
    dup: i64,
}

/// A stored group's row, as read before it grows.
struct StoredGroup {
    canonical_seq: i64,
    size: i64,
    raw: RawTerms,
}

/// Document frequencies as this batch sees them.
struct TermStats {
    df: AHashMap<u64, u32>,
    groups_counted: u64,
}

impl TermStats {
    fn reader<'c>(&self, conn: &'c Connection, path: &'c Path) -> StoryReader<'c> {
        StoryReader::new(conn, path, self.df.clone(), self.groups_counted)
    }
}

/// The stored group (dup id, key-term cosine) whose story a new group continues, if any.
type Continued = Option<(i64, f64)>;

/// A new or grown group, ready for its story.
struct GroupUpdate {
    plan: usize,
    canonical_seq: i64,
    size: i64,
    day: Option<i64>,
    /// What is stored, and its weights under this batch's document frequencies.
    raw: RawTerms,
    vector: TermVector,
    /// Whether it contains stored groups (else it is new).
    grown: bool,
}

/// Runs a batch inside `conn`'s open transaction.
pub struct BatchAdder<'a> {
    pub conn: &'a Connection,
    pub progress: &'a dyn crate::pipeline::Progress,
    pub path: &'a Path,
    pub params: &'a IndexParams,
    pub batch: i64,
}

impl BatchAdder<'_> {
    fn sql(&self, e: rusqlite::Error) -> crate::error::Error {
        store::sql_error(self.path, e)
    }

    /// Runs a statement through the statement cache (an add runs the same few statements
    /// hundreds of thousands of times).
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute(params)
    }

    fn next_id(&self, table: &str, column: &str) -> Result<i64> {
        self.conn
            .query_row(
                &format!("SELECT coalesce(max({column}), 0) + 1 FROM {table}"),
                [],
                |row| row.get(0),
            )
            .map_err(|e| self.sql(e))
    }

    /// Adds `articles` (already prepared, ids unique within the batch).
    pub fn add(&self, articles: Vec<PreparedArticle>) -> Result<AddReport> {
        let mut report = AddReport {
            batch: self.batch,
            ..AddReport::default()
        };
        self.progress.stage("known ids");
        let mut articles = self.skip_known(articles, &mut report.skipped)?;
        self.progress.stage("near-duplicates");
        let first_seq = self.next_id("articles", "seq")?;
        let signatures: Vec<&[u32]> = articles.iter().map(|a| a.signature.as_slice()).collect();
        let mut stored = StoredArticles::new(self.conn, self.path);
        let edges = dups::batch_edges(&signatures, self.params, &mut stored)?;
        let best = dups::best_matches(articles.len(), &edges);
        let mut plans = self.plan_groups(articles.len(), &edges, &mut stored)?;
        let mut next_dup = self.next_id("dup_groups", "dup")?;
        for plan in &mut plans {
            plan.dup = match plan.stored.first() {
                Some(&survivor) => survivor,
                None => {
                    next_dup += 1;
                    next_dup - 1
                }
            };
        }
        let stored_groups = self.read_stored_groups(&plans)?;
        self.progress.stage("writing articles");
        self.insert_articles(&articles, &plans, &best, first_seq)?;
        report.dup_merges = self.merge_stored_groups(&plans)?;
        stored.clear();
        self.progress.stage("group terms");
        let (updates, term_stats) =
            self.group_updates(&articles, &plans, &stored_groups, first_seq)?;
        self.progress.stage("stories");
        report.new_dup_groups = plans.iter().filter(|p| p.stored.is_empty()).count();
        report.grown_dup_groups = plans.len() - report.new_dup_groups;
        // The batch's key terms are not needed any more (they are the larger part of its memory).
        for article in &mut articles {
            article.terms = DocTerms::default();
        }
        let mut reader = term_stats.reader(self.conn, self.path);
        let story_matches = self.place_in_stories(&plans, updates, &mut reader, &mut report)?;
        self.progress.stage("refining stories");
        self.refine_stories(&plans, &mut reader, &mut report)?;
        drop(reader);
        self.count_stories(&mut report)?;
        self.progress.stage("describing");
        report.added = self.describe(&articles, &plans, &best, &story_matches, first_seq)?;
        Ok(report)
    }

    /// Drops articles whose id is already stored, listing them.
    fn skip_known(
        &self,
        articles: Vec<PreparedArticle>,
        skipped: &mut Vec<Skipped>,
    ) -> Result<Vec<PreparedArticle>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT batch FROM articles WHERE id = ?1")
            .map_err(|e| self.sql(e))?;
        let mut fresh = Vec::with_capacity(articles.len());
        for article in articles {
            let known: Option<i64> = statement
                .query_row([article.meta.id()], |row| row.get(0))
                .optional()
                .map_err(|e| self.sql(e))?;
            match known {
                Some(batch) => skipped.push(Skipped {
                    id: article.meta.id().to_string(),
                    file: article.meta.origin.file.to_string(),
                    line: article.meta.origin.line,
                    batch,
                }),
                None => fresh.push(article),
            }
        }
        Ok(fresh)
    }

    /// Connected components of the edges over new articles and the stored groups they touch.
    fn plan_groups(
        &self,
        n: usize,
        edges: &[DupEdge],
        stored: &mut StoredArticles<'_>,
    ) -> Result<Vec<GroupPlan>> {
        let mut stored_nodes: AHashMap<i64, u32> = AHashMap::new();
        let mut node_groups: Vec<i64> = Vec::new();
        let mut links: Vec<(u32, u32)> = Vec::with_capacity(edges.len());
        for edge in edges {
            let other = match edge.earlier {
                Earlier::Batch(j) => j as u32,
                Earlier::Stored(seq) => {
                    let Some(article) = stored.get(seq)? else {
                        continue;
                    };
                    let dup = article.dup;
                    *stored_nodes.entry(dup).or_insert_with(|| {
                        node_groups.push(dup);
                        (n + node_groups.len() - 1) as u32
                    })
                }
            };
            links.push((edge.article as u32, other));
        }
        let mut sets = UnionFind::new(n + node_groups.len());
        for &(a, b) in &links {
            sets.union(a, b);
        }
        let mut plan_of_root: AHashMap<u32, usize> = AHashMap::new();
        let mut plans: Vec<GroupPlan> = Vec::new();
        for article in 0..n {
            let root = sets.find(article as u32);
            let plan = *plan_of_root.entry(root).or_insert_with(|| {
                plans.push(GroupPlan {
                    members: Vec::new(),
                    stored: Vec::new(),
                    dup: 0,
                });
                plans.len() - 1
            });
            plans[plan].members.push(article);
        }
        for (i, &dup) in node_groups.iter().enumerate() {
            let root = sets.find((n + i) as u32);
            if let Some(&plan) = plan_of_root.get(&root) {
                plans[plan].stored.push(dup);
            }
        }
        for plan in &mut plans {
            plan.stored.sort_unstable();
        }
        Ok(plans)
    }

    fn read_stored_groups(&self, plans: &[GroupPlan]) -> Result<AHashMap<i64, StoredGroup>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT canonical_seq, size, vector FROM dup_groups WHERE dup = ?1")
            .map_err(|e| self.sql(e))?;
        let mut groups = AHashMap::new();
        for &dup in plans.iter().flat_map(|p| &p.stored) {
            let group = statement
                .query_row([dup], |row| {
                    Ok(StoredGroup {
                        canonical_seq: row.get(0)?,
                        size: row.get(1)?,
                        raw: store::decode_vector(&row.get::<_, Vec<u8>>(2)?),
                    })
                })
                .map_err(|e| self.sql(e))?;
            groups.insert(dup, group);
        }
        Ok(groups)
    }

    fn insert_articles(
        &self,
        articles: &[PreparedArticle],
        plans: &[GroupPlan],
        best: &[Option<DupEdge>],
        first_seq: i64,
    ) -> Result<()> {
        let mut dup_of = vec![0i64; articles.len()];
        for plan in plans {
            for &member in &plan.members {
                dup_of[member] = plan.dup;
            }
        }
        let mut insert = self
            .conn
            .prepare_cached(
                "INSERT INTO articles (seq, id, batch, dup, date, date_iso, source, url, title, \
                 text_len, matched_seq, matched_similarity, signature) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .map_err(|e| self.sql(e))?;
        let mut band = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO bands (key, seq) VALUES (?1, ?2)")
            .map_err(|e| self.sql(e))?;
        let mut band_rows: Vec<(i64, i64)> = Vec::with_capacity(articles.len() * self.params.bands);
        for (i, article) in articles.iter().enumerate() {
            let seq = first_seq + i as i64;
            let meta = &article.meta;
            let matched = best[i].map(|edge| {
                let earlier = match edge.earlier {
                    Earlier::Stored(seq) => seq,
                    Earlier::Batch(j) => first_seq + j as i64,
                };
                (earlier, edge.similarity)
            });
            insert
                .execute(params![
                    seq,
                    meta.id(),
                    self.batch,
                    dup_of[i],
                    meta.date(),
                    meta.date_key.map(DateKey::to_iso),
                    meta.source(),
                    meta.url(),
                    meta.title(),
                    meta.text_len as i64,
                    matched.map(|m| m.0),
                    matched.map(|m| m.1),
                    store::encode_signature(&article.signature),
                ])
                .map_err(|e| self.sql(e))?;
            band_rows.extend(
                dups::band_keys(&article.signature, self.params)
                    .into_iter()
                    .map(|key| (store::to_sql(key), seq)),
            );
        }
        // In key order: each B-tree page of the band index is written once.
        band_rows.sort_unstable();
        for row in band_rows {
            band.execute(row).map_err(|e| self.sql(e))?;
        }
        Ok(())
    }

    /// Folds every stored group a component joined into its oldest one; returns the count.
    fn merge_stored_groups(&self, plans: &[GroupPlan]) -> Result<usize> {
        let mut merged = 0;
        for plan in plans {
            for &old in plan.stored.iter().skip(1) {
                self.exec(
                    "UPDATE articles SET dup = ?1 WHERE dup = ?2",
                    (plan.dup, old),
                )
                .map_err(|e| self.sql(e))?;
                self.exec(
                    "UPDATE dup_groups SET merged_into = ?1 WHERE dup = ?2",
                    (plan.dup, old),
                )
                .map_err(|e| self.sql(e))?;
                // Groups merged into `old` earlier now point at the survivor directly: merge
                // chains stay one step long.
                self.exec(
                    "UPDATE dup_groups SET merged_into = ?1 WHERE merged_into = ?2",
                    (plan.dup, old),
                )
                .map_err(|e| self.sql(e))?;
                self.record_merge("dup", old, plan.dup)?;
                merged += 1;
            }
        }
        Ok(merged)
    }

    fn record_merge(&self, kind: &str, old: i64, new: i64) -> Result<()> {
        self.exec(
            "INSERT INTO merges (kind, old, new, batch) VALUES (?1, ?2, ?3, ?4)",
            params![kind, old, new, self.batch],
        )
        .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Canonical article, size, day and key-term vector of every new or grown group.
    fn group_updates(
        &self,
        articles: &[PreparedArticle],
        plans: &[GroupPlan],
        stored_groups: &AHashMap<i64, StoredGroup>,
        first_seq: i64,
    ) -> Result<(Vec<GroupUpdate>, TermStats)> {
        let with_stories = self.params.story_threshold.is_some();
        // A new group's terms are its members' merged (as `cluster` merges them); a group of
        // one article has that article's terms as they are (the merge of one member is the
        // member), which most groups of a batch are: not copied.
        let new_terms: Vec<Option<Cow<'_, DocTerms>>> = plans
            .par_iter()
            .map(|plan| {
                (with_stories && plan.stored.is_empty()).then(|| match plan.members[..] {
                    [only] => Cow::Borrowed(&articles[only].terms),
                    _ => {
                        let members: Vec<DocTerms> = plan
                            .members
                            .iter()
                            .map(|&m| articles[m].terms.clone())
                            .collect();
                        Cow::Owned(story::merge_terms(&members))
                    }
                })
            })
            .collect();
        let (mut df, groups_counted) = if with_stories {
            self.update_term_stats(articles, plans, &new_terms)?
        } else {
            (AHashMap::new(), 0)
        };
        if with_stories {
            self.look_up_df(
                plans
                    .iter()
                    .flat_map(|p| &p.stored)
                    .flat_map(|d| &stored_groups[d].raw),
                &mut df,
            )?;
        }
        let terms: Vec<(RawTerms, TermVector)> = plans
            .par_iter()
            .zip(&new_terms)
            .map(|(plan, terms)| {
                if !with_stories {
                    return (RawTerms::new(), TermVector::new());
                }
                let scores: Cow<'_, [(u64, f32)]> = match terms {
                    Some(terms) => Cow::Borrowed(&terms.scores),
                    None => {
                        // A grown group: its stored mean scores weighted by its size, plus
                        // its new members'.
                        let mut parts: Vec<(f32, &[(u64, f32)])> = plan
                            .stored
                            .iter()
                            .map(|d| (stored_groups[d].size as f32, &stored_groups[d].raw[..]))
                            .collect();
                        parts.extend(
                            plan.members
                                .iter()
                                .map(|&m| (1.0, &articles[m].terms.scores[..])),
                        );
                        Cow::Owned(stories::mean_scores(&parts))
                    }
                };
                let raw = stories::kept_terms(&scores, &df, groups_counted);
                let vector =
                    stories::weigh(&raw, &|t| df.get(&t).copied().unwrap_or(1), groups_counted);
                (raw, vector)
            })
            .collect();
        let mut updates = Vec::with_capacity(plans.len());
        for ((p, plan), (raw, vector)) in plans.iter().enumerate().zip(terms) {
            let (canonical_seq, canonical_day) =
                self.canonical(articles, plan, stored_groups, first_seq)?;
            let stored: Vec<&StoredGroup> = plan.stored.iter().map(|d| &stored_groups[d]).collect();
            let size = plan.members.len() as i64 + stored.iter().map(|g| g.size).sum::<i64>();
            updates.push(GroupUpdate {
                plan: p,
                canonical_seq,
                size,
                day: canonical_day,
                raw,
                vector,
                grown: !stored.is_empty(),
            });
        }
        Ok((updates, TermStats { df, groups_counted }))
    }

    /// Adds the stored document frequencies of `terms` missing from `df`.
    fn look_up_df<'t>(
        &self,
        terms: impl Iterator<Item = &'t (u64, f32)>,
        df: &mut AHashMap<u64, u32>,
    ) -> Result<()> {
        let mut lookup = self
            .conn
            .prepare_cached("SELECT df FROM term_df WHERE term = ?1")
            .map_err(|e| self.sql(e))?;
        for &(term, _) in terms {
            if df.contains_key(&term) {
                continue;
            }
            let found: Option<i64> = lookup
                .query_row([store::to_sql(term)], |row| row.get(0))
                .optional()
                .map_err(|e| self.sql(e))?;
            df.insert(term, found.unwrap_or(0) as u32);
        }
        Ok(())
    }

    /// The canonical article of a planned group (earliest date, longest text, smallest id) and
    /// its day.
    fn canonical(
        &self,
        articles: &[PreparedArticle],
        plan: &GroupPlan,
        stored_groups: &AHashMap<i64, StoredGroup>,
        first_seq: i64,
    ) -> Result<(i64, Option<i64>)> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT date_iso, text_len, id FROM articles WHERE seq = ?1")
            .map_err(|e| self.sql(e))?;
        let mut stored_ranks: Vec<(i64, Option<DateKey>, usize, String)> = Vec::new();
        for dup in &plan.stored {
            let seq = stored_groups[dup].canonical_seq;
            let (date, len, id): (Option<String>, i64, String) = statement
                .query_row([seq], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .map_err(|e| self.sql(e))?;
            let date = date.as_deref().and_then(DateKey::parse);
            stored_ranks.push((seq, date, len as usize, id));
        }
        let mut candidates: Vec<(i64, RankKey<'_>)> = stored_ranks
            .iter()
            .map(|(seq, date, len, id)| {
                (
                    *seq,
                    RankKey {
                        date: *date,
                        text_len: *len,
                        id,
                    },
                )
            })
            .collect();
        candidates.extend(
            plan.members
                .iter()
                .map(|&m| (first_seq + m as i64, articles[m].meta.rank_key())),
        );
        let best = candidates
            .iter()
            .min_by(|a, b| canonical_order(&a.1, &b.1))
            .map(|(seq, key)| (*seq, key.date.map(DateKey::days)));
        Ok(best.unwrap_or((first_seq, None)))
    }

    /// Counts the new groups' terms into `term_df` and returns the document frequencies of
    /// every term the batch uses, with the number of groups counted.
    fn update_term_stats(
        &self,
        articles: &[PreparedArticle],
        plans: &[GroupPlan],
        new_terms: &[Option<Cow<'_, DocTerms>>],
    ) -> Result<(AHashMap<u64, u32>, u64)> {
        let mut delta: AHashMap<u64, u32> = AHashMap::new();
        for terms in new_terms.iter().flatten() {
            for &(term, _) in &terms.scores {
                *delta.entry(term).or_default() += 1;
            }
        }
        let mut sorted: Vec<(u64, u32)> = delta.into_iter().collect();
        sorted.sort_unstable();
        let mut upsert = self
            .conn
            .prepare_cached(
                "INSERT INTO term_df (term, df) VALUES (?1, ?2) \
                 ON CONFLICT (term) DO UPDATE SET df = df + excluded.df RETURNING df",
            )
            .map_err(|e| self.sql(e))?;
        let mut df: AHashMap<u64, u32> = AHashMap::with_capacity(sorted.len());
        for (term, count) in sorted {
            let total: i64 = upsert
                .query_row((store::to_sql(term), count as i64), |row| row.get(0))
                .map_err(|e| self.sql(e))?;
            df.insert(term, total as u32);
        }
        self.look_up_df(
            plans
                .iter()
                .filter(|p| !p.stored.is_empty())
                .flat_map(|p| &p.members)
                .flat_map(|&m| &articles[m].terms.scores),
            &mut df,
        )?;
        let new_groups = new_terms.iter().flatten().count() as u64;
        let counted = self.meta_number("groups-counted")? + new_groups;
        self.exec(
            "INSERT INTO meta (key, value) VALUES ('groups-counted', ?1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [counted.to_string()],
        )
        .map_err(|e| self.sql(e))?;
        self.store_labels(new_terms, articles, plans)?;
        Ok((df, counted))
    }

    fn meta_number(&self, key: &str) -> Result<u64> {
        let value: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()
            .map_err(|e| self.sql(e))?;
        Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Display forms of terms (first seen wins), for the `keywords` column.
    fn store_labels(
        &self,
        new_terms: &[Option<Cow<'_, DocTerms>>],
        articles: &[PreparedArticle],
        plans: &[GroupPlan],
    ) -> Result<()> {
        let mut insert = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO term_labels (term, label) VALUES (?1, ?2)")
            .map_err(|e| self.sql(e))?;
        let grown_members = plans
            .iter()
            .filter(|p| !p.stored.is_empty())
            .flat_map(|p| &p.members)
            .map(|&m| &articles[m].terms);
        let mut seen = ahash::AHashSet::new();
        let new_groups = new_terms.iter().flatten().map(|terms| &**terms);
        for terms in new_groups.chain(grown_members) {
            for (term, label) in &terms.labels {
                if !seen.insert(*term) {
                    continue;
                }
                insert
                    .execute((store::to_sql(*term), label))
                    .map_err(|e| self.sql(e))?;
            }
        }
        Ok(())
    }

    /// Writes every new or grown group and gives it a story. Grown groups stay in their stored
    /// stories (merging them when a group joined several). The new groups are first clustered
    /// among themselves as `cluster` clusters a batch; each story so formed then joins the
    /// stored story it links to best, or stays a new story. Returns, per plan, the stored group
    /// whose story a new group continues (dup id, cosine).
    fn place_in_stories(
        &self,
        plans: &[GroupPlan],
        mut updates: Vec<GroupUpdate>,
        reader: &mut StoryReader<'_>,
        report: &mut AddReport,
    ) -> Result<Vec<Continued>> {
        updates.sort_by_key(|u| (u.day.is_none(), u.day, u.plan));
        let (grown, new): (Vec<GroupUpdate>, Vec<GroupUpdate>) =
            updates.into_iter().partition(|u| u.grown);
        for update in &grown {
            self.place_grown_group(&plans[update.plan], update, reader, report)?;
        }
        let mut next_story = self.next_id("stories", "story")?;
        let mut matches = vec![None; plans.len()];
        // New groups have the largest ids: below this are the groups stored before the batch.
        // Without any (a first batch), no new group has a candidate: the lookups are skipped.
        let first_new = new
            .iter()
            .map(|u| plans[u.plan].dup)
            .min()
            .unwrap_or(i64::MAX);
        let stored_below = self.any_group_below(first_new)?.then_some(first_new);
        for members in batch_stories(&new, self.params.story_threshold) {
            let members: Vec<&GroupUpdate> = members.iter().map(|&i| &new[i]).collect();
            let (story, matched) =
                self.place_batch_story(&members, stored_below, reader, &mut next_story)?;
            for (update, matched) in members.into_iter().zip(matched) {
                let dup = plans[update.plan].dup;
                self.write_group(dup, story, update, true)?;
                reader.joined(
                    story,
                    GroupVector {
                        dup,
                        canonical_seq: update.canonical_seq,
                        vector: update.vector.clone(),
                    },
                );
                matches[update.plan] = matched;
            }
        }
        Ok(matches)
    }

    /// Writes a grown (or merged) dup group into its stored story, merging the stories of the
    /// stored groups it joined.
    fn place_grown_group(
        &self,
        plan: &GroupPlan,
        update: &GroupUpdate,
        reader: &mut StoryReader<'_>,
        report: &mut AddReport,
    ) -> Result<()> {
        // The stories as they are now: an earlier group of this batch may have merged the story
        // a stored group was read in.
        let mut stories = self.current_stories(&plan.stored)?;
        stories.sort_unstable();
        stories.dedup();
        let survivor = stories[0];
        for &old in &stories[1..] {
            self.merge_stories(old, survivor, reader)?;
            report.story_merges += 1;
        }
        self.write_group(plan.dup, survivor, update, false)?;
        reader.replaced(
            survivor,
            &plan.stored,
            GroupVector {
                dup: plan.dup,
                canonical_seq: update.canonical_seq,
                vector: update.vector.clone(),
            },
        );
        Ok(())
    }

    /// Whether the index holds a dup group with an id below `dup`.
    fn any_group_below(&self, dup: i64) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM dup_groups WHERE dup < ?1)",
                [dup],
                |row| row.get(0),
            )
            .map_err(|e| self.sql(e))
    }

    /// Counts, once everything is placed, the stories this batch started and its new groups
    /// that continue stored stories.
    fn count_stories(&self, report: &mut AddReport) -> Result<()> {
        let count = |sql: &str| -> Result<usize> {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut s| s.query_row([self.batch], |row| row.get::<_, i64>(0)))
                .map(|n| n as usize)
                .map_err(|e| self.sql(e))
        };
        report.new_stories =
            count("SELECT count(*) FROM stories WHERE batch = ?1 AND merged_into IS NULL")?;
        report.continued_stories = count(
            "SELECT count(*) FROM dup_groups g JOIN stories s ON s.story = g.story \
             WHERE g.batch = ?1 AND g.merged_into IS NULL AND s.batch < ?1",
        )?;
        Ok(())
    }

    /// The story each of `dups` is in now (merged-away groups included: story merges update
    /// them too).
    fn current_stories(&self, dups: &[i64]) -> Result<Vec<i64>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT story FROM dup_groups WHERE dup = ?1")
            .map_err(|e| self.sql(e))?;
        dups.iter()
            .map(|&dup| {
                statement
                    .query_row([dup], |row| row.get(0))
                    .map_err(|e| self.sql(e))
            })
            .collect()
    }

    /// Chooses the story of new groups that the batch put in one story: the stored story with
    /// the best group-average linkage to all of them, or a new story. Returns it with, per
    /// member, the stored group it continues. The groups stored before the batch are those with
    /// ids below `stored_below` (`None`: there are none).
    fn place_batch_story(
        &self,
        members: &[&GroupUpdate],
        stored_below: Option<i64>,
        reader: &mut StoryReader<'_>,
        next_story: &mut i64,
    ) -> Result<(i64, Vec<Continued>)> {
        let unmatched = vec![None; members.len()];
        let (Some(threshold), Some(first_new)) = (self.params.story_threshold, stored_below) else {
            return Ok((self.new_story(next_story)?, unmatched));
        };
        reader.trim();
        // Every member's candidates, and their stories in the members' order.
        let mut candidate_groups = Vec::with_capacity(members.len());
        let mut candidate_stories = Vec::new();
        let mut seen = ahash::AHashSet::new();
        for update in members {
            let found = reader.candidates(&update.vector, first_new)?;
            for story in found.stories {
                if seen.insert(story) {
                    candidate_stories.push(story);
                }
            }
            candidate_groups.push(found.groups);
        }
        let new = stories::NewGroups::of(members.iter().map(|u| &u.vector));
        let best = stories::best_story(reader, &new, &candidate_stories, threshold)?;
        // Joining never merges two stored stories: measured, merging the stories that the new
        // groups link strongly enough (as the linkage would) lowered story B-cubed F1 on every
        // set (100,000 generated articles in 2 batches 0.857 → 0.835; ECB+ in 10 batches 0.864
        // → 0.857): a merge cannot be undone by a later batch's refinement.
        let Some((story, _)) = best else {
            return Ok((self.new_story(next_story)?, unmatched));
        };
        let sum = reader.story(story)?;
        let mut fallback: Option<Vec<i64>> = None;
        let matched = members
            .iter()
            .zip(&candidate_groups)
            .map(|(update, candidates)| {
                stories::closest_group(sum, candidates, &update.vector).or_else(|| {
                    let recent = fallback
                        .get_or_insert_with(|| stories::recent_stored_groups(sum, first_new));
                    stories::closest_group(sum, recent, &update.vector)
                })
            })
            .collect();
        Ok((story, matched))
    }

    /// Refines every story that received a new group (see `stories::refine_story`).
    fn refine_stories(
        &self,
        plans: &[GroupPlan],
        reader: &mut StoryReader<'_>,
        report: &mut AddReport,
    ) -> Result<()> {
        let Some(threshold) = self.params.story_threshold else {
            return Ok(());
        };
        let opts = crate::story::StoryOptions {
            threshold,
            ..crate::story::StoryOptions::default()
        };
        let new_groups: ahash::AHashSet<i64> = plans
            .iter()
            .filter(|p| p.stored.is_empty())
            .map(|p| p.dup)
            .collect();
        // Only a part of at least `min_part` new groups can move, or a smaller one whose groups
        // fall below the split floor: without a floor, stories that received fewer cannot
        // change.
        let min_new = if opts.split_floor > 0.0 {
            1
        } else {
            opts.min_part
        };
        let mut new_per_story: AHashMap<i64, usize> = AHashMap::new();
        for &dup in &new_groups {
            if let Some((_, story)) = reader.live_group(dup)? {
                *new_per_story.entry(story).or_default() += 1;
            }
        }
        let mut touched: Vec<i64> = new_per_story
            .into_iter()
            .filter(|&(_, n)| n >= min_new)
            .map(|(story, _)| story)
            .collect();
        touched.sort_unstable();
        let mut next_story = self.next_id("stories", "story")?;
        for story in touched {
            let parts = stories::refine_story(reader.story(story)?, &new_groups, &opts);
            for part in parts {
                let moved_to = self.new_story(&mut next_story)?;
                for dup in &part {
                    self.exec(
                        "UPDATE dup_groups SET story = ?1 WHERE dup = ?2",
                        (moved_to, dup),
                    )
                    .map_err(|e| self.sql(e))?;
                }
                report.story_splits += 1;
            }
            reader.forget(story);
        }
        Ok(())
    }

    fn new_story(&self, next_story: &mut i64) -> Result<i64> {
        let story = *next_story;
        *next_story += 1;
        self.exec(
            "INSERT INTO stories (story, batch) VALUES (?1, ?2)",
            (story, self.batch),
        )
        .map_err(|e| self.sql(e))?;
        Ok(story)
    }

    fn merge_stories(&self, old: i64, survivor: i64, reader: &mut StoryReader<'_>) -> Result<()> {
        self.exec(
            "UPDATE dup_groups SET story = ?1 WHERE story = ?2",
            (survivor, old),
        )
        .map_err(|e| self.sql(e))?;
        self.exec(
            "UPDATE stories SET merged_into = ?1 WHERE story = ?2",
            (survivor, old),
        )
        .map_err(|e| self.sql(e))?;
        self.record_merge("story", old, survivor)?;
        reader.merged(old, survivor);
        Ok(())
    }

    fn write_group(&self, dup: i64, story: i64, update: &GroupUpdate, new: bool) -> Result<()> {
        // A grown group keeps the batch that created it.
        self.exec(
            "INSERT INTO dup_groups (dup, story, canonical_seq, size, day, batch, vector) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (dup) DO UPDATE SET \
             story = excluded.story, canonical_seq = excluded.canonical_seq, \
             size = excluded.size, day = excluded.day, vector = excluded.vector",
            params![
                dup,
                story,
                update.canonical_seq,
                update.size,
                update.day,
                self.batch,
                store::encode_vector(&update.raw)
            ],
        )
        .map_err(|e| self.sql(e))?;
        if !new || self.params.story_threshold.is_none() {
            return Ok(());
        }
        for term in stories::heavy_terms(&update.vector) {
            self.exec(
                "INSERT OR IGNORE INTO term_groups (term, dup) VALUES (?1, ?2)",
                (store::to_sql(term), dup),
            )
            .map_err(|e| self.sql(e))?;
        }
        Ok(())
    }

    /// The rows of `new/clusters.csv`: every added article with its final group and story.
    fn describe(
        &self,
        articles: &[PreparedArticle],
        plans: &[GroupPlan],
        best: &[Option<DupEdge>],
        story_matches: &[Option<(i64, f64)>],
        first_seq: i64,
    ) -> Result<Vec<AddedArticle>> {
        let mut lookup = Lookup::new(self.conn, self.path);
        let mut rows: Vec<Option<AddedArticle>> = vec![None; articles.len()];
        for (p, plan) in plans.iter().enumerate() {
            let group = lookup.group(plan.dup)?;
            let story_size = lookup.story_size(group.story)?;
            let canonical_signature = match group.canonical_seq - first_seq {
                offset if offset >= 0 => articles[offset as usize].signature.clone(),
                _ => lookup.signature(group.canonical_seq)?,
            };
            for &member in &plan.members {
                let seq = first_seq + member as i64;
                let article = &articles[member];
                let matched = match (best[member], story_matches[p]) {
                    (Some(edge), _) => {
                        let earlier = match edge.earlier {
                            Earlier::Stored(seq) => seq,
                            Earlier::Batch(j) => first_seq + j as i64,
                        };
                        Some(Match {
                            id: lookup.id(earlier)?,
                            similarity: edge.similarity,
                            kind: MatchKind::Duplicate,
                        })
                    }
                    (None, Some((dup, cosine))) => {
                        // That group as it is now (it may have grown, merged or moved).
                        let continued = lookup.live_group(dup)?;
                        (continued.story == group.story).then_some(Match {
                            id: lookup.id(continued.canonical_seq)?,
                            similarity: cosine,
                            kind: MatchKind::Story,
                        })
                    }
                    (None, _) => None,
                };
                let meta = &article.meta;
                rows[member] = Some(AddedArticle {
                    id: meta.id().to_string(),
                    story: group.story,
                    dup: plan.dup,
                    canonical: group.canonical_seq == seq,
                    similarity: minhash::estimate(&article.signature, &canonical_signature),
                    dup_size: group.size,
                    story_size,
                    date: meta
                        .date_key
                        .map_or_else(|| meta.date().to_string(), DateKey::to_iso),
                    source: meta.source().to_string(),
                    url: meta.url().to_string(),
                    title: meta.title().to_string(),
                    matched,
                });
            }
        }
        Ok(rows.into_iter().flatten().collect())
    }
}

/// The new groups' vectors, as the story clustering reads them (not copied).
struct NewVectors<'a>(&'a [GroupUpdate]);

impl story::Vectors for NewVectors<'_> {
    type Term = u64;
    fn count(&self) -> usize {
        self.0.len()
    }
    fn vector(&self, g: usize) -> &[(u64, f32)] {
        &self.0[g].vector
    }
}

/// The new groups' stories among themselves, as `cluster` forms them from their vectors:
/// index lists into `new` (which is in date order), each ascending, in the order of their first
/// group. Without stories, every group alone.
fn batch_stories(new: &[GroupUpdate], threshold: Option<f64>) -> Vec<Vec<usize>> {
    let Some(threshold) = threshold else {
        return (0..new.len()).map(|i| vec![i]).collect();
    };
    let opts = story::StoryOptions {
        threshold,
        ..story::StoryOptions::default()
    };
    let order: Vec<u32> = (0..new.len() as u32).collect();
    let days: Vec<Option<i64>> = new.iter().map(|u| u.day).collect();
    let labels = story::stories_of_vectors(&NewVectors(new), &order, &days, &opts);
    let mut story_of_label: AHashMap<u32, usize> = AHashMap::new();
    let mut stories: Vec<Vec<usize>> = Vec::new();
    for (i, label) in labels.into_iter().enumerate() {
        let story = *story_of_label.entry(label).or_insert_with(|| {
            stories.push(Vec::new());
            stories.len() - 1
        });
        stories[story].push(i);
    }
    stories
}

/// A stored group's final state.
#[derive(Clone, Copy)]
struct GroupRow {
    story: i64,
    canonical_seq: i64,
    size: i64,
}

/// Point reads for describing added articles.
struct Lookup<'c> {
    conn: &'c Connection,
    path: &'c Path,
    story_sizes: AHashMap<i64, i64>,
}

impl<'c> Lookup<'c> {
    fn new(conn: &'c Connection, path: &'c Path) -> Self {
        Lookup {
            conn,
            path,
            story_sizes: AHashMap::new(),
        }
    }

    fn group(&self, dup: i64) -> Result<GroupRow> {
        self.conn
            .prepare_cached("SELECT story, canonical_seq, size FROM dup_groups WHERE dup = ?1")
            .and_then(|mut s| {
                s.query_row([dup], |row| {
                    Ok(GroupRow {
                        story: row.get(0)?,
                        canonical_seq: row.get(1)?,
                        size: row.get(2)?,
                    })
                })
            })
            .map_err(|e| store::sql_error(self.path, e))
    }

    fn story_size(&mut self, story: i64) -> Result<i64> {
        if let Some(&size) = self.story_sizes.get(&story) {
            return Ok(size);
        }
        let size: i64 = self
            .conn
            .prepare_cached(
                "SELECT coalesce(sum(size), 0) FROM dup_groups \
                 WHERE story = ?1 AND merged_into IS NULL",
            )
            .and_then(|mut s| s.query_row([story], |row| row.get(0)))
            .map_err(|e| store::sql_error(self.path, e))?;
        self.story_sizes.insert(story, size);
        Ok(size)
    }

    fn id(&self, seq: i64) -> Result<String> {
        self.conn
            .prepare_cached("SELECT id FROM articles WHERE seq = ?1")
            .and_then(|mut s| s.query_row([seq], |row| row.get(0)))
            .map_err(|e| store::sql_error(self.path, e))
    }

    /// A group's final state, following merges.
    fn live_group(&self, mut dup: i64) -> Result<GroupRow> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT merged_into FROM dup_groups WHERE dup = ?1")
            .map_err(|e| store::sql_error(self.path, e))?;
        while let Some(next) = statement
            .query_row([dup], |row| row.get::<_, Option<i64>>(0))
            .map_err(|e| store::sql_error(self.path, e))?
        {
            dup = next;
        }
        self.group(dup)
    }

    fn signature(&self, seq: i64) -> Result<Vec<u32>> {
        let bytes: Vec<u8> = self
            .conn
            .prepare_cached("SELECT signature FROM articles WHERE seq = ?1")
            .and_then(|mut s| s.query_row([seq], |row| row.get(0)))
            .map_err(|e| store::sql_error(self.path, e))?;
        Ok(store::decode_signature(&bytes))
    }
}
