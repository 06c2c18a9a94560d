#!/usr/bin/env Rscript
## Time glmmTMB::glmmTMB on a CSV file, for benchmarks against interlace_jax.
##
## Usage:
##   Rscript benchmarks/r/time_glmmtmb.R <data.csv> "<formula>" <family> <link> "<ziformula>" \
##       "<dispformula>" <reps> [factor columns]
##
## <family> is the name of glmmTMB's family function (nbinom2, beta_family, t_family, Gamma,
## ...). ordbeta starts at psi = (-1, 1), as the fixture (glmmTMB's default start gives NaN).
## Prints ONE line of JSON to stdout:
##   {"seconds": [elapsed seconds of each glmmTMB() call], "cpu_seconds": [user + system],
##    "logLik": ..., "glmmTMB_version": "..."}
## Data reading and factor conversion are not timed; warnings go to stderr.

suppressPackageStartupMessages(library(glmmTMB))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 7 || length(args) > 8) {
  cat("usage: Rscript time_glmmtmb.R <data.csv> \"<formula>\" <family> <link> \"<zi>\"",
      "\"<disp>\" <reps> [factors]\n", file = stderr())
  quit(status = 2)
}
data <- utils::read.csv(args[[1]], stringsAsFactors = FALSE)
fml <- as.formula(args[[2]])
fam <- get(args[[3]], mode = "function")(link = args[[4]])
zi <- as.formula(args[[5]])
disp <- as.formula(args[[6]])
reps <- as.integer(args[[7]])
fac_cols <- if (length(args) == 8 && nzchar(args[[8]])) trimws(strsplit(args[[8]], ",")[[1]]) else character(0)
for (col in fac_cols) data[[col]] <- factor(data[[col]])
start <- if (fam$family == "ordbeta") list(psi = c(-1, 1)) else NULL

seconds <- numeric(reps)
cpu <- numeric(reps)
for (r in seq_len(reps)) {
  gc(verbose = FALSE)
  t0 <- proc.time()
  m <- glmmTMB(fml, data = data, family = fam, ziformula = zi, dispformula = disp, start = start)
  dt <- proc.time() - t0
  seconds[r] <- round(dt[["elapsed"]], 3)
  cpu[r] <- round(dt[["user.self"]] + dt[["sys.self"]], 3)
}
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "json_text.R"))
cat(paste0("{\"seconds\":", vec(seconds), ",\"cpu_seconds\":", vec(cpu),
           ",\"logLik\":", num(as.numeric(logLik(m))),
           ",\"glmmTMB_version\":\"", as.character(packageVersion("glmmTMB")), "\"}"),
    "\n", sep = "")
