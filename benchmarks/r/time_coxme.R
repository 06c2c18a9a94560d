#!/usr/bin/env Rscript
## Time coxme::coxme on a CSV file, for benchmarks against interlace_jax.
##
## Usage:
##   Rscript benchmarks/r/time_coxme.R <data.csv> "<formula>" <reps>
##
## Character columns become factors (levels sorted, as R does). Needs coxme and bdsmatrix
## (not packaged for Debian: a private library on R_LIBS_USER).
## Prints ONE line of JSON to stdout:
##   {"seconds": [elapsed seconds of each coxme() call], "loglik": loglik[2] of the last fit,
##    "coxme_version": "..."}

suppressPackageStartupMessages({library(survival); library(coxme)})
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))),
                 "json_text.R"))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 3) {
  cat("usage: Rscript time_coxme.R <data.csv> \"<formula>\" <reps>\n", file = stderr())
  quit(status = 2)
}
data <- utils::read.csv(args[[1]], stringsAsFactors = TRUE)
fml <- as.formula(args[[2]])
reps <- as.integer(args[[3]])
seconds <- numeric(reps)
for (r in seq_len(reps)) {
  gc(verbose = FALSE)
  t0 <- proc.time()
  m <- coxme(fml, data = data)
  seconds[r] <- (proc.time() - t0)[["elapsed"]]
}
cat(paste0("{\"seconds\":", vec(seconds), ",\"loglik\":", num(m$loglik[[2]]),
           ",\"coxme_version\":\"", as.character(packageVersion("coxme")), "\"}"), "\n", sep = "")
