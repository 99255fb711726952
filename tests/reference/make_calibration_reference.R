# Reference values for tests/test_survey_calibration.py: postStratify, rake, calibrate.
#
#   Rscript tests/reference/make_calibration_reference.R    (from the repository root)
#
# The designs and population figures are those of R's help pages (?postStratify, ?rake,
# ?calibrate) on apiclus1 (tests/reference/apiclus1.csv, written by make_reference.R)
# and apiclus2 (apiclus2.csv, make_multistage_reference.R). Writes
# calibration_reference.csv: case, domain, stat, value (17 significant digits).
# R survey 4.1.1 and MASS (Debian r-cran-survey, r-cran-mass).
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
clus <- read.csv(file.path(here, "apiclus1.csv"))
clus2 <- read.csv(file.path(here, "apiclus2.csv"))

out <- data.frame(case = character(), domain = character(), stat = character(),
                  value = character(), stringsAsFactors = FALSE)
put <- function(case, stat, value, domain = "") {
  value <- unname(as.numeric(value))
  out[nrow(out) + seq_along(value), ] <<- list(case, domain, stat, sprintf("%.17g", value))
}
put_est <- function(case, m, domain = "") {
  put(case, "estimate", coef(m), domain); put(case, "se", SE(m), domain)
}
summary_of <- function(name, d) {
  put(paste0(name, "_weights"), "sum", sum(weights(d)))
  put(paste0(name, "_weights"), "first", weights(d)[1:5])
  put_est(paste0(name, "_total_enroll"), svytotal(~enroll, d))
  put_est(paste0(name, "_mean_api00"), svymean(~api00, d))
  put_est(paste0(name, "_mean_schwide"), svymean(~as.numeric(sch.wide == "Yes"), d))
  p <- svyciprop(~I(sch.wide == "Yes"), d)
  put(paste0(name, "_ciprop"), "ci_low", attr(p, "ci")[1]); put(paste0(name, "_ciprop"), "ci_high", attr(p, "ci")[2])
  b <- svyby(~api00, ~awards, d, svymean)
  for (k in seq_len(nrow(b))) {
    put(paste0(name, "_mean_api00_by_awards"), "estimate", b$api00[k], as.character(b$awards[k]))
    put(paste0(name, "_mean_api00_by_awards"), "se", SE(b)[k], as.character(b$awards[k]))
  }
  # the difference of two domain means, as a contrast of ratios (svyby(covmat=TRUE)
  # fails on calibrated designs in survey 4.1.1)
  d <- update(d, yno = api00 * (awards == "No"), yyes = api00 * (awards == "Yes"),
              xno = as.numeric(awards == "No"), xyes = as.numeric(awards == "Yes"))
  r <- svyratio(~yno + yyes, ~xno + xyes, d, covmat = TRUE)
  put_est(paste0(name, "_contrast_awards"), svycontrast(r, c("yno/xno" = 1, "yyes/xyes" = -1)))
  t <- svychisq(~sch.wide + awards, d)
  put(paste0(name, "_chisq"), "F", t$statistic); put(paste0(name, "_chisq"), "p", t$p.value)
}

dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = clus, fpc = ~fpc)
pop.types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop.schwide <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))
pop.totals <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018)

summary_of("post", postStratify(dclus1, ~stype, pop.types))
summary_of("rake", rake(dclus1, list(~stype, ~sch.wide), list(pop.types, pop.schwide)))
summary_of("greg", calibrate(dclus1, ~stype, pop.totals))
summary_of("greg_api99", calibrate(dclus1, ~stype + api99, c(pop.totals, api99 = 3914069)))
summary_of("raking_bounded", calibrate(dclus1, ~stype + api99, c(pop.totals, api99 = 3914069),
                                       bounds = c(0.6, 1.6), calfun = "raking"))
summary_of("raking", calibrate(dclus1, ~stype + api99, c(pop.totals, api99 = 3914069), calfun = "raking"))
summary_of("logit", calibrate(dclus1, ~stype + api99, c(pop.totals, api99 = 3914069),
                              bounds = c(0.5, 2.5), calfun = "logit"))
summary_of("linear_bounded", calibrate(dclus1, ~stype + api99, c(pop.totals, api99 = 3914069),
                                       bounds = c(0.6, 1.6), calfun = "linear"))
# a calibration after post-stratification (steps chain, as in R)
summary_of("post_then_greg", calibrate(postStratify(dclus1, ~stype, pop.types), ~api99,
                                       c(`(Intercept)` = 6194, api99 = 3914069)))
# two-stage design, raked
d2 <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = clus2)
r2 <- rake(d2, list(~stype, ~sch.wide), list(pop.types, pop.schwide))
put_est("clus2_rake_mean_api00", svymean(~api00, r2))
put_est("clus2_rake_total_enroll", svytotal(~enroll, r2, na.rm = TRUE))

write.csv(out, file.path(here, "calibration_reference.csv"), row.names = FALSE)
cat("wrote", nrow(out), "reference values with survey", as.character(packageVersion("survey")), "\n")
