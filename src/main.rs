//! The `storyhash` command line: a thin clap front end over the library.
//!
//! Exit codes: 0 success (rejected records, if any, are listed in rejects.csv); 1 a fatal error
//! (unreadable input, unwritable output, `--strict` stopped at a bad record); 2 bad arguments.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use storyhash::eval::{self, Column};
use storyhash::index::{Index, ParamRequest, DEFAULT_WAIT};
use storyhash::input::{FieldMap, Format, ReadOptions};
use storyhash::keyterms::TermWeights;
use storyhash::lsh::LshParams;
use storyhash::minhash::Algorithm;
use storyhash::pipeline::{self, Clustering, Options, Progress, Verify};
use storyhash::report;
use storyhash::story::{StoryMethod, StoryOptions};
use storyhash::text::ShingleOptions;

#[derive(Parser)]
#[command(
    name = "storyhash",
    version,
    about = "Find near-duplicate news articles and group them into stories"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Cluster articles: writes clusters.csv, stories.csv and rejects.csv (when any) into --out.
    Cluster(ClusterArgs),
    /// Write the feed back without its near-duplicates (the canonical record of each group).
    Dedup(DedupArgs),
    /// Score a clusters.csv against gold labels.
    Eval(EvalArgs),
    /// Generate a synthetic news-like corpus with known duplicates (docs.jsonl, labels.csv).
    Gen(GenArgs),
    /// A persistent index: match each new batch against everything added before.
    #[command(subcommand)]
    Index(IndexCommand),
}

#[derive(Subcommand)]
enum IndexCommand {
    /// Add a batch (created on first use): writes each new article's dup group, story and
    /// match into --out.
    Add(IndexAddArgs),
    /// The nearest stored articles of each given article (the index is not changed).
    Query(IndexQueryArgs),
    /// Write clusters.csv, stories.csv and merges.csv for everything in the index.
    Export(IndexExportArgs),
    /// Counts and settings of an index.
    Stats(IndexStatsArgs),
}

#[derive(Args)]
struct IndexAddArgs {
    /// The index file (SQLite).
    db: PathBuf,
    /// Input files or folders of the batch. `.gz` files are decompressed.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder for clusters.csv (the batch's articles), rejects.csv and skipped.csv.
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
    #[command(flatten)]
    params: IndexParamArgs,
    #[command(flatten)]
    read: ReadArgs,
    /// Seconds to wait while another process adds a batch to the same index.
    #[arg(long, default_value_t = 60)]
    wait: u64,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// No progress bar and no summary line.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Also print how long each stage took.
    #[arg(long, short = 'v')]
    verbose: bool,
}

/// Settings recorded when an index is created. Left out: the index's own; given and different:
/// refused.
#[derive(Args)]
struct IndexParamArgs {
    /// Near-duplicate threshold (default 0.6 for a new index).
    #[arg(long)]
    threshold: Option<f64>,
    /// MinHash values per signature (default 128).
    #[arg(long)]
    num_perm: Option<usize>,
    /// Words per shingle (default 5).
    #[arg(long)]
    shingle: Option<usize>,
    /// Seed of all hashing.
    #[arg(long)]
    seed: Option<u64>,
    /// LSH bands (with --rows).
    #[arg(long, requires = "rows")]
    bands: Option<usize>,
    /// LSH rows per band (with --bands).
    #[arg(long, requires = "bands")]
    rows: Option<usize>,
    /// MinHash construction.
    #[arg(long, value_enum)]
    algorithm: Option<Algorithm>,
    /// Hash at most this many bytes of each article.
    #[arg(long)]
    max_doc_bytes: Option<usize>,
    /// Average key-term cosine similarity needed to join a story (default 0.12).
    #[arg(long)]
    story_threshold: Option<f64>,
    /// Near-duplicates only (each dup group is its own story); only when creating the index.
    #[arg(long)]
    no_stories: bool,
}

