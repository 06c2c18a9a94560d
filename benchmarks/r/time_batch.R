## Timings of lme4 for the batched benchmarks; prints one line of JSON.
##   Rscript time_batch.R bootmer DATA.csv FORMULA NSIM FACTORS
##       bootMer(lmer(FORMULA), FUN = c(fixef, sigma, theta), nsim = NSIM, use.u = FALSE)
##   Rscript time_batch.R loop DATA.csv RHS N_RESPONSES FACTORS
##       lmer(y_j RHS) for the columns y_1 ... y_N of DATA (one fit each)
## FACTORS: comma-separated columns read as factors.
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
args <- commandArgs(trailingOnly = TRUE)
mode <- args[1]
d <- read.csv(args[2])
for (f in strsplit(args[5], ",")[[1]]) d[[f]] <- factor(d[[f]])
n <- as.integer(args[4])
if (mode == "bootmer") {
  m <- lmer(as.formula(args[3]), d)
  fun <- function(x) c(fixef(x), sigma(x), getME(x, "theta"))
  secs <- system.time(b <- bootMer(m, fun, nsim = n, seed = 1, use.u = FALSE))[["elapsed"]]
  cat(toJSON(list(seconds = secs, n = n, per_item = secs / n), auto_unbox = TRUE, digits = NA),
      "\n")
} else {
  lls <- numeric(n)
  secs <- system.time(for (j in seq_len(n)) {
    m <- lmer(as.formula(paste0("y_", j, " ", args[3])), d)
    lls[j] <- as.numeric(logLik(m))
  })[["elapsed"]]
  cat(toJSON(list(seconds = secs, n = n, per_item = secs / n, logLik = lls),
             auto_unbox = TRUE, digits = NA), "\n")
}
