# Exact JSON text of R doubles for the timing scripts (sourced by time_*.R).
num <- function(x) {                      # shortest exact text of doubles; NA/NaN/Inf -> null
  s <- sprintf("%.15g", x)
  bad <- is.finite(x) & suppressWarnings(as.numeric(s)) != x
  bad[is.na(bad)] <- FALSE
  s[bad] <- sprintf("%.17g", x[bad])
  s[!is.finite(x)] <- "null"
  s
}
vec <- function(x) paste0("[", paste(num(as.numeric(x)), collapse = ","), "]")