impl IndexParamArgs {
    fn request(&self) -> ParamRequest {
        ParamRequest {
            num_perm: self.num_perm,
            shingle: self.shingle,
            seed: self.seed,
            threshold: self.threshold,
            lsh: self
                .bands
                .zip(self.rows)
                .map(|(bands, rows)| LshParams { bands, rows }),
            algorithm: self.algorithm,
            max_doc_bytes: self.max_doc_bytes,
            story_threshold: self.story_threshold,
            no_stories: self.no_stories,
        }
    }
}

#[derive(Args)]
struct IndexQueryArgs {
    /// The index file.
    db: PathBuf,
    /// Articles to look up (JSON/JSONL, CSV, text, a folder, or `-` for stdin).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Matches listed per article at most.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Write the matches here instead of stdout.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    #[command(flatten)]
    read: ReadArgs,
}

#[derive(Args)]
struct IndexExportArgs {
    /// The index file.
    db: PathBuf,
    /// Output folder (created if missing).
    #[arg(long, short = 'o')]
    out: PathBuf,
}

#[derive(Args)]
struct IndexStatsArgs {
    /// The index file.
    db: PathBuf,
    /// Print the statistics as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct GenArgs {
    /// Number of articles.
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    /// Seed: the same n and seed give the same files.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output folder (created if missing).
    #[arg(long, short = 'o')]
    out: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args)]
struct ClusterArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Output folder (created if missing).
    #[arg(long, short = 'o')]
    out: PathBuf,
}

#[derive(Args)]
struct DedupArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Output file for the deduplicated feed (`-` for stdout; `.gz` compresses).
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// Also write `id,duplicate_of,similarity` for every dropped duplicate.
    #[arg(long)]
    dups: Option<PathBuf>,
    /// Also write the rejected records (`file,line,id,reason`).
    #[arg(long)]
    rejects: Option<PathBuf>,
}

#[derive(Args)]
struct EvalArgs {
    /// Gold labels: a CSV with an `id` column and a `dup` and/or `story` column.
    #[arg(long)]
    truth: PathBuf,
    /// A clusters.csv written by `storyhash cluster`.
    #[arg(long)]
    pred: PathBuf,
    /// Which grouping to score.
    #[arg(long, value_enum, default_value_t = Column::Story)]
    col: Column,
    /// How many worst merges and splits to list.
    #[arg(long, default_value_t = 5)]
    worst: usize,
    /// Print the scores as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CommonArgs {
    /// Input files or folders (`-` for stdin). `.gz` files are decompressed.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Near-duplicate threshold: estimated Jaccard of word shingles (boilerplate removed).
    #[arg(long, default_value_t = storyhash::DEFAULT_THRESHOLD)]
    threshold: f64,
    /// MinHash values per signature.
    #[arg(long, default_value_t = storyhash::DEFAULT_NUM_PERM)]
    num_perm: usize,
    /// Words per shingle.
    #[arg(long, default_value_t = 5)]
    shingle: usize,
    /// Seed of all hashing.
    #[arg(long, default_value_t = storyhash::DEFAULT_SEED)]
    seed: u64,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// LSH bands (with --rows; default: chosen for --threshold).
    #[arg(long, requires = "rows")]
    bands: Option<usize>,
    /// LSH rows per band (with --bands).
    #[arg(long, requires = "bands")]
    rows: Option<usize>,
    /// How candidate pairs are verified.
    #[arg(long, value_enum, default_value_t = Verify::Estimate)]
    verify: Verify,
    /// MinHash construction.
    #[arg(long, value_enum, default_value_t = Algorithm::Oph)]
    algorithm: Algorithm,
    #[command(flatten)]
    read: ReadArgs,
    /// Keep boilerplate lines (by default lines recurring across unrelated articles are dropped).
    #[arg(long)]
    no_boilerplate: bool,
    /// A line is boilerplate when it recurs in at least this many unrelated article groups.
    #[arg(long, default_value_t = 3)]
    boilerplate_min_groups: usize,
    /// Keep every article's words in a temporary file (about 4 bytes a word) for re-signing
    /// the articles whose boilerplate the first pass guessed wrong, instead of reading those
    /// again from the input. Faster only when many are: boilerplate of many small sites, each
    /// seldom seen in one batch (the summary line's "signed twice" says how many).
    #[arg(long)]
    spool_tokens: bool,
    /// Hash at most this many bytes of each article (the article is still clustered).
    #[arg(long, default_value_t = storyhash::DEFAULT_MAX_DOC_BYTES)]
    max_doc_bytes: usize,
    /// Near-duplicates only: each dup group is its own story.
    #[arg(long)]
    no_stories: bool,
    /// Average key-term cosine similarity needed to join a story.
    #[arg(long, default_value_t = storyhash::DEFAULT_STORY_THRESHOLD)]
    story_threshold: f64,
    /// How stories are formed from candidate pairs.
    #[arg(long, value_enum, default_value_t = StoryMethod::Average)]
    story_method: StoryMethod,
    /// Second pass inside each large story (in-story document frequencies) that splits two
    /// events of one kind; the local average similarity that keeps parts together. 0 disables.
    #[arg(long, default_value_t = 0.06)]
    story_refine: f64,
    /// In that second pass, a group of a part under 3 groups whose mean similarity to the rest
    /// of its story is below this splits off (one shared name does not make a story). 0 keeps
    /// every small part in its story.
    #[arg(long, default_value_t = StoryOptions::default().split_floor)]
    story_split_floor: f64,
    /// Articles more than this many days apart never join one story directly.
    #[arg(long)]
    story_window: Option<u32>,
    /// No progress bar and no summary line.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Also print how long each stage took.
    #[arg(long, short = 'v')]
    verbose: bool,
}

