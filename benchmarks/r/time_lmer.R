#!/usr/bin/env Rscript
## Time lme4::lmer on a CSV file, for benchmarks against interlace_jax.
##
## Usage:
##   Rscript benchmarks/r/time_lmer.R <data.csv> "<formula>" <REML: TRUE|FALSE> <reps> [factor columns]
##
##   data.csv        CSV with a header row (read with read.csv)
##   formula         lme4 formula, e.g. "Reaction ~ Days + (Days | Subject)"
##   REML            TRUE or FALSE
##   reps            number of timed fits (>= 1)
##   factor columns  optional comma-separated list of columns to convert to factors
##                   (levels in sorted order, as R's factor() makes them)
##
## Prints ONE line of JSON to stdout:
##   {"seconds": [elapsed seconds of each lmer() call], "logLik": ..., "objective": ...,
##    "theta": [...], "beta": [...], "nobs": ..., "lme4_version": "..."}
## where objective is REMLcrit(m) for REML fits and deviance(m) for ML fits, from the last fit.
## Doubles are printed with up to 17 significant digits (exact). Warnings and messages from
## lmer go to stderr. Data reading and factor conversion are not timed.

suppressPackageStartupMessages({
  library(lme4)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 4 || length(args) > 5) {
  cat("usage: Rscript time_lmer.R <data.csv> \"<formula>\" <REML: TRUE|FALSE> <reps> [factor,columns]\n",
      file = stderr())
  quit(status = 2)
}
csv <- args[[1]]
fml <- as.formula(args[[2]])
REML <- as.logical(toupper(args[[3]]))
if (is.na(REML)) stop("REML must be TRUE or FALSE, got ", args[[3]])
reps <- as.integer(args[[4]])
if (is.na(reps) || reps < 1) stop("reps must be a positive integer, got ", args[[4]])
fac_cols <- if (length(args) == 5 && nzchar(args[[5]])) trimws(strsplit(args[[5]], ",")[[1]]) else character(0)

data <- utils::read.csv(csv, stringsAsFactors = FALSE)
for (col in fac_cols) {
  if (!col %in% names(data)) stop("factor column ", col, " not in ", csv)
  data[[col]] <- factor(data[[col]])
}

seconds <- numeric(reps)
m <- NULL
for (r in seq_len(reps)) {
  gc(verbose = FALSE)
  t0 <- proc.time()
  m <- lmer(fml, data = data, REML = REML)
  seconds[r] <- round((proc.time() - t0)[["elapsed"]], 3)
}

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "json_text.R"))

objective <- if (REML) REMLcrit(m) else deviance(m)
out <- paste0(
  "{\"seconds\":", vec(seconds),
  ",\"logLik\":", num(as.numeric(logLik(m))),
  ",\"objective\":", num(objective),
  ",\"theta\":", vec(getME(m, "theta")),
  ",\"beta\":", vec(fixef(m)),
  ",\"nobs\":", nobs(m),
  ",\"lme4_version\":\"", as.character(packageVersion("lme4")), "\"}")
cat(out, "\n", sep = "")
