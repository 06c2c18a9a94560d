#!/usr/bin/env Rscript
## Time coxme::coxme on a CSV file, for benchmarks against interlace_jax.
##
## Usage:
##   Rscript benchmarks/r/time_coxme.R <data.csv> "<formula>" <reps> [factor levels]
##
## [factor levels] is "col:level1,level2,...;col2:..." (the levels in R's order, e.g. a
## reference level first); other character columns become factors with sorted levels, as R does.
## Needs coxme and bdsmatrix (not packaged for Debian: a private library on R_LIBS_USER).
## Prints ONE line of JSON to stdout:
##   {"seconds": [elapsed seconds of each coxme() call], "cpu": [user + system seconds of each],
##    "loglik": loglik[2] of the last fit, "coxme_version": "..."}
## Data reading and factor conversion are not timed.

suppressPackageStartupMessages({library(survival); library(coxme)})
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))),
                 "json_text.R"))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 3 || length(args) > 4) {
  cat("usage: Rscript time_coxme.R <data.csv> \"<formula>\" <reps> [factor levels]\n",
      file = stderr())
  quit(status = 2)
}
data <- utils::read.csv(args[[1]], stringsAsFactors = TRUE)
fml <- as.formula(args[[2]])
reps <- as.integer(args[[3]])
if (length(args) == 4 && nzchar(args[[4]])) {
  for (spec in strsplit(args[[4]], ";", fixed = TRUE)[[1]]) {
    parts <- strsplit(spec, ":", fixed = TRUE)[[1]]
    levs <- strsplit(parts[[2]], ",", fixed = TRUE)[[1]]
    data[[parts[[1]]]] <- factor(as.character(data[[parts[[1]]]]), levels = levs)
  }
}
seconds <- cpu <- numeric(reps)
for (r in seq_len(reps)) {
  gc(verbose = FALSE)
  t0 <- proc.time()
  m <- coxme(fml, data = data)
  dt <- proc.time() - t0
  seconds[r] <- dt[["elapsed"]]
  cpu[r] <- dt[["user.self"]] + dt[["sys.self"]]
}
cat(paste0("{\"seconds\":", vec(seconds), ",\"cpu\":", vec(cpu),
           ",\"loglik\":", num(m$loglik[[2]]),
           ",\"coxme_version\":\"", as.character(packageVersion("coxme")), "\"}"), "\n", sep = "")