/// How records are read: format and field mapping.
#[derive(Args)]
struct ReadArgs {
    /// Input format for every input (default: from the extension; stdin is sniffed).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Field holding the article id (default: id, guid, uuid, doc_id; else file:line).
    #[arg(long)]
    id_field: Option<String>,
    /// Field(s) holding the text, comma-separated and joined in order (default: the first of
    /// text, body, content, article).
    #[arg(long, value_delimiter = ',')]
    text_field: Option<Vec<String>>,
    /// Field holding the title (default: title, headline).
    #[arg(long)]
    title_field: Option<String>,
    /// Field holding the date (default: date, published, published_at, pubdate, timestamp).
    #[arg(long)]
    date_field: Option<String>,
    /// Field holding the URL (default: url, link).
    #[arg(long)]
    url_field: Option<String>,
    /// Field holding the source site (default: source, site, domain, publisher).
    #[arg(long)]
    source_field: Option<String>,
    /// Any rejected record is fatal: exit 1 naming the first one, nothing written.
    #[arg(long)]
    strict: bool,
}

impl ReadArgs {
    fn options(&self, keep_raw: bool) -> ReadOptions {
        let mut fields = FieldMap::default();
        let one = |name: &Option<String>, fallback: &mut Vec<String>| {
            if let Some(name) = name {
                *fallback = vec![name.clone()];
            }
        };
        one(&self.id_field, &mut fields.id);
        one(&self.title_field, &mut fields.title);
        one(&self.date_field, &mut fields.date);
        one(&self.url_field, &mut fields.url);
        one(&self.source_field, &mut fields.source);
        if let Some(text) = &self.text_field {
            fields.text = text.iter().map(|f| f.trim().to_string()).collect();
            fields.join_text = true;
        }
        ReadOptions {
            fields,
            format: self.format,
            keep_raw,
            strict: self.strict,
        }
    }
}

