#!/usr/bin/env Rscript
## Time ordinal::clmm on a CSV file, for benchmarks against interlace_jax.
##
## Usage:
##   Rscript benchmarks/r/time_clmm.R <data.csv> "<formula>" <link> <threshold> <nAGQ> <reps> <response levels> [factor columns]
##
## <response levels>: the response's categories from lowest to highest, comma-separated (the
## response becomes an ordered factor with them).
## Prints ONE line of JSON to stdout:
##   {"seconds": [elapsed seconds of each clmm() call], "cpu": [user + system seconds of each],
##    "logLik": ..., "coefficients": [...], "nobs": ..., "ordinal_version": "..."}
## Data reading and factor conversion are not timed; warnings go to stderr.

suppressPackageStartupMessages(library(ordinal))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 7 || length(args) > 8) {
  cat("usage: Rscript time_clmm.R <data.csv> \"<formula>\" <link> <threshold> <nAGQ> <reps>",
      "<response levels> [factors]\n", file = stderr())
  quit(status = 2)
}
data <- utils::read.csv(args[[1]], stringsAsFactors = FALSE)
fml <- as.formula(args[[2]])
link <- args[[3]]
threshold <- args[[4]]
nagq <- as.integer(args[[5]])
reps <- as.integer(args[[6]])
levels_y <- trimws(strsplit(args[[7]], ",")[[1]])
response <- all.vars(fml)[1]
data[[response]] <- factor(as.character(data[[response]]), levels = levels_y, ordered = TRUE)
fac_cols <- if (length(args) == 8 && nzchar(args[[8]])) trimws(strsplit(args[[8]], ",")[[1]]) else character(0)
for (col in fac_cols) data[[col]] <- factor(data[[col]])

seconds <- numeric(reps)
cpu <- numeric(reps)
for (r in seq_len(reps)) {
  gc(verbose = FALSE)
  t0 <- proc.time()
  m <- clmm(fml, data = data, link = link, threshold = threshold, nAGQ = nagq)
  t1 <- proc.time() - t0
  seconds[r] <- round(t1[["elapsed"]], 3)
  cpu[r] <- round(t1[["user.self"]] + t1[["sys.self"]], 3)
}
num <- function(x) {
  s <- sprintf("%.15g", x)
  bad <- is.finite(x) & suppressWarnings(as.numeric(s)) != x
  bad[is.na(bad)] <- FALSE
  s[bad] <- sprintf("%.17g", x[bad])
  s[!is.finite(x)] <- "null"
  s
}
vec <- function(x) paste0("[", paste(num(as.numeric(x)), collapse = ","), "]")
cat(paste0("{\"seconds\":", vec(seconds), ",\"cpu\":", vec(cpu),
           ",\"logLik\":", num(as.numeric(logLik(m))),
           ",\"coefficients\":", vec(coef(m)), ",\"nobs\":", nobs(m),
           ",\"ordinal_version\":\"", as.character(packageVersion("ordinal")), "\"}"), "\n",
    sep = "")
