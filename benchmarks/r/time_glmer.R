#!/usr/bin/env Rscript
## Time lme4::glmer on a CSV file, for benchmarks against interlace_jax.
##
## Usage:
##   Rscript benchmarks/r/time_glmer.R <data.csv> "<formula>" <family> <link> <nAGQ> <reps> [factor columns]
##
## Prints ONE line of JSON to stdout:
##   {"seconds": [elapsed seconds of each glmer() call], "logLik": ..., "theta": [...],
##    "beta": [...], "nobs": ..., "lme4_version": "..."}
## Data reading and factor conversion are not timed; warnings go to stderr.

suppressPackageStartupMessages(library(lme4))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 6 || length(args) > 7) {
  cat("usage: Rscript time_glmer.R <data.csv> \"<formula>\" <family> <link> <nAGQ> <reps> [factors]\n",
      file = stderr())
  quit(status = 2)
}
data <- utils::read.csv(args[[1]], stringsAsFactors = FALSE)
fml <- as.formula(args[[2]])
fam <- get(args[[3]], mode = "function")(link = args[[4]])
nagq <- as.integer(args[[5]])
reps <- as.integer(args[[6]])
fac_cols <- if (length(args) == 7 && nzchar(args[[7]])) trimws(strsplit(args[[7]], ",")[[1]]) else character(0)
for (col in fac_cols) data[[col]] <- factor(data[[col]])

seconds <- numeric(reps)
for (r in seq_len(reps)) {
  gc(verbose = FALSE)
  t0 <- proc.time()
  m <- glmer(fml, data = data, family = fam, nAGQ = nagq)
  seconds[r] <- round((proc.time() - t0)[["elapsed"]], 3)
}
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "json_text.R"))
cat(paste0("{\"seconds\":", vec(seconds), ",\"logLik\":", num(as.numeric(logLik(m))),
           ",\"theta\":", vec(getME(m, "theta")), ",\"beta\":", vec(fixef(m)),
           ",\"nobs\":", nobs(m), ",\"lme4_version\":\"", as.character(packageVersion("lme4")),
           "\"}"), "\n", sep = "")