impl CommonArgs {
    fn options(&self, keep_raw: bool) -> Options {
        Options {
            read: self.read.options(keep_raw),
            shingle: ShingleOptions {
                size: self.shingle,
                seed: self.seed,
                max_doc_bytes: self.max_doc_bytes,
            },
            num_perm: self.num_perm,
            algorithm: self.algorithm,
            threshold: self.threshold,
            lsh: self
                .bands
                .zip(self.rows)
                .map(|(bands, rows)| LshParams { bands, rows }),
            verify: self.verify,
            boilerplate: !self.no_boilerplate,
            boilerplate_min_groups: self.boilerplate_min_groups,
            spool_tokens: self.spool_tokens,
            stories: (!self.no_stories).then(|| StoryOptions {
                threshold: self.story_threshold,
                method: self.story_method,
                window_days: self.story_window,
                refine_threshold: (self.story_refine > 0.0).then_some(self.story_refine),
                split_floor: self.story_split_floor,
                seed: self.seed,
                ..StoryOptions::default()
            }),
            term_weights: TermWeights::default(),
        }
    }
}

fn main() -> ExitCode {
    fix_allocator_mmap_threshold();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("storyhash: error: {err:#}");
            let usage = matches!(err.downcast_ref(), Some(storyhash::Error::Options(_)));
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Cluster(args) => cluster(args),
        Command::Dedup(args) => dedup(args),
        Command::Eval(args) => evaluate(args),
        Command::Gen(args) => generate(args),
        Command::Index(command) => index(command),
    }
}

fn index(command: IndexCommand) -> anyhow::Result<()> {
    match command {
        IndexCommand::Add(args) => index_add(args),
        IndexCommand::Query(args) => index_query(args),
        IndexCommand::Export(args) => index_export(args),
        IndexCommand::Stats(args) => index_stats(args),
    }
}

fn index_add(args: IndexAddArgs) -> anyhow::Result<()> {
    set_threads(args.threads)?;
    if let Some(out) = &args.out {
        report::prepare_output_dir(out)?;
    }
    let wait = Duration::from_secs(args.wait);
    let mut index = Index::open(&args.db, &args.params.request(), true, wait)?;
    let progress = BarProgress::new(&args.inputs, args.quiet);
    let start = std::time::Instant::now();
    // The report is written before the batch commits: if it cannot be, nothing is stored.
    let mut write_report = |report: &storyhash::index::AddReport| match &args.out {
        Some(out) => storyhash::index::export::write_added(report, out),
        None => Ok(()),
    };
    let (added, read_stats) = index.add(
        &args.inputs,
        args.read.options(false),
        &progress,
        &mut write_report,
    )?;
    progress.finish(args.verbose);
    if args.quiet {
        return Ok(());
    }
    let mut line = format!(
        "storyhash: batch {} added {} articles to {}: {} new dup groups, {} joined earlier \
         groups ({} dup merges), {} new stories, {} new groups continue earlier stories \
         ({} story merges)",
        added.batch,
        added.added.len(),
        args.db.display(),
        added.new_dup_groups,
        added.grown_dup_groups,
        added.dup_merges,
        added.new_stories,
        added.continued_stories,
        added.story_merges,
    );
    if !added.skipped.is_empty() {
        line += &format!(
            ", {} skipped (id already in the index)",
            added.skipped.len()
        );
    }
    if !added.rejects.is_empty() {
        line += &format!(", {} rejected", added.rejects.len());
    }
    if read_stats.invalid_utf8 > 0 {
        line += &format!(
            ", {} records with invalid UTF-8 decoded lossily",
            read_stats.invalid_utf8
        );
    }
    line += &format!(", {:.2} s", start.elapsed().as_secs_f64());
    eprintln!("{line}");
    if let Some(first) = added.rejects.first() {
        eprintln!(
            "storyhash: {} records rejected; first: {}:{}: {}",
            added.rejects.len(),
            first.file,
            first.line,
            first.reason
        );
    }
    Ok(())
}

fn index_query(args: IndexQueryArgs) -> anyhow::Result<()> {
    let index = Index::open(&args.db, &ParamRequest::default(), false, DEFAULT_WAIT)?;
    let (matches, rejects) = index.query(&args.inputs, args.read.options(false), args.top)?;
    for reject in &rejects {
        eprintln!(
            "storyhash: {}:{}: {} (not looked up)",
            reject.file, reject.line, reject.reason
        );
    }
    match &args.output {
        Some(path) => {
            report::check_output_file(path)?;
            let mut file = std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            storyhash::index::export::write_query_matches(&matches, &mut file)?;
        }
        None => {
            let stdout = std::io::stdout();
            storyhash::index::export::write_query_matches(&matches, &mut stdout.lock())?;
        }
    }
    Ok(())
}

fn index_export(args: IndexExportArgs) -> anyhow::Result<()> {
    let mut index = Index::open(&args.db, &ParamRequest::default(), false, DEFAULT_WAIT)?;
    let counts = index.export(&args.out)?;
    eprintln!(
        "storyhash: exported {} articles, {} dup groups, {} stories ({} merges recorded) to {}",
        counts.articles,
        counts.dup_groups,
        counts.stories,
        counts.merges,
        args.out.display()
    );
    Ok(())
}

fn index_stats(args: IndexStatsArgs) -> anyhow::Result<()> {
    let index = Index::open(&args.db, &ParamRequest::default(), false, DEFAULT_WAIT)?;
    let stats = index.stats()?;
    if args.json {
        return print_stdout(&(serde_json::to_string_pretty(&stats)? + "\n"));
    }
    let mut text = format!("index            {}\n", args.db.display());
    text += &format!("articles         {}\n", stats.articles);
    text += &format!(
        "dup groups       {} ({} with copies, largest {})\n",
        stats.dup_groups, stats.groups_with_copies, stats.largest_group
    );
    text += &format!("stories          {}\n", stats.stories);
    text += &format!(
        "batches          {} (last added {})\n",
        stats.batches,
        stats.last_batch_at.as_deref().unwrap_or("never")
    );
    text += &format!(
        "merges           {} dup, {} story\n",
        stats.dup_merges, stats.story_merges
    );
    text += &format!("file size        {:.1} MB\n", stats.file_bytes as f64 / 1e6);
    for (name, value) in &stats.parameters {
        text += &format!("--{name:<15} {value}\n");
    }
    print_stdout(&text)
}

/// Writes to stdout; a closed pipe (`| head`) ends the output quietly instead of panicking.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(err).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

fn generate(args: GenArgs) -> anyhow::Result<()> {
    set_threads(args.threads)?;
    let start = std::time::Instant::now();
    let opts = storyhash::gen::GenOptions {
        n: args.n,
        seed: args.seed,
    };
    let summary = storyhash::gen::generate_corpus(&opts, &args.out)?;
    eprintln!(
        "storyhash: generated {} articles ({} dup groups, {} stories, {:.1} MB) in {} in {:.2} s",
        summary.articles,
        summary.dup_groups,
        summary.stories,
        summary.bytes as f64 / 1e6,
        args.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn set_threads(threads: Option<usize>) -> anyhow::Result<()> {
    let Some(threads) = threads else {
        return Ok(());
    };
    if threads == 0 {
        return Err(storyhash::Error::Options("--threads must be at least 1".into()).into());
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .context("cannot start the worker threads")
}

fn cluster(args: ClusterArgs) -> anyhow::Result<()> {
    set_threads(args.common.threads)?;
    let opts = args.common.options(false);
    opts.validate()?;
    report::prepare_output_dir(&args.out)?;
    let progress = BarProgress::new(&args.common.inputs, args.common.quiet);
    let clustering = pipeline::run(&args.common.inputs, &opts, &progress)?;
    progress.stage("writing");
    report::write_cluster_outputs(&clustering, &args.out)?;
    progress.finish(args.common.verbose);
    summarize(&clustering, &args.common, &args.out.join("rejects.csv"));
    exit_without_freeing(clustering);
    Ok(())
}

fn dedup(args: DedupArgs) -> anyhow::Result<()> {
    set_threads(args.common.threads)?;
    let opts = args.common.options(true);
    opts.validate()?;
    report::check_output_file(&args.output)?;
    for path in args.dups.iter().chain(&args.rejects) {
        report::check_output_file(path)?;
    }
    let progress = BarProgress::new(&args.common.inputs, args.common.quiet);
    let clustering = pipeline::run(&args.common.inputs, &opts, &progress)?;
    progress.stage("writing");
    let written = report::write_dedup_feed(&clustering, &args.output)?;
    if let Some(dups) = &args.dups {
        report::write_dups(&clustering, dups)?;
    }
    let rejects_path = args.rejects.clone().unwrap_or_default();
    if args.rejects.is_some() {
        report::write_rejects(&clustering, &rejects_path)?;
    }
    progress.finish(args.common.verbose);
    if !args.common.quiet {
        eprintln!(
            "storyhash: wrote {written} of {} articles to {}",
            clustering.articles.len(),
            args.output.display()
        );
    }
    summarize(&clustering, &args.common, &rejects_path);
    exit_without_freeing(clustering);
    Ok(())
}

fn evaluate(args: EvalArgs) -> anyhow::Result<()> {
    let report = eval::evaluate_files(&args.truth, &args.pred, args.col, args.worst)?;
    if args.json {
        print_stdout(&(serde_json::to_string_pretty(&report)? + "\n"))
    } else {
        print_stdout(&report.to_text())
    }
}

/// The outputs are written and the process is about to end: the system takes the clustering's
/// memory back at once, where dropping it would free every article's strings one by one (0.06 s
/// of a 2 s run at 100,000 articles, measured).
fn exit_without_freeing(clustering: Clustering) {
    std::mem::forget(clustering);
}

/// The final summary line, and one line about rejects.
fn summarize(clustering: &Clustering, args: &CommonArgs, rejects_path: &Path) {
    if args.quiet {
        return;
    }
    let stats = &clustering.stats;
    let mut line = format!(
        "storyhash: {} articles read, {} rejected, {} dup groups (largest {}), {} stories",
        stats.articles, stats.rejected, stats.dup_groups, stats.largest_group, stats.stories
    );
    if stats.boilerplate_lines > 0 {
        line += &format!(
            ", {} boilerplate lines dropped from {} articles",
            stats.boilerplate_lines, stats.articles_with_boilerplate
        );
        if stats.resigned_articles > 0 {
            line += &format!(" ({} signed twice)", stats.resigned_articles);
        }
    }
    if stats.read.invalid_utf8 > 0 {
        line += &format!(
            ", {} records with invalid UTF-8 decoded lossily",
            stats.read.invalid_utf8
        );
    }
    if stats.capped_articles > 0 {
        line += &format!(
            ", {} articles longer than --max-doc-bytes hashed in part",
            stats.capped_articles
        );
    }
    line += &format!(", {:.2} s", stats.seconds);
    eprintln!("{line}");
    if let Some(first) = clustering.rejects.first() {
        let where_ = if rejects_path.as_os_str().is_empty() {
            String::from("use --rejects FILE to list them")
        } else {
            format!("listed in {}", rejects_path.display())
        };
        eprintln!(
            "storyhash: {} records rejected ({where_}); first: {}:{}: {}",
            clustering.rejects.len(),
            first.file,
            first.line,
            first.reason
        );
    }
}

/// Makes glibc serve every allocation of 4 MiB or more with its own mapping, returned to the
/// system when freed. By default glibc raises that threshold (up to 32 MiB) each time such a
/// block is freed, after which the batch buffers and growing tables of a run are carved out of
/// the same heaps as the small long-lived strings, and the holes they leave stay resident:
/// 100,000 articles with stories peaked at ~243 MiB, ~231 MiB with the threshold fixed at
/// 256 KiB, 175 -> 143 MiB without stories. 4 MiB keeps all but 2-4 MiB of that with half the
/// extra page faults (256 KiB cost +0.15 s of system time).
fn fix_allocator_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes two integers and changes an allocator setting; it is called before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

/// A memory figure of this process in KiB ("VmRSS:" now, "VmHWM:" the peak), from
/// /proc/self/status; None where there is no such file.
fn memory_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The processor time this process has used so far (user and system, all threads), in seconds;
/// None where getrusage is not available.
fn cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes one rusage struct through the pointer, which points at one.
        let status = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
        if status != 0 {
            return None;
        }
        // SAFETY: getrusage returned 0, so it filled the struct (zeroed before in any case).
        let usage = unsafe { usage.assume_init() };
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Some(seconds(usage.ru_utime) + seconds(usage.ru_stime))
    }
    #[cfg(not(unix))]
    None
}

/// Where a stage started (or the run ended), for `--verbose`.
struct StageMark {
    name: String,
    at: std::time::Instant,
    resident_kib: Option<u64>,
    cpu_seconds: Option<f64>,
}

/// An indicatif progress bar on stderr; hidden with --quiet or when stderr is not a terminal.
struct BarProgress {
    bar: ProgressBar,
    total_bytes: u64,
    /// Each stage's name, start, and the resident memory and processor time then, for
    /// `--verbose`.
    stages: std::sync::Mutex<Vec<StageMark>>,
}

impl BarProgress {
    fn new(inputs: &[PathBuf], quiet: bool) -> BarProgress {
        let visible = !quiet && std::io::stderr().is_terminal();
        let bar = if visible {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.enable_steady_tick(Duration::from_millis(200));
        let total_bytes = if visible {
            storyhash::input::input_size(inputs)
        } else {
            0
        };
        BarProgress {
            bar,
            total_bytes,
            stages: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Clears the bar; with `verbose`, prints how long each stage took, the resident memory at
    /// its end and the peak.
    fn finish(&self, verbose: bool) {
        self.bar.finish_and_clear();
        self.stage("done");
        if verbose {
            eprintln!("storyhash: stages: {}", self.stage_times());
            if let Some(peak) = memory_kib("VmHWM:") {
                eprintln!("storyhash: peak resident memory {} MiB", peak / 1024);
            }
        }
    }

    /// "reading 1.20 s (cpu 2.10 s, 120 MiB), adding 3.40 s (cpu 3.30 s, 150 MiB), ...": each
    /// stage's time and, where the system tells them, the processor time it used on all threads
    /// (twice the wall time means both cores were busy) and the resident memory at its end.
    fn stage_times(&self) -> String {
        let Ok(stages) = self.stages.lock() else {
            return String::new();
        };
        stages
            .windows(2)
            .map(|w| {
                let seconds = (w[1].at - w[0].at).as_secs_f64();
                let mut figures = Vec::new();
                if let (Some(end), Some(start)) = (w[1].cpu_seconds, w[0].cpu_seconds) {
                    figures.push(format!("cpu {:.2} s", end - start));
                }
                if let Some(kib) = w[1].resident_kib {
                    figures.push(format!("{} MiB", kib / 1024));
                }
                match figures.is_empty() {
                    true => format!("{} {seconds:.2} s", w[0].name),
                    false => format!("{} {seconds:.2} s ({})", w[0].name, figures.join(", ")),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Progress for BarProgress {
    fn stage(&self, name: &str) {
        if let Ok(mut stages) = self.stages.lock() {
            stages.push(StageMark {
                name: name.to_string(),
                at: std::time::Instant::now(),
                resident_kib: memory_kib("VmRSS:"),
                cpu_seconds: cpu_seconds(),
            });
        }
        self.bar.reset();
        self.bar.set_message(name.to_string());
        let template = if name == "reading" {
            self.bar.set_length(self.total_bytes);
            "{spinner} {msg:16} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {elapsed}"
        } else {
            self.bar.unset_length();
            "{spinner} {msg:16} {pos} articles {per_sec} {elapsed}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style.progress_chars("=> "));
        }
    }

    fn bytes(&self, n: u64) {
        self.bar.inc(n);
    }

    fn articles(&self, n: u64) {
        self.bar.inc(n);
    }
}
